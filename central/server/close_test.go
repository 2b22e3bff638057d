package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCloseWithinIsBounded: a close that never returns (the embedded
// broker's Close deadlocked in mochi) does not hold a shutdown whose
// context has no deadline.
func TestCloseWithinIsBounded(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	err := closeWithinOr(context.Background(), 20*time.Millisecond, "broker", func() error { <-stuck; return nil })
	require.ErrorIs(t, err, context.DeadlineExceeded)

	err = closeWithinOr(context.Background(), time.Minute, "broker", func() error { return errors.New("closed badly") })
	require.EqualError(t, err, "closed badly", "a close that finishes gives its own answer")
}
