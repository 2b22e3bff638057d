package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/scripts/internal/launch"
	"github.com/smartworkcenters/swc/shared/linkproxy"
)

// door is one swc-edge run process on simulated hardware, connected to the
// central's broker through a link the demo can cut.
type door struct {
	launch.Proc
	demoDoor
	config string
	data   string
	http   string
	link   *linkproxy.Proxy
	cut    bool
}

// startDoor writes the door's configuration and starts swc-edge.
func startDoor(bin, root string, d demoDoor, broker, secret, key string) (*door, error) {
	dir := filepath.Join(root, "doors", d.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	httpAddr, err := launch.FreeAddr()
	if err != nil {
		return nil, err
	}
	link, err := linkproxy.New(broker)
	if err != nil {
		return nil, err
	}
	x := &door{demoDoor: d, config: filepath.Join(dir, "swc-edge.toml"), data: filepath.Join(dir, "data"), http: httpAddr, link: link}
	cfg := fmt.Sprintf(`# %s, simulated: the real agent and MFRC522 driver on a simulated chip and relay.
door_id = %q
data_dir = %q

[reader]
driver = "sim"

[door]
lock_pin = "GPIO5"
contact_pin = "GPIO6"
rex_pin = "GPIO13"
unlock_time = "3s"

[clock]
ntp = "assume_synced"

[whitelist]
keys = [%q]

[http]
listen = %q

[mqtt]
broker = "tcp://%s"
password = %q
max_reconnect = "2s"
status_interval = "5s"
`, d.Name, d.ID, x.data, key, httpAddr, link.Addr(), secret)
	if err := os.WriteFile(x.config, []byte(cfg), 0o600); err != nil {
		link.Close()
		return nil, err
	}
	x.Proc = launch.Proc{Name: d.ID, Args: []string{bin, "run", "--config", x.config}, Log: filepath.Join(dir, "swc-edge.log")}
	if err := x.Start(); err != nil {
		link.Close()
		return nil, err
	}
	return x, nil
}

// report is the agent's own status.
func (d *door) report(ctx context.Context) (agent.Report, error) {
	var rep agent.Report
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.http+"/v1/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return rep, fmt.Errorf("%s: status %s", d.ID, resp.Status)
	}
	return rep, json.NewDecoder(resp.Body).Decode(&rep)
}

// waitSynced waits until the door answers and holds a whitelist.
func (d *door) waitSynced(ctx context.Context) error {
	for {
		rep, err := d.report(ctx)
		if err == nil && rep.Whitelist.Version > 0 {
			return nil
		}
		select {
		case <-d.Done():
			return fmt.Errorf("%s exited:\n%s", d.ID, d.LogTail(20))
		case <-ctx.Done():
			return fmt.Errorf("%s: no whitelist yet (%v):\n%s", d.ID, ctx.Err(), d.LogTail(20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// relayJournal is the last state the simulated relay was driven to
// ("locked" or "unlocked"), from the agent's sim-gpio.log.
func (d *door) relayJournal() (string, error) {
	f, err := os.Open(filepath.Join(d.data, "sim-gpio.log"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	last := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 4 {
			last = fields[3]
		}
	}
	if last == "" {
		return "", fmt.Errorf("%s: the relay was never driven", d.ID)
	}
	return last, sc.Err()
}
