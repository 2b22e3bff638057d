package mfrc522_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rig is a driver on a simulator whose virtual clock it uses.
type rig struct {
	sim *mfrc522sim.Sim
	dev *mfrc522.Dev
}

func newRig(t testing.TB, so mfrc522sim.Options, do mfrc522.Options) rig {
	t.Helper()
	sim := mfrc522sim.New(so)
	if do.Clock == nil {
		do.Clock = sim
	}
	if do.PollInterval == 0 {
		do.PollInterval = time.Millisecond
	}
	dev, err := mfrc522.New(sim, &do)
	require.NoError(t, err)
	t.Cleanup(func() { _ = dev.Close() })
	return rig{sim: sim, dev: dev}
}

// withIRQ returns the rig with a driver that waits on the simulator's IRQ
// pin.
func (r rig) withIRQ(t testing.TB) rig {
	t.Helper()
	dev, err := mfrc522.New(r.sim, &mfrc522.Options{Clock: r.sim, IRQ: r.sim.IRQ(), PollInterval: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = dev.Close() })
	r.dev = dev
	return r
}

func (r rig) present(t testing.TB, uid []byte, typ mfrc522sim.CardType) *mfrc522sim.Card {
	t.Helper()
	c, err := r.sim.Present(mfrc522sim.NewCard(uid, typ))
	require.NoError(t, err)
	return c
}

// ctx returns a context that ends after d of wall time.
func ctx(t testing.TB, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// simCtx returns a context whose deadline is d from now on sim's virtual
// clock, the driver's clock in a rig: a Next given it polls for d of the
// driver's time however loaded the host is. (A wall-clock deadline of a few
// milliseconds may pass before the driver's first poll, or in its middle, on
// a loaded machine: what a test then checks after the poll never happened.)
// The driver checks its context before every frame and between polls; the
// context ends at the first check at or after the deadline.
func simCtx(sim *mfrc522sim.Sim, d time.Duration) context.Context {
	return &simDeadline{sim: sim, at: sim.Elapsed() + d, done: make(chan struct{})}
}

type simDeadline struct {
	sim  *mfrc522sim.Sim
	at   time.Duration
	once sync.Once
	done chan struct{}
}

func (c *simDeadline) expired() bool {
	if c.sim.Elapsed() < c.at {
		return false
	}
	c.once.Do(func() { close(c.done) })
	return true
}

func (c *simDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *simDeadline) Value(any) any               { return nil }

func (c *simDeadline) Done() <-chan struct{} {
	c.expired()
	return c.done
}

func (c *simDeadline) Err() error {
	if c.expired() {
		return context.DeadlineExceeded
	}
	return nil
}

func uid4() []byte  { return []byte{0x3A, 0x11, 0x52, 0xC7} }
func uid7() []byte  { return []byte{0x04, 0x8E, 0x21, 0x6A, 0x5C, 0x3B, 0x80} }
func uid10() []byte { return []byte{0x04, 0x27, 0x1D, 0x90, 0xAB, 0xCD, 0x12, 0x34, 0x56, 0x78} }
