package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// buildEdge builds the swc-edge binary for this machine.
func buildEdge(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds swc-edge for this test")
	bin := filepath.Join(t.TempDir(), "swc-edge")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/smartworkcenters/swc/edge/cmd/swc-edge")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build swc-edge: %s", out)
	return bin
}

// edgeRun runs one swc-edge command to completion.
func edgeRun(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// lockedBuf is a buffer a child process writes while the test reads.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestProvisionEndToEnd is the provisioning issue's "done when": the
// central runs (HTTPS API, mutual-TLS broker, no per-door secrets), a door
// and a token are made through the API, `swc-edge provision` runs as a
// process against it, `swc-edge run` (simulated hardware) connects over
// mutual TLS and a tap reaches the central; the same token is refused the
// second time; door A's certificate cannot publish on door B's topic, in
// the embedded broker and in Mosquitto with the shipped configuration.
func TestProvisionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds swc-edge and runs it as processes")
	}
	bin := buildEdge(t)
	c := startTLS(t)
	tp := protocol.DefaultTopics()

	// The cooperative's admin sets up a center, two doors, a member with a
	// badge (staff of the center), a member without staff rights and a
	// technician.
	c.must("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels"})
	for _, d := range []string{"door-a", "door-b"} {
		c.must("POST", "/api/v1/doors", map[string]any{"id": d, "center_id": "c1", "name": d})
	}
	c.must("POST", "/api/v1/members", map[string]any{"id": "m1", "name": "Ann", "home_center_id": "c1", "status": "active"})
	c.must("POST", "/api/v1/badges", map[string]any{"uid": "04A1B2C3", "member_id": "m1"})
	c.must("POST", "/api/v1/staff", map[string]any{"member_id": "m1", "center_id": "c1"})
	c.must("POST", "/api/v1/members", map[string]any{"id": "m2", "name": "Bert", "home_center_id": "c1", "status": "active"})
	var tech struct{ Secret string }
	require.NoError(t, json.Unmarshal(c.must("POST", "/api/v1/tokens", map[string]any{"name": "technician", "role": "technician", "centers": []string{"c1"}}), &tech))

	// The technician asks for door-a's enrollment token.
	code, b := c.call(tech.Secret, "POST", "/api/v1/doors/door-a/enrollments", map[string]any{"ttl_minutes": 60})
	require.Equal(t, http.StatusCreated, code, "%s", b)
	var tok enroll.Token
	require.NoError(t, json.Unmarshal(b, &tok))
	require.Contains(t, tok.Provision, "--ca-fingerprint "+c.s.CA.Fingerprint())

	// On the Pi (simulated hardware): a configuration with the pins, then
	// the provision command as the central showed it, with the data folder
	// and configuration of this test.
	dir := t.TempDir()
	dataDir, config := filepath.Join(dir, "data"), filepath.Join(dir, "swc-edge.toml")
	listen := fmt.Sprintf("127.0.0.1:%d", servicetest.FreePort(t))
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(`door_id = "unprovisioned"
data_dir = "./unused"
[reader]
driver = "sim"
[door]
lock_pin = "GPIO5"
contact_pin = "GPIO6"
rex_pin = "GPIO13"
unlock_time = "1s"
[clock]
ntp = "assume_synced"
[http]
listen = %q
`, listen)), 0o644))
	args := append(strings.Fields(strings.TrimPrefix(tok.Provision, "sudo swc-edge ")), "--data", dataDir, "--config", config)

	// A mistyped --door is refused by the central before the token is
	// spent, and nothing is written on the Pi.
	typo := slices.Clone(args)
	typo[slices.Index(typo, "--door")+1] = "door-b"
	out, errOut, code := edgeRun(t, bin, nil, typo...)
	require.NotEqual(t, 0, code, "provision with the wrong --door:\n%s", out)
	assert.Contains(t, errOut, `names "door-b" but the token is for door "door-a"`)
	assert.Contains(t, errOut, "not spent")
	_, err := os.Stat(filepath.Join(dataDir, "door-key.pem"))
	require.ErrorIs(t, err, os.ErrNotExist, "no key was written")

	out, errOut, code = edgeRun(t, bin, nil, args...)
	require.Equal(t, 0, code, "provision:\n%s\n%s", out, errOut)
	assert.Contains(t, out, "Door door-a is enrolled")
	assert.Contains(t, out, "swc-edge test reader")
	fi, err := os.Stat(filepath.Join(dataDir, "door-key.pem"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A second provision with the same token is refused, clearly.
	out, errOut, code = edgeRun(t, bin, nil, append(args[:len(args)-4], "--data", filepath.Join(dir, "other"), "--config", filepath.Join(dir, "other.toml"))...)
	require.Equal(t, 1, code, "second provision:\n%s\n%s", out, errOut)
	assert.Contains(t, errOut, "already used")
	assert.Contains(t, errOut, "ask for a new one")

	// The door runs, connects with its certificate only, gets its
	// whitelist; a tap is granted and reaches the central.
	run := exec.Command(bin, "run", "--config", config)
	runErr := &lockedBuf{}
	run.Stderr = runErr
	require.NoError(t, run.Start())
	stopped := make(chan struct{})
	go func() { _ = run.Wait(); close(stopped) }()
	t.Cleanup(func() {
		select {
		case <-stopped:
		default:
			_ = run.Process.Kill()
			<-stopped
		}
	})
	require.Eventually(t, func() bool {
		st, ok := c.s.Ingest.Doors()["door-a"]
		return ok && st.Status.State == protocol.StateOnline && st.Status.WLVersion > 0
	}, time.Minute, 50*time.Millisecond, "door-a online with a whitelist; its log:\n%s", runErr)
	assert.Contains(t, runErr.String(), "connected to the central's broker")

	out, errOut, code = edgeRun(t, bin, nil, "tap", "--config", config, "--uid", "04A1B2C3", "--json")
	require.Equal(t, 0, code, errOut)
	var ev protocol.Event
	require.NoError(t, json.Unmarshal([]byte(out), &ev), out)
	assert.Equal(t, protocol.GrantedStaff, ev.Reason)
	assert.Equal(t, uint64(1), ev.Seq, "the door's first event (the central held none)")
	require.Eventually(t, func() bool {
		_, b := c.call(c.token, "GET", "/api/v1/events?door=door-a", nil)
		return strings.Contains(string(b), `"uid":"04A1B2C3"`) && strings.Contains(string(b), `"reason":"granted_staff"`)
	}, time.Minute, 100*time.Millisecond, "the tap reached the central")

	require.NoError(t, run.Process.Signal(syscall.SIGTERM))
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("swc-edge run did not stop")
	}
	assert.Equal(t, 0, run.ProcessState.ExitCode(), "%s", runErr)

	// With the agent stopped, the technician registers a new badge through
	// the same reader (enroll-badge trusts the central with the door's CA
	// file), for a member without staff rights (staff badges are the
	// manager's to enroll).
	eb := exec.Command(bin, "enroll-badge", "--config", config, "--member", "m2", "--central", "https://"+c.s.HTTPAddr(), "--wait", "60s")
	eb.Env = append(os.Environ(), "SWC_API_TOKEN="+tech.Secret)
	ebOut, ebErr := &lockedBuf{}, &lockedBuf{}
	eb.Stdout, eb.Stderr = ebOut, ebErr
	require.NoError(t, eb.Start())
	require.Eventually(t, func() bool { return strings.Contains(ebOut.String(), "Tap the badge of member m2") }, time.Minute, 20*time.Millisecond, "%s %s", ebOut, ebErr)
	_, errOut, code = edgeRun(t, bin, nil, "tap", "--config", config, "--uid", "04A1B2C9")
	require.Equal(t, 0, code, errOut)
	require.NoError(t, eb.Wait(), "enroll-badge:\n%s\n%s", ebOut, ebErr)
	assert.Contains(t, ebOut.String(), "Badge 04A1B2C9 is registered for member m2.")
	code, b = c.call(tech.Secret, "GET", "/api/v1/badges/04A1B2C9", nil)
	require.Equal(t, http.StatusOK, code, "the technician sees the badge they added: %s", b)
	assert.Contains(t, string(b), `"member_id":"m2"`)

	// Door A's certificate, door B's topic: the embedded broker closes the
	// connection and nothing is stored for door-b.
	doorCert, err := tls.LoadX509KeyPair(filepath.Join(dataDir, "door.pem"), filepath.Join(dataDir, "door-key.pem"))
	require.NoError(t, err)
	caPEM, err := os.ReadFile(filepath.Join(dataDir, "ca.pem"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	forge := func(broker string) (mqtt.Client, chan error) {
		lost := make(chan error, 1)
		o := mqtt.NewClientOptions().AddBroker(broker).SetClientID("door-a").SetCleanSession(true).SetAutoReconnect(false).
			SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{doorCert}, MinVersion: tls.VersionTLS12}).
			SetConnectTimeout(10 * time.Second).SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
		cl := mqtt.NewClient(o)
		tok := cl.Connect()
		require.True(t, tok.WaitTimeout(20*time.Second))
		require.NoError(t, tok.Error(), "door-a's certificate connects to %s", broker)
		t.Cleanup(func() { cl.Disconnect(0) })
		return cl, lost
	}
	forged, err := protocol.Encode(&protocol.EventBatch{V: 1, Door: "door-b", Events: []protocol.Event{
		{Seq: 1, TimeMs: time.Now().UnixMilli(), Trusted: true, Boot: "forged", Kind: protocol.EventRexExit}}})
	require.NoError(t, err)
	cl, lost := forge("ssl://" + c.s.Broker.CertAddr())
	cl.Publish(tp.Door("door-b", protocol.TopicEvents), 1, false, forged).WaitTimeout(10 * time.Second)
	select {
	case <-lost:
	case <-time.After(20 * time.Second):
		t.Fatal("the embedded broker kept door-a's connection after it published on door-b's topic")
	}
	time.Sleep(300 * time.Millisecond)
	_, b = c.call(c.token, "GET", "/api/v1/events?door=door-b", nil)
	assert.JSONEq(t, `{"items":[]}`, string(b), "nothing of door-a's stored for door-b")

	// The same certificate against Mosquitto with the shipped configuration
	// and the files `swc-central broker-cert` writes from this central's CA.
	m := startShippedMosquittoFor(t, c.s)
	svcCert, err := tls.LoadX509KeyPair(filepath.Join(m.Dir, enroll.ServiceCertFile), filepath.Join(m.Dir, enroll.ServiceKeyFile))
	require.NoError(t, err)
	var mu sync.Mutex
	var seen []string
	so := mqtt.NewClientOptions().AddBroker("ssl://" + m.Addr).SetClientID(server.ServiceUser + "-e2e").SetCleanSession(true).
		SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{svcCert}, MinVersion: tls.VersionTLS12})
	svc := mqtt.NewClient(so)
	require.True(t, svc.Connect().WaitTimeout(20*time.Second))
	t.Cleanup(func() { svc.Disconnect(0) })
	st := svc.Subscribe(tp.All(protocol.TopicEvents), 1, func(_ mqtt.Client, msg mqtt.Message) {
		mu.Lock()
		seen = append(seen, msg.Topic())
		mu.Unlock()
	})
	require.True(t, st.WaitTimeout(10*time.Second))
	require.NoError(t, st.Error())
	mc, _ := forge("ssl://" + m.Addr)
	mc.Publish(tp.Door("door-b", protocol.TopicEvents), 1, false, forged).WaitTimeout(10 * time.Second)
	own, err := protocol.Encode(&protocol.EventBatch{V: 1, Door: "door-a", Events: []protocol.Event{
		{Seq: 2, TimeMs: time.Now().UnixMilli(), Trusted: true, Boot: "own", Kind: protocol.EventDoorClosed}}})
	require.NoError(t, err)
	mc.Publish(tp.Door("door-a", protocol.TopicEvents), 1, false, own).WaitTimeout(10 * time.Second)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0
	}, 20*time.Second, 10*time.Millisecond, "door-a's own event passes Mosquitto")
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	assert.Equal(t, []string{tp.Door("door-a", protocol.TopicEvents)}, seen, "Mosquitto passed nothing of door-a's on door-b's topic")
	mu.Unlock()
}

// startShippedMosquittoFor starts Mosquitto with scripts/mosquitto/swc.conf
// and swc.acl as shipped (install paths and port moved into the test's
// folder) and the files WriteBrokerFiles (`swc-central broker-cert`)
// writes from the central's CA.
func startShippedMosquittoFor(t *testing.T, s *server.Server) *servicetest.Mosquitto {
	t.Helper()
	servicetest.MosquittoBinary(t)
	conf, err := os.ReadFile(filepath.Join("..", "..", "scripts", "mosquitto", "swc.conf"))
	require.NoError(t, err)
	acl, err := os.ReadFile(filepath.Join("..", "..", "scripts", "mosquitto", "swc.acl"))
	require.NoError(t, err)
	moved := strings.NewReplacer(
		"listener 8883", "listener {{port}} 127.0.0.1",
		"/etc/mosquitto/swc.acl", "{{dir}}/swc.acl",
		"/etc/mosquitto/swc/", "{{dir}}/",
		"persistence_location /var/lib/mosquitto/", "persistence_location {{dir}}/",
	).Replace(string(conf))
	require.Contains(t, moved, "{{port}}", "the shipped config changed its listener line")
	return servicetest.StartMosquittoConfigWith(t, moved, func(dir string) {
		_, err := s.CA.WriteBrokerFiles(dir, []string{"127.0.0.1", "localhost"}, server.ServiceUser, time.Now())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "swc.acl"), acl, 0o600))
	})
}
