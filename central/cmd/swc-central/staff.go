package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/cmdline"
)

const staffHelp = `usage:
  swc-central staff add --email ADDR --name NAME --role admin|manager|technician [--center ID]... [--data DIR | --db postgres://...] [--public-url URL]
                        [--password-file F [--totp-secret BASE32]]
  swc-central staff code --totp-secret BASE32

add creates a staff account (issue 16). Without --password-file it is an
invitation: the account waits for its holder, and the one-time link
(valid 72 hours) is printed for you to hand over; serve e-mails links made
from the console or the API itself. With --password-file (the password
on the file's first line) the account is created active with that
password and the TOTP secret given (or a new one), and the secret, its
otpauth:// URI and the recovery codes are printed: for the demo, and for
the first admin of a new network. Changes are in the audit log as the
system actor "staff-cli".

code prints the current TOTP code of a secret (for the demo and scripts).
`

// centersFlag collects --center.
type centersFlag []string

func (c *centersFlag) String() string     { return strings.Join(*c, ",") }
func (c *centersFlag) Set(v string) error { *c = append(*c, v); return nil }

func staff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cmdline.Dispatch("swc-central staff", staffHelp, []cmdline.Command{
		{Name: "add", Synopsis: "--email ADDR --name NAME --role ROLE [flags]", Summary: "create or invite a staff account",
			Run: func(a []string) int { return staffAdd(ctx, a, stdout, stderr) }},
		{Name: "code", Synopsis: "--totp-secret BASE32", Summary: "print the current TOTP code of a secret",
			Run: func(a []string) int { return staffCode(a, stdout, stderr) }},
	}, args, stdout, stderr)
}

func staffCode(args []string, stdout, stderr io.Writer) int {
	fs := cmdline.NewFlagSet("swc-central staff code", "usage: swc-central staff code --totp-secret BASE32\n\nprints the current TOTP code of a secret (for the demo and scripts)", stdout, stderr)
	secret := fs.String("totp-secret", "", "the base32 TOTP secret")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "swc-central staff code: unexpected argument %q\n", fs.Arg(0))
		return cmdline.ExitUsage
	}
	code, err := accounts.TOTPCode(strings.ToUpper(strings.TrimSpace(*secret)), time.Now())
	if err != nil || *secret == "" {
		fmt.Fprintf(stderr, "swc-central staff code: --totp-secret: want a base32 secret (%v)\n", err)
		return 2
	}
	fmt.Fprintln(stdout, code)
	return 0
}

func staffAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cmdline.NewFlagSet("swc-central staff add", staffHelp, stdout, stderr)
	email := fs.String("email", "", "the person's e-mail address (required)")
	name := fs.String("name", "", "the person's name (required)")
	role := fs.String("role", "", "admin, manager (one --center) or technician (one or more --center)")
	var centers centersFlag
	fs.Var(&centers, "center", "a center of a manager or technician (repeat for several)")
	dataDir := fs.String("data", "./data", "serve's data folder, holding the SQLite database")
	dbURL := fs.String("db", "", "PostgreSQL URL (postgres://...) instead of the SQLite database in --data")
	publicURL := fs.String("public-url", "", "the address staff reach the console at, for the invitation link (https://host)")
	pwFile := fs.String("password-file", "", "create the account active with the password on this file's first line")
	secret := fs.String("totp-secret", "", "with --password-file: the base32 TOTP secret (default: a new one)")
	keyFile := fs.String("totp-key-file", "", "the key that encrypts TOTP secrets at rest, shared with serve (default: totp.key in --data)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "swc-central staff add: "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected argument %q", fs.Arg(0))
	}
	if *email == "" || *name == "" || *role == "" {
		return fail(2, "--email, --name and --role are required")
	}
	if *secret != "" && *pwFile == "" {
		return fail(2, "--totp-secret needs --password-file")
	}
	if *dbURL != "" && *dataDir != "./data" {
		return fail(2, "give --data or --db, not both")
	}
	password := ""
	if *pwFile != "" {
		raw, err := os.ReadFile(*pwFile)
		if err != nil {
			return fail(2, "--password-file: %v", err)
		}
		password, _, _ = strings.Cut(string(raw), "\n")
		password = strings.TrimSuffix(password, "\r")
	}
	st, err := openStore(ctx, *dataDir, *dbURL)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer st.Close()
	if *keyFile == "" {
		*keyFile = filepath.Join(*dataDir, accounts.TOTPKeyFile)
	}
	key, err := accounts.LoadOrCreateTOTPKey(*keyFile)
	if err != nil {
		return fail(1, "%v", err)
	}
	svc, err := accounts.NewService(accounts.Config{Store: st, BaseURL: *publicURL, TOTPKey: key})
	if err != nil {
		return fail(1, "%v", err)
	}
	ctx = audit.WithSystem(ctx, "staff-cli")
	in := accounts.Invitation{Email: *email, Name: *name, Role: store.Role(*role), Centers: centers}
	if *pwFile == "" {
		a, link, err := svc.Invite(ctx, store.Token{ID: "staff-cli", Role: store.RoleAdmin}, in)
		if err != nil {
			return fail(1, "%v", err)
		}
		fmt.Fprintf(stdout, "invited %s (%s, %s%s), account %s\n", a.Email, a.Name, a.Role, centersText(a.Centers), a.ID)
		fmt.Fprintf(stdout, "one-time link, valid %d hours:\n%s\n", int(accounts.InviteTTL.Hours()), link)
		return 0
	}
	a, codes, err := svc.CreateActive(ctx, in, password, strings.ToUpper(strings.TrimSpace(*secret)))
	if err != nil {
		return fail(1, "%v", err)
	}
	full := a // with its TOTP secret, opened
	uri, err := svc.TOTPURIOf(full)
	if err != nil {
		return fail(1, "%v", err)
	}
	fmt.Fprintf(stdout, "created %s (%s, %s%s), account %s, active\n", a.Email, a.Name, a.Role, centersText(a.Centers), a.ID)
	fmt.Fprintf(stdout, "sign in at /login with this e-mail and the password; second factor: the TOTP code of\n")
	fmt.Fprintf(stdout, "totp secret: %s\notpauth uri: %s\nrecovery codes (each signs in once):\n", full.TOTPSecret, uri)
	for _, c := range codes {
		fmt.Fprintf(stdout, "  %s\n", c)
	}
	return 0
}

func centersText(cs []string) string {
	if len(cs) == 0 {
		return ""
	}
	return " of " + strings.Join(cs, ", ")
}
