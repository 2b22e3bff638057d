package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCloseWithin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	release := make(chan struct{})
	defer close(release)
	err := closeWithin(ctx, "stuck part", func() error { <-release; return nil })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "stuck part")

	boom := errors.New("boom")
	assert.ErrorIs(t, closeWithin(context.Background(), "part", func() error { return boom }), boom)
	assert.NoError(t, closeWithin(context.Background(), "part", func() error { return nil }))
}
