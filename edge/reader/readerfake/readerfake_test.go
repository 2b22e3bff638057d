package readerfake

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
)

func TestPresentAndNext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := New()
	uids := [][]byte{{1, 2, 3, 4}, {4, 1, 2, 3, 4, 5, 6}, {4, 1, 2, 3, 4, 5, 6, 7, 8, 9}}
	for _, u := range uids {
		require.NoError(t, r.PresentUID(u))
	}
	for _, u := range uids {
		c, err := r.Next(ctx)
		require.NoError(t, err)
		assert.Equal(t, u, c.UID)
	}
	// Each presentation is returned once: nothing more is waiting.
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	_, err := r.Next(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A card presented while Next waits wakes it.
	got := make(chan reader.Card)
	go func() {
		c, _ := r.Next(ctx)
		got <- c
	}()
	require.NoError(t, r.PresentUID([]byte{9, 9, 9, 9}))
	assert.Equal(t, "09090909", string((<-got).ID()))
}

func TestPresentValidates(t *testing.T) {
	r := New()
	tests := []struct {
		uid  []byte
		want string
	}{
		{nil, "not 0"},
		{[]byte{1, 2, 3}, "not 3"},
		{[]byte{1, 2, 3, 4, 5}, "not 5"},
	}
	for _, tt := range tests {
		assert.ErrorContains(t, r.PresentUID(tt.uid), tt.want)
	}
	for i := 0; i < MaxQueued; i++ {
		require.NoError(t, r.PresentUID([]byte{1, 2, 3, byte(i)}))
	}
	require.ErrorIs(t, r.PresentUID([]byte{1, 2, 3, 4}), ErrBusy)
}

func TestFaultAndClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := New()
	require.NoError(t, r.PresentUID([]byte{1, 2, 3, 4}))
	broken := errors.New("no answer from the chip")
	r.SetFault(broken)
	_, err := r.Next(ctx)
	require.ErrorIs(t, err, broken)
	require.ErrorIs(t, r.PresentUID([]byte{1, 2, 3, 4}), broken)
	r.SetFault(nil)
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	_, err = r.Next(short)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the card presented before the fault is lost")

	done := make(chan error)
	go func() {
		_, err := r.Next(ctx)
		done <- err
	}()
	require.NoError(t, r.Close())
	require.ErrorIs(t, <-done, reader.ErrClosed)
	require.NoError(t, r.Close())
	require.ErrorIs(t, r.PresentUID([]byte{1, 2, 3, 4}), reader.ErrClosed)
}

func TestPresentSecure(t *testing.T) {
	ctx := context.Background()
	uid := []byte{0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80}
	sim, err := desfiresim.NewNTAG424(uid, desfiresim.Options{})
	require.NoError(t, err)
	r := New()
	require.NoError(t, r.PresentSecure(sim, 0))
	c, err := r.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, uid, c.UID)
	assert.Equal(t, byte(0x20), c.SAK, "ISO 14443-4 compliant")
	assert.Equal(t, [2]byte{0x44, 0x03}, c.ATQA)
	require.NotNil(t, c.APDU)
	h := desfire.New(c.APDU, nil)
	require.NoError(t, h.SelectNTAG424Application(ctx))
	require.NoError(t, h.AuthenticateEV2First(ctx, 0, make([]byte, 16)))

	// The next Next ends the presentation: the channel no longer works.
	require.NoError(t, r.PresentUID([]byte{1, 2, 3, 4}))
	plain, err := r.Next(ctx)
	require.NoError(t, err)
	assert.Nil(t, plain.APDU, "a UID-only card has no APDU channel")
	_, err = c.APDU.Transceive(ctx, []byte{0x90, 0x60, 0, 0, 0})
	assert.ErrorIs(t, err, reader.ErrCard)

	// A card pulled after two APDUs.
	require.NoError(t, r.PresentSecure(sim, 2))
	c, err = r.Next(ctx)
	require.NoError(t, err)
	h = desfire.New(c.APDU, nil)
	require.NoError(t, h.SelectNTAG424Application(ctx))
	_, err = h.ReadData(ctx, desfire.NTAG424NDEFFile, 0, 16, desfire.Plain)
	require.NoError(t, err)
	err = h.AuthenticateEV2First(ctx, 0, make([]byte, 16))
	assert.ErrorIs(t, err, reader.ErrCard)
	assert.False(t, desfire.IsAuthFailure(err), "a pulled card is not a clone")

	// A 4-byte DESFire.
	ev2, err := desfiresim.NewDESFireEV2([]byte{0x08, 1, 2, 3}, desfiresim.Options{})
	require.NoError(t, err)
	require.NoError(t, r.PresentSecure(ev2, 0))
	c, err = r.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, [2]byte{0x04, 0x03}, c.ATQA)
}
