// Command swc-edge is the door agent that runs on a Raspberry Pi: it reads
// badges, decides offline, drives the door relay and keeps every event for
// the central service. It also carries the technician's and developer's
// commands:
//
//	swc-edge run --config FILE                 run the door
//	swc-edge check --config FILE               validate the configuration
//	swc-edge status --config FILE [--json]     whitelist, outbox, clock, door
//	swc-edge tap --config FILE --uid HEX       present a badge (simulated reader;
//	                                           HEX in either case, with spaces, colons
//	                                           or dashes; recorded as upper-case hex)
//	swc-edge sim --config FILE door open|close | exit | reader fail|ok
//	swc-edge whitelist load --config FILE MSGS load signed whitelist messages
//	swc-edge whitelist keygen --out KEYFILE    (development) a signing key
//	swc-edge whitelist sign --key KEYFILE ...  (development) sign a snapshot
//	swc-edge provision --central URL --token T enroll the door at the central
//	swc-edge test reader|relay|inputs          the technician's hardware checks
//	swc-edge enroll-badge --member M ...       read a badge and register it
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
	"syscall"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/edge/sync"
	"github.com/smartworkcenters/swc/shared/sdnotify"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(cli(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: swc-edge COMMAND [flags]

commands:
  run --config FILE                  run the door agent
  check --config FILE                validate the configuration and print warnings
  status --config FILE [--json]      whitelist version and age, outbox, clock trust, door state
  tap --config FILE --uid HEX        present a badge to a simulated reader (reader.driver = "sim");
                                     HEX in either case, spaces, colons or dashes allowed (04:a1:b2:c3)
  sim --config FILE door open|close  open or close the simulated door
  sim --config FILE exit             press the simulated exit button
  sim --config FILE reader fail|ok   break or repair the simulated reader
  whitelist load --config FILE MSGS  load signed whitelist messages (one per line) into the door
  whitelist keygen --out KEYFILE     development: make a whitelist signing key
  whitelist sign --key KEYFILE --door ID --version N ENTRIES.json
                                     development: sign a snapshot, one message per line on stdout

technician:
  provision --central URL --token T [--door ID] [--ca-fingerprint sha256:...|--ca FILE]
            [--data DIR] [--config FILE]
                                     enroll this door: its own key, its certificate, the
                                     central's keys; writes the configuration
  test reader --config FILE [--wait 30s]
                                     chip version, self-test, then read a badge
  test relay --config FILE [--seconds 2s]
                                     pulse the lock relay and confirm it moved
  test inputs --config FILE [--for 60s]
                                     show the door contact and exit button as they change
  enroll-badge --config FILE --member M --central URL [--api-token-file F] [--secure [--card TYPE]]
                                     read a badge and register it for member M
                                     (API token in the file or $SWC_API_TOKEN);
                                     --secure personalises an NTAG 424 DNA or
                                     DESFire card with its keys from the central first
`

// cli runs one command and returns the exit status.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, stderr)
	case "tap":
		return cmdTap(ctx, rest, stdout, stderr)
	case "sim":
		return cmdSim(ctx, rest, stdout, stderr)
	case "whitelist":
		return cmdWhitelist(ctx, rest, stdout, stderr)
	case "provision":
		return cmdProvision(ctx, rest, stdout, stderr)
	case "test":
		return cmdTest(ctx, rest, stdout, stderr)
	case "enroll-badge":
		return cmdEnrollBadge(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "swc-edge", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "swc-edge: unknown command %q\n%s", cmd, usage)
	return 2
}

// exitErr prints err for a person and returns code.
func exitErr(stderr io.Writer, code int, format string, args ...any) int {
	fmt.Fprintf(stderr, "swc-edge: "+format+"\n", args...)
	return code
}

func newLogger(cfg agent.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// cmdRun runs the door until SIGTERM or SIGINT.
func cmdRun(ctx context.Context, args []string, stderr io.Writer) (code int) {
	fs := newFlags("run", stderr)
	path := fs.String("config", "/etc/swc-edge/swc-edge.toml", "configuration file")
	if !fs.parse(args) {
		return 2
	}
	cfg, err := agent.Load(*path)
	if err != nil {
		return exitErr(stderr, 2, "%v", err)
	}
	log := newLogger(cfg.Log, stderr)
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
		Components: components(), Firmware: version})
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

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	path := fs.String("config", "/etc/swc-edge/swc-edge.toml", "configuration file")
	if !fs.parse(args) {
		return 2
	}
	cfg, err := agent.Load(*path)
	if err != nil {
		return exitErr(stderr, 2, "%v", err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: configuration OK for door %s (reader %s)\n", *path, cfg.DoorID, cfg.Reader.Driver)
	return 0
}
