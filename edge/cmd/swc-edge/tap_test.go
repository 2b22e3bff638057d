package main

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestTapUIDForms: `swc-edge tap` takes a UID in either case, grouped with
// spaces, colons or dashes, says so in its help, and the door journals the
// canonical form (upper-case hex, no separators) whatever was typed.
// (Issue 14, item 16.)
func TestTapUIDForms(t *testing.T) {
	help, _, code := swcEdge(t, "tap", "--help")
	assert.Equal(t, 0, code)
	for _, want := range []string{"either case", "spaces, colons or dashes", "04:a1:b2:c3", "upper-case hex"} {
		assert.Contains(t, help, want)
	}
	out, _, _ := swcEdge(t, "--help")
	assert.Contains(t, out, "--uid HEX", "the command list")

	s := newSite(t, "")
	_, errOut, code := swcEdge(t, "whitelist", "load", "--config", s.config, s.sign(1, entries(time.Now())))
	require.Equal(t, 0, code, errOut)
	s.start()
	forms := []struct {
		typed string
		want  protocol.UID
	}{
		{"04:a1 b2 c3", uidBooked},
		{"04a1b2c3", uidBooked},
		{" 04-A1-b2-C3 ", uidBooked},
		{"04:a1 b2-c3:d4 e5f6", uidLater},
	}
	for _, f := range forms {
		out, errOut, code := swcEdge(t, "tap", "--config", s.config, "--uid", f.typed)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, string(f.want)+": ", "printed in canonical form")
	}
	evs := s.outbox()
	require.Len(t, evs, len(forms))
	for i, e := range evs {
		assert.Equal(t, forms[i].want, e.UID, "journaled UID of %q", forms[i].typed)
		require.NoError(t, e.Validate(""))
	}
	assert.Equal(t, protocol.GrantedBooking, evs[0].Reason)
	assert.Equal(t, protocol.DeniedDebounce, evs[1].Reason, "the same badge, whatever its spelling")

	_, errOut, code = swcEdge(t, "tap", "--config", s.config, "--uid", "04:a1:b2")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "has 3 bytes")
}

// TestTapSecureCard: `swc-edge tap --card` presents a simulated secure card
// to a running simulated door, which makes it from the door key its
// whitelist lists for the badge (no master key needed): it authenticates
// through the driver's ISO 14443-4 layer on the simulated chip and opens; a
// clone, or a key version the door has no key for, is denied with the
// suspected clone alarm.
func TestTapSecureCard(t *testing.T) {
	now := time.Now()
	pass := []protocol.Grant{{Kind: protocol.GrantPass, From: now.Add(-time.Hour).Unix(), To: now.Add(24 * time.Hour).Unix()}}
	key := func(b byte) protocol.CardKey {
		var k protocol.CardKey
		for i := range k {
			k[i] = b + byte(i)
		}
		return k
	}
	ntag, ev2, cloned, old := protocol.UID("04242407801D80"), protocol.UID("08DE5F04"), protocol.UID("04C10E07801D80"), protocol.UID("04112233445566")
	es := append(entries(now), []protocol.Entry{
		{UID: ntag, Member: "m-ntag", Grants: pass, Card: protocol.CardNTAG424DNA, Keys: []protocol.DoorKey{{Version: 1, Key: key(0x10)}}},
		{UID: ev2, Member: "m-ev2", Grants: pass, Card: protocol.CardDESFireEV2, Keys: []protocol.DoorKey{{Version: 2, Key: key(0x20)}}},
		{UID: cloned, Member: "m-cloned", Grants: pass, Card: protocol.CardNTAG424DNA, Keys: []protocol.DoorKey{{Version: 1, Key: key(0x30)}}},
		{UID: old, Member: "m-old", Grants: pass, Card: protocol.CardDESFireEV2, Keys: []protocol.DoorKey{{Version: 2, Key: key(0x40)}}},
	}...)
	s := newSite(t, "")
	_, errOut, code := swcEdge(t, "whitelist", "load", "--config", s.config, s.sign(1, es))
	require.Equal(t, 0, code, errOut)
	s.start()
	for _, tt := range []struct {
		uid  protocol.UID
		args []string
		want protocol.Reason
	}{
		{ntag, []string{"--card", "ntag424dna"}, protocol.GrantedPass},
		{ev2, []string{"--card", "desfire_ev2", "--key-version", "2"}, protocol.GrantedPass},
		{cloned, []string{"--card", "clone"}, protocol.DeniedAuthFailed},
		{old, []string{"--card", "desfire_ev2", "--key-version", "1"}, protocol.DeniedAuthFailed},
	} {
		out, errOut, code := swcEdge(t, append([]string{"tap", "--config", s.config, "--uid", string(tt.uid)}, tt.args...)...)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, string(tt.uid)+": "+string(tt.want), tt.args)
	}
	var taps []protocol.Event
	for _, e := range s.outbox() {
		if e.Kind == protocol.EventTap {
			taps = append(taps, e)
		}
	}
	require.Len(t, taps, 4)
	assert.NotZero(t, taps[0].ReadCounter, "the NTAG 424 DNA's authenticated read counter")
	assert.Equal(t, protocol.DeniedAuthFailed, taps[3].Reason)

	_, errOut, code = swcEdge(t, "tap", "--config", s.config, "--uid", string(ntag), "--key-version", "1")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "with --card")
	_, errOut, code = swcEdge(t, "tap", "--config", s.config, "--uid", string(ntag), "--card", "mifare")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "want ntag424dna")
}

// TestTapSecureCardToStation: `swc-edge tap --card` to a running
// `enroll-badge --secure` on the simulated reader presents a factory card,
// which the station personalises with the central's keys through the
// driver's ISO 14443-4 layer and registers as secure.
func TestTapSecureCardToStation(t *testing.T) {
	for _, card := range []protocol.CardType{protocol.CardNTAG424DNA, protocol.CardDESFireEV2} {
		t.Run(string(card), func(t *testing.T) {
			s := newSite(t, "")
			api := &fakeStationAPI{master: []byte("station master 1"), badges: map[string]map[string]any{}}
			srv := httptest.NewServer(api)
			t.Cleanup(srv.Close)
			p := startCheck(t, "", []string{"SWC_API_TOKEN=swct_tech"}, "enroll-badge", "--secure", "--config", s.config, "--member", "m1", "--central", srv.URL, "--wait", "60s")
			p.waitFor("Put the card of member m1 on the reader")
			_, errOut, code := swcEdge(t, "tap", "--config", s.config, "--uid", "04A1B2C3D4E5F6", "--card", string(card))
			require.Equal(t, 0, code, errOut)
			require.Equal(t, 0, p.exit(), "stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
			api.mu.Lock()
			defer api.mu.Unlock()
			require.Contains(t, api.badges, "04A1B2C3D4E5F6")
			assert.Equal(t, string(card), api.badges["04A1B2C3D4E5F6"]["card_type"])
		})
	}
}
