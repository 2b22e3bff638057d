package readerfake

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
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
