package desfiresim

import (
	"bytes"
	"context"
	"testing"

	"github.com/smartworkcenters/swc/shared/desfire"
)

// FuzzTransceive sends arbitrary APDU sequences (split on 0xFF 0xFF) to every
// kind of card, after a valid authentication: the card must never panic and
// always answer with at least a status word.
func FuzzTransceive(f *testing.F) {
	f.Add([]byte{0x90, 0x71, 0, 0, 2, 0, 0, 0, 0xFF, 0xFF, 0x90, 0xAF, 0, 0, 0x20})
	f.Add([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00, 0xFF, 0xFF, 0x90, 0xAD, 0, 0, 7, 2, 0, 0, 0, 0x10, 0, 0, 0})
	f.Add([]byte{0x90, 0x5F, 0, 0, 0x0A, 0x02, 0x40, 0xE0, 0xEE, 0x41, 0xF1, 0xEF, 0xFF, 0xFF, 0xFF, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		uid := []byte{0x04, 1, 2, 3, 4, 5, 6}
		ntag, _ := NewNTAG424(uid, Options{SDMEnabled: true, SDMCtrRetKey: 1})
		ev2, _ := NewDESFireEV2(uid, Options{Apps: []App{{AID: swcAID, KeySettings: 0x0F, Keys: make([]Key, 2)}}})
		clone, _ := NewMagicClone(uid, Options{CloneGarbage: true})
		for _, c := range []*Card{ntag, ev2, clone} {
			h := desfire.New(&link{card: c}, bytes.NewReader(make([]byte, 16)))
			if c.Kind() == NTAG424DNA {
				_ = h.SelectNTAG424Application(context.Background())
			} else {
				_ = h.SelectApplication(context.Background(), swcAID)
			}
			_ = h.AuthenticateEV2First(context.Background(), 0, make([]byte, 16))
			for _, apdu := range bytes.Split(data, []byte{0xFF, 0xFF}) {
				if resp := c.Transceive(apdu); len(resp) < 2 {
					t.Fatalf("%v: response %X to %X", c.Kind(), resp, apdu)
				}
			}
		}
	})
}
