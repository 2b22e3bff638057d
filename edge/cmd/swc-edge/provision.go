package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/credential"
	"github.com/smartworkcenters/swc/edge/enroll"
	"github.com/smartworkcenters/swc/edge/sync"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// ServiceUser is the user the packaged swc-edge service runs as.
const ServiceUser = "swc-edge"

// cmdProvision enrolls the door at the central.
func cmdProvision(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("provision", stdout, stderr)
	var o enroll.Options
	fs.StringVar(&o.Central, "central", "", "the central's address, such as https://central.example.org:8443 (required)")
	fs.StringVar(&o.Token, "token", "", "the one-time enrollment token made for this door (required)")
	fs.StringVar(&o.Door, "door", "", "the door the token was made for: checked before the token is spent")
	fs.StringVar(&o.Trust.Fingerprint, "ca-fingerprint", "", "sha256:... of the central's CA, shown with the token: the central's HTTPS certificate must be from that CA")
	fs.StringVar(&o.Trust.CAFile, "ca", "", "the central's CA certificate (PEM file), instead of --ca-fingerprint")
	fs.StringVar(&o.DataDir, "data", enroll.DefaultDataDir, "the door's data folder: its key, certificate and database")
	fs.StringVar(&o.Config, "config", enroll.DefaultConfig, "the configuration to write (an existing one keeps its settings; the old file is kept as .bak)")
	owner := fs.String("user", "", "hand the data folder and its files to this user (default: "+ServiceUser+" when run as root and that user exists)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if o.Central == "" || o.Token == "" {
		return exitErr(stderr, 2, "provision: --central and --token are required (the command shown with the enrollment token has both)")
	}
	if fs.NArg() > 0 {
		return exitErr(stderr, 2, "provision: unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.Owner, err = fileOwner(*owner); err != nil {
		return exitErr(stderr, 2, "provision: --user: %v", err)
	}
	res, err := enroll.Provision(ctx, o)
	switch {
	case errors.Is(err, enroll.ErrTokenUsed), errors.Is(err, enroll.ErrTokenExpired), errors.Is(err, enroll.ErrTokenUnknown):
		return exitErr(stderr, 1, "provision refused: %v\nAsk whoever manages the door in the central service for a new enrollment token (POST /api/v1/doors/DOOR/enrollments).", err)
	case err != nil:
		return exitErr(stderr, 1, "provision: %v", err)
	}
	e := res.Enrollment
	fmt.Fprintf(stdout, "Door %s is enrolled at %s.\n", e.Door, o.Central)
	fmt.Fprintf(stdout, "  key          %s (private: it never leaves this Pi)\n", res.Files.Key)
	fmt.Fprintf(stdout, "  certificate  %s, valid until %s, renewed automatically over MQTT\n", res.Files.Cert, res.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(stdout, "  CA           %s\n", res.Files.CA)
	fmt.Fprintf(stdout, "  broker       %s\n", e.Broker)
	fmt.Fprintf(stdout, "  signing key  %s (pinned)\n", strings.Join(e.SigningKeys, ", "))
	fmt.Fprintf(stdout, "  events       numbered from 1 in a new store identity at every start\n")
	fmt.Fprintf(stdout, "  config       %s", res.Config)
	if res.Backup != "" {
		fmt.Fprintf(stdout, " (the previous file is in %s)", res.Backup)
	}
	fmt.Fprintln(stdout)
	if res.ClockWarning != "" {
		fmt.Fprintf(stdout, "\nWARNING: %s\n", res.ClockWarning)
	}
	fmt.Fprintf(stdout, `
Next:
  1. Check the [reader] and [door] pins in %[1]s against your wiring,
     then: swc-edge check --config %[1]s
  2. Test the hardware, one part at a time:
       swc-edge test reader --config %[1]s
       swc-edge test relay  --config %[1]s
       swc-edge test inputs --config %[1]s
  3. Start the door: sudo systemctl enable --now swc-edge
     and watch it connect: journalctl -u swc-edge -f
`, res.Config)
	return 0
}

// fileOwner returns who the door's files go to: name, or the service user
// when running as root and it exists; nil leaves them to the current user.
func fileOwner(name string) (*enroll.Owner, error) {
	if name == "" {
		if os.Geteuid() != 0 {
			return nil, nil
		}
		if _, err := user.Lookup(ServiceUser); err != nil {
			return nil, nil
		}
		name = ServiceUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, err
	}
	return &enroll.Owner{UID: uid, GID: gid}, nil
}

// cmdEnrollBadge reads a badge and registers it for a member at the
// central, with the technician's API token.
func cmdEnrollBadge(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("enroll-badge", stdout, stderr)
	path := fs.String("config", defaultConfig, "configuration file")
	member := fs.String("member", "", "the member the badge belongs to (required)")
	central := fs.String("central", "", "the central's address, such as https://central.example.org:8443 (required)")
	tokenFile := fs.String("api-token-file", "", "file holding your API token (default: $SWC_API_TOKEN)")
	var trust enroll.Trust
	fs.StringVar(&trust.Fingerprint, "ca-fingerprint", "", "sha256:... of the central's CA (default: the door's CA file, [mqtt] ca_file)")
	fs.StringVar(&trust.CAFile, "ca", "", "the central's CA certificate (PEM file)")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the badge")
	secure := fs.Bool("secure", false, "personalise the card as a secure badge first (NTAG 424 DNA or DESFire EV2/EV3: the card's keys come from the central) and register it as secure")
	cardFlag := fs.String("card", "", "with --secure: ntag424dna or desfire_ev2 (default: found on the card)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if code, ok := noArgs(fs, stderr); !ok {
		return code
	}
	var cardType protocol.CardType
	if *cardFlag != "" {
		t, err := protocol.ParseCardType(*cardFlag)
		if err != nil || !t.Secure() || !*secure {
			return exitErr(stderr, 2, "enroll-badge: --card %q: with --secure, ntag424dna or desfire_ev2", *cardFlag)
		}
		cardType = t
	}
	if *member == "" || *central == "" {
		return exitErr(stderr, 2, "enroll-badge: --member and --central are required")
	}
	token := strings.TrimSpace(os.Getenv("SWC_API_TOKEN"))
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return exitErr(stderr, 2, "enroll-badge: --api-token-file: %v", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return exitErr(stderr, 2, "enroll-badge: your API token is needed: put it in a file (--api-token-file) or in $SWC_API_TOKEN")
	}
	cfg, err := agent.Load(*path)
	if err != nil {
		return exitErr(stderr, 2, "%v", err)
	}
	if trust.Fingerprint == "" && trust.CAFile == "" {
		trust.CAFile = doorCAFile(cfg)
	}
	client, base, err := trust.APIClient(*central)
	if err != nil {
		return exitErr(stderr, 2, "enroll-badge: %v", err)
	}

	c, closeAll, code := openCheck(ctx, cfg, stdout, stderr)
	if c == nil {
		return code
	}
	defer closeAll()
	if *secure {
		card, err := c.readCard(ctx, *wait, "Put the card of member "+*member+" on the reader and leave it there until this says done")
		if err != nil {
			return checkResult(err, stdout, stderr)
		}
		station := &credential.HTTPCentral{Client: client, Base: base.String(), Token: token}
		done, err := credential.Enroll(ctx, card, cardType, *member, station, nil)
		if err != nil {
			if errors.Is(err, credential.ErrForeignCard) {
				return exitErr(stderr, 1, "card %s belongs to someone else (its keys are neither the factory's nor this network's): it was left untouched; use another card", card.ID())
			}
			return exitErr(stderr, 1, "enroll-badge --secure: card %s: %s\nNothing is lost: run the same command again with the card on the reader; it carries on where it stopped.", card.ID(), explainStation(err, *member))
		}
		fmt.Fprintf(stdout, "Done: badge %s is a secure %s badge (card master key version %d, %s) registered for member %s.\n"+
			"Doors authenticate it with its own key from their next whitelist update; a copy of its UID no longer opens them.\n",
			done.UID, done.Card, done.KeyVersion, done.Outcome, *member)
		return 0
	}
	uid, err := c.readBadge(ctx, *wait, "Tap the badge of member "+*member)
	if err != nil {
		return checkResult(err, stdout, stderr)
	}
	body, _ := json.Marshal(map[string]any{"uid": uid, "member_id": *member})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base.String(), "/")+"/api/v1/badges", bytes.NewReader(body))
	if err != nil {
		return exitErr(stderr, 1, "enroll-badge: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return exitErr(stderr, 1, "enroll-badge: cannot reach the central at %s: %v", base.Redacted(), err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if res.StatusCode == http.StatusCreated {
		fmt.Fprintf(stdout, "Badge %s is registered for member %s.\nIt opens doors where %s has a booking, a pass or a staff role, once the doors' whitelists are updated (within seconds while they are online).\n", uid, *member, *member)
		return 0
	}
	var e struct{ Code, Field, Message string }
	_ = json.Unmarshal(answer, &e)
	switch e.Code {
	case "duplicate_badge_uid":
		return exitErr(stderr, 1, "badge %s is already registered (to this or another member): nothing changed; a manager can move it (PUT /api/v1/badges/%s)", uid, uid)
	case "missing_ref":
		return exitErr(stderr, 1, "there is no member %q in your centers in the central service: check the member id", *member)
	case "forbidden":
		return exitErr(stderr, 1, "your API token may not register badges for member %s (%s): technicians register badges of their centers' members who hold no staff rights; the center's manager registers staff badges", *member, e.Message)
	case "unauthorized":
		return exitErr(stderr, 1, "the central does not accept your API token (%s)", e.Message)
	}
	return exitErr(stderr, 1, "registering badge %s: HTTP %d: %s", uid, res.StatusCode, bytes.TrimSpace(answer))
}

// doorCAFile is the CA file of the door's [mqtt] section: the central's
// HTTPS certificate is from the same CA when serve runs with --https.
func doorCAFile(cfg *agent.Config) string {
	if !cfg.HasSection("mqtt") {
		return ""
	}
	var m sync.Config
	if err := cfg.DecodeSection("mqtt", &m); err != nil {
		return ""
	}
	return m.CAFile
}
