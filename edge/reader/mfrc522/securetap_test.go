package mfrc522

// A secure tap over the real driver and the simulator: Next gives the
// card's APDU channel (reader.Card.APDU), through which edge/credential
// personalises the simulated card (shared/desfire/desfiresim, the App of
// mfrc522sim's ISO-DEP layer) and authenticates it as the door agent does.
// This file is in the package (not mfrc522_test) so that the benchmark can
// count the S(DESELECT) that the next poll would send.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/credential"
	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

var (
	secureMaster = []byte("network master 1")
	secureNow    = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	secureCards  = []protocol.CardType{protocol.CardNTAG424DNA, protocol.CardDESFireEV2}
	secureUIDs   = [][]byte{{0x08, 0x5E, 0x21, 0x9C}, {0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80}}
)

// secureRig is a driver on a simulator and a secure badge personalised
// through that driver.
type secureRig struct {
	sim   *mfrc522sim.Sim
	dev   *Dev
	badge *desfiresim.Card
	spec  mfrc522sim.CardSpec
	entry protocol.Entry
}

// newSecureRig makes a factory card of type typ with uid, presents it, and
// personalises it with the keys diversified from secureMaster (version 1)
// through the driver's Card.APDU, as enroll-badge --secure does at a
// station; the card is then taken away.
func newSecureRig(tb testing.TB, typ protocol.CardType, uid []byte, dep mfrc522sim.ISODEP) *secureRig {
	tb.Helper()
	sim := mfrc522sim.New(mfrc522sim.Options{})
	dev, err := New(sim, &Options{Clock: sim, PollInterval: time.Millisecond})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = dev.Close() })
	r := &secureRig{sim: sim, dev: dev}
	if typ == protocol.CardNTAG424DNA {
		r.badge, err = desfiresim.NewNTAG424(uid, desfiresim.Options{})
		dep.ATS = mfrc522sim.NTAG424ATS
	} else {
		r.badge, err = desfiresim.NewDESFireEV2(uid, desfiresim.Options{})
		dep.ATS = mfrc522sim.DESFireATS
	}
	require.NoError(tb, err)
	dep.App = r.badge
	r.spec = mfrc522sim.NewCard(uid, mfrc522sim.DESFire)
	r.spec.ISODEP = &dep

	aid, err := credential.DiversificationAID(typ)
	require.NoError(tb, err)
	keys := credential.AppKeys{Version: 1}
	for n := range credential.KeyCount(typ) {
		k, err := desfire.CardKey(secureMaster, uid, aid, byte(n))
		require.NoError(tb, err)
		keys.Keys = append(keys.Keys, protocol.CardKey(k))
	}
	c, card := r.tap(tb)
	out, err := credential.Personalise(context.Background(), card.APDU, typ, keys, nil, nil)
	require.NoError(tb, err)
	require.Equal(tb, credential.Personalised, out)
	r.leave(tb, c)
	r.entry = protocol.Entry{UID: protocol.UIDFromBytes(uid), Member: "m-1", Card: typ,
		Keys: []protocol.DoorKey{{Version: 1, Key: keys.Keys[desfire.KeyDoor]}}}
	return r
}

// tap presents the badge (powered up afresh) and reads it with Next.
func (r *secureRig) tap(tb testing.TB) (*mfrc522sim.Card, reader.Card) {
	tb.Helper()
	r.badge.Reset()
	c, err := r.sim.Present(r.spec)
	require.NoError(tb, err)
	card, err := r.dev.Next(wallCtx(tb, 10*time.Second))
	require.NoError(tb, err)
	require.NotNil(tb, card.APDU, "an ISO 14443-4 card gets an APDU channel")
	return c, card
}

// leave takes the card away and lets the driver see the field empty (a
// poll without answer), so that the next presentation is a new tap.
func (r *secureRig) leave(tb testing.TB, c *mfrc522sim.Card) {
	tb.Helper()
	r.sim.Remove(c)
	r.sim.Advance(50 * time.Millisecond)
	r.idlePoll(tb)
}

// idlePoll runs Next until at least one poll has found no new card (on a
// loaded host the wall-clock deadline may pass before the first poll).
func (r *secureRig) idlePoll(tb testing.TB) {
	tb.Helper()
	for range 20 {
		_, err := r.dev.Next(wallCtx(tb, 20*time.Millisecond))
		require.ErrorIs(tb, err, context.DeadlineExceeded, "no new card in the field")
		if strings.Contains(err.Error(), "waiting for a card") { // a whole poll ran
			return
		}
	}
	tb.Fatal("Next never polled")
}

func wallCtx(tb testing.TB, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return c
}

func TestSecureTapAuthenticates(t *testing.T) {
	for _, typ := range secureCards {
		for _, uid := range secureUIDs {
			t.Run(fmt.Sprintf("%s/uid%d", typ, len(uid)), func(t *testing.T) {
				r := newSecureRig(t, typ, uid, mfrc522sim.ISODEP{})
				var last uint32
				for i := range 2 {
					c, card := r.tap(t)
					assert.Equal(t, uid, card.UID)
					res, err := credential.Authenticate(context.Background(), card.APDU, &r.entry, secureNow, nil)
					require.NoError(t, err)
					assert.Equal(t, uint8(1), res.KeyVersion)
					assert.Equal(t, typ == protocol.CardNTAG424DNA, res.HasCounter)
					if res.HasCounter && i > 0 {
						assert.Equal(t, last+1, res.ReadCounter, "each tap counts on the card")
					}
					last = res.ReadCounter
					r.leave(t, c)
				}
				assert.Zero(t, r.sim.Counters().Violations)

				// A card with this UID that holds no keys: a clone, decided.
				clone, err := desfiresim.NewMagicClone(uid, desfiresim.Options{CloneGarbage: true})
				require.NoError(t, err)
				r.badge = clone
				r.spec.ISODEP.App = clone
				c, card := r.tap(t)
				_, err = credential.Authenticate(context.Background(), card.APDU, &r.entry, secureNow, nil)
				require.ErrorIs(t, err, credential.ErrAuthFailed)
				assert.NotErrorIs(t, err, reader.ErrCard)
				r.leave(t, c)
			})
		}
	}
}

func TestSecureTapCardPulled(t *testing.T) {
	for _, typ := range secureCards {
		for _, uid := range secureUIDs {
			t.Run(fmt.Sprintf("%s/uid%d", typ, len(uid)), func(t *testing.T) {
				r := newSecureRig(t, typ, uid, mfrc522sim.ISODEP{})
				c, card := r.tap(t)
				// The ATS, the application's selection, GetKeyVersion and
				// one more answer go through; then the card is gone, in the
				// middle of the authentication, whatever the retries.
				c.Inject(mfrc522sim.Fault{Kind: mfrc522sim.Pulled, On: mfrc522sim.Block, After: 4, Count: 100})
				_, err := credential.Authenticate(context.Background(), card.APDU, &r.entry, secureNow, nil)
				require.ErrorIs(t, err, reader.ErrCard, "a transport error: no decision")
				assert.NotErrorIs(t, err, credential.ErrAuthFailed)
				_, err = card.APDU.Transceive(context.Background(), []byte{0x90, 0x60, 0x00, 0x00, 0x00})
				assert.ErrorIs(t, err, reader.ErrCard, "the channel is over")
				assert.ErrorIs(t, err, ErrSessionClosed)

				// Presented again, it authenticates.
				r.sim.Remove(c)
				r.sim.Advance(50 * time.Millisecond)
				c, card = r.tap(t)
				_, err = credential.Authenticate(context.Background(), card.APDU, &r.entry, secureNow, nil)
				require.NoError(t, err)
				r.leave(t, c)
			})
		}
	}
}

// TestSecureTapChannel checks the APDU channel's life: it opens the
// ISO-DEP session at its first APDU (RATS alone), reuses it, and is over
// after the next Next, which deselects the card first; a secure card never
// authenticated costs what a UID-only badge does.
func TestSecureTapChannel(t *testing.T) {
	ctx := context.Background()
	r := newSecureRig(t, protocol.CardDESFireEV2, secureUIDs[0], mfrc522sim.ISODEP{})
	getVersion := []byte{0x90, desfire.CmdGetVersion, 0x00, 0x00, 0x00}

	c0 := r.sim.Counters()
	c, card := r.tap(t)
	c1 := r.sim.Counters()
	assert.Equal(t, int64(17), c1.Sub(c0).Frames, "Next: the UID read without its deferred HLTA")
	resp, err := card.APDU.Transceive(ctx, getVersion)
	require.NoError(t, err)
	assert.Equal(t, byte(0x91), resp[len(resp)-2])
	c2 := r.sim.Counters()
	resp, err = card.APDU.Transceive(ctx, getVersion)
	require.NoError(t, err)
	assert.Equal(t, byte(0x91), resp[len(resp)-2])
	c3 := r.sim.Counters()
	assert.Greater(t, c2.Sub(c1).Frames, c3.Sub(c2).Frames, "RATS is sent once, with the first APDU")

	// The next Next deselects the card (it sleeps in HALT: no new tap
	// while it stays) and ends the channel.
	r.idlePoll(t)
	_, err = card.APDU.Transceive(ctx, getVersion)
	require.ErrorIs(t, err, reader.ErrCard)
	assert.ErrorIs(t, err, ErrSessionClosed)
	assert.NotEqual(t, mfrc522sim.Active, c.State(), "deselected, then halted again by the poll")
	r.leave(t, c)

	// A secure card nobody authenticates, then a UID-only badge: what two
	// UID-only taps cost (20 each; the HLTA deferred from the first is paid
	// by the second's poll).
	c4 := r.sim.Counters()
	c, card = r.tap(t)
	r.sim.Remove(c)
	plain, err := r.sim.Present(mfrc522sim.NewCard([]byte{0x55, 0x66, 0x77, 0x88}, mfrc522sim.MifareClassic1K))
	require.NoError(t, err)
	got, err := r.dev.Next(wallCtx(t, 10*time.Second))
	require.NoError(t, err)
	assert.Nil(t, got.APDU, "a UID-only badge has no APDU channel")
	assert.Equal(t, int64(40), r.sim.Counters().Sub(c4).Frames)
	_, err = card.APDU.Transceive(ctx, getVersion)
	require.ErrorIs(t, err, reader.ErrCard, "a channel never used is over too")
	r.sim.Remove(plain)
}

// cardTiming is a model of a secure card's processing time per command
// (mfrc522sim.ISODEP.Timing).
type cardTiming struct {
	name  string
	model func(fwt time.Duration) func(apdu []byte) time.Duration
}

// secureTimings are the two models BenchmarkSecureTap reports. No public
// document gives NTAG 424 DNA or DESFire EV2 per-command times; the
// datasheets bound them only by the frame waiting time of the ATS (FWI 7,
// 38.7 ms on NTAG 424 DNA; FWI 8, 77.3 ms on DESFire), beyond which a card
// must ask for more time with S(WTX).
//
//   - worst: every command takes the whole FWT without S(WTX): the
//     slowest a compliant card may be;
//   - typical: an assumption, to be replaced by a measurement on a real
//     card: 2 ms for a command without cryptography (a selection, a key
//     version, a 16-byte EEPROM read), 8 ms for each half of the AES
//     authentication (random numbers, two AES-CBC operations, the session
//     keys' CMAC derivation on the second half), 4 ms for a MAC'd command
//     (GetFileCounters: two CMACs and an encryption). That puts a secure
//     tap's card time near 30 ms, within the "typical transaction in less
//     than 100 ms" that NXP's MIFARE DESFire product briefs claim for a
//     whole ticketing transaction with several authentications and writes.
var secureTimings = []cardTiming{
	{"typical", func(time.Duration) func([]byte) time.Duration {
		return func(apdu []byte) time.Duration {
			if len(apdu) < 2 {
				return 2 * time.Millisecond
			}
			switch apdu[1] {
			case desfire.CmdAuthenticateEV2First, desfire.CmdAdditionalFrame:
				return 8 * time.Millisecond
			case desfire.CmdGetFileCounters:
				return 4 * time.Millisecond
			}
			return 2 * time.Millisecond
		}
	}},
	{"worst", func(fwt time.Duration) func([]byte) time.Duration {
		return func([]byte) time.Duration { return fwt }
	}},
}

// BenchmarkSecureTap runs a whole secure tap per iteration on the
// simulator, a personalised badge in front of the reader: the UID read
// (Next), then edge/credential.Authenticate through Card.APDU as the door
// agent runs it (RATS at the first APDU; the application's selection,
// GetKeyVersion, for NTAG 424 DNA the plain NDEF read that counts the tap,
// AuthenticateEV2First's two halves, for NTAG 424 DNA the authenticated
// read counter), and the S(DESELECT) that the driver's next poll sends
// (the card then sleeps in HALT). Sub-benchmarks per card type, UID length
// and card timing model (secureTimings).
//
// Metrics: spi-tx/op (SPI transactions), spi-calls/op (ioctls),
// modelled-ms/op (mfrc522sim.PiZeroTime of the whole tap) and
// decision-modelled-ms/op (the same up to the end of the authentication:
// the time from the card in the field to the relay command, the whitelist
// decision's microseconds left out; the S(DESELECT) comes after).
func BenchmarkSecureTap(b *testing.B) {
	for _, typ := range secureCards {
		wait := fwt(7) // the ATS's FWI
		if typ == protocol.CardDESFireEV2 {
			wait = fwt(8)
		}
		for _, uid := range secureUIDs {
			for _, timing := range secureTimings {
				name := fmt.Sprintf("%s/uid%d/%s", benchName(typ), len(uid), timing.name)
				b.Run(name, func(b *testing.B) {
					r := newSecureRig(b, typ, uid, mfrc522sim.ISODEP{Timing: timing.model(wait)})
					var work, decided mfrc522sim.Counters
					tap := func() {
						b.StopTimer()
						r.badge.Reset()
						c, err := r.sim.Present(r.spec)
						if err != nil {
							b.Fatal(err)
						}
						c0 := r.sim.Counters()
						b.StartTimer()
						card, err := r.dev.Next(wallCtx(b, 10*time.Second))
						if err != nil {
							b.Fatal(err)
						}
						if _, err := credential.Authenticate(context.Background(), card.APDU, &r.entry, secureNow, nil); err != nil {
							b.Fatal(err)
						}
						c1 := r.sim.Counters()
						r.dev.mu.Lock()
						err = r.dev.release(context.Background()) // what the next poll starts with
						r.dev.mu.Unlock()
						if err != nil {
							b.Fatal(err)
						}
						b.StopTimer()
						work = addCounts(work, r.sim.Counters().Sub(c0))
						decided = addCounts(decided, c1.Sub(c0))
						if c.State() != mfrc522sim.Halt {
							b.Fatalf("card left in %s, not HALT", c.State())
						}
						r.leave(b, c)
						b.StartTimer()
					}
					tap() // warm up: the timer settings of a session
					work, decided = mfrc522sim.Counters{}, mfrc522sim.Counters{}
					b.ResetTimer()
					for range b.N {
						tap()
					}
					b.StopTimer()
					n := float64(b.N)
					b.ReportMetric(float64(work.Frames)/n, "spi-tx/op")
					b.ReportMetric(float64(work.Calls)/n, "spi-calls/op")
					b.ReportMetric(float64(mfrc522sim.PiZeroTime(work))/1e6/n, "modelled-ms/op")
					b.ReportMetric(float64(mfrc522sim.PiZeroTime(decided))/1e6/n, "decision-modelled-ms/op")
				})
			}
		}
	}
}

// benchName is the name of a card type in the benchmark's.
func benchName(t protocol.CardType) string {
	if t == protocol.CardNTAG424DNA {
		return "ntag424dna"
	}
	return "desfire_ev2"
}

// addCounts sums two readings' differences.
func addCounts(a, b mfrc522sim.Counters) mfrc522sim.Counters {
	var zero mfrc522sim.Counters
	return a.Sub(zero.Sub(b))
}
