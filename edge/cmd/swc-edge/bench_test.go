package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// rss reads a process's resident memory from /proc: total, anonymous
// (heap, stacks) and file-backed (the binary and the mapped bbolt file), in
// MiB.
func rss(pid int) (total, anon, file float64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			total = kb / 1024
		case "RssAnon:":
			anon = kb / 1024
		case "RssFile:":
			file = kb / 1024
		}
	}
	return total, anon, file, nil
}

// BenchmarkAgentRSS measures the resident memory of a real `swc-edge run`
// holding a whitelist of 100,000 badges (PRODUCT.md 5: ≤ 30 MB): right
// after the agent itself verified and applied the 100,000-badge snapshot
// (its worst moment), after 1,000 taps spread over the whole whitelist, and
// for a freshly started agent after the same taps. Under qemu the figures
// would include the emulator, so run it natively.
func BenchmarkAgentRSS(b *testing.B) {
	if os.Getenv("SWC_TEST_EXEC") != "" {
		b.Skip("RSS under an emulator measures the emulator")
	}
	const badges = 100_000
	var afterLoad, afterTaps, fresh, freshAnon, freshFile float64
	runs := 0
	for b.Loop() {
		s := newSite(b, "")
		priv, err := readKey(s.keyFile)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		es := make([]protocol.Entry, badges)
		for i := range es {
			es[i] = protocol.Entry{UID: benchUID(i), Member: fmt.Sprintf("m-%06d", i),
				Grants: []protocol.Grant{{Kind: protocol.GrantBooking, From: now.Add(-time.Hour).Unix(), To: now.Add(8 * time.Hour).Unix(), Ref: fmt.Sprintf("bk-%d", i)}}}
		}
		msgs, err := protocol.NewSigner(priv).SignSnapshot(protocol.Whitelist{Door: "door-7", Version: 1, IssuedMs: now.UnixMilli(), ExpiresMs: now.Add(24 * time.Hour).UnixMilli(), Center: "c-1"}, es)
		if err != nil {
			b.Fatal(err)
		}
		es = nil

		p := s.start()
		for _, m := range msgs {
			resp, err := http.Post(s.base+"/v1/whitelist", "application/json", bytes.NewReader(m))
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("load: %v %v", err, resp)
			}
			resp.Body.Close()
		}
		msgs = nil
		afterLoad += must(rss(p.cmd.Process.Pid))
		tapMany(b, s, badges)
		afterTaps += must(rss(p.cmd.Process.Pid))
		p.stop(b, syscall.SIGTERM)

		p = s.start()
		tapMany(b, s, badges)
		tot, anon, file, err := rss(p.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		fresh, freshAnon, freshFile = fresh+tot, freshAnon+anon, freshFile+file
		p.stop(b, syscall.SIGTERM)
		runs++
	}
	n := float64(runs)
	b.ReportMetric(afterLoad/n, "MiB-rss-after-applying-100k")
	b.ReportMetric(afterTaps/n, "MiB-rss-after-1000-taps")
	b.ReportMetric(fresh/n, "MiB-rss-restarted")
	b.ReportMetric(freshAnon/n, "MiB-anon-restarted")
	b.ReportMetric(freshFile/n, "MiB-file-restarted")
}

func must(total, _, _ float64, err error) float64 {
	if err != nil {
		panic(err)
	}
	return total
}

func benchUID(i int) protocol.UID {
	return protocol.UIDFromBytes([]byte{0x04, byte(i >> 16), byte(i >> 8), byte(i), 0x5A, 0x80, 0x11})
}

// tapMany taps 1,000 badges spread over the whitelist through the local API.
func tapMany(b *testing.B, s *site, badges int) {
	for i := 0; i < 1000; i++ {
		body := fmt.Sprintf(`{"uid":%q}`, benchUID((i*7919)%badges))
		resp, err := http.Post(s.base+"/v1/sim/tap", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("tap: %v %v", err, resp)
		}
		resp.Body.Close()
	}
}
