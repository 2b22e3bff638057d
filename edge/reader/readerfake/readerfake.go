// Package readerfake is a badge reader without hardware, behind the
// reader.Reader interface: Present puts a card in front of it once,
// PresentSecure a simulated smart card (package desfiresim) that the caller
// then talks to through Card.APDU, and SetFault makes it stop answering. The agent uses it for driver = "sim"
// until the MFRC522 simulator replaces it, and tests use it directly.
package readerfake

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
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
	gen    uint64 // presentations returned by Next; an APDU channel works while it is its own
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
	r.mu.Lock()
	r.gen++ // the card returned last is no longer in front of the reader
	r.mu.Unlock()
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
			if l, ok := c.APDU.(*simLink); ok {
				l.gen = r.gen
			}
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

// PresentSecure presents a simulated contactless smart card (an NTAG 424
// DNA, a DESFire EV2 or a magic UID clone of package desfiresim) with its
// ATQA and SAK, and with Card.APDU talking to it. pullAfter > 0 takes the
// card away after that many APDUs (the next one fails with reader.ErrCard),
// as a badge pulled mid-exchange. Each presentation is a fresh power-up of
// the card (desfiresim.Card.Reset); the APDU channel closes at the next Next.
func (r *Reader) PresentSecure(sim *desfiresim.Card, pullAfter int) error {
	uid := sim.UID()
	c := reader.Card{UID: uid, ATQA: [2]byte{0x04, 0x03}, SAK: 0x20}
	if len(uid) > 4 {
		c.ATQA[0] = 0x44
	}
	sim.Reset()
	c.APDU = &simLink{r: r, sim: sim, left: pullAfter}
	return r.Present(c)
}

// simLink is the APDU channel of one presentation of a simulated card.
type simLink struct {
	r    *Reader
	sim  *desfiresim.Card
	gen  uint64 // the reader's presentation count when Next returned the card
	left int    // APDUs before the card is pulled; 0: never
	used int
}

// Transceive passes one APDU to the simulated card.
func (l *simLink) Transceive(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.r.mu.Lock()
	stale := l.gen != l.r.gen || l.r.closed
	l.r.mu.Unlock()
	if stale {
		return nil, fmt.Errorf("readerfake: APDU after the card's presentation ended: %w", reader.ErrCard)
	}
	if l.left > 0 && l.used >= l.left {
		return nil, fmt.Errorf("readerfake: card left the field after %d APDUs: %w", l.used, reader.ErrCard)
	}
	l.used++
	return l.sim.Transceive(apdu), nil
}
