package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/cmdline"
)

const doorCertUsage = `usage:
  swc-central door-cert revoke (--door ID | --serial HEX) [--data DIR] [--db URL]
      revoke a door's valid certificates (--door), or one certificate
      (--serial, as crl.pem and the logs show it), recorded in the store and
      audited. The embedded broker refuses them at the next connection, and
      the door's renewals with that key are refused: only a new enrollment
      (a new token, a new key) brings the door back. crl.pem in --data is
      written at once (swc-central-crl.path then reloads Mosquitto, which
      refuses new connections; restart Mosquitto to close the open ones);
      other replicas on the same PostgreSQL rewrite theirs on the store's
      notice.
`

// doorCert revokes door certificates.
func doorCert(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && cmdline.WantsHelp(args[:1]) {
		fmt.Fprint(stdout, doorCertUsage)
		return 0
	}
	if len(args) == 0 || args[0] != "revoke" {
		fmt.Fprint(stderr, doorCertUsage)
		return cmdline.ExitUsage
	}
	flags := cmdline.NewFlagSet("swc-central door-cert revoke", doorCertUsage, stdout, stderr)
	door := flags.String("door", "", "revoke every valid certificate of this door")
	serial := flags.String("serial", "", "revoke this certificate (lower-case hex, as crl.pem lists it)")
	dataDir := flags.String("data", "./data", "serve's data folder: the CA and crl.pem, and the SQLite database unless --db")
	dbURL := flags.String("db", "", "PostgreSQL URL (postgres://...) instead of the SQLite database in --data")
	if code, ok := flags.Parse(args[1:]); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "swc-central door-cert revoke: "+format+"\n", a...)
		return code
	}
	if flags.NArg() > 0 {
		return fail(cmdline.ExitUsage, "unexpected argument %q", flags.Arg(0))
	}
	if (*door == "") == (*serial == "") {
		return fail(cmdline.ExitUsage, "give --door or --serial (one of them)")
	}
	for _, f := range []string{enroll.CACertFile, enroll.CAKeyFile} {
		if _, err := os.Stat(filepath.Join(*dataDir, f)); errors.Is(err, fs.ErrNotExist) {
			return fail(1, "--data %s holds no %s: give serve's data folder (its CA signs crl.pem)", *dataDir, f)
		}
	}
	ca, err := enroll.LoadOrCreateCA(*dataDir, server.CAName, time.Now())
	if err != nil {
		return fail(1, "%v", err)
	}
	st, err := openStore(ctx, *dataDir, *dbURL)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer st.Close()
	rev, err := enroll.NewRevocations(enroll.RevocationsConfig{CA: ca, Dir: *dataDir, Certs: st.DoorCerts()})
	if err != nil {
		return fail(1, "%v", err)
	}
	ctx = audit.WithSystem(ctx, "door-cert-cli")
	var revoked []store.DoorCert
	if *door != "" {
		if _, err := st.Door(ctx, *door); err != nil {
			return fail(1, "--door %s: %v", *door, err)
		}
		if revoked, err = rev.RevokeDoor(ctx, *door); err != nil {
			return fail(1, "%v", err)
		}
	} else {
		before, err := st.DoorCerts().DoorCert(ctx, *serial)
		if err != nil {
			return fail(1, "--serial %s: %v", *serial, err)
		}
		if err := rev.Revoke(ctx, *serial); err != nil {
			return fail(1, "%v", err)
		}
		if before.RevokedMs == 0 {
			revoked = []store.DoorCert{before}
		} else {
			fmt.Fprintf(stdout, "certificate %s of door %s was already revoked (%s, %s)\n", before.Serial, before.Door,
				before.Reason, time.UnixMilli(before.RevokedMs).UTC().Format(time.RFC3339))
		}
	}
	for _, c := range revoked {
		fmt.Fprintf(stdout, "revoked certificate %s of door %s (valid until %s)\n", c.Serial, c.Door, time.UnixMilli(c.NotAfterMs).UTC().Format(time.RFC3339))
	}
	if *door != "" && len(revoked) == 0 {
		fmt.Fprintf(stdout, "door %s has no valid certificate left to revoke\n", *door)
	}
	fmt.Fprintf(stdout, "%s is up to date; Mosquitto refuses the revoked certificates once it reloads it (swc-central-crl.path does; restart Mosquitto to close open connections).\n", rev.Path())
	return 0
}
