package mfrc522sim

import "time"

// App is an application on an ISO/IEC 14443-4 card: it takes a whole
// command APDU (the card has joined the chained blocks) and returns the whole
// response (the card cuts it to the reader's frame size). It runs with the
// simulator's lock held and must not call back into the simulator.
type App interface {
	Transceive(apdu []byte) []byte
}

// DESFireATS is the ATS of a MIFARE DESFire EV1 (NXP AN10833; the DESFire
// datasheets): FSCI 5 (64 bytes), TA 77h, FWI 8 (77 ms) and SFGI 1, CID
// supported, one historical byte.
var DESFireATS = []byte{0x06, 0x75, 0x77, 0x81, 0x02, 0x80}

// NTAG424ATS is the ATS NTAG 424 DNA (and TagTamper) cards answer: FSCI 7
// (128 bytes), TA 77h, FWI 7 (39 ms) and SFGI 1, CID supported, one
// historical byte.
var NTAG424ATS = []byte{0x06, 0x77, 0x77, 0x71, 0x02, 0x80}

// ISODEP is the ISO/IEC 14443-4 (T=CL) layer of a simulated card, between
// the ISO 14443-3 state machine and the App. After SELECT, RATS (E0h)
// makes the card answer its ATS and enter the protocol state, where it
// follows the PICC rules of ISO/IEC 14443-4 7.5.4: block numbering (its own
// starts at 1), chaining both ways (it takes frames up to the FSC its ATS
// announces and sends frames up to the FSD the RATS gave), R(ACK) and
// R(NAK) answered by retransmission or acknowledgement, S(WTX) requests
// when the App is slow, S(DESELECT) answered and the card sent to HALT.
// Invalid blocks are ignored, as the standard asks. Faults are injected
// with Card.Inject and On: Block (the ATS counts as a block).
type ISODEP struct {
	// App answers the APDUs. Nil answers every APDU with 6D00 (instruction
	// not supported).
	App App
	// ATS is the answer to RATS, TL first, without CRC_A. Nil means
	// DESFireATS. It is sent as given, so that a test can send a hostile one;
	// the card's own FSC is read from it (32 bytes when it gives none).
	ATS []byte
	// Processing is the card's time to run a command: the delay, beyond the
	// minimum frame delay time, of its first block after the last block of
	// a command, or after its last S(WTX) request when it sends some.
	Processing time.Duration
	// Timing, when not nil, gives the processing time of each command from
	// its APDU instead of Processing: a card whose commands take different
	// times (a read against an authentication's AES).
	Timing func(apdu []byte) time.Duration
	// WTX is how many S(WTX) requests the card sends before each response:
	// a slow card. Each comes at the minimum frame delay time.
	WTX int
	// WTXM is the multiplier the S(WTX) requests ask for; 0 means 1.
	WTXM byte
}

// depState is a card's ISO 14443-4 state.
type depState struct {
	active  bool          // RATS answered: the protocol state
	fsd     int           // the largest frame the reader takes, CRC_A included
	fsc     int           // the largest frame the card takes, from its ATS
	num     byte          // the card's block number (rule C: 1 at activation)
	rx      []byte        // command APDU being chained in
	out     []byte        // response still to send
	sending bool          // out is being chained out
	last    []byte        // the last block sent, for retransmission
	wtxLeft int           // S(WTX) requests still to send before the response
	inWTX   bool          // an S(WTX) request was sent: its response is awaited
	proc    time.Duration // the processing time of the command being answered
}

// fsdTable converts FSDI/FSCI into bytes (ISO/IEC 14443-4 5.2.3); codes
// above 8 are taken as 256.
func fsdTable(code byte) int {
	t := [...]int{16, 24, 32, 40, 48, 64, 96, 128, 256}
	if int(code) >= len(t) {
		return 256
	}
	return t[code]
}

// atsFSC reads the card's FSC from its ATS: FSCI in T0, 32 bytes without
// T0.
func atsFSC(ats []byte) int {
	if len(ats) < 2 {
		return 32
	}
	return fsdTable(ats[1] & 0x0F)
}

// Block coding (ISO/IEC 14443-4 7.1.1).
const (
	pcbChain    = 0x10
	pcbCID      = 0x08
	pcbNAD      = 0x04
	pcbNAK      = 0x10
	pcbDeselect = 0xC2
	pcbWTX      = 0xF2
)

// isoDEP handles a frame (CRC checked and removed) in the ACTIVE state of an
// ISO 14443-4 card and returns the answer, its processing delay and whether
// there is one.
func (c *Card) isoDEP(data []byte) ([]byte, time.Duration, bool) {
	spec := c.spec.ISODEP
	d := &c.dep
	if !d.active {
		if len(data) == 2 && data[0] == 0xE0 {
			ats := spec.ATS
			if ats == nil {
				ats = DESFireATS
			}
			*d = depState{active: true, fsd: fsdTable(data[1] >> 4), fsc: atsFSC(ats), num: 1}
			d.last = append([]byte(nil), ats...)
			return d.last, 0, true
		}
		c.other()
		return nil, 0, false
	}
	if len(data) == 0 || len(data)+2 > d.fsc {
		return nil, 0, false // a frame over the card's FSC is not taken
	}
	pcb := data[0]
	body := data[1:]
	if pcb&pcbCID != 0 {
		if len(body) == 0 || body[0]&0x0F != 0 {
			return nil, 0, false // another card's CID
		}
		body = body[1:]
	}
	switch {
	case pcb&0xE2 == 0x02: // I-block
		if pcb&pcbNAD != 0 {
			if len(body) == 0 {
				return nil, 0, false
			}
			body = body[1:]
		}
		d.num ^= 1 // rule D
		d.inWTX, d.sending = false, false
		d.rx = append(d.rx, body...)
		if pcb&pcbChain != 0 {
			return d.send([]byte{0xA2 | d.num}), 0, true // rule 2: acknowledge
		}
		d.proc = spec.Processing
		if spec.Timing != nil {
			d.proc = spec.Timing(d.rx)
		}
		app := spec.App
		if app == nil {
			d.out = []byte{0x6D, 0x00}
		} else {
			d.out = app.Transceive(append([]byte(nil), d.rx...))
		}
		d.rx = nil
		d.wtxLeft = spec.WTX
		return d.next(spec)
	case pcb&0xE6 == 0xA2 && len(body) == 0: // R-block
		same := pcb&1 == d.num
		if pcb&pcbNAK != 0 {
			if same {
				return d.last, 0, true // rule 11: retransmit
			}
			return d.send([]byte{0xA2 | d.num}), 0, true // rule 12
		}
		if same {
			return d.last, 0, true // the reader did not get our last block
		}
		if d.sending {
			d.num ^= 1 // rule E
			return d.chunk(), 0, true
		}
		return nil, 0, false
	case pcb&0xF7 == pcbDeselect && len(body) == 0:
		*d = depState{}
		c.state, c.level = Halt, 0
		return []byte{pcbDeselect}, 0, true
	case pcb&0xF7 == pcbWTX && len(body) == 1 && d.inWTX:
		d.inWTX = false
		return d.next(spec)
	}
	return nil, 0, false // rule 10: an invalid block is ignored
}

// next sends what follows a complete command: an S(WTX) request while some
// are due, else the first block of the response after the processing time.
func (d *depState) next(spec *ISODEP) ([]byte, time.Duration, bool) {
	if d.wtxLeft > 0 {
		d.wtxLeft--
		d.inWTX = true
		m := spec.WTXM
		if m == 0 {
			m = 1
		}
		return d.send([]byte{pcbWTX, m}), 0, true
	}
	d.sending = true
	return d.chunk(), d.proc, true
}

// chunk sends the next block of the response: as much as the reader's FSD
// takes, chained when more follows.
func (d *depState) chunk() []byte {
	n := min(len(d.out), d.fsd-3)
	pcb := 0x02 | d.num
	if n < len(d.out) {
		pcb |= pcbChain
	} else {
		d.sending = false
	}
	b := append([]byte{pcb}, d.out[:n]...)
	d.out = d.out[n:]
	return d.send(b)
}

func (d *depState) send(b []byte) []byte {
	d.last = b
	return b
}
