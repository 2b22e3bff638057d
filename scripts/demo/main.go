// Command demo is `make demo`: the network's embedded default on one
// machine. It builds swc-central and swc-edge, starts the central service
// (embedded MQTT broker, SQLite) in a fresh data folder, seeds three
// centers, six doors and twenty members with bookings and passes, starts one
// swc-edge process per door on simulated hardware, and prints what to try.
// Its console cuts and restores a door's network link. Ctrl-C stops every
// process, doors first, and checks that every simulated relay ended locked.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/smartworkcenters/swc/scripts/internal/launch"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type options struct {
	http string    // dashboard and API address
	dir  string    // working folder; a new temporary one when empty
	keep bool      // keep the folder at the end
	out  io.Writer // where the demo's mail sink prints the e-mail it receives
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{out: stdout}
	fs.StringVar(&o.http, "http", "127.0.0.1:8080", "dashboard and API address (another free port is taken when it is busy)")
	fs.StringVar(&o.dir, "dir", "", "working folder for the data, logs and door configurations (default: a new temporary folder, removed at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the working folder at the end")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	started := time.Now()
	fmt.Fprintln(stdout, "demo: building swc-central and swc-edge, starting the network...")
	d, err := start(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	d.instructions(stdout, time.Since(started))
	go d.console(ctx, stdin, stdout)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\ndemo: stopping the doors, then the central service...")
	if err := d.stop(); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "demo: stopped; every simulated relay ended locked (%d doors).\n", len(d.doors))
	return 0
}

// demo is the running network.
type demo struct {
	dir       string
	removeDir bool
	central   *launch.Central
	doors     []*door
	edge      string // the swc-edge binary
	mail      *mailSink
	staff     staffLogin
	invoices  *invoices // last month's, issued at start

	mu sync.Mutex // guards the doors' cut flags
}

// start builds, starts and seeds everything, and returns once every door
// holds its whitelist. On error nothing is left running.
func start(ctx context.Context, o options) (d *demo, err error) {
	root, err := launch.RepoRoot()
	if err != nil {
		return nil, err
	}
	d = &demo{dir: o.dir}
	if d.dir == "" {
		if d.dir, err = os.MkdirTemp("", "swc-demo-"); err != nil {
			return nil, err
		}
		d.removeDir = !o.keep
	}
	defer func() {
		if err != nil {
			_ = d.stop()
		}
	}()
	bins, err := launch.Build(ctx, root, filepath.Join(root, "bin"))
	if err != nil {
		return d, err
	}
	d.edge = bins.Edge
	if !portFree(o.http) {
		o.http = ""
	}
	if d.mail, err = startMailSink(o.out); err != nil {
		return d, err
	}
	d.central, err = launch.StartCentral(ctx, launch.CentralOptions{Binary: bins.Central, DataDir: filepath.Join(d.dir, "central"), HTTPAddr: o.http, Log: filepath.Join(d.dir, "swc-central.log"),
		Extra: []string{"--smtp-host", "127.0.0.1", "--smtp-port", strconv.Itoa(d.mail.Port()), "--smtp-security", "none",
			"--mail-from", "Smart Work Centers demo <noreply@demo.example>"}})
	if err != nil {
		return d, err
	}
	now := time.Now().UTC()
	net := network(now)
	billed := lastMonth(now)
	if err := seedBillingPolicy(ctx, d.central, billed); err != nil {
		return d, err
	}
	if err := seed(ctx, d.central, net); err != nil {
		return d, err
	}
	if err := seedBilling(ctx, d.central, net, billed); err != nil {
		return d, err
	}
	if d.invoices, err = d.issueInvoices(ctx, bins.Central, billed, o.out); err != nil {
		return d, err
	}
	if d.staff, err = addStaff(ctx, bins.Central, d.dir, filepath.Join(d.dir, "central")); err != nil {
		return d, err
	}
	key, err := d.central.PublicKey(ctx)
	if err != nil {
		return d, err
	}
	for _, dd := range net.doors {
		secret, err := d.central.DoorSecret(ctx, dd.ID)
		if err != nil {
			return d, err
		}
		x, err := startDoor(bins.Edge, d.dir, dd, d.central.Options.MQTTAddr, secret, key)
		if err != nil {
			return d, fmt.Errorf("door %s: %w", dd.ID, err)
		}
		d.doors = append(d.doors, x)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, x := range d.doors {
		if err := x.waitSynced(wctx); err != nil {
			return d, err
		}
	}
	return d, nil
}

// portFree reports whether addr names a port (not 0) that is free now.
func portFree(addr string) bool {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
		return false
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// door finds a door by id.
func (d *demo) door(id string) *door {
	for _, x := range d.doors {
		if x.ID == id {
			return x
		}
	}
	return nil
}

// tapCommand is the command line that presents a badge at a door.
func (d *demo) tapCommand(doorID, uid string) string {
	return fmt.Sprintf("%s tap --config %s --uid %s", d.edge, d.door(doorID).config, uid)
}

func (d *demo) instructions(w io.Writer, took time.Duration) {
	c, inv := d.central, d.invoices
	fmt.Fprintf(w, `
The network is up (%s): 3 centers, %d doors, 20 members, an embedded MQTT broker and SQLite.

Dashboard:  %s/
  staff sign-in: %s, password %s,
    then the code of TOTP secret %s (any authenticator app, or: %s)
  log in with the admin token: %s  (break-glass, at /login/token)
  (the same token works for the API: curl -H 'Authorization: Bearer %s' %s/api/v1/doors)

Booking site:  %s/my/
  sign in as %s: the code arrives as an e-mail, printed here as [mail] lines

Doors (each a swc-edge process on simulated hardware; its relay journal is data/sim-gpio.log):
`, took.Round(100*time.Millisecond), len(d.doors), c.URL(), d.staff.email, d.staff.password, d.staff.secret, d.staff.codeCommand,
		c.Token, c.Token, c.URL(), c.URL(), demoMemberEmail)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, x := range d.doors {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", x.ID, x.Door.Name, x.hint)
	}
	tw.Flush()
	fmt.Fprintf(w, `
Tap a badge (in another terminal), and watch it on the dashboard's Live page:
  granted, Nora's desk booking:   %s
  an unknown badge, refused:      %s
  Leo's booking starts later:     %s
  the meeting room, Milan:        %s
  Omar's lost badge, revoked:    %s

Cut a door off the network, tap, and watch it keep working and catch up:
  type here:  cut gnt-garden
  then tap:   %s
  the door decides alone and keeps the event; "status" shows it waiting in the door's outbox
  type here:  restore gnt-garden    (the event reaches the dashboard within seconds)

Invoices of %s, issued at start from last month's desk bookings (the demo's no-show policy "booked"
counts a booking as attended: its doors were not tapped then); each member got an e-mail ([mail] lines above):
  %d documents, PDF (in each member's language) and Peppol UBL:  %s
  for accounting software:                                         %s
  the centers' payouts, SEPA pain.001 for the cooperative's bank:   %s
  in the console: %s/billing?period=%s   members: %s/my/invoices
  the same from the command line: %s billing list --period %s --data %s
    (dry-run, issue, export, payouts, mail: see %s billing --help)

Commands here: status, cut DOOR, restore DOOR, help.  Ctrl-C stops everything; the relays end locked.
Working folder: %s
`, d.tapCommand("bru-front", badgeGranted), d.tapCommand("bru-front", badgeUnknown), d.tapCommand("bru-front", badgeLater),
		d.tapCommand("bru-atlas", badgeRoom), d.tapCommand("gnt-front", badgeRevoked), d.tapCommand("gnt-garden", badgeLocal),
		inv.period, inv.documents, inv.dir, filepath.Join(inv.dir, "documents-"+inv.period.String()+".csv"), inv.payouts,
		c.URL(), inv.period, c.URL(), d.central.Options.Binary, inv.period, d.central.Options.DataDir, d.central.Options.Binary, d.dir)
}

// console reads commands until the input ends or the demo stops.
func (d *demo) console(ctx context.Context, in io.Reader, out io.Writer) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if ctx.Err() != nil {
			return
		}
		fmt.Fprint(out, d.command(ctx, strings.Fields(sc.Text())))
	}
}

// command runs one console command and returns what to print.
func (d *demo) command(ctx context.Context, f []string) string {
	if len(f) == 0 {
		return ""
	}
	switch {
	case f[0] == "help":
		return "commands: status, cut DOOR, restore DOOR, help; Ctrl-C stops the demo\n"
	case f[0] == "status" && len(f) == 1:
		return d.status(ctx)
	case (f[0] == "cut" || f[0] == "restore") && len(f) == 2:
		x := d.door(f[1])
		if x == nil {
			return fmt.Sprintf("no door %q; the doors are %s\n", f[1], d.doorIDs())
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if f[0] == "cut" {
			x.link.Cut()
			x.cut = true
			return fmt.Sprintf("%s is cut off the network: taps are decided from its own whitelist and kept in its outbox\n", x.ID)
		}
		x.link.Restore()
		x.cut = false
		return fmt.Sprintf("%s is back on the network: it reconnects and sends what it kept\n", x.ID)
	}
	return fmt.Sprintf("unknown command %q; try help\n", strings.Join(f, " "))
}

func (d *demo) doorIDs() string {
	ids := make([]string, len(d.doors))
	for i, x := range d.doors {
		ids[i] = x.ID
	}
	return strings.Join(ids, ", ")
}

// status is one line per door from the agent's own report.
func (d *demo) status(ctx context.Context) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "door\tlink\twhitelist\tbadges\tlast event\twaiting in outbox\trelay")
	for _, x := range d.doors {
		d.mu.Lock()
		link := "up"
		if x.cut {
			link = "cut"
		}
		d.mu.Unlock()
		rep, err := x.report(ctx)
		if err != nil {
			fmt.Fprintf(tw, "%s\t%s\t(no answer: %v)\n", x.ID, link, err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\tv%d\t%d\t#%d\t%d\t%s\n", x.ID, link, rep.Whitelist.Version, rep.Whitelist.Badges, rep.Outbox.LastSeq, rep.Outbox.Depth, rep.Door.Relay)
	}
	tw.Flush()
	return b.String()
}

// stop ends the doors (their relays lock as they stop), then the central,
// checks every relay's last state and removes the working folder unless it
// is kept. It reports every door whose relay did not end locked.
func (d *demo) stop() error {
	var wg sync.WaitGroup
	for _, x := range d.doors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.Stop()
			x.link.Close()
		}()
	}
	wg.Wait()
	if d.central != nil {
		d.central.Stop()
	}
	var errs []error
	if d.mail != nil {
		if err := d.mail.Close(); err != nil {
			errs = append(errs, fmt.Errorf("mail sink: %w", err))
		}
	}
	for _, x := range d.doors {
		state, err := x.relayJournal()
		if err != nil {
			errs = append(errs, err)
		} else if state != "locked" {
			errs = append(errs, fmt.Errorf("%s: the relay ended %s", x.ID, state))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("after the stop (folder kept: %s): %w", d.dir, err)
	}
	if d.removeDir {
		return os.RemoveAll(d.dir)
	}
	return nil
}
