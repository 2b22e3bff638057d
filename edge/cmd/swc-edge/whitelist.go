package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

func cmdWhitelist(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return dispatch("whitelist", map[string]func([]string) int{
		"load":   func(a []string) int { return cmdWhitelistLoad(ctx, a, stdout, stderr) },
		"keygen": func(a []string) int { return cmdWhitelistKeygen(a, stdout, stderr) },
		"sign":   func(a []string) int { return cmdWhitelistSign(a, stdout, stderr) },
	}, args, stdout, stderr)
}

// readMessages reads signed messages, one JSON envelope per line; blank
// lines and lines starting with '#' are skipped.
func readMessages(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var msgs [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), protocol.MaxMessageSize+1)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		msgs = append(msgs, append([]byte(nil), line...))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w (each signed message must be on one line of at most %d bytes)", path, err, protocol.MaxMessageSize)
	}
	return msgs, nil
}

// cmdWhitelistLoad hands signed whitelist messages to the running agent,
// or, when none runs, verifies and applies them to the database directly.
// Either way the signature is checked against the keys pinned in
// [whitelist] keys before anything is stored.
func cmdWhitelistLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, fs, code := loadConfig("whitelist load", args, true, stdout, stderr, nil)
	if cfg == nil {
		return code
	}
	if fs.NArg() == 0 {
		return exitErr(stderr, 2, "whitelist load: name one or more files of signed messages")
	}
	var msgs [][]byte
	for _, p := range fs.Args() {
		m, err := readMessages(p)
		if err != nil {
			return exitErr(stderr, 1, "whitelist load: %v", err)
		}
		msgs = append(msgs, m...)
	}
	c := newClient(cfg)
	var direct *store.Store
	defer func() {
		if direct != nil {
			direct.Close()
		}
	}()
	var clock *agent.Clock
	for i, m := range msgs {
		var res store.ApplyResult
		err := errNoAgent
		if direct == nil {
			err = c.do(ctx, http.MethodPost, "/v1/whitelist", m, &res)
		}
		if errors.Is(err, errNoAgent) {
			if direct == nil {
				if direct, err = store.Open(ctx, cfg.DBPath(), cfg.StoreOptions()); err != nil {
					return exitErr(stderr, 1, "whitelist load: the agent is not running and the database cannot be opened: %v", err)
				}
				floor, err := direct.TrustedTime(ctx)
				if err != nil {
					return exitErr(stderr, 1, "whitelist load: %v", err)
				}
				clock = agent.SystemClock(cfg.Clock.NTP, floor)
				fmt.Fprintf(stdout, "the agent is not running: loading into %s\n", cfg.DBPath())
			}
			res, _, err = agent.ReceiveWhitelist(ctx, direct, cfg.KeyRing(), cfg.DoorID, clock.TrustedNow(), m)
		}
		if err != nil {
			return exitErr(stderr, 1, "whitelist load: message %d of %d refused: %v", i+1, len(msgs), err)
		}
		if res.Applied {
			fmt.Fprintf(stdout, "message %d: applied; the door holds whitelist version %d\n", i+1, res.Version)
		} else {
			fmt.Fprintf(stdout, "message %d: snapshot part staged (%d of %d parts)\n", i+1, res.Staged, res.Parts)
		}
	}
	return 0
}

const keyPrefix = "ed25519-private:"

// cmdWhitelistKeygen makes a signing key for development and demos, until
// the central service signs whitelists. The private key file is written
// with mode 0600 and never overwritten.
func cmdWhitelistKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("whitelist keygen", stdout, stderr)
	out := fs.String("out", "", "file for the private key (created, never overwritten)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if *out == "" {
		return exitErr(stderr, 2, "whitelist keygen: --out FILE is required")
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return exitErr(stderr, 1, "whitelist keygen: %v", err)
	}
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return exitErr(stderr, 1, "whitelist keygen: %v", err)
	}
	_, err = fmt.Fprintln(f, keyPrefix+base64.StdEncoding.EncodeToString(priv.Seed()))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return exitErr(stderr, 1, "whitelist keygen: %v", err)
	}
	fmt.Fprintf(stdout, "private key written to %s\npin the public key in the door's configuration:\n\n[whitelist]\nkeys = [%q]\n", *out, protocol.FormatPublicKey(pub))
	return 0
}

func readKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(string(data)), keyPrefix)
	if !ok {
		return nil, fmt.Errorf("%s: not a key from `swc-edge whitelist keygen` (want %s<base64>)", path, keyPrefix)
	}
	seed, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: the key is damaged", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// cmdWhitelistSign signs a snapshot of a JSON array of protocol.Entry for
// development and demos, printing one signed message per line.
func cmdWhitelistSign(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("whitelist sign", stdout, stderr)
	keyPath := fs.String("key", "", "private key file (from swc-edge whitelist keygen)")
	doorID := fs.String("door", "", "door id")
	version := fs.Uint64("version", 0, "whitelist version, above the one the door holds")
	center := fs.String("center", "", "the door's center")
	room := fs.String("room", "", "the meeting room the door guards (empty for an entrance)")
	valid := fs.Duration("valid", 30*24*time.Hour, "validity from now")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if *keyPath == "" || *doorID == "" || *version == 0 || fs.NArg() != 1 {
		return exitErr(stderr, 2, "whitelist sign: want --key FILE --door ID --version N ENTRIES.json")
	}
	priv, err := readKey(*keyPath)
	if err != nil {
		return exitErr(stderr, 1, "whitelist sign: %v", err)
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return exitErr(stderr, 1, "whitelist sign: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var entries []protocol.Entry
	if err := dec.Decode(&entries); err != nil {
		return exitErr(stderr, 1, "whitelist sign: %s: want a JSON array of entries {uid, member, revoked, grants:[{kind, from, to, room, ref}]}: %v", fs.Arg(0), err)
	}
	now := time.Now()
	msgs, err := protocol.NewSigner(priv).SignSnapshot(protocol.Whitelist{Door: *doorID, Version: *version, IssuedMs: now.UnixMilli(),
		ExpiresMs: now.Add(*valid).UnixMilli(), Center: *center, Room: *room}, entries)
	if err != nil {
		return exitErr(stderr, 1, "whitelist sign: %v", err)
	}
	for _, m := range msgs {
		fmt.Fprintf(stdout, "%s\n", m)
	}
	return 0
}
