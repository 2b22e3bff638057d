package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// client talks to a running agent over its local listener.
type client struct {
	base string
	http *http.Client
}

func newClient(cfg *agent.Config) *client {
	host, port, _ := net.SplitHostPort(cfg.HTTP.Listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return &client{base: "http://" + net.JoinHostPort(host, port), http: &http.Client{Timeout: 60 * time.Second}}
}

// errNoAgent means nothing listens: the agent is not running.
var errNoAgent = errors.New("no agent answers")

// do sends a request and decodes a 2xx JSON answer into out, or returns
// the agent's error message.
func (c *client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w on %s", errNoAgent, c.base)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e agent.APIError
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s (%s)", e.Error, e.Code)
		}
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// loadConfig parses a command's flags (--config and extra's) and loads the
// configuration. A command that takes no words (words false) refuses them.
func loadConfig(name string, args []string, words bool, stdout, stderr io.Writer, extra func(flags)) (*agent.Config, flags, int) {
	fs := newFlags(name, stdout, stderr)
	path := fs.String("config", defaultConfig, "configuration file")
	if extra != nil {
		extra(fs)
	}
	if code, ok := fs.Parse(args); !ok {
		return nil, fs, code
	}
	if code, ok := noArgs(fs, stderr); !words && !ok {
		return nil, fs, code
	}
	cfg, err := agent.Load(*path)
	if err != nil {
		return nil, fs, exitErr(stderr, 2, "%v", err)
	}
	return cfg, fs, 0
}

// cmdTap presents a badge to the simulated reader of a running agent. The
// UID is typed by people, so it is taken in either case and with spaces,
// colons or dashes (protocol.ParseUID); what reaches the door, its journal
// and the central is the canonical form only (protocol.UID: upper-case hex),
// which every other path into the door insists on: the card reader makes it
// from the card's bytes, whitelists and events are validated as canonical,
// and the local API canonicalises or refuses.
func cmdTap(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var uid *string
	var asJSON *bool
	var card *string
	var keyVersion *uint
	cfg, _, code := loadConfig("tap", args, false, stdout, stderr, func(fs flags) {
		uid = fs.String("uid", "", "badge UID: 8, 14 or 20 hex digits (4, 7 or 10 bytes), in either case, optionally grouped with spaces, colons or dashes\n"+
			"(04:a1:b2:c3, \"04 A1 B2 C3\" and 04A1B2C3 are the same badge); the door records, prints and sends it in canonical form, upper-case hex without separators")
		asJSON = fs.Bool("json", false, "print the recorded event as JSON")
		card = fs.String("card", "", "present a simulated secure card instead of a UID-only badge: ntag424dna or desfire_ev2 (to a door: personalised with\n"+
			"the door key its whitelist lists for the badge; to a running enroll-badge --secure: as from the factory), or clone (a magic card with the UID and no keys)")
		keyVersion = fs.Uint("key-version", 0, "with --card, the key version the card holds (0: the newest the door knows for the badge)")
	})
	if cfg == nil {
		return code
	}
	u, err := protocol.ParseUID(*uid)
	if err != nil {
		return exitErr(stderr, 2, "--uid: %v", err)
	}
	if *keyVersion > 255 || (*keyVersion != 0 && *card == "") {
		return exitErr(stderr, 2, "--key-version: 1 to 255, with --card")
	}
	body, _ := json.Marshal(agent.SimTap{UID: string(u), Card: *card, KeyVersion: uint8(*keyVersion)})
	var ev protocol.Event
	if err := newClient(cfg).do(ctx, http.MethodPost, "/v1/sim/tap", body, &ev); err != nil {
		if errors.Is(err, errNoAgent) {
			return exitErr(stderr, 1, "tap: %v: start it with `swc-edge run --config %s`", err, cfg.Path)
		}
		return exitErr(stderr, 1, "tap %s: %v", u, err)
	}
	if *asJSON {
		return printJSON(stdout, ev)
	}
	if ev.Seq == 0 && ev.Reason == "" {
		// A hardware check (swc-edge test reader, enroll-badge) reads it.
		fmt.Fprintf(stdout, "%s: presented to the simulated reader of a running check\n", u)
		return 0
	}
	fmt.Fprintf(stdout, "%s: %s (%s)", u, ev.Reason, ev.Reason.Text())
	if ev.Member != "" {
		fmt.Fprintf(stdout, ", member %s", ev.Member)
	}
	fmt.Fprintf(stdout, ", event %d\n", ev.Seq)
	return 0
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return 1
	}
	return 0
}

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, fs, code := loadConfig("sim", args, true, stdout, stderr, nil)
	if cfg == nil {
		return code
	}
	rest := fs.Args()
	c := newClient(cfg)
	post := func(path string, v any) int {
		body, _ := json.Marshal(v)
		if err := c.do(ctx, http.MethodPost, path, body, nil); err != nil {
			return exitErr(stderr, 1, "sim: %v", err)
		}
		return 0
	}
	switch {
	case len(rest) == 2 && rest[0] == "door" && (rest[1] == "open" || rest[1] == "close"):
		return post("/v1/sim/input", agent.SimInput{Input: "contact", Active: rest[1] == "open"})
	case len(rest) == 1 && rest[0] == "exit":
		if code := post("/v1/sim/input", agent.SimInput{Input: "rex", Active: true}); code != 0 {
			return code
		}
		time.Sleep(300 * time.Millisecond) // longer than any input debounce
		return post("/v1/sim/input", agent.SimInput{Input: "rex", Active: false})
	case len(rest) == 2 && rest[0] == "reader" && (rest[1] == "fail" || rest[1] == "ok"):
		return post("/v1/sim/reader", agent.SimReader{Fault: rest[1] == "fail"})
	case len(rest) == 3 && rest[0] == "burst":
		n, err := strconv.Atoi(rest[1])
		if err != nil {
			return exitErr(stderr, 2, "sim burst: count %q is not a number", rest[1])
		}
		var res agent.SimBurstResult
		body, _ := json.Marshal(agent.SimBurst{Count: n, UID: rest[2]})
		if err := c.do(ctx, http.MethodPost, "/v1/sim/burst", body, &res); err != nil {
			return exitErr(stderr, 1, "sim: %v", err)
		}
		fmt.Fprintf(stdout, "recorded %d taps, events %d to %d\n", res.Recorded, res.FirstSeq, res.LastSeq)
		return 0
	}
	return exitErr(stderr, 2, "sim: want `door open`, `door close`, `exit`, `reader fail`, `reader ok` or `burst COUNT UID`, got %q", rest)
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var asJSON *bool
	cfg, _, code := loadConfig("status", args, false, stdout, stderr, func(fs flags) {
		asJSON = fs.Bool("json", false, "print the status as JSON")
	})
	if cfg == nil {
		return code
	}
	var rep agent.Report
	err := newClient(cfg).do(ctx, http.MethodGet, "/v1/status", nil, &rep)
	running := err == nil
	if errors.Is(err, errNoAgent) {
		rep, err = offlineReport(ctx, cfg)
	}
	if err != nil {
		return exitErr(stderr, 1, "status: %v", err)
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	printReport(stdout, rep, running)
	return 0
}

// offlineReport reads the database when the agent is not running.
func offlineReport(ctx context.Context, cfg *agent.Config) (agent.Report, error) {
	if _, err := os.Stat(cfg.DBPath()); err != nil {
		return agent.Report{}, fmt.Errorf("the agent is not running and there is no database at %s yet", cfg.DBPath())
	}
	st, err := store.Open(ctx, cfg.DBPath(), cfg.StoreOptions())
	if err != nil {
		return agent.Report{}, err
	}
	defer st.Close()
	now := time.Now()
	rep := agent.Report{DoorID: cfg.DoorID, Driver: cfg.Reader.Driver, Door: agent.DoorReport{State: "unknown (agent not running)", Relay: "unknown"}, Reader: agent.ReaderReport{State: "unknown"}}
	floor, err := st.TrustedTime(ctx)
	if err != nil {
		return agent.Report{}, err
	}
	rep.Clock = agent.ClockReport{Time: now, Source: "not running", LastTrusted: floor}
	wi, err := st.Whitelist(ctx)
	if err != nil {
		return agent.Report{}, err
	}
	rep.Whitelist = agent.WhitelistReport{Version: wi.Version, Issued: wi.Issued, Expires: wi.Expires, Badges: wi.Badges, Center: wi.Center, Room: wi.Room,
		Staging: wi.Staging, StagedParts: wi.StagedParts, StagingOf: wi.StagingOf}
	rep.Door.HeldOpenSeconds, rep.Door.HeldOpenSource = cfg.Door.HeldOpenTime.Seconds(), "config"
	if wi.HeldOpen != 0 {
		rep.Door.HeldOpenSeconds, rep.Door.HeldOpenSource = wi.HeldOpen.Seconds(), "whitelist"
	}
	if wi.Version != 0 {
		rep.Whitelist.AgeSeconds = now.Sub(wi.Issued).Round(time.Second).Seconds()
		rep.Whitelist.Stale = now.Sub(wi.Issued) > cfg.Policy.MaxWhitelistAge
	}
	ob, err := st.OutboxStats(ctx)
	if err != nil {
		return agent.Report{}, err
	}
	rep.Outbox = agent.OutboxReport{Depth: ob.Depth, FirstSeq: ob.FirstSeq, LastSeq: ob.LastSeq, Oldest: ob.Oldest, Alarm: ob.Alarm, AlarmAt: ob.AlarmAt}
	if !ob.Oldest.IsZero() {
		rep.Outbox.OldestAgeSeconds = now.Sub(ob.Oldest).Round(time.Second).Seconds()
	}
	return rep, nil
}

func ago(seconds float64) string {
	return (time.Duration(seconds) * time.Second).String() + " ago"
}

func printReport(w io.Writer, r agent.Report, running bool) {
	ts := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }
	if running {
		fmt.Fprintf(w, "door        %s (boot %s, up %s, reader driver %s)\n", r.DoorID, r.Boot, (time.Duration(r.UptimeSeconds) * time.Second).String(), r.Driver)
	} else {
		fmt.Fprintf(w, "door        %s (agent not running; read from the database)\n", r.DoorID)
	}
	door := r.Door.State
	if running {
		door += ", relay " + r.Door.Relay
		if r.Door.HasContact {
			door += map[bool]string{true: ", door open", false: ", door shut"}[r.Door.Open]
		}
	}
	fmt.Fprintf(w, "door state  %s\n", door)
	if r.Door.HeldOpenSeconds > 0 {
		source := "the network's setting, from the whitelist"
		if r.Door.HeldOpenSource == "config" {
			source = "door.held_open_time; no whitelist has carried the network's"
		}
		fmt.Fprintf(w, "held open   after %s (%s)\n", time.Duration(r.Door.HeldOpenSeconds*float64(time.Second)), source)
	}
	reader := r.Reader.State
	if r.Reader.Error != "" {
		reader += ": " + r.Reader.Error
	}
	fmt.Fprintf(w, "reader      %s\n", reader)
	trust := "NOT trusted (" + r.Clock.Source + ")"
	if r.Clock.Trusted {
		trust = "trusted (" + r.Clock.Source + ")"
	}
	if !running {
		trust = "unknown (agent not running)"
	}
	fmt.Fprintf(w, "clock       %s, %s", trust, ts(r.Clock.Time))
	if !r.Clock.LastTrusted.IsZero() {
		fmt.Fprintf(w, "; last trusted %s", ts(r.Clock.LastTrusted))
	}
	fmt.Fprintln(w)
	if r.Whitelist.Version == 0 {
		fmt.Fprintf(w, "whitelist   none: every badge is denied (denied_no_whitelist)\n")
	} else {
		stale := ""
		if r.Whitelist.Stale {
			stale = " STALE: only staff enter"
		}
		fmt.Fprintf(w, "whitelist   version %d, issued %s (%s), %d badges%s\n", r.Whitelist.Version, ts(r.Whitelist.Issued), ago(r.Whitelist.AgeSeconds), r.Whitelist.Badges, stale)
	}
	if r.Whitelist.Staging != 0 {
		fmt.Fprintf(w, "            staging version %d: %d of %d parts\n", r.Whitelist.Staging, r.Whitelist.StagedParts, r.Whitelist.StagingOf)
	}
	if r.Outbox.Depth == 0 {
		fmt.Fprintf(w, "outbox      empty (last event %d)\n", r.Outbox.LastSeq)
	} else {
		alarm := ""
		if r.Outbox.Alarm {
			alarm = fmt.Sprintf(" ALARM (≥ %d)", r.Outbox.AlarmAt)
		}
		fmt.Fprintf(w, "outbox      %d events waiting (seq %d to %d), oldest %s (%s)%s\n", r.Outbox.Depth, r.Outbox.FirstSeq, r.Outbox.LastSeq, ts(r.Outbox.Oldest), ago(r.Outbox.OldestAgeSeconds), alarm)
	}
}
