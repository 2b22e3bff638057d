package launch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/server"
)

// CentralOptions say how to run swc-central serve. Empty addresses get a
// free loopback port; MQTTAddr is the embedded broker's per-door-secret
// listener and is not opened with an external broker.
type CentralOptions struct {
	Binary    string // swc-central
	DataDir   string
	HTTPAddr  string
	MQTTAddr  string
	MQTTSAddr string
	// BrokerURL selects an external broker (mqtt://host:port), with the
	// central's password in BrokerPasswordFile.
	BrokerURL          string
	BrokerPasswordFile string
	DB                 string   // PostgreSQL URL; empty: SQLite in DataDir
	LogLevel           string   // default info
	Extra              []string // more serve flags
	Env                []string // more environment (GOMEMLIMIT=...)
	Log                string   // log file; default DataDir/../swc-central.log
	StartTimeout       time.Duration
}

// Central is a running swc-central serve.
type Central struct {
	Proc
	Options CentralOptions
	Token   string // the first admin API token
	http    *http.Client
}

// StartCentral starts swc-central serve and returns when /healthz answers.
func StartCentral(ctx context.Context, o CentralOptions) (*Central, error) {
	if o.Binary == "" || o.DataDir == "" {
		return nil, errors.New("launch: CentralOptions.Binary and DataDir are required")
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.Log == "" {
		o.Log = filepath.Join(filepath.Dir(o.DataDir), "swc-central.log")
	}
	var err error
	for _, a := range []*string{&o.HTTPAddr, &o.MQTTSAddr} {
		if *a == "" {
			if *a, err = FreeAddr(); err != nil {
				return nil, err
			}
		}
	}
	args := []string{o.Binary, "serve", "--data", o.DataDir, "--http", o.HTTPAddr, "--log-level", o.LogLevel}
	if o.BrokerURL != "" {
		args = append(args, "--broker", o.BrokerURL, "--broker-password-file", o.BrokerPasswordFile)
	} else {
		if o.MQTTAddr == "" {
			if o.MQTTAddr, err = FreeAddr(); err != nil {
				return nil, err
			}
		}
		args = append(args, "--mqtt", o.MQTTAddr, "--mqtts", o.MQTTSAddr,
			"--mqtt-service-secret-file", filepath.Join(o.DataDir, "mqtt-service-secret"))
	}
	if o.DB != "" {
		args = append(args, "--db", o.DB)
	}
	args = append(args, o.Extra...)
	c := &Central{Proc: Proc{Name: "swc-central", Args: args, Env: o.Env, Log: o.Log}, Options: o, http: &http.Client{Timeout: 60 * time.Second}}
	if err := c.Restart(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Restart starts the process (again, after a Stop or Kill) and waits until
// it answers.
func (c *Central) Restart(ctx context.Context) error {
	if err := c.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Options.StartTimeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.URL()+"/healthz", nil)
		if resp, err := c.http.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-c.Done():
			return fmt.Errorf("swc-central exited at start:\n%s", c.LogTail(30))
		case <-ctx.Done():
			c.Kill()
			return fmt.Errorf("swc-central did not answer on %s: %w\n%s", c.Options.HTTPAddr, ctx.Err(), c.LogTail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
	if c.Token == "" {
		b, err := os.ReadFile(filepath.Join(c.Options.DataDir, server.AdminTokenFile))
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	return nil
}

// URL is the API's base URL, http://host:port.
func (c *Central) URL() string { return "http://" + c.Options.HTTPAddr }

// APIError is an answer of the API outside 2xx.
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s /api/v1%s: %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// API calls /api/v1+path with the admin token, sending in as JSON (when
// not nil) and decoding a 2xx answer into out (when not nil).
func (c *Central) API(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL()+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: answer: %w", method, path, err)
		}
	}
	return nil
}

// DoorSecret creates (or replaces) a door's MQTT secret.
func (c *Central) DoorSecret(ctx context.Context, door string) (string, error) {
	var s struct {
		Secret string `json:"secret"`
	}
	if err := c.API(ctx, http.MethodPost, "/doors/"+door+"/secret", nil, &s); err != nil {
		return "", err
	}
	return s.Secret, nil
}

// PublicKey is the central's whitelist signing key as doors pin it.
func (c *Central) PublicKey(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, c.Options.Binary, "key", "--data", c.Options.DataDir).Output()
	if err != nil {
		return "", fmt.Errorf("swc-central key: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
