package mfrc522

import (
	"context"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/edge/reader"
)

// request sends REQA (or WUPA when wake, which also wakes halted cards) and
// returns the ATQA. Several cards answering collide in the ATQA: they are
// all there, and anticollision sorts them out.
func (d *Dev) request(ctx context.Context, wake bool) ([2]byte, error) {
	f := frame{op: "REQA", tx: []byte{piccREQA}, txBits: 7, expectBits: 16}
	if wake {
		f.op, f.tx[0] = "WUPA", piccWUPA
	}
	r, err := d.exchange(ctx, f)
	if errors.Is(err, errNoAnswer) {
		return [2]byte{}, fail(f.op, ErrNoCard, "")
	}
	if err != nil {
		return [2]byte{}, err
	}
	if r.errs&errColl == 0 {
		if r.errs&(errParity|errProtocol) != 0 {
			return [2]byte{}, fail(f.op, ErrProtocol, fmt.Sprintf("ATQA received with ErrorReg %#02x", r.errs))
		}
		if len(r.data) != 2 || r.lastBits != 0 {
			return [2]byte{}, fail(f.op, ErrProtocol, fmt.Sprintf("ATQA of %d bits, not 16", r.rxBits(0)))
		}
	}
	var atqa [2]byte
	copy(atqa[:], r.data)
	return atqa, nil
}

// selectCard runs anticollision and SELECT on every cascade level, as SAK
// bit 2 says, and returns the card with its verified UID.
func (d *Dev) selectCard(ctx context.Context, atqa [2]byte) (reader.Card, error) {
	uid := make([]byte, 0, 10)
	for level := 0; level < 3; level++ {
		cl, sak, err := d.selectLevel(ctx, level)
		if err != nil {
			return reader.Card{}, err
		}
		op := fmt.Sprintf("SELECT CL%d", level+1)
		if sak&sakMore == 0 {
			if level == 0 && cl[0] == piccCT {
				return reader.Card{}, fail(op, ErrProtocol, "a complete single-size UID may not start with the cascade tag 88h")
			}
			uid = append(uid, cl[:4]...)
			return reader.Card{UID: uid, ATQA: atqa, SAK: sak}, nil
		}
		if cl[0] != piccCT {
			return reader.Card{}, fail(op, ErrProtocol, fmt.Sprintf("SAK %#02x says the UID goes on, but CL%d % X does not start with the cascade tag 88h", sak, level+1, cl[:4]))
		}
		uid = append(uid, cl[1:4]...)
	}
	return reader.Card{}, fail("SELECT CL3", ErrProtocol, "SAK says the UID goes on after the third cascade level")
}

// selectLevel resolves one cascade level: ANTICOLLISION frames, each sending
// the UID bits known so far, until the whole UID CLn and BCC are known
// (choosing the card with a 1 at every collision), then SELECT. It returns
// CLn with its BCC and the SAK.
func (d *Dev) selectLevel(ctx context.Context, level int) ([5]byte, byte, error) {
	sel := selCode(level)
	var cl [5]byte // UID CLn and BCC, as far as known
	known := 0     // bits of cl known
	op := fmt.Sprintf("ANTICOLLISION CL%d", level+1)
	for complete := false; !complete; {
		whole, part := known/8, known%8
		n := whole
		if part > 0 {
			n++
		}
		tx := append([]byte{sel, byte((2+whole)<<4 | part)}, cl[:n]...)
		r, err := d.exchange(ctx, frame{op: op, tx: tx, txBits: part, rxAlign: part, expectBits: 40 - known})
		if errors.Is(err, errNoAnswer) {
			return cl, 0, fail(op, ErrTimeout, "the card stopped answering (taken away?)")
		}
		if err != nil {
			return cl, 0, err
		}
		got := r.rxBits(part)
		// bit k of CLn (0-based) arrived at bit k - 8·whole of the FIFO data.
		take := func(from, to int) {
			for k := from; k < to; k++ {
				i := k - 8*whole
				v := r.data[i/8] >> (k % 8) & 1
				cl[k/8] = cl[k/8]&^(1<<(k%8)) | v<<(k%8)
			}
		}
		if r.errs&errColl != 0 {
			if !r.collValid {
				return cl, 0, fail(op, ErrCollision, "CollReg gives no valid collision position (a collision in the BCC, or a forged answer)")
			}
			at := 8*whole + r.collPos // 1-based position in CLn of the first collision
			if at <= known || at > 32 || at-known > got {
				return cl, 0, fail(op, ErrCollision, fmt.Sprintf("collision at bit %d with %d bits known and %d received", at, known, got))
			}
			take(known, at-1)
			cl[(at-1)/8] |= 1 << ((at - 1) % 8) // choose the card with a 1 there
			known = at
			continue
		}
		if r.errs&(errParity|errProtocol|errCRC) != 0 {
			return cl, 0, fail(op, ErrProtocol, fmt.Sprintf("answer received with ErrorReg %#02x", r.errs))
		}
		if got != 40-known {
			return cl, 0, fail(op, ErrProtocol, fmt.Sprintf("answer of %d bits, expected %d", got, 40-known))
		}
		take(known, 40)
		complete = true
	}
	if b := bcc(cl[:4]); cl[4] != b {
		return cl, 0, fail(op, ErrBCC, fmt.Sprintf("CL%d % X has BCC %#02x, expected %#02x", level+1, cl[:4], cl[4], b))
	}
	op = fmt.Sprintf("SELECT CL%d", level+1)
	r, err := d.exchange(ctx, frame{op: op, tx: appendCRCA(append([]byte{sel, nvbSel}, cl[:]...)), expectBits: 24})
	if errors.Is(err, errNoAnswer) {
		return cl, 0, fail(op, ErrTimeout, "the card stopped answering (taken away?)")
	}
	if err != nil {
		return cl, 0, err
	}
	sak, err := checkSAK(op, r)
	return cl, sak, err
}

// checkSAK checks the answer to a SELECT and returns the SAK.
func checkSAK(op string, r reply) (byte, error) {
	switch {
	case r.errs&errColl != 0:
		return 0, fail(op, ErrCollision, "two cards answered the SELECT of one UID")
	case r.errs&(errParity|errProtocol) != 0:
		return 0, fail(op, ErrProtocol, fmt.Sprintf("SAK received with ErrorReg %#02x", r.errs))
	case len(r.data) != 3 || r.lastBits != 0:
		return 0, fail(op, ErrProtocol, fmt.Sprintf("SAK answer of %d bits, not 24", r.rxBits(0)))
	case !validCRCA(r.data):
		return 0, fail(op, ErrCRC, fmt.Sprintf("SAK answer % X", r.data))
	}
	return r.data[0], nil
}

// halt sends HLTA to the selected card; it does not answer.
func (d *Dev) halt() error {
	return d.send(frame{op: "HLTA", tx: appendCRCA([]byte{piccHLTA, 0x00})})
}

// selCode is the SEL byte of cascade level level (0-based): 93h, 95h, 97h.
func selCode(level int) byte { return byte(0x93 + 2*level) }

// cascade splits a UID of 4, 7 or 10 bytes into its cascade levels as the
// card sends them (CT before every level but the last), each with its BCC.
func cascade(uid []byte) [][5]byte {
	var levels [][5]byte
	for len(uid) > 4 {
		levels = append(levels, withBCC(piccCT, uid[0], uid[1], uid[2]))
		uid = uid[3:]
	}
	return append(levels, withBCC(uid[0], uid[1], uid[2], uid[3]))
}

func withBCC(a, b, c, e byte) [5]byte { return [5]byte{a, b, c, e, a ^ b ^ c ^ e} }
