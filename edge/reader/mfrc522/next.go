package mfrc522

import (
	"context"
	"errors"
	"time"

	"github.com/smartworkcenters/swc/edge/reader"
)

// Next blocks until a card is newly presented and returns it, verified and
// halted. A card left in the field is returned once. Card errors (ErrCRC,
// ErrBCC, ErrProtocol, ErrCollision, ErrTimeout for a card taken away too
// early) are returned as they happen; call Next again. After
// ErrChipNotResponding or ErrUnknownChip the next call initialises the chip
// again first. ctx's deadline gives an error matching ErrTimeout and
// context.DeadlineExceeded.
func (d *Dev) Next(ctx context.Context) (reader.Card, error) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		card, tap, err := d.poll(ctx)
		if err != nil || tap {
			return card, err
		}
		if t == nil {
			t = time.NewTimer(d.every)
		} else {
			t.Reset(d.every)
		}
		select {
		case <-ctx.Done():
			return reader.Card{}, ctxErr(ctx, "waiting for a card")
		case <-d.done:
			return reader.Card{}, reader.ErrClosed
		case <-t.C:
		}
	}
}

// poll looks for a new card once.
func (d *Dev) poll(ctx context.Context) (reader.Card, bool, error) {
	if err := d.lock(ctx, true); err != nil {
		return reader.Card{}, false, err
	}
	defer d.mu.Unlock()
	card, tap, err := d.pollLocked(ctx)
	d.chipFailed(err)
	return card, tap, err
}

func (d *Dev) pollLocked(ctx context.Context) (reader.Card, bool, error) {
	atqa, err := d.request(ctx, false)
	if errors.Is(err, ErrNoCard) {
		return reader.Card{}, false, d.checkPresent(ctx)
	}
	if err != nil {
		return reader.Card{}, false, err
	}
	card, err := d.selectCard(ctx, atqa)
	if err != nil {
		return reader.Card{}, false, err
	}
	if err := d.halt(); err != nil {
		return reader.Card{}, false, err
	}
	if d.isPresent(card.UID) {
		// The card answered REQA although it was halted and never left: it
		// lost power for a moment or ignores HLTA. Same presentation.
		return reader.Card{}, false, nil
	}
	d.remember(card.UID)
	return card, true, nil
}

// checkPresent finds which of the halted cards are still in the field: WUPA
// wakes them, one ANTICOLLISION tells their first UID bytes unless several
// collide, HLTA puts them back to sleep.
func (d *Dev) checkPresent(ctx context.Context) error {
	if len(d.present) == 0 {
		return nil
	}
	_, err := d.request(ctx, true)
	if errors.Is(err, ErrNoCard) {
		d.present = d.present[:0]
		return nil
	}
	if err != nil {
		return d.cardError(err)
	}
	r, err := d.exchange(ctx, frame{op: "ANTICOLLISION CL1", tx: []byte{0x93, 0x20}, expectBits: 40})
	if errors.Is(err, errNoAnswer) {
		return nil // woken but silent now: keep what we knew
	}
	if err != nil {
		return d.cardError(err)
	}
	if r.errs == 0 && len(r.data) == 5 && r.lastBits == 0 && bcc(r.data) == r.data[4] {
		kept := d.present[:0]
		for _, uid := range d.present {
			if cl1(uid) == [4]byte(r.data[:4]) {
				kept = append(kept, uid)
			}
		}
		d.present = kept
	}
	return d.halt()
}

// cardError keeps chip failures and drops card-level ones: while checking for
// halted cards, a garbled answer still means a card is there.
func (d *Dev) cardError(err error) error {
	if errors.Is(err, ErrChipNotResponding) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// chipFailed marks the chip for initialisation after a chip failure.
func (d *Dev) chipFailed(err error) {
	if errors.Is(err, ErrChipNotResponding) || errors.Is(err, ErrUnknownChip) {
		d.ready = false
	}
}

// ReadCard reads the card in the field now, halted or not (WUPA), and halts
// it; ErrNoCard when there is none. It is the technician's "read one card"
// test. The card counts as presented: Next does not return it again while it
// stays.
func (d *Dev) ReadCard(ctx context.Context) (reader.Card, error) {
	if err := d.lock(ctx, true); err != nil {
		return reader.Card{}, err
	}
	defer d.mu.Unlock()
	card, err := d.readCard(ctx)
	d.chipFailed(err)
	return card, err
}

func (d *Dev) readCard(ctx context.Context) (reader.Card, error) {
	atqa, err := d.request(ctx, true)
	if err != nil {
		return reader.Card{}, err
	}
	card, err := d.selectCard(ctx, atqa)
	if err != nil {
		return reader.Card{}, err
	}
	if err := d.halt(); err != nil {
		return reader.Card{}, err
	}
	if !d.isPresent(card.UID) {
		d.remember(card.UID)
	}
	return card, nil
}

// maxPresent bounds the halted cards remembered: more than fit on a reader.
const maxPresent = 8

// remember records a halted card as present (a copy: the caller owns the
// card it was given).
func (d *Dev) remember(uid []byte) {
	if len(d.present) == maxPresent {
		d.present = append(d.present[:0], d.present[1:]...)
	}
	d.present = append(d.present, append([]byte(nil), uid...))
}
