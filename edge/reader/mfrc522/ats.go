package mfrc522

import (
	"fmt"
	"time"
)

// ISO/IEC 14443-4 activation parameters the driver uses.
const (
	// FSD is the largest frame the driver takes from a card, CRC_A
	// included: the chip's 64-byte FIFO, so that a whole frame is read in
	// one burst (FSDI 5 in RATS).
	FSD  = 64
	fsdi = 5
	// MaxFWI is the largest frame waiting time integer the driver accepts in
	// an ATS: FWI 11 is 619 ms per block. MIFARE DESFire EV1/EV2 ask FWI 8
	// (77 ms) and NTAG 424 DNA FWI 7 (39 ms); a card asking more would hold
	// the door too long at each block it fails to answer.
	MaxFWI = 11
	// MaxSFGI is the largest start-up frame guard time integer accepted:
	// SFGI 8 is 77 ms before the first block (DESFire asks 1, 0.6 ms).
	MaxSFGI = 8
)

// ATS is a card's answer to select (ISO/IEC 14443-4 5.2), checked.
type ATS struct {
	Raw  []byte        // as received, TL first, without CRC_A
	FSC  int           // the largest frame the card takes, CRC_A included: 16 to 256 bytes
	FWI  int           // frame waiting time integer, 0 to MaxFWI
	FWT  time.Duration // frame waiting time, 256·16/fc·2^FWI (302 µs·2^FWI)
	SFGI int           // start-up frame guard time integer, 0 to MaxSFGI
	SFGT time.Duration // wait after the ATS before the first block, 302 µs·2^SFGI (0 when SFGI is 0)
	// TA is the interface byte TA(1), the bit rates the card supports
	// beyond 106 kbit/s (the driver stays at 106 kbit/s); 0 when absent.
	TA         byte
	CID        bool   // the card supports a card identifier (TC(1) bit 2; true when TC is absent)
	NAD        bool   // the card supports a node address (TC(1) bit 1)
	Historical []byte // the historical bytes
}

// fsTable converts FSCI into bytes (ISO/IEC 14443-4 5.2.3).
var fsTable = [...]int{16, 24, 32, 40, 48, 64, 96, 128, 256}

// fwt is 256·16/fc·2^i, the frame waiting time of FWI i and the start-up
// frame guard time of SFGI i.
func fwt(i int) time.Duration { return carrierTime(256 * 16 << i) }

// ParseATS checks an ATS (TL first, CRC_A removed) and returns its
// parameters. Every field is checked against ISO/IEC 14443-4 5.2 and the
// driver's caps: TL must be the length received, at least 1 and at most
// FSD−2; T0 bit 8 must be 0 and the interface bytes it announces present;
// FWI and SFGI must not be the reserved 15 nor above MaxFWI and MaxSFGI.
// FSCI codes above 8 (reserved, or 320 to 4096 bytes in later editions)
// are taken as 256 bytes, as the standard asks of readers (the driver never
// sends frames over 64 bytes anyway). Reserved bits of TA and TC are ignored. An
// error matches ErrATS (and reader.ErrCard) and names the field.
func ParseATS(b []byte) (ATS, error) {
	bad := func(format string, args ...any) (ATS, error) {
		return ATS{}, fail("ATS", ErrATS, fmt.Sprintf(format, args...))
	}
	if len(b) == 0 {
		return bad("empty")
	}
	tl := int(b[0])
	switch {
	case tl == 0:
		return bad("TL is 0")
	case tl != len(b):
		return bad("TL is %d but %d bytes came", tl, len(b))
	case tl > FSD-2:
		return bad("TL %d exceeds the FSD of %d bytes", tl, FSD)
	}
	a := ATS{
		Raw: append([]byte(nil), b...),
		FSC: 32, FWI: 4, // defaults when T0 or TB(1) is absent
		CID: true,
	}
	if tl > 1 {
		t0 := b[1]
		if t0&0x80 != 0 {
			return bad("T0 %#02x has bit 8 set", t0)
		}
		fsci := int(t0 & 0x0F)
		a.FSC = 256
		if fsci < len(fsTable) {
			a.FSC = fsTable[fsci]
		}
		i := 2
		next := func() (byte, bool) {
			if i >= tl {
				return 0, false
			}
			i++
			return b[i-1], true
		}
		if t0&0x10 != 0 {
			v, ok := next()
			if !ok {
				return bad("T0 %#02x announces TA(1), which is missing", t0)
			}
			a.TA = v
		}
		if t0&0x20 != 0 {
			v, ok := next()
			if !ok {
				return bad("T0 %#02x announces TB(1), which is missing", t0)
			}
			a.FWI, a.SFGI = int(v>>4), int(v&0x0F)
		}
		if t0&0x40 != 0 {
			v, ok := next()
			if !ok {
				return bad("T0 %#02x announces TC(1), which is missing", t0)
			}
			a.NAD, a.CID = v&0x01 != 0, v&0x02 != 0
		}
		if i < tl {
			a.Historical = append([]byte(nil), b[i:]...)
		}
	}
	switch {
	case a.FWI == 15:
		return bad("FWI 15 is reserved")
	case a.FWI > MaxFWI:
		return bad("FWI %d (%s) exceeds the cap of %d (%s)", a.FWI, fwt(a.FWI).Round(time.Millisecond), MaxFWI, fwt(MaxFWI).Round(time.Millisecond))
	case a.SFGI == 15:
		return bad("SFGI 15 is reserved")
	case a.SFGI > MaxSFGI:
		return bad("SFGI %d (%s) exceeds the cap of %d (%s)", a.SFGI, fwt(a.SFGI).Round(time.Millisecond), MaxSFGI, fwt(MaxSFGI).Round(time.Millisecond))
	}
	a.FWT = fwt(a.FWI)
	if a.SFGI > 0 {
		a.SFGT = fwt(a.SFGI)
	}
	return a, nil
}
