// Command swc-edge is the door agent that runs on a Raspberry Pi: it reads
// badges, decides offline, drives the door relay and keeps every event for
// the central service. It also carries the technician's and developer's
// commands:
//
//	swc-edge run --config FILE                 run the door
//	swc-edge check --config FILE               configuration, reader, pins, certificate,
//	                                           broker, clock and whitelist: OK or what to do
//	swc-edge status --config FILE [--json]     whitelist, outbox, clock, door
//	swc-edge tap --config FILE --uid HEX       present a badge (simulated reader;
//	                                           HEX in either case, with spaces, colons
//	                                           or dashes; recorded as upper-case hex);
//	     [--card ntag424dna|desfire_ev2|clone  a simulated secure card instead, holding
//	      --key-version N]                     the door key the whitelist lists (version N)
//	swc-edge sim --config FILE door open|close | exit | reader fail|ok
//	swc-edge whitelist load --config FILE MSGS load signed whitelist messages
//	swc-edge whitelist keygen --out KEYFILE    (development) a signing key
//	swc-edge whitelist sign --key KEYFILE ...  (development) sign a snapshot
//	swc-edge provision --central URL --token T enroll the door at the central
//	swc-edge test reader|relay|inputs          the technician's hardware checks
//	swc-edge enroll-badge --member M ...       read a badge and register it
//	swc-edge version (or --version)            version, commit and build date
//
// Flags may come before or after a command's words; -h or --help on any
// command prints its help.
//
// Exit status: 0 on success and after SIGTERM/SIGINT, 1 when the door or a
// command failed, 2 for a usage or configuration error.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/edge/sync"
	"github.com/smartworkcenters/swc/shared/cmdline"
	"github.com/smartworkcenters/swc/shared/sdnotify"
)

// version, commit and date are set at build time by the Makefile with
// -ldflags "-X main.version=... -X main.commit=... -X main.date=...";
// a plain `go build` falls back on Go's build information.
var version, commit, date string

func main() {
	os.Exit(cli(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usageHeader = `usage: swc-edge COMMAND [flags]   (flags may come before or after the command's words)
       swc-edge COMMAND --help      the command's flags
       swc-edge --version`

// command is one command of swc-edge for help: "whitelist load" is a
// subcommand of "whitelist".
type command struct{ name, synopsis, summary string }

// commands lists every command and subcommand, in the order of the help.
var commands = []command{
	{"run", "[--config FILE] [--log-format text|json|journal]", "run the door agent"},
	{"check", "[--config FILE] [--cert-days N] [--timeout D]", "check what the door needs: configuration, reader, pins, certificate,\nbroker, clock and whitelist; each line OK or what to do"},
	{"status", "[--config FILE] [--json]", "whitelist version and age, outbox, clock trust, door state"},
	{"tap", "[--config FILE] --uid HEX [--card ntag424dna|desfire_ev2|clone [--key-version N]] [--json]", "present a badge to a simulated reader (reader.driver = \"sim\");\nHEX in either case, spaces, colons or dashes allowed (04:a1:b2:c3); --card: a secure card"},
	{"sim", "[--config FILE] door open|close | exit | reader fail|ok | burst N UID", "drive the simulated door: open or close it, press the exit button,\nbreak or repair the reader, record N taps"},
	{"whitelist", "load|keygen|sign [flags]", "load signed whitelists; development: make a key, sign a snapshot"},
	{"whitelist load", "[--config FILE] MSGS...", "load signed whitelist messages (one per line) into the door"},
	{"whitelist keygen", "--out KEYFILE", "development: make a whitelist signing key"},
	{"whitelist sign", "--key KEYFILE --door ID --version N [--center C] [--room R] [--valid D] ENTRIES.json", "development: sign a snapshot, one message per line on stdout"},
	{"provision", "--central URL --token T [--door ID] [--ca-fingerprint sha256:...|--ca FILE] [--data DIR] [--config FILE] [--user U]", "technician: enroll this door (its own key, its certificate, the\ncentral's keys); writes the configuration"},
	{"test", "reader|relay|inputs [flags]", "technician: the hardware checks"},
	{"test reader", "[--config FILE] [--wait 30s]", "chip version, self-test, then read a badge"},
	{"test relay", "[--config FILE] [--seconds 2s]", "pulse the lock relay and confirm it moved"},
	{"test inputs", "[--config FILE] [--for 60s]", "show the door contact and exit button as they change"},
	{"enroll-badge", "[--config FILE] --member M --central URL [--api-token-file F] [--secure [--card TYPE]]", "technician: read a badge and register it for member M\n(API token in the file or $SWC_API_TOKEN); --secure personalises an\nNTAG 424 DNA or DESFire card with its keys from the central first"},
	{"version", "", "print the version, commit and build date"},
}

// usageOf is the help of the command name ("whitelist load").
func usageOf(name string) string {
	for _, c := range commands {
		if c.name == name {
			return "usage: swc-edge " + strings.TrimSpace(c.name+" "+c.synopsis) + "\n\n" + c.summary
		}
	}
	return "usage: swc-edge " + name + " [flags]"
}

// dispatch runs the subcommand of parent named by args[0] among run, with
// their help from commands.
func dispatch(parent string, run map[string]func([]string) int, args []string, stdout, stderr io.Writer) int {
	var cmds []cmdline.Command
	for _, c := range commands {
		name, ok := strings.CutPrefix(c.name, parent)
		if parent != "" {
			name, ok = strings.CutPrefix(name, " ")
		}
		if !ok || strings.Contains(name, " ") {
			continue
		}
		cmds = append(cmds, cmdline.Command{Name: name, Synopsis: c.synopsis, Summary: c.summary, Run: run[name]})
	}
	header := usageHeader
	if parent != "" {
		header = usageOf(parent)
	}
	return cmdline.Dispatch(strings.TrimSpace("swc-edge "+parent), header, cmds, args, stdout, stderr)
}

// cli runs one command and returns the exit status.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	return dispatch("", map[string]func([]string) int{
		"run":          func(a []string) int { return cmdRun(ctx, a, stdout, stderr) },
		"check":        func(a []string) int { return cmdCheck(ctx, a, stdout, stderr) },
		"status":       func(a []string) int { return cmdStatus(ctx, a, stdout, stderr) },
		"tap":          func(a []string) int { return cmdTap(ctx, a, stdout, stderr) },
		"sim":          func(a []string) int { return cmdSim(ctx, a, stdout, stderr) },
		"whitelist":    func(a []string) int { return cmdWhitelist(ctx, a, stdout, stderr) },
		"provision":    func(a []string) int { return cmdProvision(ctx, a, stdout, stderr) },
		"test":         func(a []string) int { return cmdTest(ctx, a, stdout, stderr) },
		"enroll-badge": func(a []string) int { return cmdEnrollBadge(ctx, a, stdout, stderr) },
		"version":      func(a []string) int { return cmdVersion(a, stdout, stderr) },
	}, args, stdout, stderr)
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stdout, stderr)
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if code, ok := noArgs(fs, stderr); !ok {
		return code
	}
	fmt.Fprintln(stdout, "swc-edge", cmdline.BuildOf(version, commit, date))
	return 0
}

// exitErr prints err for a person and returns code.
func exitErr(stderr io.Writer, code int, format string, args ...any) int {
	fmt.Fprintf(stderr, "swc-edge: "+format+"\n", args...)
	return code
}

// newLogger is the configuration's logger, or format's when it is set
// (--log-format).
func newLogger(cfg agent.LogConfig, format string, w io.Writer) (*slog.Logger, error) {
	if format == "" {
		format = cfg.Format
	}
	return cmdline.NewLogger(w, format, cfg.Level)
}

// cmdRun runs the door until SIGTERM or SIGINT.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	var logFormat *string
	cfg, _, code := loadConfig("run", args, false, stdout, stderr, func(fs flags) {
		logFormat = fs.String("log-format", "", "log format: "+cmdline.LogFormats+" (default: [log] format; text under journald\nloses its time= field, journald stamps each line)")
	})
	if cfg == nil {
		return code
	}
	log, err := newLogger(cfg.Log, *logFormat, stderr)
	if err != nil {
		return exitErr(stderr, 2, "--log-format: %v", err)
	}
	cmdline.RoutePahoLogs(log)
	events := &agent.DoorEvents{}
	hw, err := openHardware(cfg, events.Record, log)
	if err != nil {
		log.Error("cannot start: the door stays locked", "err", err)
		return exitErr(stderr, 1, "cannot start: %v", err)
	}
	// From here on the relay is locked, and is locked again on every way
	// out, including a panic on this goroutine.
	defer hw.close()
	defer func() {
		if r := recover(); r != nil {
			_ = hw.door.Close()
			code = exitErr(stderr, 1, "panic (the relay is locked): %v", r)
		}
	}()
	st, err := store.Open(ctx, cfg.DBPath(), cfg.StoreOptions())
	if err != nil {
		_ = hw.door.Close()
		log.Error("cannot open the database: the door stays locked", "err", err)
		return exitErr(stderr, 1, "cannot start: %v", err)
	}
	defer st.Close()
	a, err := agent.New(agent.Deps{Config: cfg, Door: hw.door, Reader: hw.reader, Store: st, Sim: hw.sim, Logger: log,
		Components: components(), Firmware: cmdline.BuildOf(version, commit, date).Version})
	if err != nil {
		_ = hw.door.Close()
		return exitErr(stderr, 1, "%v", err)
	}
	events.Attach(a)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Under systemd (Type=notify, WatchdogSec=): ready once the relay is
	// locked and the store open; keep-alives while the store answers.
	sd, err := sdnotify.FromEnv()
	if err != nil {
		log.Warn("systemd notification settings ignored", "err", err)
	}
	go sd.KeepAlive(ctx, func(ctx context.Context) error { _, err := a.WhitelistVersion(ctx); return err }, log)
	if err := sd.Ready(); err != nil {
		log.Warn("telling systemd the door is ready failed", "err", err)
	}
	defer func() { _ = sd.Stopping() }()
	if err := a.Run(ctx); err != nil {
		return exitErr(stderr, 1, "stopped (the relay is locked): %v", err)
	}
	return 0
}

// components are the extra components the agent starts from their
// configuration sections: the MQTT sync for [mqtt].
func components() []agent.ComponentFactory { return []agent.ComponentFactory{sync.Factory()} }
