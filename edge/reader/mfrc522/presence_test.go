package mfrc522_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// TestPresenceComparesWholeUIDs: two 7-byte cards share their first three
// UID bytes, so their first cascade level (CT, uid0..2, BCC) is the same.
// One rests on the reader; the other is taken away and presented again:
// that is a new tap, however long the first stays. (Issue 14, item 13: the
// presence check compared only cascade level 1 and dropped the second tap.)
func TestPresenceComparesWholeUIDs(t *testing.T) {
	for _, tt := range []struct {
		name         string
		resting, tap []byte
	}{
		{"7-byte, same CL1", []byte{0x04, 0x8E, 0x21, 0x6A, 0x5C, 0x3B, 0x80}, []byte{0x04, 0x8E, 0x21, 0x11, 0x22, 0x33, 0x44}},
		{"10-byte, same CL1 and CL2", uid10(), append(append([]byte(nil), uid10()[:9]...), 0x79)},
		{"7-byte resting, 10-byte tapped, same CL1", []byte{0x04, 0x27, 0x1D, 0x6A, 0x5C, 0x3B, 0x80}, uid10()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
			r.present(t, tt.resting, mfrc522sim.MifareUltralight)
			got, err := r.dev.Next(ctx(t, time.Second))
			require.NoError(t, err)
			require.Equal(t, tt.resting, got.UID)

			for i := 0; i < 3; i++ {
				tapped := r.present(t, tt.tap, mfrc522sim.MifareUltralight)
				got, err = r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err, "presentation %d of the second card", i+1)
				assert.Equal(t, tt.tap, got.UID)
				r.sim.Advance(time.Millisecond) // HLTA on the air
				assert.Equal(t, mfrc522sim.Halt, tapped.State())

				// While it lies there with the first: no second tap.
				_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
				require.ErrorIs(t, err, mfrc522.ErrTimeout)
				r.sim.Remove(tapped)
				// Taken away: polls notice it left.
				_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
				require.ErrorIs(t, err, mfrc522.ErrTimeout)
			}
			assert.Zero(t, r.sim.Counters().Violations)
		})
	}
}

// TestSameBadgeAgainBetweenPolls: a badge rests on the reader, halted after
// its tap; it is taken away and presented again between two polls (the
// driver's goroutine held up for longer than the badge was away, as on a
// loaded host), so no poll saw the field without it. The card lost power
// when it left: it answers REQA again, which a halted card never does, so
// it is a new presentation and a new tap. It then rests again and counts
// once. (The e2e test TestWhitelistChangesReachDoors lost such a tap on a
// loaded CI machine: the driver took the returning card for the halted one
// it remembered, and the tap was never decided.)
func TestSameBadgeAgainBetweenPolls(t *testing.T) {
	for _, tt := range []struct {
		name string
		uid  []byte
	}{
		{"4-byte", uid4()},
		{"7-byte", uid7()},
		{"10-byte", uid10()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
			card := r.present(t, tt.uid, mfrc522sim.MifareClassic1K)
			got, err := r.dev.Next(ctx(t, time.Second))
			require.NoError(t, err)
			require.Equal(t, tt.uid, got.UID)
			for i := range 3 {
				// Resting: polls find it halted, no second tap.
				_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
				require.ErrorIs(t, err, mfrc522.ErrTimeout, "presentation %d resting", i+1)

				// Away and back with no poll in between.
				r.sim.Remove(card)
				card = r.present(t, tt.uid, mfrc522sim.MifareClassic1K)
				got, err = r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err, "presentation %d after the badge came back between two polls", i+2)
				assert.Equal(t, tt.uid, got.UID)
			}
			_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
			require.ErrorIs(t, err, mfrc522.ErrTimeout, "the last presentation resting counts once")
			assert.Zero(t, r.sim.Counters().Violations)
		})
	}
}

// TestCardIgnoringHLTACountsOnce: a card that ignores HLTA answers every
// REQA while it rests on the reader. It is never seen asleep, so its
// answers are the same presentation: one tap however long it stays.
func TestCardIgnoringHLTACountsOnce(t *testing.T) {
	r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
	spec := mfrc522sim.NewCard(uid4(), mfrc522sim.MifareClassic1K)
	deaf := &deafToHLTA{uid: uid4()}
	spec.Responder = deaf
	card, err := r.sim.Present(spec)
	require.NoError(t, err)
	got, err := r.dev.Next(ctx(t, time.Second))
	require.NoError(t, err)
	require.Equal(t, uid4(), got.UID)
	_, err = r.dev.Next(simCtx(r.sim, 50*time.Millisecond))
	require.ErrorIs(t, err, mfrc522.ErrTimeout, "resting, it counts once")
	assert.Greater(t, deaf.requests, 2, "it kept answering REQA")

	// Taken away long enough for a poll to see the field empty, and back:
	// a new tap.
	r.sim.Remove(card)
	_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
	require.ErrorIs(t, err, mfrc522.ErrTimeout)
	_, err = r.sim.Present(spec)
	require.NoError(t, err)
	got, err = r.dev.Next(ctx(t, time.Second))
	require.NoError(t, err)
	assert.Equal(t, uid4(), got.UID)
}

// deafToHLTA is a 4-byte card that answers REQA, WUPA, ANTICOLLISION and
// SELECT and ignores HLTA: it never sleeps.
type deafToHLTA struct {
	uid      []byte
	requests int
}

func (c *deafToHLTA) Respond(f []byte, bits int) ([]byte, int, bool) {
	u := c.uid
	bcc := u[0] ^ u[1] ^ u[2] ^ u[3]
	switch {
	case bits == 7 && (f[0] == 0x26 || f[0] == 0x52):
		c.requests++
		return []byte{0x04, 0x00}, 16, true
	case len(f) == 2 && f[0] == 0x93 && f[1] == 0x20:
		return []byte{u[0], u[1], u[2], u[3], bcc}, 40, true
	case len(f) == 9 && f[0] == 0x93 && f[1] == 0x70:
		return crcAppend([]byte{0x08}), 24, true
	}
	return nil, 0, false // HLTA and anything else: silence
}

// TestCardErrorOnReturn: a badge resting on the reader (seen asleep) is
// taken away and presented again between two polls, and its first read
// fails (the driver then resets the field, which wakes every card). The
// retry reads it as the new presentation it is. A card error of another
// badge presented beside a resting one does not make a second tap of the
// resting one.
func TestCardErrorOnReturn(t *testing.T) {
	fault := mfrc522sim.Fault{Kind: mfrc522sim.NoAnswer, On: mfrc522sim.Select}
	for _, tt := range []struct {
		name string
		uid  []byte
	}{
		{"4-byte", uid4()},
		{"7-byte", uid7()},
	} {
		t.Run(tt.name+"/the same badge back", func(t *testing.T) {
			r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
			card := r.present(t, tt.uid, mfrc522sim.MifareClassic1K)
			_, err := r.dev.Next(ctx(t, time.Second))
			require.NoError(t, err)
			_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
			require.ErrorIs(t, err, mfrc522.ErrTimeout, "resting")

			r.sim.Remove(card)
			card = r.present(t, tt.uid, mfrc522sim.MifareClassic1K)
			card.Inject(fault)
			_, err = r.dev.Next(ctx(t, time.Second))
			require.ErrorIs(t, err, reader.ErrCard)
			got, err := r.dev.Next(ctx(t, time.Second))
			require.NoError(t, err, "the retry after the card error reads the returned badge")
			assert.Equal(t, tt.uid, got.UID)
			_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
			require.ErrorIs(t, err, mfrc522.ErrTimeout, "and once only")
		})
		t.Run(tt.name+"/another badge beside it", func(t *testing.T) {
			r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
			r.present(t, tt.uid, mfrc522sim.MifareClassic1K)
			_, err := r.dev.Next(ctx(t, time.Second))
			require.NoError(t, err)
			_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
			require.ErrorIs(t, err, mfrc522.ErrTimeout, "resting")

			other := []byte{0x11, 0x22, 0x33, 0x44}
			r.present(t, other, mfrc522sim.MifareClassic1K).Inject(fault)
			_, err = r.dev.Next(ctx(t, time.Second))
			require.ErrorIs(t, err, reader.ErrCard)
			got, err := r.dev.Next(ctx(t, time.Second))
			require.NoError(t, err)
			assert.Equal(t, other, got.UID, "the other badge, read after its card error")
			_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
			require.ErrorIs(t, err, mfrc522.ErrTimeout, "no second tap of the resting badge")
		})
	}
}

// TestPollCutShortLeavesCardsHalted: the caller's context may end at any
// point of a poll, here in turn at each of the checks the driver makes of
// it. A badge resting on the reader, halted after its tap, is woken by each
// poll's presence check (WUPA) and halted again: it must be halted again
// also when the context ends between the WUPA and the HLTA, as it is when
// the check runs to its end. (A woken card left in READY* until the next
// frame went out: a poll's end depended on where the deadline fell.)
func TestPollCutShortLeavesCardsHalted(t *testing.T) {
	for _, tt := range []struct {
		name string
		uid  []byte
	}{
		{"4-byte", uid4()},
		{"7-byte", uid7()},
		{"10-byte", uid10()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
			card := r.present(t, tt.uid, mfrc522sim.MifareClassic1K)
			_, err := r.dev.Next(ctx(t, time.Second))
			require.NoError(t, err)
			selects := card.Selects()
			whole := 0 // the checks of a poll that ran to its end
			for n := 1; ; n++ {
				c := &cutCtx{after: n, done: make(chan struct{})}
				_, err := r.dev.Next(c)
				require.ErrorIs(t, err, mfrc522.ErrTimeout, "cut at check %d: no second tap", n)
				r.sim.Advance(time.Millisecond) // the last frame on the air
				require.Equal(t, mfrc522sim.Halt, card.State(), "cut at check %d", n)
				if c.polls() > 1 {
					whole = n
					break
				}
			}
			assert.Greater(t, whole, 3, "cuts fell inside the presence check")
			assert.Equal(t, selects, card.Selects(), "never selected again")
			assert.Zero(t, r.sim.Counters().Violations)
		})
	}
}

// cutCtx is a context that ends (context.DeadlineExceeded) at the after-th
// call of its Err, the check the driver makes before every frame.
type cutCtx struct {
	mu     sync.Mutex
	after  int
	checks int
	waits  int // Done calls: Next waiting between two polls
	done   chan struct{}
}

func (c *cutCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *cutCtx) Value(any) any               { return nil }

func (c *cutCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits++
	return c.done
}

func (c *cutCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checks++; c.checks < c.after {
		return nil
	}
	if c.checks == c.after {
		close(c.done)
	}
	return context.DeadlineExceeded
}

// polls is how many polls began: Next waits between two.
func (c *cutCtx) polls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waits + 1
}
