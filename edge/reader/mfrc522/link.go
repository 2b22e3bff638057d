package mfrc522

import (
	"context"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/edge/reader"
)

// link is the reader.Card.APDU channel Next gives an ISO/IEC 14443-4 card:
// the card's ISO-DEP session, opened by the first Transceive (RATS alone,
// the card being still selected) and reused by the next ones. It works
// until the driver's next card operation (a poll of Next, ReadCard,
// OpenISODEP), which deselects the session first; a tap that sends no APDU
// costs nothing more than a UID-only one.
type link struct {
	d    *Dev
	card reader.Card // without APDU
	tap  uint64      // d.taps when Next returned the card
	s    *Session    // the session, once opened
	err  error       // what ended the link, or nil
}

var _ reader.Transceiver = (*link)(nil)

// newLink returns the APDU channel of card, the card the poll just read and
// left selected; d.mu is held.
func (d *Dev) newLink(card reader.Card) *link {
	card.UID = append([]byte(nil), card.UID...)
	return &link{d: d, card: card, tap: d.taps}
}

// Transceive sends one command APDU to the card and returns its response,
// status word included, as Session.Transceive does. Every error matches
// reader.ErrCard (and the driver's kind of failure: ErrTimeout for a card
// taken away, ErrSessionClosed once the presentation is over, ...): the
// channel is then over, and the card is read afresh at its next
// presentation.
func (l *link) Transceive(ctx context.Context, apdu []byte) ([]byte, error) {
	resp, err := l.transceive(ctx, apdu)
	if err != nil && !errors.Is(err, reader.ErrCard) {
		err = fmt.Errorf("%w: %w", reader.ErrCard, err)
	}
	return resp, err
}

func (l *link) transceive(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := checkAPDU(apdu); err != nil {
		return nil, err
	}
	d := l.d
	if err := d.lock(ctx, true); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	switch {
	case l.err != nil:
		return nil, fail("APDU", ErrSessionClosed, fmt.Sprintf("an earlier exchange failed: %v", l.err))
	case l.tap != d.taps:
		return nil, fail("APDU", ErrSessionClosed, "the card's presentation is over (Next was called again)")
	}
	if l.s == nil {
		s, err := d.openISODEP(ctx, l.card)
		if err != nil {
			l.err = err
			return nil, err
		}
		l.s = s
	}
	resp, err := l.s.transceive(ctx, apdu)
	if err != nil {
		l.err = err
	}
	return resp, err
}
