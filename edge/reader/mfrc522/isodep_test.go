package mfrc522_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// sized answers an APDU whose last two bytes give n (big endian) with n
// bytes 0, 1, 2, ... and 90 00: a long response to a short command.
type sized struct{}

func (sized) Transceive(apdu []byte) []byte {
	n := int(apdu[len(apdu)-2])<<8 | int(apdu[len(apdu)-1])
	out := make([]byte, n, n+2)
	for i := range out {
		out[i] = byte(i)
	}
	return append(out, 0x90, 0x00)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// isoCard presents an ISO 14443-4 card running app.
func (r rig) isoCard(t testing.TB, uid []byte, dep *mfrc522sim.ISODEP) *mfrc522sim.Card {
	t.Helper()
	spec := mfrc522sim.NewCard(uid, mfrc522sim.DESFire)
	spec.ISODEP = dep
	c, err := r.sim.Present(spec)
	require.NoError(t, err)
	return c
}

// open reads the card as the door agent does (Next) and opens its session.
func (r rig) open(t testing.TB) *mfrc522.Session {
	t.Helper()
	card, err := r.dev.Next(ctx(t, time.Second))
	require.NoError(t, err)
	s, err := r.dev.OpenISODEP(context.Background(), card)
	require.NoError(t, err)
	return s
}

func TestParseATS(t *testing.T) {
	tests := []struct {
		name  string
		ats   []byte
		want  mfrc522.ATS // Raw and FWT/SFGT filled in by the test
		field string      // when the ATS is refused: what the error names
	}{
		{name: "MIFARE DESFire EV1", ats: []byte{0x06, 0x75, 0x77, 0x81, 0x02, 0x80},
			want: mfrc522.ATS{FSC: 64, FWI: 8, SFGI: 1, TA: 0x77, CID: true, Historical: []byte{0x80}}},
		{name: "NTAG 424 DNA", ats: mfrc522sim.NTAG424ATS,
			want: mfrc522.ATS{FSC: 128, FWI: 7, SFGI: 1, TA: 0x77, CID: true, Historical: []byte{0x80}}},
		{name: "TL only: defaults", ats: []byte{0x01},
			want: mfrc522.ATS{FSC: 32, FWI: 4, CID: true}},
		{name: "T0 without interface bytes", ats: []byte{0x02, 0x08},
			want: mfrc522.ATS{FSC: 256, FWI: 4, CID: true}},
		{name: "TC only: NAD, no CID", ats: []byte{0x03, 0x42, 0x01},
			want: mfrc522.ATS{FSC: 32, FWI: 4, NAD: true}},
		{name: "FSCI reserved taken as 256", ats: []byte{0x03, 0x2F, 0x40},
			want: mfrc522.ATS{FSC: 256, FWI: 4, CID: true}},
		{name: "caps reached", ats: []byte{0x03, 0x20, 0xB8},
			want: mfrc522.ATS{FSC: 16, FWI: 11, SFGI: 8, CID: true}},
		{name: "historical bytes", ats: []byte{0x08, 0x78, 0x77, 0x91, 0x02, 0x4A, 0x43, 0x4F},
			want: mfrc522.ATS{FSC: 256, FWI: 9, SFGI: 1, TA: 0x77, CID: true, Historical: []byte{0x4A, 0x43, 0x4F}}},

		{name: "empty", ats: []byte{}, field: "empty"},
		{name: "TL 0", ats: []byte{0x00}, field: "TL is 0"},
		{name: "TL longer than received", ats: []byte{0x07, 0x75, 0x77, 0x81, 0x02, 0x80}, field: "TL is 7"},
		{name: "TL shorter than received", ats: []byte{0x02, 0x75, 0x77}, field: "TL is 2"},
		{name: "TL over FSD", ats: append([]byte{63, 0x05}, make([]byte, 61)...), field: "TL 63"},
		{name: "TL 255", ats: append([]byte{0xFF}, make([]byte, 254)...), field: "TL 255"},
		{name: "T0 bit 8", ats: []byte{0x02, 0x85}, field: "T0"},
		{name: "TA announced, missing", ats: []byte{0x02, 0x15}, field: "TA(1)"},
		{name: "TB announced, missing", ats: []byte{0x03, 0x35, 0x77}, field: "TB(1)"},
		{name: "TC announced, missing", ats: []byte{0x04, 0x75, 0x77, 0x81}, field: "TC(1)"},
		{name: "FWI 15 reserved", ats: []byte{0x03, 0x25, 0xF0}, field: "FWI 15"},
		{name: "FWI over the cap", ats: []byte{0x03, 0x25, 0xC0}, field: "FWI 12"},
		{name: "FWI 14 (4.9 s)", ats: []byte{0x03, 0x25, 0xE0}, field: "FWI 14"},
		{name: "SFGI 15 reserved", ats: []byte{0x03, 0x25, 0x8F}, field: "SFGI 15"},
		{name: "SFGI over the cap", ats: []byte{0x03, 0x25, 0x89}, field: "SFGI 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mfrc522.ParseATS(tt.ats)
			if tt.field != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, mfrc522.ErrATS)
				assert.ErrorIs(t, err, reader.ErrCard, "a bad ATS is a card error")
				assert.Contains(t, err.Error(), tt.field)
				return
			}
			require.NoError(t, err)
			want := tt.want
			want.Raw = tt.ats
			want.FWT = time.Duration(float64(int(4096)<<want.FWI) * 1e9 / 13.56e6)
			if want.SFGI > 0 {
				want.SFGT = time.Duration(float64(int(4096)<<want.SFGI) * 1e9 / 13.56e6)
			}
			assert.Equal(t, want, got)
		})
	}
	// The DESFire's FWT: 302 µs · 2^8.
	a, err := mfrc522.ParseATS(mfrc522sim.DESFireATS)
	require.NoError(t, err)
	assert.InDelta(t, 77.3, float64(a.FWT)/1e6, 0.1)
}

func FuzzParseATS(f *testing.F) {
	f.Add(mfrc522sim.DESFireATS)
	f.Add([]byte{0x01})
	f.Add([]byte{0x03, 0x25, 0xF0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := mfrc522.ParseATS(b)
		if err != nil {
			if !errors.Is(err, mfrc522.ErrATS) {
				t.Fatalf("error %v does not match ErrATS", err)
			}
			return
		}
		if a.FSC < 16 || a.FSC > 256 || a.FWI > mfrc522.MaxFWI || a.SFGI > mfrc522.MaxSFGI || !bytes.Equal(a.Raw, b) {
			t.Fatalf("ParseATS(% X) accepted %+v", b, a)
		}
	})
}

// TestISODEPExchange: APDUs short and long, chained both ways, on 4-, 7- and
// 10-byte cards with the DESFire's FSC of 64 and with an FSC of 32; the
// card is halted (S(DESELECT)) at the end and not read again while it
// stays, and the reader goes on to the next card.
func TestISODEPExchange(t *testing.T) {
	fsc32 := []byte{0x05, 0x72, 0x77, 0x81, 0x02} // FSCI 2, FWI 8, SFGI 1
	tests := []struct {
		name    string
		uid     []byte
		ats     []byte
		command int // APDU length
		resp    int // response length before the status word, via sized; -1: echo
	}{
		{"short APDU 4-byte", uid4(), nil, 5, -1},
		{"short APDU 7-byte", uid7(), nil, 5, -1},
		{"short APDU 10-byte", uid10(), nil, 5, -1},
		{"one full frame", uid7(), nil, 59, -1}, // 59 + PCB + CRC = 62; the 61-byte echo answer fits in 64
		{"command one byte over a frame", uid7(), nil, 62, -1},
		{"256-byte command, FSC 32", uid7(), fsc32, 256, 2},
		{"300 bytes both ways, FSC 32", uid7(), fsc32, 300, -1},
		{"long response to a short command", uid4(), nil, 5, 700},
		{"FSC 16 card", uid4(), []byte{0x03, 0x20, 0x81}, 100, -1},
		{"NTAG 424 DNA's ATS (FSC 128: frames of 64)", uid7(), mfrc522sim.NTAG424ATS, 200, -1},
	}
	for _, mode := range []struct {
		once, irq bool
	}{{false, false}, {true, false}, {false, true}} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/at-once=%v/irq=%v", tt.name, mode.once, mode.irq), func(t *testing.T) {
				r := newRig(t, mfrc522sim.Options{AnswerAtOnce: mode.once}, mfrc522.Options{})
				if mode.irq {
					r = r.withIRQ(t)
				}
				var app mfrc522sim.App = echoApp{}
				if tt.resp >= 0 {
					app = sized{}
				}
				card := r.isoCard(t, tt.uid, &mfrc522sim.ISODEP{App: app, ATS: tt.ats})
				s := r.open(t)
				assert.Equal(t, tt.uid, s.Card().UID)
				apdu := pattern(tt.command)
				want := append(append([]byte(nil), apdu...), 0x90, 0x00)
				if tt.resp >= 0 {
					apdu[len(apdu)-2], apdu[len(apdu)-1] = byte(tt.resp>>8), byte(tt.resp)
					want = append(sized{}.Transceive(apdu)[:0:0], sized{}.Transceive(apdu)...)
				}
				for i := 0; i < 3; i++ { // block numbers go on across APDUs
					got, err := s.Transceive(context.Background(), apdu)
					require.NoError(t, err)
					require.Equal(t, want, got)
				}
				require.NoError(t, s.Close())
				require.NoError(t, s.Close(), "Close is idempotent")
				r.sim.Advance(time.Millisecond)
				assert.Equal(t, mfrc522sim.Halt, card.State(), "deselected")
				_, err := s.Transceive(context.Background(), apdu)
				require.ErrorIs(t, err, mfrc522.ErrSessionClosed)
				assert.Zero(t, r.sim.Counters().Violations)

				// Left on the reader: no second tap. Another card: read.
				_, err = r.dev.Next(simCtx(r.sim, 20*time.Millisecond))
				require.ErrorIs(t, err, mfrc522.ErrTimeout)
				r.present(t, []byte{0x11, 0x22, 0x33, 0x44}, mfrc522sim.MifareClassic1K)
				got, err := r.dev.Next(ctx(t, time.Second))
				require.NoError(t, err)
				assert.Equal(t, []byte{0x11, 0x22, 0x33, 0x44}, got.UID)
			})
		}
	}
}
