package mfrc522_test

import (
	"context"
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

func uid4() []byte  { return []byte{0x3A, 0x11, 0x52, 0xC7} }
func uid7() []byte  { return []byte{0x04, 0x8E, 0x21, 0x6A, 0x5C, 0x3B, 0x80} }
func uid10() []byte { return []byte{0x04, 0x27, 0x1D, 0x90, 0xAB, 0xCD, 0x12, 0x34, 0x56, 0x78} }
