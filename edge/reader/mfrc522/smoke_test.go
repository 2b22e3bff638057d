package mfrc522_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

func TestSmoke(t *testing.T) {
	for _, uid := range [][]byte{{1, 2, 3, 4}, {4, 1, 2, 3, 4, 5, 6}, {4, 1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		sim := mfrc522sim.New(mfrc522sim.Options{})
		dev, err := mfrc522.New(sim, &mfrc522.Options{Clock: sim})
		require.NoError(t, err)
		_, err = sim.Present(mfrc522sim.NewCard(uid, mfrc522sim.MifareClassic1K))
		require.NoError(t, err)
		require.NoError(t, dev.Init(context.Background()))
		sim.ResetCounters()
		c, err := dev.ReadCard(context.Background())
		require.NoError(t, err)
		t.Logf("%v %+v", c, sim.Counters())
		sim.ResetCounters()
		c, err = dev.ReadCard(context.Background())
		require.NoError(t, err)
		t.Logf("%v %+v", c, sim.Counters())
	}
}
