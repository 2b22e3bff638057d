package mfrc522_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// FuzzISODEP runs a session with a hostile ISO 14443-4 card: it passes ISO
// 14443-3 properly (4-byte UID, SAK 20h), then answers RATS and every block
// from the fuzz input, each answer a header byte (0: silence; else the
// length, 1 to 70 bytes, and bit 7 set to spoil the CRC_A) and the bytes,
// CRC_A appended. The driver must not panic, must end every call with a
// typed error or a response within the wall-clock bound, and must read a
// new card afterwards.
func FuzzISODEP(f *testing.F) {
	ats := append([]byte{6}, mfrc522sim.DESFireATS...)
	f.Add(append(append([]byte{}, ats...), 3, 0x02, 0x90, 0x00, 1, 0xC2))
	f.Add(append(append([]byte{}, ats...), 2, 0xF2, 0x3B, 2, 0xF2, 0x3B, 3, 0x03, 0x90, 0x00))
	f.Add(append(append([]byte{}, ats...), 2, 0x12, 0x01, 1, 0xA3, 0x83, 0x02, 0x90, 0x00))
	f.Add([]byte{4, 0x03, 0x25, 0xF0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newRig(t, mfrc522sim.Options{AnswerAtOnce: true}, mfrc522.Options{})
		spec := mfrc522sim.NewCard(uid4(), mfrc522sim.DESFire)
		spec.Responder = &hostileDEP{in: &fuzzBytes{b: data}, uid: uid4()}
		card, err := r.sim.Present(spec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.dev.ReadCard(context.Background())
		if err != nil {
			t.Fatalf("ISO 14443-3 part: %v", err)
		}
		start := time.Now()
		s, err := r.dev.OpenISODEP(context.Background(), got)
		if err == nil {
			for _, apdu := range [][]byte{{0x90, 0x60, 0x00, 0x00, 0x00}, pattern(200)} {
				if _, err = s.Transceive(context.Background(), apdu); err != nil {
					break
				}
			}
			if err == nil {
				err = s.Close()
			}
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("the session took %s", took)
		}
		if err != nil {
			checkTyped(t, err)
			if !errors.Is(err, mfrc522.ErrTimeout) && !errors.Is(err, mfrc522.ErrCRC) && !errors.Is(err, mfrc522.ErrProtocol) &&
				!errors.Is(err, mfrc522.ErrATS) && !errors.Is(err, mfrc522.ErrWTXLimit) {
				t.Fatalf("not a card error: %v", err)
			}
		}
		r.sim.Remove(card)
		r.present(t, []byte{0x11, 0x22, 0x33, 0x44}, mfrc522sim.MifareClassic1K)
		if _, err := r.dev.Next(ctx(t, time.Second)); err != nil {
			t.Fatalf("the next card: %v", err)
		}
	})
}

// hostileDEP is a card that answers ISO 14443-3 by the book and everything
// after SELECT from the fuzz input.
type hostileDEP struct {
	in     *fuzzBytes
	uid    []byte
	active bool
}

func (h *hostileDEP) Respond(frame []byte, bits int) ([]byte, int, bool) {
	u := h.uid
	switch {
	case bits == 7:
		h.active = false
		return []byte{0x04, 0x03}, 16, true
	case !h.active && len(frame) >= 2 && frame[0] == 0x93 && frame[1] == 0x20:
		return []byte{u[0], u[1], u[2], u[3], u[0] ^ u[1] ^ u[2] ^ u[3]}, 40, true
	case !h.active && len(frame) == 9 && frame[0] == 0x93 && frame[1] == 0x70:
		h.active = true
		return crcAppend([]byte{0x20}), 24, true
	case !h.active:
		return nil, 0, false
	case len(frame) == 4 && frame[0] == 0x50 && frame[1] == 0x00:
		h.active = false
		return nil, 0, false
	}
	head := h.in.next()
	n := int(head & 0x7F)
	if n == 0 {
		return nil, 0, false
	}
	n = min(n, 70)
	out := make([]byte, n)
	for i := range out {
		out[i] = h.in.next()
	}
	out = crcAppend(out)
	if head&0x80 != 0 {
		out[len(out)-1] ^= 0x5A
	}
	return out, 8 * len(out), true
}
