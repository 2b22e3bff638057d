package mfrc522_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// TestISODEPFaults injects faults into the card's blocks: a fault the
// ISO/IEC 14443-4 rules recover from gives the right response; one they
// cannot (the card pulled out in the middle of a chain, a card that keeps
// garbling, a WTX storm) ends with a typed card error, within a bounded
// (virtual) time, with the session closed and the chip ready for the next
// card.
func TestISODEPFaults(t *testing.T) {
	fsc32 := []byte{0x05, 0x72, 0x77, 0x81, 0x02}
	long := []byte{0x90, 0xBD, 0x00, 0x02, 0xBC} // asks 700 bytes back from sized: 12 chained blocks
	tests := []struct {
		name  string
		dep   mfrc522sim.ISODEP
		fault mfrc522sim.Fault
		apdu  []byte
		kind  error // nil: recovered
	}{
		{name: "bad CRC once", fault: mfrc522sim.Fault{Kind: mfrc522sim.BadCRC, On: mfrc522sim.Block}, apdu: pattern(5)},
		{name: "bad PCB once", fault: mfrc522sim.Fault{Kind: mfrc522sim.BadPCB, On: mfrc522sim.Block}, apdu: pattern(5)},
		{name: "parity error once", fault: mfrc522sim.Fault{Kind: mfrc522sim.Noise, On: mfrc522sim.Block}, apdu: pattern(5)},
		{name: "answer lost once", fault: mfrc522sim.Fault{Kind: mfrc522sim.NoAnswer, On: mfrc522sim.Block}, apdu: pattern(5)},
		{name: "bad CRC twice in a row", fault: mfrc522sim.Fault{Kind: mfrc522sim.BadCRC, On: mfrc522sim.Block, Count: 2}, apdu: pattern(5)},
		{name: "bad CRC in a chained response", dep: mfrc522sim.ISODEP{App: sized{}},
			fault: mfrc522sim.Fault{Kind: mfrc522sim.BadCRC, On: mfrc522sim.Block, After: 3}, apdu: long},
		{name: "lost block in a chained response", dep: mfrc522sim.ISODEP{App: sized{}},
			fault: mfrc522sim.Fault{Kind: mfrc522sim.NoAnswer, On: mfrc522sim.Block, After: 5}, apdu: long},
		{name: "R(ACK) of a chained command lost", dep: mfrc522sim.ISODEP{ATS: fsc32},
			fault: mfrc522sim.Fault{Kind: mfrc522sim.NoAnswer, On: mfrc522sim.Block, After: 2}, apdu: pattern(256)},
		{name: "R(ACK) of a chained command garbled", dep: mfrc522sim.ISODEP{ATS: fsc32},
			fault: mfrc522sim.Fault{Kind: mfrc522sim.BadPCB, On: mfrc522sim.Block, After: 4}, apdu: pattern(256)},
		{name: "I-block lost on the way: R(NAK), R(ACK), the I-block again", fault: mfrc522sim.Fault{Kind: mfrc522sim.Deaf, On: mfrc522sim.Block}, apdu: pattern(5)},
		{name: "block of a chained command lost on the way", dep: mfrc522sim.ISODEP{ATS: fsc32},
			fault: mfrc522sim.Fault{Kind: mfrc522sim.Deaf, On: mfrc522sim.Block, After: 3}, apdu: pattern(256)},
		{name: "R(ACK) of a chained response lost on the way", dep: mfrc522sim.ISODEP{App: sized{}},
			fault: mfrc522sim.Fault{Kind: mfrc522sim.Deaf, On: mfrc522sim.Block, After: 2}, apdu: long},
		{name: "S(WTX) garbled", dep: mfrc522sim.ISODEP{WTX: 2, WTXM: 3},
			fault: mfrc522sim.Fault{Kind: mfrc522sim.BadCRC, On: mfrc522sim.Block, After: 1}, apdu: pattern(5)},

		{name: "bad CRC every time", fault: mfrc522sim.Fault{Kind: mfrc522sim.BadCRC, On: mfrc522sim.Block, Count: 100},
			apdu: pattern(5), kind: mfrc522.ErrCRC},
		{name: "bad PCB every time", fault: mfrc522sim.Fault{Kind: mfrc522sim.BadPCB, On: mfrc522sim.Block, Count: 100},
			apdu: pattern(5), kind: mfrc522.ErrProtocol},
		{name: "card pulled in a chained response", dep: mfrc522sim.ISODEP{App: sized{}},
			fault: mfrc522sim.Fault{Kind: mfrc522sim.Pulled, On: mfrc522sim.Block, After: 4}, apdu: long, kind: mfrc522.ErrTimeout},
		{name: "card pulled in a chained command", dep: mfrc522sim.ISODEP{ATS: fsc32},
			fault: mfrc522sim.Fault{Kind: mfrc522sim.Pulled, On: mfrc522sim.Block, After: 3}, apdu: pattern(256), kind: mfrc522.ErrTimeout},
		{name: "WTX storm", dep: mfrc522sim.ISODEP{WTX: 1_000_000, WTXM: 59}, apdu: pattern(5), kind: mfrc522.ErrWTXLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
			dep := tt.dep
			if dep.App == nil {
				dep.App = echoApp{}
			}
			card := r.isoCard(t, uid7(), &dep)
			s := r.open(t)
			want := dep.App.Transceive(tt.apdu)
			card.Inject(tt.fault)
			t0, x0 := r.sim.Elapsed(), r.sim.Counters().Exchanges
			got, err := s.Transceive(context.Background(), tt.apdu)
			spent, faulty := r.sim.Elapsed()-t0, r.sim.Counters().Exchanges-x0
			assert.Less(t, spent, 5*time.Second, "bounded")
			if tt.kind == nil {
				require.NoError(t, err)
				assert.Equal(t, want, got)
				x0 = r.sim.Counters().Exchanges
				got, err = s.Transceive(context.Background(), tt.apdu)
				require.NoError(t, err, "the session goes on")
				assert.Equal(t, want, got)
				assert.Greater(t, faulty, r.sim.Counters().Exchanges-x0, "the fault cost frames of recovery")
				require.NoError(t, s.Close())
				r.sim.Advance(time.Millisecond)
				assert.Equal(t, mfrc522sim.Halt, card.State())
				return
			}
			require.ErrorIs(t, err, tt.kind)
			require.ErrorIs(t, err, reader.ErrCard)
			_, err = s.Transceive(context.Background(), tt.apdu)
			require.ErrorIs(t, err, mfrc522.ErrSessionClosed)
			require.NoError(t, s.Close())
			if len(r.sim.Cards()) > 0 {
				// Still in the field: the field was reset, and the next
				// poll reads the card afresh, as after a failed read.
				got, err := r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err)
				assert.Equal(t, uid7(), got.UID)
			}
			assertReady(t, r)
		})
	}
}

// assertReady checks that the reader reads the next card at once.
func assertReady(t *testing.T, r rig) {
	t.Helper()
	for _, c := range r.sim.Cards() {
		r.sim.Remove(c)
	}
	next := []byte{0x11, 0x22, 0x33, 0x44}
	r.present(t, next, mfrc522sim.MifareClassic1K)
	got, err := r.dev.Next(ctx(t, time.Second))
	require.NoError(t, err)
	assert.Equal(t, next, got.UID)
	assert.Zero(t, r.sim.Counters().Violations)
}

// TestISODEPWTX: a card that takes longer than its 77 ms FWT and asks for
// it with S(WTX). With WTXM 2 the reader waits the 162 ms it asks (the
// card takes 150): two frames on the air (the I-block and the S(WTX)
// response), no R(NAK). With WTXM 1 it times out, sends R(NAK), and the card
// sends its answer again. Longer extensions need a coarser timer
// prescaler.
func TestISODEPWTX(t *testing.T) {
	for _, tt := range []struct {
		wtxm       byte
		processing time.Duration
		exchanges  int64
		irq        bool
	}{
		{2, 150 * time.Millisecond, 2, false},
		{1, 150 * time.Millisecond, 3, false},
		{2, 150 * time.Millisecond, 2, true},
		{10, 700 * time.Millisecond, 2, false}, // 809 ms: beyond the default prescaler's 652 ms
		{59, 4 * time.Second, 2, true},         // 4.77 s: the longest a WTX gets with FWI 8
	} {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		if tt.irq {
			r = r.withIRQ(t)
		}
		r.isoCard(t, uid4(), &mfrc522sim.ISODEP{App: echoApp{}, Processing: tt.processing, WTX: 1, WTXM: tt.wtxm})
		s := r.open(t)
		c0 := r.sim.Counters()
		got, err := s.Transceive(context.Background(), []byte{1, 2, 3})
		require.NoError(t, err)
		assert.Equal(t, []byte{1, 2, 3, 0x90, 0x00}, got)
		assert.Equal(t, tt.exchanges, r.sim.Counters().Exchanges-c0.Exchanges, "WTXM %d", tt.wtxm)
		require.NoError(t, s.Close())
	}
}

// TestISODEPContext: the caller's context is checked between frames: an
// App that cancels it makes Transceive stop before the next frame of the
// chain; the field is reset (the card was left in the middle of a chain)
// and the chip reads the next card.
func TestISODEPContext(t *testing.T) {
	r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.isoCard(t, uid4(), &mfrc522sim.ISODEP{App: cancelling{cancel}})
	s := r.open(t)
	_, err := s.Transceive(c, []byte{0x00, 0x01, 0x00})
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, errors.Is(err, reader.ErrCard), "not the card's fault")
	_, err = s.Transceive(context.Background(), []byte{1})
	require.ErrorIs(t, err, mfrc522.ErrSessionClosed)
	assertReady(t, r)

	// A context already done: nothing is sent.
	r = newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
	r.isoCard(t, uid4(), &mfrc522sim.ISODEP{App: echoApp{}})
	s = r.open(t)
	before := r.sim.Counters().Exchanges
	_, err = s.Transceive(c, []byte{1})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, r.sim.Counters().Exchanges)
}

// cancelling answers a chained 300-byte response and cancels the caller's
// context while doing so.
type cancelling struct{ cancel context.CancelFunc }

func (c cancelling) Transceive([]byte) []byte {
	c.cancel()
	return append(make([]byte, 300), 0x90, 0x00)
}

// TestISODEPOpen: the cards OpenISODEP refuses, and what it leaves.
func TestISODEPOpen(t *testing.T) {
	t.Run("not ISO 14443-4", func(t *testing.T) {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		r.present(t, uid4(), mfrc522sim.MifareClassic1K)
		card, err := r.dev.Next(ctx(t, time.Second))
		require.NoError(t, err)
		_, err = r.dev.OpenISODEP(context.Background(), card)
		require.ErrorIs(t, err, mfrc522.ErrNotISODEP)
	})
	t.Run("card gone", func(t *testing.T) {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		c := r.isoCard(t, uid7(), &mfrc522sim.ISODEP{App: echoApp{}})
		card, err := r.dev.Next(ctx(t, time.Second))
		require.NoError(t, err)
		r.sim.Remove(c)
		_, err = r.dev.OpenISODEP(context.Background(), card)
		require.ErrorIs(t, err, mfrc522.ErrTimeout)
		require.ErrorIs(t, err, reader.ErrCard)
		assertReady(t, r)
	})
	t.Run("hostile ATS", func(t *testing.T) {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		r.isoCard(t, uid7(), &mfrc522sim.ISODEP{App: echoApp{}, ATS: []byte{0x03, 0x25, 0xF0}})
		card, err := r.dev.Next(ctx(t, time.Second))
		require.NoError(t, err)
		_, err = r.dev.OpenISODEP(context.Background(), card)
		require.ErrorIs(t, err, mfrc522.ErrATS)
		assert.Contains(t, err.Error(), "FWI 15")
		assertReady(t, r)
	})
	t.Run("garbled ATS", func(t *testing.T) {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		c := r.isoCard(t, uid4(), &mfrc522sim.ISODEP{App: echoApp{}})
		card, err := r.dev.Next(ctx(t, time.Second))
		require.NoError(t, err)
		c.Inject(mfrc522sim.Fault{Kind: mfrc522sim.BadCRC, On: mfrc522sim.Block})
		_, err = r.dev.OpenISODEP(context.Background(), card)
		require.ErrorIs(t, err, mfrc522.ErrCRC)
		// The field was reset: the card is read again, and opens.
		card, err = r.dev.Next(ctx(t, time.Second))
		require.NoError(t, err)
		s, err := r.dev.OpenISODEP(context.Background(), card)
		require.NoError(t, err)
		require.NoError(t, s.Close())
	})
	t.Run("a poll deselects an open session", func(t *testing.T) {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		c := r.isoCard(t, uid4(), &mfrc522sim.ISODEP{App: echoApp{}})
		s := r.open(t)
		// 20 ms of the driver's (virtual) time: polls, however loaded the
		// host (a wall-clock deadline could pass before the first poll,
		// leaving the session open).
		_, err := r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
		require.ErrorIs(t, err, mfrc522.ErrTimeout, "the card is not read twice")
		r.sim.Advance(time.Millisecond) // the last HLTA on the air
		assert.Equal(t, mfrc522sim.Halt, c.State())
		_, err = s.Transceive(context.Background(), []byte{1})
		require.ErrorIs(t, err, mfrc522.ErrSessionClosed)
	})
	t.Run("a tap without session: halted by the next poll, read once", func(t *testing.T) {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		c := r.isoCard(t, uid7(), &mfrc522sim.ISODEP{App: echoApp{}})
		_, err := r.dev.Next(ctx(t, time.Second))
		require.NoError(t, err)
		r.sim.Advance(time.Millisecond)
		assert.Equal(t, mfrc522sim.Active, c.State(), "left selected for OpenISODEP")
		_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond)) // as above
		require.ErrorIs(t, err, mfrc522.ErrTimeout, "not a second tap")
		r.sim.Advance(time.Millisecond)
		assert.Equal(t, mfrc522sim.Halt, c.State())
		assert.Equal(t, 1, c.Selects())
	})
	t.Run("another card's session: the selected one is halted, the other woken", func(t *testing.T) {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		a := r.isoCard(t, uid4(), &mfrc522sim.ISODEP{App: echoApp{}})
		first, err := r.dev.ReadCard(context.Background()) // halted at once
		require.NoError(t, err)
		b := r.isoCard(t, uid7(), &mfrc522sim.ISODEP{App: echoApp{}})
		second, err := r.dev.Next(ctx(t, time.Second))
		require.NoError(t, err)
		require.Equal(t, uid7(), second.UID)
		s, err := r.dev.OpenISODEP(context.Background(), first)
		require.NoError(t, err)
		r.sim.Advance(time.Millisecond)
		assert.Equal(t, mfrc522sim.Halt, b.State())
		got, err := s.Transceive(context.Background(), []byte{7})
		require.NoError(t, err)
		assert.Equal(t, []byte{7, 0x90, 0x00}, got)
		require.NoError(t, s.Close())
		assert.Equal(t, mfrc522sim.Halt, a.State())
	})
	t.Run("a second session replaces the first", func(t *testing.T) {
		r := newRig(t, mfrc522sim.Options{}, mfrc522.Options{})
		r.isoCard(t, uid4(), &mfrc522sim.ISODEP{App: echoApp{}})
		s1 := r.open(t)
		s2, err := r.dev.OpenISODEP(context.Background(), s1.Card())
		require.NoError(t, err)
		_, err = s1.Transceive(context.Background(), []byte{1})
		require.ErrorIs(t, err, mfrc522.ErrSessionClosed)
		got, err := s2.Transceive(context.Background(), []byte{1})
		require.NoError(t, err)
		assert.Equal(t, []byte{1, 0x90, 0x00}, got)
	})
}

// TestISODEPDeadline: on the wall clock (the simulator following it, the
// driver on the system clock, as swc-edge runs with driver = "sim"), a
// card that asks for a 4.8 s waiting time extension and then never answers
// is given up at the caller's deadline, with and without the IRQ pin.
func TestISODEPDeadline(t *testing.T) {
	for _, irq := range []bool{false, true} {
		sim := mfrc522sim.New(mfrc522sim.Options{WallClock: true})
		o := &mfrc522.Options{PollInterval: time.Millisecond}
		if irq {
			o.IRQ = sim.IRQ()
		}
		dev, err := mfrc522.New(sim, o)
		require.NoError(t, err)
		spec := mfrc522sim.NewCard(uid4(), mfrc522sim.DESFire)
		spec.ISODEP = &mfrc522sim.ISODEP{App: echoApp{}, WTX: 1, WTXM: 59, Processing: time.Hour}
		_, err = sim.Present(spec)
		require.NoError(t, err)
		card, err := dev.Next(ctx(t, 2*time.Second))
		require.NoError(t, err)
		s, err := dev.OpenISODEP(ctx(t, time.Second), card)
		require.NoError(t, err)
		start := time.Now()
		_, err = s.Transceive(ctx(t, 300*time.Millisecond), []byte{1})
		took := time.Since(start)
		require.ErrorIs(t, err, context.DeadlineExceeded, "IRQ %v", irq)
		require.ErrorIs(t, err, mfrc522.ErrTimeout)
		assert.Less(t, took, time.Second, "IRQ %v: given up at the deadline", irq)
		require.NoError(t, dev.Close())
	}
}
