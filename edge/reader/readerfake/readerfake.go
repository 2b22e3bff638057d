// Package readerfake is a badge reader without hardware, behind the
// reader.Reader interface: Present puts a card in front of it once, and
// SetFault makes it stop answering. The agent uses it for driver = "sim"
// until the MFRC522 simulator replaces it, and tests use it directly.
package readerfake

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/smartworkcenters/swc/edge/reader"
)

// MaxQueued bounds presentations waiting for Next.
const MaxQueued = 64

// ErrBusy is returned by Present when MaxQueued cards wait already.
var ErrBusy = errors.New("readerfake: too many cards waiting")

// Reader is a fake reader; it is safe for concurrent use.
type Reader struct {
	mu     sync.Mutex
	queue  []reader.Card
	fault  error
	closed bool
	wake   chan struct{}
}

// New returns a reader with no card in front of it.
func New() *Reader { return &Reader{wake: make(chan struct{}, 1)} }

func (r *Reader) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Present presents a card once: the next call to Next returns it. The UID
// must be 4, 7 or 10 bytes. A faulted reader does not see the card and
// Present returns the fault.
func (r *Reader) Present(c reader.Card) error {
	switch len(c.UID) {
	case 4, 7, 10:
	default:
		return fmt.Errorf("readerfake: a UID has 4, 7 or 10 bytes, not %d", len(c.UID))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return reader.ErrClosed
	case r.fault != nil:
		return fmt.Errorf("readerfake: reader not answering: %w", r.fault)
	case len(r.queue) >= MaxQueued:
		return ErrBusy
	}
	c.UID = append([]byte(nil), c.UID...)
	r.queue = append(r.queue, c)
	r.poke()
	return nil
}

// PresentUID presents a MIFARE Classic 1K (4-byte UID) or an NTAG/Ultralight
// (7- or 10-byte UID) card with the given UID.
func (r *Reader) PresentUID(uid []byte) error {
	c := reader.Card{UID: uid, ATQA: [2]byte{0x04, 0x00}, SAK: 0x08}
	if len(uid) > 4 {
		c.ATQA, c.SAK = [2]byte{0x44, 0x00}, 0x00
	}
	return r.Present(c)
}

// SetFault makes Next fail with err until SetFault(nil), as a reader that
// stopped answering; cards waiting are lost.
func (r *Reader) SetFault(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = err
	if err != nil {
		r.queue = nil
	}
	r.poke()
}

// Next returns the next presented card, or the fault, or ctx's error.
func (r *Reader) Next(ctx context.Context) (reader.Card, error) {
	for {
		r.mu.Lock()
		switch {
		case r.closed:
			r.mu.Unlock()
			return reader.Card{}, reader.ErrClosed
		case r.fault != nil:
			err := r.fault
			r.mu.Unlock()
			return reader.Card{}, err
		case len(r.queue) > 0:
			c := r.queue[0]
			r.queue = r.queue[1:]
			r.mu.Unlock()
			return c, nil
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return reader.Card{}, ctx.Err()
		case <-r.wake:
		}
	}
}

// Close closes the reader; it is idempotent.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.poke()
	return nil
}

var _ reader.Reader = (*Reader)(nil)
