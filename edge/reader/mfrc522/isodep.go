package mfrc522

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/edge/reader"
)

// ISO/IEC 14443-4 block coding (7.1.1) and the driver's limits.
const (
	sakISODEP   = 0x20 // SAK bit 6: ISO/IEC 14443-4 compliant
	piccRATS    = 0xE0
	pcbI        = 0x02
	pcbR        = 0xA2
	pcbChain    = 0x10 // I-block: more follows
	pcbNAK      = 0x10 // R-block: NAK
	pcbCID      = 0x08
	pcbNAD      = 0x04
	pcbDeselect = 0xC2
	pcbWTX      = 0xF2

	// maxRetries is how many times one step of an exchange is tried again
	// (R(NAK), R(ACK) or the I-block sent again, S(DESELECT) sent again)
	// after a timeout, a CRC error or an invalid block before the exchange
	// fails.
	maxRetries = 3
	// maxWTX is how many S(WTX) requests in a row the driver answers
	// before it gives the card up (ErrWTXLimit).
	maxWTX = 8

	// MaxAPDU is the longest command APDU Transceive sends (an extended
	// APDU with 65535 bytes of data and Le).
	MaxAPDU = 65544
	// MaxResponse is the longest response Transceive takes: a card chaining
	// more is cut off with ErrProtocol.
	MaxResponse = 65538
)

// Waiting times.
var (
	// deltaFWT is the margin added to every frame waiting time: 49152/fc
	// (3.6 ms), EMVCo's ΔFWT for readers.
	deltaFWT = carrierTime(49152)
	// activationFWT bounds the wait for the ATS and for the answer to
	// S(DESELECT): 65536/fc (4.8 ms, ISO/IEC 14443-4 5.1 and 8), with
	// deltaFWT.
	activationFWT = carrierTime(65536) + deltaFWT
	// maxFWT is the longest wait a block may get, S(WTX) included: FWI 14,
	// 4.9 s, the largest ISO/IEC 14443-4 allows.
	maxFWT = fwt(14) + deltaFWT
)

// Session is an ISO/IEC 14443-4 (T=CL, ISO-DEP) session with one card, from
// RATS to S(DESELECT): APDUs go to the card with Transceive while it stays
// in the field, and Close sends it to HALT. The session holds no lock
// between calls; polling (Next, ReadCard) or opening another session
// deselects it first, and it ends with any error.
type Session struct {
	d    *Dev
	card reader.Card
	ats  ATS
	fsc  int           // the largest frame sent: the card's FSC, at most the FIFO's 64 bytes
	fwt  time.Duration // the card's frame waiting time with deltaFWT
	num  byte          // the reader's block number (rule A: 0 at activation)
	done bool
}

// OpenISODEP activates card, the card just read by Next or ReadCard (its SAK
// must say ISO/IEC 14443-4, else ErrNotISODEP), and returns its session:
// unless Next left it selected, WUPA and SELECT of its UID at every
// cascade level; RATS with FSDI 5 (64 bytes, the FIFO) and CID 0 (the driver sends no
// CID nor NAD in its blocks), the ATS checked (ParseATS: ErrATS), the
// chip's timer set from the card's FWT, and the start-up frame guard time
// waited. A session already open is deselected first. A card error
// (matching reader.ErrCard: the card gone, ErrATS, ...) resets the field,
// as after a failed read, so the next poll reads the card afresh.
func (d *Dev) OpenISODEP(ctx context.Context, card reader.Card) (*Session, error) {
	if err := d.lock(ctx, true); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	d.taps++ // a Card.APDU channel given out before is over
	return d.openISODEP(ctx, card)
}

// openISODEP is OpenISODEP with d.mu held.
func (d *Dev) openISODEP(ctx context.Context, card reader.Card) (*Session, error) {
	if card.SAK&sakISODEP == 0 {
		return nil, fail("RATS", ErrNotISODEP, fmt.Sprintf("SAK %#02x", card.SAK))
	}
	if n := len(card.UID); n != 4 && n != 7 && n != 10 {
		return nil, fmt.Errorf("mfrc522: OpenISODEP: a UID has 4, 7 or 10 bytes, not %d", n)
	}
	selected := d.held != nil && bytes.Equal(d.held, card.UID)
	if selected {
		d.held = nil
	} else if err := d.release(ctx); err != nil {
		return nil, err
	}
	s, err := d.activate(ctx, card, selected)
	if err != nil {
		return nil, d.sessionFailed(ctx, err)
	}
	d.session = s
	return s, nil
}

// release ends what the last operation left with a card: the open
// session (S(DESELECT)) or the card Next left selected (HLTA). Only chip
// failures are returned: a card that does not take its S(DESELECT) has had
// its field reset.
func (d *Dev) release(ctx context.Context) error {
	if d.held != nil {
		d.held = nil
		if err := d.halt(); err != nil {
			return err
		}
	}
	if err := d.endSession(ctx); err != nil && !isCardError(err) {
		return err
	}
	return nil
}

// activate sends RATS to the card, after waking and selecting it unless it
// is still selected, and checks the ATS.
func (d *Dev) activate(ctx context.Context, card reader.Card, selected bool) (*Session, error) {
	if !selected {
		if err := d.wake(ctx, card); err != nil {
			return nil, err
		}
	}
	const op = "RATS"
	r, err := d.exchange(ctx, frame{op: op, tx: appendCRCA([]byte{piccRATS, fsdi << 4}), expectBits: 64, timeout: activationFWT, block: true})
	b, err := frameData(op, r, err)
	if err != nil {
		return nil, err
	}
	ats, err := ParseATS(b)
	if err != nil {
		return nil, err
	}
	if ats.SFGT > 0 {
		d.clock.Sleep(ats.SFGT)
	}
	if d.known(card.UID) == nil {
		d.remember(card.UID)
	}
	card.UID = append([]byte(nil), card.UID...)
	return &Session{d: d, card: card, ats: ats, fsc: min(ats.FSC, FSD), fwt: ats.FWT + deltaFWT}, nil
}

// wake brings a halted card back to ACTIVE: WUPA and a SELECT of its UID at
// each cascade level.
func (d *Dev) wake(ctx context.Context, card reader.Card) error {
	if _, err := d.request(ctx, true); err != nil {
		if errors.Is(err, ErrNoCard) {
			return fail("WUPA", ErrTimeout, "the card is no longer in the field")
		}
		return err
	}
	levels := cascade(card.UID)
	var sak byte
	for level, cl := range levels {
		op := fmt.Sprintf("SELECT CL%d", level+1)
		r, err := d.exchange(ctx, frame{op: op, tx: appendCRCA(append([]byte{selCode(level), nvbSel}, cl[:]...)), expectBits: 24})
		if errors.Is(err, errNoAnswer) {
			return fail(op, ErrTimeout, "the card is no longer in the field")
		}
		if err != nil {
			return err
		}
		if sak, err = checkSAK(op, r); err != nil {
			return err
		}
		if more := level < len(levels)-1; more != (sak&sakMore != 0) {
			return fail(op, ErrProtocol, fmt.Sprintf("SAK %#02x at cascade level %d of a %d-byte UID", sak, level+1, len(card.UID)))
		}
	}
	if sak&sakISODEP == 0 {
		return fail("SELECT", ErrProtocol, fmt.Sprintf("SAK %#02x, where the read gave %#02x", sak, card.SAK))
	}
	return nil
}

// ATS returns the card's answer to select.
func (s *Session) ATS() ATS { return s.ats }

// Card returns the card of the session.
func (s *Session) Card() reader.Card { return s.card }

// Transceive sends a command APDU to the card and returns its response
// APDU (status word included). The APDU is cut into I-blocks of the
// card's FSC (at most 64 bytes with PCB and CRC_A), chained, each
// acknowledged; a chained response is acknowledged with R(ACK) block after
// block. The ISO/IEC 14443-4 7.5.4 rules recover from a lost or garbled
// block: R(NAK) (R(ACK) while the card chains), the last I-block sent again
// when the card acknowledges the previous one, at most 3 times per step,
// then ErrTimeout, ErrCRC or ErrProtocol. S(WTX) requests are answered and
// the timer set to the FWT times their WTXM (capped at FWI 14's 4.9 s),
// at most 8 in a row (ErrWTXLimit). ctx is checked before every frame; its
// deadline bounds the whole exchange. Any error ends the session
// (ErrSessionClosed afterwards) and leaves the chip ready for the next
// card: a card error (matching reader.ErrCard) resets the field, as after a
// failed read, and so does the end of ctx, since the card may be left in
// the middle of a chain.
func (s *Session) Transceive(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := checkAPDU(apdu); err != nil {
		return nil, err
	}
	d := s.d
	if err := d.lock(ctx, true); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return s.transceive(ctx, apdu)
}

// checkAPDU refuses a command APDU Transceive cannot send.
func checkAPDU(apdu []byte) error {
	switch {
	case len(apdu) == 0:
		return errors.New("mfrc522: Transceive: empty APDU")
	case len(apdu) > MaxAPDU:
		return fmt.Errorf("mfrc522: Transceive: APDU of %d bytes exceeds %d", len(apdu), MaxAPDU)
	}
	return nil
}

// transceive is Transceive with d.mu held.
func (s *Session) transceive(ctx context.Context, apdu []byte) ([]byte, error) {
	d := s.d
	if s.done || d.session != s {
		return nil, fail("APDU", ErrSessionClosed, "")
	}
	resp, err := s.exchangeAPDU(ctx, apdu)
	if err != nil {
		s.done, d.session = true, nil
		return nil, d.sessionFailed(ctx, err)
	}
	return resp, nil
}

// Close deselects the card (S(DESELECT), sent again up to 3 times): it
// goes to HALT, where only WUPA wakes it, so Next does not read it again
// while it stays. When the card does not answer, the field is reset so that
// it leaves the protocol state, and the card error is returned. Close is
// idempotent and returns nil for a session an error already ended.
func (s *Session) Close() error {
	d := s.d
	ctx := context.Background()
	if err := d.lock(ctx, false); err != nil {
		if errors.Is(err, reader.ErrClosed) {
			return nil // the chip is powered down: the field is off
		}
		return err
	}
	defer d.mu.Unlock()
	if s.done || d.session != s {
		return nil
	}
	return d.endSession(ctx)
}

// endSession deselects the open session, if any; d.mu is held.
func (d *Dev) endSession(ctx context.Context) error {
	s := d.session
	if s == nil {
		return nil
	}
	s.done, d.session = true, nil
	if err := s.deselect(ctx); err != nil {
		return d.sessionFailed(ctx, err)
	}
	return nil
}

// sessionFailed leaves the chip ready for the next card after err ended a
// session or its opening, and returns err (or the chip's error if the
// clean-up failed). A card error resets the field as a failed read does; so
// does the end of the caller's context, which may leave the card in the
// middle of a chain, in the protocol state, deaf to REQA.
func (d *Dev) sessionFailed(ctx context.Context, err error) error {
	switch {
	case isCardError(err):
		err = d.afterCardError(ctx, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if rerr := d.resetField(); rerr != nil {
			err = rerr
		}
	}
	d.chipFailed(err)
	return err
}

// deselect sends S(DESELECT) until the card answers it.
func (s *Session) deselect(ctx context.Context) error {
	const op = "S(DESELECT)"
	var err error
	for range maxRetries + 1 {
		var r reply
		r, err = s.d.exchange(ctx, frame{op: op, tx: appendCRCA([]byte{pcbDeselect}), expectBits: 24, timeout: activationFWT, block: true})
		var b block
		if b, err = received(op, r, err); err != nil && !isCardError(err) {
			return err
		}
		if err == nil {
			if b.pcb == pcbDeselect {
				return nil
			}
			err = fail(op, ErrProtocol, fmt.Sprintf("answered with PCB %#02x", b.pcb))
		}
	}
	return err
}

// exchangeAPDU sends the APDU in chained I-blocks and collects the
// response; d.mu is held.
func (s *Session) exchangeAPDU(ctx context.Context, apdu []byte) ([]byte, error) {
	room := s.fsc - 3 // PCB and CRC_A
	var b block
	for off := 0; ; {
		n := min(room, len(apdu)-off)
		more := off+n < len(apdu)
		pcb := pcbI | s.num
		if more {
			pcb |= pcbChain
		}
		var err error
		if b, err = s.turn(ctx, append([]byte{pcb}, apdu[off:off+n]...), more, false); err != nil {
			return nil, err
		}
		if !more {
			break
		}
		s.num ^= 1 // rule B: R(ACK) with the current number
		off += n
	}
	var resp []byte
	for {
		s.num ^= 1 // rule B: an I-block with the current number
		resp = append(resp, b.inf...)
		if len(resp) > MaxResponse {
			return nil, fail("I-block", ErrProtocol, fmt.Sprintf("the card chains a response longer than %d bytes", MaxResponse))
		}
		if b.pcb&pcbChain == 0 {
			return resp, nil
		}
		var err error
		if b, err = s.turn(ctx, []byte{pcbR | s.num}, false, true); err != nil { // rule 2
			return nil, err
		}
	}
}

// turn sends blk (an I-block, or the R(ACK) of a chained response) and
// returns the card's valid answer: an I-block with the reader's current
// number, or, when ack (the reader chains), an R(ACK) with it. It answers
// S(WTX) and recovers from errors by the rules of ISO/IEC 14443-4 7.5.4.
func (s *Session) turn(ctx context.Context, blk []byte, ack, cardChains bool) (block, error) {
	tx, timeout := blk, s.fwt
	expect := 40 // an I-block with a status word
	switch {
	case ack:
		expect = 24 // R(ACK)
	case cardChains:
		expect = 8 * FSD // the next block of a chain is usually full
	}
	retries, wtx := 0, 0
	for {
		op := blockName(tx)
		r, err := s.d.exchange(ctx, frame{op: op, tx: appendCRCA(append([]byte(nil), tx...)), expectBits: expect, timeout: timeout, block: true})
		timeout = s.fwt
		b, err := received(op, r, err)
		if err != nil && !isCardError(err) {
			return block{}, err
		}
		if err == nil {
			switch {
			case b.pcb == pcbWTX:
				m := b.inf[0] & 0x3F
				if m == 0 || m > 59 {
					err = fail(op, ErrProtocol, fmt.Sprintf("S(WTX) asks WTXM %d, not 1 to 59", m))
					break
				}
				if wtx++; wtx > maxWTX {
					return block{}, fail(op, ErrWTXLimit, fmt.Sprintf("%d S(WTX) requests in a row", wtx))
				}
				tx, timeout = []byte{pcbWTX, m}, min(time.Duration(m)*s.fwt, maxFWT)
				continue
			case b.pcb&0xE2 == pcbI&0xE2:
				if ack {
					err = fail(op, ErrProtocol, "an I-block where the chain's R(ACK) was due")
				} else if b.pcb&1 != s.num {
					err = fail(op, ErrProtocol, fmt.Sprintf("I-block numbered %d, expected %d", b.pcb&1, s.num))
				} else {
					return b, nil
				}
			case b.pcb&^1 == pcbR: // R(ACK)
				if b.pcb&1 != s.num { // rule 6: the card missed our block
					if retries++; retries > maxRetries {
						return block{}, fail(op, ErrProtocol, "the card keeps acknowledging the previous block")
					}
					tx = blk
					continue
				}
				if ack {
					return b, nil
				}
				err = fail(op, ErrProtocol, "R(ACK) where no chain was sent")
			default:
				err = fail(op, ErrProtocol, fmt.Sprintf("unexpected block, PCB %#02x", b.pcb))
			}
		}
		// Rules 4 and 5: an invalid block or none at all.
		if retries++; retries > maxRetries {
			return block{}, err
		}
		wtx = 0
		if cardChains {
			tx = []byte{pcbR | s.num}
		} else {
			tx = []byte{pcbR | pcbNAK | s.num}
		}
	}
}

// blockName names a block for errors.
func blockName(b []byte) string {
	switch pcb := b[0]; {
	case pcb&0xE2 == pcbI&0xE2:
		return "I-block"
	case pcb&^0x11 == pcbR:
		if pcb&pcbNAK != 0 {
			return "R(NAK)"
		}
		return "R(ACK)"
	case pcb == pcbWTX:
		return "S(WTX)"
	}
	return "S(DESELECT)"
}

// block is an ISO/IEC 14443-4 block received: its PCB and INF field.
type block struct {
	pcb byte
	inf []byte
}

// frameData checks a frame received for op and returns it without its
// CRC_A: no answer is ErrTimeout, a CRC_A failure ErrCRC, a parity,
// framing or length fault ErrProtocol; chip errors pass through.
func frameData(op string, r reply, err error) ([]byte, error) {
	if errors.Is(err, errNoAnswer) {
		return nil, fail(op, ErrTimeout, "no answer within the frame waiting time (card taken away?)")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case r.errs&(errParity|errProtocol|errColl) != 0:
		return nil, fail(op, ErrProtocol, fmt.Sprintf("answer received with ErrorReg %#02x", r.errs))
	case r.lastBits != 0:
		return nil, fail(op, ErrProtocol, fmt.Sprintf("answer of %d bits, not whole bytes", r.rxBits(0)))
	case len(r.data) < 3:
		return nil, fail(op, ErrProtocol, fmt.Sprintf("answer of %d bytes", len(r.data)))
	case !validCRCA(r.data):
		return nil, fail(op, ErrCRC, fmt.Sprintf("answer % X", r.data))
	}
	return r.data[:len(r.data)-2], nil
}

// received checks a block: its frame (frameData) and its PCB, which must
// code an I-block, an R-block or an S(DESELECT) or S(WTX) block of the
// right length, without CID or NAD (the driver sends neither).
func received(op string, r reply, err error) (block, error) {
	data, err := frameData(op, r, err)
	if err != nil {
		return block{}, err
	}
	pcb, n := data[0], len(data)-1
	valid := pcb&(pcbCID|pcbNAD) == 0 && (pcb&0xE2 == pcbI&0xE2 ||
		pcb&0xE6 == pcbR&0xE6 && n == 0 ||
		pcb == pcbDeselect && n == 0 ||
		pcb == pcbWTX && n == 1)
	if !valid {
		return block{}, fail(op, ErrProtocol, fmt.Sprintf("invalid block: PCB %#02x with %d bytes", pcb, n))
	}
	return block{pcb: pcb, inf: data[1:]}, nil
}
