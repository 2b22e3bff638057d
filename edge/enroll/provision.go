package enroll

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/atomicfile"
	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Defaults of Options.
const (
	DefaultDataDir = "/var/lib/swc-edge"
	DefaultConfig  = "/etc/swc-edge/swc-edge.toml"
)

// Owner is the user and group the door's files are handed to (the service
// user, when provisioning runs as root).
type Owner struct{ UID, GID int }

// Options of Provision.
type Options struct {
	Central string // the central's URL, https://host:port
	Token   string // the one-time enrollment token
	Trust   Trust
	// Door, when set, is the door the token was made for: the data folder
	// is checked against it before the token is spent, and the central's
	// answer must name it.
	Door    string
	DataDir string // default DefaultDataDir
	Config  string // the configuration to write (default DefaultConfig); an existing one is the base
	Owner   *Owner // nil: leave the files to the current user
	Now     func() time.Time
}

// Result is what Provision did.
type Result struct {
	Enrollment *protocol.Enrollment
	Files      Files
	DB         string    // the door's database
	Config     string    // the configuration written
	Backup     string    // the previous configuration, kept ("" when there was none)
	NotAfter   time.Time // when the certificate expires
	// ClockWarning is set when this machine's clock is outside the
	// certificate's validity (a Pi without NTP yet).
	ClockWarning string
}

// placeholderKey stands for the signing key while the configuration is
// checked before the token is spent.
var placeholderKey = "ed25519:" + base64.StdEncoding.EncodeToString(make([]byte, ed25519.PublicKeySize))

// Provision enrolls the door: it checks everything it can before spending
// the token (the central's URL, the trust settings, the configuration it
// will write, the data folder and its database), makes the door's own key
// pair, exchanges the token and a certificate request for the door's
// certificate, checks it, writes the key (0600), certificate and CA into
// the data folder, makes the door's database continue its event numbers
// after the central's, and writes the configuration.
func Provision(ctx context.Context, o Options) (*Result, error) {
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.Config == "" {
		o.Config = DefaultConfig
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	if _, err := CheckCentralURL(o.Central); err != nil {
		return nil, err
	}
	if _, _, err := o.Trust.tlsConfig(); err != nil {
		return nil, err
	}
	if err := (&protocol.EnrollRequest{Token: o.Token, CSR: "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"}).Validate(); err != nil {
		return nil, fmt.Errorf("--token: %w", err)
	}
	if o.Door != "" {
		if err := protocol.ValidID(o.Door); err != nil {
			return nil, fmt.Errorf("--door %q: %w", o.Door, err)
		}
	}
	files := FilesIn(dataDir)

	// The configuration as it will be written must load.
	base, err := os.ReadFile(o.Config)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--config: %w", err)
	}
	check := Settings{Door: "provisioning", DataDir: dataDir, SigningKeys: []string{placeholderKey}, Broker: "mqtts://central:8883", Files: files, Central: o.Central, Time: o.Now()}
	if o.Door != "" {
		check.Door = o.Door
	}
	if _, err := Config(base, check); err != nil {
		return nil, fmt.Errorf("%s: %w; fix it (or move it away) before spending the token", o.Config, err)
	}
	if err := os.MkdirAll(filepath.Dir(o.Config), 0o755); err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}

	// The database must be free (no agent running) and not another door's.
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	db := (&agent.Config{DataDir: dataDir}).DBPath()
	st, err := store.Open(ctx, db, store.Options{OpenTimeout: 2 * time.Second})
	if errors.Is(err, store.ErrInUse) {
		return nil, fmt.Errorf("%w: stop the door agent first (sudo systemctl stop swc-edge)", err)
	}
	if err != nil {
		return nil, err
	}
	defer func() { st.Close() }()
	bound, err := st.BoundDoor(ctx)
	if err != nil {
		return nil, err
	}
	if bound != "" && o.Door != "" && bound != o.Door {
		return nil, fmt.Errorf("%s holds the database of door %q, not %q: use another --data folder, or move it away if door %q is gone (it may hold events not yet delivered)", db, bound, o.Door, bound)
	}

	key, keyPEM, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	// The request names --door (when given), so that the central refuses
	// a token of another door before spending it.
	csr, err := pki.NewCSR(key, o.Door)
	if err != nil {
		return nil, err
	}
	e, err := Exchange(ctx, o.Central, o.Trust, o.Token, csr)
	if errors.Is(err, ErrWrongDoor) {
		return nil, fmt.Errorf("--door %s: %w; nothing was written: check --door against the command shown with the token", o.Door, err)
	}
	if err != nil {
		return nil, err
	}
	if o.Door != "" && e.Door != o.Door {
		return nil, fmt.Errorf("the token was for door %q, not --door %q: nothing was written; ask for a token for the right door", e.Door, o.Door)
	}
	if bound != "" && bound != e.Door {
		return nil, fmt.Errorf("enrolled door %q, but %s holds the database of door %q: nothing was written; use another --data folder (or move that one away if door %q is gone) and provision again with a new token", e.Door, db, bound, bound)
	}
	// The chain and key are checked at an instant the certificate is valid:
	// this machine's clock may not be set yet (no NTP on a fresh Pi).
	certPEM := []byte(e.Certificate)
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("the central's certificate: %w", err)
	}
	if _, err := CheckCertificate(certPEM, []byte(e.CA), e.Door, key.Public(), cert.NotBefore.Add(time.Minute)); err != nil {
		return nil, fmt.Errorf("the central's certificate: %w", err)
	}
	res := &Result{Enrollment: e, Files: files, DB: db, Config: o.Config, NotAfter: cert.NotAfter}
	if now := o.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		res.ClockWarning = fmt.Sprintf("this machine's clock says %s, outside the certificate's validity (%s to %s): the door cannot connect until its clock is set (NTP, timedatectl)",
			now.UTC().Format(time.RFC3339), cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}

	// The database is bound to the door. Its events need not go on after
	// the central's numbers (Enrollment.NextSeq, for doors from before
	// store identities): every Open numbers them in a new store identity,
	// which the central keeps apart from every other (edge/store).
	st.Close()
	st, err = store.Open(ctx, db, store.Options{Door: e.Door, OpenTimeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}

	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{files.Key, keyPEM, 0o600}, {files.Cert, certPEM, 0o644}, {files.CA, []byte(e.CA), 0o644}} {
		if err := atomicfile.Write(w.path, w.data, w.mode); err != nil {
			return nil, err
		}
	}
	cfg, err := Config(base, Settings{Door: e.Door, DataDir: dataDir, SigningKeys: e.SigningKeys, Broker: e.Broker, TopicPrefix: e.TopicPrefix,
		Files: files, Central: o.Central, Time: o.Now()})
	if err != nil {
		return nil, err
	}
	if len(base) > 0 {
		res.Backup = o.Config + ".bak"
		if err := atomicfile.Write(res.Backup, base, 0o644); err != nil {
			return nil, err
		}
	}
	if err := atomicfile.Write(o.Config, cfg, 0o644); err != nil {
		return nil, err
	}
	if o.Owner != nil {
		for _, p := range []string{dataDir, files.Key, files.Cert, files.CA, db} {
			if err := os.Chown(p, o.Owner.UID, o.Owner.GID); err != nil {
				return nil, fmt.Errorf("handing %s to the service user: %w", p, err)
			}
		}
	}
	return res, nil
}
