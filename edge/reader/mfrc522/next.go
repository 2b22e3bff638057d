package mfrc522

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/edge/reader"
)

// Next blocks until a card is newly presented and returns it, verified and
// halted: an ISO/IEC 14443-4 card (SAK bit 6) is left selected for
// OpenISODEP and halted by whatever the driver does next on the air, unless
// that is OpenISODEP for it. A card left in the field is returned once. Card errors (ErrCRC,
// ErrBCC, ErrProtocol, ErrCollision, ErrTimeout for a card taken away too
// early; all match reader.ErrCard) are returned as they happen, after the
// field is reset so that the next poll reads the card afresh; call Next
// again. After
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
	d.taps++ // the card Next returned before is over: so is its APDU channel
	if err := d.release(ctx); err != nil {
		return reader.Card{}, false, err
	}
	card, tap, err := d.pollLocked(ctx)
	err = d.afterCardError(ctx, err)
	d.chipFailed(err)
	if err == nil && tap && d.held != nil && bytes.Equal(d.held, card.UID) {
		card.APDU = d.newLink(card)
	}
	return card, tap, err
}

// pollLocked reads the cards answering REQA until one is new. A card that
// was halted and never left may answer again (the field was reset after a
// card error, or it ignores HLTA); it is halted again and the poll goes on,
// so a new card lying with it is read at once. A known card that was seen
// asleep (see presence) and answers REQA again has left the field and come
// back: it is new, even when no poll saw the field without it.
func (d *Dev) pollLocked(ctx context.Context) (reader.Card, bool, error) {
	for range maxPresent + 1 {
		atqa, err := d.request(ctx, false)
		if errors.Is(err, ErrNoCard) {
			// No card answers REQA: every card in the field is halted.
			for i := range d.present {
				d.present[i].asleep = true
			}
			return reader.Card{}, false, d.checkPresent(ctx)
		}
		if err != nil {
			return reader.Card{}, false, err
		}
		card, err := d.selectCard(ctx, atqa)
		if err != nil {
			return reader.Card{}, false, err
		}
		p := d.known(card.UID)
		if tap := p == nil || p.asleep; tap && card.SAK&sakISODEP != 0 {
			d.held = append(d.held[:0], card.UID...) // HLTA deferred: OpenISODEP may follow
		} else if err := d.halt(); err != nil {
			return reader.Card{}, false, err
		}
		switch {
		case p == nil:
			d.remember(card.UID)
			return card, true, nil
		case p.asleep:
			p.asleep = false // halted again, not yet seen asleep
			return card, true, nil
		}
	}
	return reader.Card{}, false, nil // more cards than remembered keep answering: next poll
}

// afterCardError resets the card state after a card error and returns err,
// or the chip's error if the check or the reset fails. A read cut short leaves the card
// in READY or ACTIVE (after a SELECT whose SAK was lost), where it takes the
// next REQA or WUPA as "any other command" and falls silently back to IDLE,
// or, from ACTIVE after HLTA, sleeps in HALT where REQA never reaches it: so
// the next request would be ignored, or the card lost until it leaves. The
// driver cannot tell these states apart (the answer that would say is the
// one that failed), so it resets the field: every card in it powers up in
// IDLE, and the next REQA finds it. Halted cards resting on the reader wake
// too; the poll reads them again as the same presentations (no tap) and
// halts them. So first the remembered cards are looked for among the halted
// ones (checkPresent): the card whose read failed is not halted, and if it
// is a remembered badge that was taken away and came back between two
// polls, it is forgotten here, and read after the reset as the new
// presentation it is.
func (d *Dev) afterCardError(ctx context.Context, err error) error {
	if !isCardError(err) {
		return err
	}
	// The caller's context ending cuts the check short: the cards not
	// checked are kept (a resting card forgotten would be read again after
	// the reset as a new tap), and the field is reset all the same.
	if cerr := d.checkPresent(ctx); errors.Is(cerr, ErrChipNotResponding) {
		return cerr
	}
	if rerr := d.resetField(); rerr != nil {
		return rerr
	}
	return err
}

// isCardError reports a failed exchange with a card (not the chip, not the
// caller's context).
func isCardError(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.card()
}

// checkPresent finds which of the halted cards are still in the field, by
// their whole UIDs: cards may share a cascade level (two 7-byte cards with
// the same first three bytes have the same CL1), so no single level tells
// them apart. For each remembered card, WUPA wakes the halted cards; the UID
// being known, there is no anticollision to run: a SELECT of each level
// before the last takes the cards matching it one level on, and an
// ANTICOLLISION frame carrying all 32 bits of the last level (NVB 60h) is
// answered, with the BCC, only by a card with that whole UID. The card is
// not selected at its last level (it never becomes ACTIVE again), and HLTA
// puts every woken card back to sleep (from READY* any frame but SELECT
// returns to HALT). A WUPA without answer means no halted card is left.
//
// A card wrongly kept would miss its next tap if it came back after a card
// error; one wrongly dropped costs nothing while it sleeps, since a halted
// card does not answer REQA until it has left the field (but a field reset
// after a card error would wake it and read it as a new tap). So a garbled
// answer keeps the card, and only silence drops it.
func (d *Dev) checkPresent(ctx context.Context) error {
	for i := 0; i < len(d.present); {
		there, anyLeft, err := d.stillThere(ctx, d.present[i].uid)
		if err != nil {
			return err
		}
		if !anyLeft {
			d.present = d.present[:0]
			return nil
		}
		if there {
			i++
			continue
		}
		d.present = append(d.present[:i], d.present[i+1:]...)
	}
	return nil
}

// stillThere wakes the halted cards and selects uid, level by level. It
// reports whether the card answered its last level's SELECT and whether any
// card answered the WUPA. The woken cards are halted again however the
// check ends: also when the caller's context ends after the WUPA (the
// check's frames honour it, HLTA is sent all the same), so that no card is
// left awake in READY* by a poll whose deadline fell in its middle.
func (d *Dev) stillThere(ctx context.Context, uid []byte) (there, anyLeft bool, err error) {
	_, err = d.request(ctx, true)
	if errors.Is(err, ErrNoCard) {
		return false, false, nil
	}
	if err = d.cardError(err); err != nil {
		return false, true, d.haltAfter(err)
	}
	levels := cascade(uid)
	there = true
	for level, cl := range levels {
		f := frame{op: fmt.Sprintf("SELECT CL%d", level+1), tx: appendCRCA(append([]byte{selCode(level), nvbSel}, cl[:]...)), expectBits: 24}
		if level == len(levels)-1 {
			f = frame{op: fmt.Sprintf("ANTICOLLISION CL%d", level+1), tx: append([]byte{selCode(level), nvbAll}, cl[:4]...), expectBits: 8}
		}
		_, err := d.exchange(ctx, f)
		if errors.Is(err, errNoAnswer) {
			there = false // no card with this UID; the woken ones stay READY*
			break
		}
		if err = d.cardError(err); err != nil {
			return false, true, d.haltAfter(err)
		}
	}
	return there, true, d.halt()
}

// haltAfter sends HLTA after err (the caller's context ended, or the chip
// failed) cut a presence check short, and returns err, or the chip's error
// if the HLTA could not be sent.
func (d *Dev) haltAfter(err error) error {
	if herr := d.halt(); herr != nil && !errors.Is(err, ErrChipNotResponding) {
		return herr
	}
	return err
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
	d.taps++
	if err := d.release(ctx); err != nil {
		return reader.Card{}, err
	}
	card, err := d.readCard(ctx)
	err = d.afterCardError(ctx, err)
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
	if d.known(card.UID) == nil {
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
	d.present = append(d.present, presence{uid: append([]byte(nil), uid...)})
}
