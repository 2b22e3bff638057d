package enroll

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/atomicfile"
	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
)

var ctx = context.Background()

func TestCheckCentralURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://central.example.org:8443":     true,
		"https://central.example.org/swc":      true,
		"http://127.0.0.1:8080":                true,
		"http://localhost:8080":                true,
		"http://[::1]:8080":                    true,
		"http://central.example.org:8080":      false,
		"http://10.0.0.5:8080":                 false,
		"central.example.org":                  false,
		"ftp://central.example.org":            false,
		"https://user:pw@central.example.org":  false,
		"https://central.example.org/?token=x": false,
		"https://":                             false,
	} {
		_, err := CheckCentralURL(raw)
		assert.Equal(t, ok, err == nil, "%s: %v", raw, err)
	}
	_, err := CheckCentralURL("http://central.example.org:8080")
	assert.ErrorContains(t, err, "refusing plain http://")
}

func TestNormalizeFingerprint(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for in, want := range map[string]string{
		"sha256:" + hex:                  "sha256:" + hex,
		"SHA256:" + strings.ToUpper(hex): "sha256:" + hex,
		hex:                              "sha256:" + hex,
		strings.Repeat("AB:", 31) + "AB": "sha256:" + hex,
		"sha256:" + hex[:62]:             "",
		"sha256:" + hex[:62] + "zz":      "",
	} {
		got, err := NormalizeFingerprint(in)
		if want == "" {
			assert.Error(t, err, in)
			continue
		}
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
}

func TestExchangeTrust(t *testing.T) {
	ca := newTestCA(t)
	f := newFakeCentral(t, ca, true)
	key, _, err := pki.NewKey()
	require.NoError(t, err)
	csr, err := pki.NewCSR(key, "")
	require.NoError(t, err)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, ca.pem, 0o644))
	other := newTestCA(t)

	_, err = Exchange(ctx, f.srv.URL, Trust{}, f.token, csr)
	assert.ErrorContains(t, err, "certificate signed by unknown authority", "the system roots do not know the central's CA")
	_, err = Exchange(ctx, f.srv.URL, Trust{Fingerprint: pki.Fingerprint(other.cert)}, f.token, csr)
	assert.ErrorContains(t, err, "not from the CA with fingerprint")
	assert.Zero(t, f.callCount(), "nothing reached a central that is not trusted")

	e, err := Exchange(ctx, f.srv.URL, Trust{Fingerprint: strings.ToUpper(pki.Fingerprint(ca.cert))}, f.token, csr)
	require.NoError(t, err)
	assert.Equal(t, "door-7", e.Door)

	_, err = Exchange(ctx, f.srv.URL, Trust{CAFile: caFile}, f.token, csr)
	assert.ErrorIs(t, err, ErrTokenUsed)
	assert.ErrorContains(t, err, "already used")
	_, err = Exchange(ctx, f.srv.URL, Trust{CAFile: caFile}, "swce_other", csr)
	assert.ErrorIs(t, err, ErrTokenUnknown)
	_, err = Exchange(ctx, f.srv.URL, Trust{CAFile: caFile, Fingerprint: pki.Fingerprint(ca.cert)}, f.token, csr)
	assert.ErrorContains(t, err, "give one of them")
	_, err = Exchange(ctx, strings.Replace(f.srv.URL, "127.0.0.1", "localhost", 1), Trust{CAFile: caFile}, f.token, csr)
	assert.ErrorContains(t, err, "wanted to match localhost", "the name in the URL must be on the certificate")
}

// TestProvision enrolls through a plain-HTTP central on this machine and
// checks every file written.
func TestProvision(t *testing.T) {
	ca := newTestCA(t)
	f := newFakeCentral(t, ca, false)
	dir := t.TempDir()
	o := Options{Central: f.srv.URL, Token: f.token, Door: "door-7", DataDir: filepath.Join(dir, "data"), Config: filepath.Join(dir, "etc", "swc-edge.toml")}
	res, err := Provision(ctx, o)
	require.NoError(t, err)
	assert.Empty(t, res.ClockWarning)
	assert.Empty(t, res.Backup)

	fi, err := os.Stat(res.Files.Key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the door's key is private")
	key, err := LoadKey(res.Files.Key)
	require.NoError(t, err)
	certPEM, err := os.ReadFile(res.Files.Cert)
	require.NoError(t, err)
	caPEM, err := os.ReadFile(res.Files.CA)
	require.NoError(t, err)
	_, err = CheckCertificate(certPEM, caPEM, "door-7", key.Public(), time.Now())
	require.NoError(t, err, "the certificate written carries the key written")

	cfg, err := agent.Load(o.Config)
	require.NoError(t, err)
	assert.Equal(t, "door-7", cfg.DoorID)
	assert.Equal(t, o.DataDir, cfg.DataDir)
	assert.Equal(t, []string{f.signing}, cfg.Whitelist.Keys)
	assert.Equal(t, "GPIO5", cfg.Door.LockPin)
	raw, err := os.ReadFile(o.Config)
	require.NoError(t, err)
	for _, want := range []string{`broker = "mqtts://127.0.0.1:8883"`, `cert_file = "` + res.Files.Cert + `"`, `key_file = "` + res.Files.Key + `"`, `ca_file = "` + res.Files.CA + `"`, "# Relay IN1 on GPIO5"} {
		assert.Contains(t, string(raw), want)
	}

	// The door's database is bound to the door; its events are numbered
	// from 1 in a store identity of their own, whatever the central's
	// NextSeq (which only doors from before store identities follow).
	st, err := store.Open(ctx, res.DB, store.Options{Door: "door-7"})
	require.NoError(t, err)
	bound, err := st.BoundDoor(ctx)
	require.NoError(t, err)
	assert.Equal(t, "door-7", bound)
	ev, err := st.Append(ctx, protocol.Event{Kind: protocol.EventDoorClosed, Boot: "1-a", TimeMs: time.Now().UnixMilli()})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), ev.Seq)
	require.NoError(t, st.Close())

	// The same token again: refused with the central's words; the files
	// stay as they were.
	_, err = Provision(ctx, o)
	require.ErrorIs(t, err, ErrTokenUsed)
	again, err := os.ReadFile(res.Files.Cert)
	require.NoError(t, err)
	assert.Equal(t, certPEM, again)
}

// TestProvisionKeepsSettings: an existing configuration (the sim door
// here) keeps its settings; the connection is replaced and a per-door
// secret dropped; the old file is kept.
func TestProvisionKeepsSettings(t *testing.T) {
	ca := newTestCA(t)
	f := newFakeCentral(t, ca, false)
	dir := t.TempDir()
	conf := filepath.Join(dir, "swc-edge.toml")
	base := `door_id = "old-name"
data_dir = "./x"
[reader]
driver = "sim"
[door]
lock_pin = "GPIO6"
unlock_time = "3s"
[clock]
ntp = "assume_synced"
[mqtt]
broker = "tcp://old:1883"
password = "old-secret"
batch_size = 50
`
	require.NoError(t, os.WriteFile(conf, []byte(base), 0o644))
	res, err := Provision(ctx, Options{Central: f.srv.URL, Token: f.token, DataDir: filepath.Join(dir, "data"), Config: conf})
	require.NoError(t, err)
	assert.Equal(t, conf+".bak", res.Backup)
	bak, err := os.ReadFile(res.Backup)
	require.NoError(t, err)
	assert.Equal(t, base, string(bak))
	cfg, err := agent.Load(conf)
	require.NoError(t, err)
	assert.Equal(t, "door-7", cfg.DoorID)
	assert.Equal(t, agent.DriverSim, cfg.Reader.Driver)
	assert.Equal(t, "GPIO6", cfg.Door.LockPin)
	assert.Equal(t, 3*time.Second, cfg.Door.UnlockTime)
	var mq struct {
		Broker   string `toml:"broker"`
		CAFile   string `toml:"ca_file"`
		CertFile string `toml:"cert_file"`
		KeyFile  string `toml:"key_file"`
		Password string `toml:"password"`
		Batch    int    `toml:"batch_size"`
	}
	require.NoError(t, cfg.DecodeSection("mqtt", &mq))
	assert.Equal(t, "mqtts://127.0.0.1:8883", mq.Broker)
	assert.Equal(t, res.Files.Cert, mq.CertFile)
	assert.Empty(t, mq.Password, "the per-door secret is dropped: the certificate is the identity")
	assert.Equal(t, 50, mq.Batch, "tuning is kept")
}

// TestProvisionRefusesBeforeSpendingTheToken: what can be checked before
// the exchange is, and the token stays unspent.
func TestProvisionRefusesBeforeSpendingTheToken(t *testing.T) {
	ca := newTestCA(t)
	f := newFakeCentral(t, ca, false)
	tests := []struct {
		name  string
		setup func(t *testing.T, o *Options)
		want  string
	}{
		{"http to another machine", func(t *testing.T, o *Options) { o.Central = "http://central.example.org:8080" }, "refusing plain http://"},
		{"empty token", func(t *testing.T, o *Options) { o.Token = "" }, "--token"},
		{"token with a space", func(t *testing.T, o *Options) { o.Token = "swce_a b" }, "--token"},
		{"a bad fingerprint", func(t *testing.T, o *Options) { o.Trust.Fingerprint = "sha256:abc" }, "--ca-fingerprint"},
		{"a configuration that would not load", func(t *testing.T, o *Options) {
			require.NoError(t, os.WriteFile(o.Config, []byte("[door]\nlock_pin = \"GPIO99\"\n"), 0o644))
		}, "door.lock_pin"},
		{"another door's database", func(t *testing.T, o *Options) {
			st, err := store.Open(ctx, filepath.Join(o.DataDir, "swc-edge.db"), store.Options{Door: "door-1"})
			require.NoError(t, err)
			require.NoError(t, st.Close())
		}, `holds the database of door "door-1"`},
		{"the agent running", func(t *testing.T, o *Options) {
			st, err := store.Open(ctx, filepath.Join(o.DataDir, "swc-edge.db"), store.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
		}, "stop the door agent first"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Central: f.srv.URL, Token: f.token, Door: "door-7", DataDir: filepath.Join(dir, "data"), Config: filepath.Join(dir, "swc-edge.toml")}
			require.NoError(t, os.MkdirAll(o.DataDir, 0o700))
			tc.setup(t, &o)
			_, err := Provision(ctx, o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, f.callCount(), "the central was not asked")
			_, err = os.Stat(filepath.Join(o.DataDir, KeyFile))
			assert.ErrorIs(t, err, os.ErrNotExist, "no key was written")
		})
	}
}

// TestProvisionWrongDoorKeepsTheToken: a mistyped --door goes into the
// certificate request, so the central refuses it before spending the
// token; nothing is written, and the same token then enrolls the right
// door.
func TestProvisionWrongDoorKeepsTheToken(t *testing.T) {
	ca := newTestCA(t)
	f := newFakeCentral(t, ca, false)
	dir := t.TempDir()
	o := Options{Central: f.srv.URL, Token: f.token, Door: "door-8", DataDir: filepath.Join(dir, "data"), Config: filepath.Join(dir, "swc-edge.toml")}
	_, err := Provision(ctx, o)
	require.ErrorIs(t, err, ErrWrongDoor)
	assert.Contains(t, err.Error(), "door-8")
	assert.Contains(t, err.Error(), "not spent")
	_, err = os.Stat(filepath.Join(o.DataDir, KeyFile))
	assert.ErrorIs(t, err, os.ErrNotExist, "no key was written")

	o.Door = "door-7"
	res, err := Provision(ctx, o)
	require.NoError(t, err, "the token still works")
	assert.Equal(t, "door-7", res.Enrollment.Door)
}

func TestRenewalFiles(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	f := FilesIn(dir)
	key, keyPEM, err := pki.NewKey()
	require.NoError(t, err)
	require.NoError(t, atomicfile.Write(f.Key, keyPEM, 0o600))
	require.NoError(t, os.WriteFile(f.CA, ca.pem, 0o644))
	csr, err := pki.NewCSR(key, "door-7")
	require.NoError(t, err)
	now := time.Now()
	old := ca.door(csr, "door-7", now.Add(-25*24*time.Hour), now.Add(5*24*time.Hour))
	require.NoError(t, os.WriteFile(f.Cert, old, 0o644))
	oc, err := pki.ParseCertificate(old)
	require.NoError(t, err)
	assert.True(t, NeedsRenewal(oc, now), "5 of 30 days left")
	assert.False(t, NeedsRenewal(oc, now.Add(-10*24*time.Hour)), "15 of 30 days left")

	req, err := RenewalRequest(f, "door-7")
	require.NoError(t, err)
	require.NoError(t, req.Validate())

	otherKey, _, err := pki.NewKey()
	require.NoError(t, err)
	otherCSR, err := pki.NewCSR(otherKey, "door-7")
	require.NoError(t, err)
	other := newTestCA(t)
	for name, bad := range map[string][]byte{
		"another key":        ca.door(otherCSR, "door-7", now, now.Add(30*24*time.Hour)),
		"another door":       ca.door([]byte(req.CSR), "door-8", now, now.Add(30*24*time.Hour)),
		"another CA":         other.door([]byte(req.CSR), "door-7", now, now.Add(30*24*time.Hour)),
		"no longer than now": ca.door([]byte(req.CSR), "door-7", now, oc.NotAfter),
		"not a certificate":  []byte("hello"),
	} {
		_, err := InstallRenewed(f, "door-7", bad, now)
		assert.Error(t, err, name)
		cur, _ := os.ReadFile(f.Cert)
		assert.Equal(t, old, cur, "%s: the certificate in place is kept", name)
	}
	renewed := ca.door([]byte(req.CSR), "door-7", now, now.Add(30*24*time.Hour))
	c, err := InstallRenewed(f, "door-7", renewed, now)
	require.NoError(t, err)
	assert.False(t, NeedsRenewal(c, now))
	cur, err := os.ReadFile(f.Cert)
	require.NoError(t, err)
	assert.Equal(t, renewed, cur)
}
