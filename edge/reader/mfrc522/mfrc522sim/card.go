package mfrc522sim

import (
	"bytes"
	"fmt"
	"time"
)

// CardType is a family of ISO 14443A cards; it sets the ATQA and SAK that
// NewCard gives a card (NXP AN10833).
type CardType int

const (
	MifareClassic1K  CardType = iota // SAK 08
	MifareClassic4K                  // SAK 18
	MifareUltralight                 // Ultralight and NTAG: SAK 00
	DESFire                          // ISO 14443-4: SAK 20, ATQA 44 03
)

// CardSpec describes a card to present.
type CardSpec struct {
	UID  []byte  // 4, 7 or 10 bytes
	ATQA [2]byte // answer to REQA/WUPA, as sent (LSB first)
	SAK  byte    // SAK of the last cascade level (the others answer 04)
	// PowerUp is how long the card needs in the field before it answers
	// (ISO 14443-3 lets it take up to the 5 ms guard time). 0 answers at once.
	PowerUp time.Duration
	// MinGainDB is the lowest receiver gain (RFCfgReg.RxGain, in dB) at which
	// the reader hears the card: a card far from the antenna. 0: any gain.
	MinGainDB int
	// BadBCC makes the card send a wrong BCC in every anticollision answer: a
	// broken or forged card.
	BadBCC bool
	// Responder, when set, replaces the card's ISO 14443-3 state machine:
	// a broken or hostile card, or a fuzzer's.
	Responder Responder
	// App receives the frames the card gets in the ACTIVE state beyond
	// ISO 14443-3 (RATS, I-blocks, MIFARE commands). Nil ignores them.
	App Application
	// ISODEP, when set, makes the card an ISO/IEC 14443-4 card: it answers
	// RATS with its ATS and then speaks the block protocol to its App
	// (see ISODEP). It takes precedence over App. Give the card SAK 20h
	// (NewCard with DESFire) so that readers know to send RATS.
	ISODEP *ISODEP
	// Faults are injected from the presentation on, as Card.Inject does
	// later: a card that is already being read when Present returns gets
	// them all the same.
	Faults []Fault
}

// Application is the part of a card above ISO 14443-3. Handle gets a frame
// whose CRC_A checked, without the CRC, and returns the answer to send
// (without CRC; the card appends it) or false for silence.
type Application interface {
	Handle(frame []byte) (answer []byte, ok bool)
}

// Responder answers every frame a card hears. It gets the frame's bytes
// (LSB first on the air) and its length in bits, and returns the answer's
// bytes and length in bits, or false for silence.
type Responder interface {
	Respond(frame []byte, bits int) (answer []byte, answerBits int, ok bool)
}

// NewCard returns the spec of a card of type t with the given UID; its ATQA
// encodes the UID size as ISO 14443-3 requires.
func NewCard(uid []byte, t CardType) CardSpec {
	size := byte(0)
	switch len(uid) {
	case 7:
		size = 0x40
	case 10:
		size = 0x80
	}
	spec := CardSpec{UID: append([]byte(nil), uid...), ATQA: [2]byte{size | 0x04, 0x00}}
	switch t {
	case MifareClassic1K:
		spec.SAK = 0x08
	case MifareClassic4K:
		spec.SAK = 0x18
		spec.ATQA[0] = size | 0x02
	case MifareUltralight:
		spec.SAK = 0x00
	case DESFire:
		spec.SAK = 0x20
		spec.ATQA[1] = 0x03
	}
	return spec
}

// CardState is a card's ISO 14443-3 type A state.
type CardState int

const (
	PowerOff CardState = iota
	Idle
	Ready
	Active
	Halt
)

func (s CardState) String() string {
	return [...]string{"POWER-OFF", "IDLE", "READY", "ACTIVE", "HALT"}[s]
}

// FaultKind is a fault to inject into a card's answers.
type FaultKind int

const (
	// Noise flips one data bit and the chip sees a parity error.
	Noise FaultKind = iota
	// SilentNoise flips one data bit and its parity bit too: only the BCC or
	// CRC_A can tell.
	SilentNoise
	// BadCRC spoils the CRC_A of an answer that carries one.
	BadCRC
	// NoAnswer: the card takes the command but its answer is lost.
	NoAnswer
	// Pulled: the card leaves the field half-way through its answer.
	Pulled
	// Collide: noise modulates both halves of the middle bit of the answer,
	// which the chip's Manchester decoder takes for a bit collision, as
	// with two cards (ErrorReg.CollErr, CollReg.CollPos at that bit).
	Collide
	// Deaf: the card does not hear the reader's frame (noise on the way to
	// the card): its state does not change and it stays silent. With On:
	// Block it hits the frames a card in the ISO 14443-4 protocol state
	// gets; with AnyCommand, any frame.
	Deaf
	// BadPCB replaces the protocol control byte of an ISO 14443-4 block by
	// one no block may have (an I-block with bit 6 set), with a CRC_A that
	// is right for it: only the block's coding can tell.
	BadPCB
)

// Command selects which of a card's answers a fault hits.
type Command int

const (
	AnyCommand    Command = iota
	Request               // REQA and WUPA
	Anticollision         // ANTICOLLISION at any cascade level
	Select                // SELECT at any cascade level
	Block                 // an ISO 14443-4 frame: the ATS and every block
)

// Fault is a fault to inject into a card's next matching answers.
type Fault struct {
	Kind  FaultKind
	On    Command
	Level int // cascade level 1 to 3 for Anticollision and Select; 0: any
	Count int // how many answers to spoil; 0 means 1
	After int // matching answers to let through unspoiled first
}

// Card is a card presented to the simulator.
type Card struct {
	s    *Sim
	spec CardSpec
	cls  [][5]byte // UID CLn with its BCC, per cascade level

	state     CardState
	star      bool // READY* / ACTIVE*: the card came from HALT
	level     int  // cascade level being selected, 0-based
	present   bool
	removedAt time.Duration
	powerAt   time.Duration // when the card got power
	faults    []Fault
	selects   int
	leaving   bool // pulled out of the field during its answer
	dep       depState
}

// Present puts a card into the field. It is safe to call while a driver polls.
func (s *Sim) Present(spec CardSpec) (*Card, error) {
	switch len(spec.UID) {
	case 4, 7, 10:
	default:
		return nil, fmt.Errorf("mfrc522sim: a UID has 4, 7 or 10 bytes, not %d", len(spec.UID))
	}
	if spec.UID[0] == 0x88 {
		return nil, fmt.Errorf("mfrc522sim: UID byte 0 may not be 88h, the cascade tag")
	}
	c := &Card{s: s, spec: spec}
	c.spec.UID = append([]byte(nil), spec.UID...)
	c.spec.Faults = nil
	for _, f := range spec.Faults {
		c.faults = append(c.faults, f.normal())
	}
	u := c.spec.UID
	var parts [][]byte
	switch len(u) {
	case 4:
		parts = [][]byte{u}
	case 7:
		parts = [][]byte{{0x88, u[0], u[1], u[2]}, u[3:7]}
	case 10:
		parts = [][]byte{{0x88, u[0], u[1], u[2]}, {0x88, u[3], u[4], u[5]}, u[6:10]}
	}
	for _, p := range parts {
		var cl [5]byte
		copy(cl[:], p)
		cl[4] = p[0] ^ p[1] ^ p[2] ^ p[3]
		if spec.BadBCC {
			cl[4] ^= 0xFF
		}
		c.cls = append(c.cls, cl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.chip.settle(now)
	c.present = true
	if s.chip.fieldOn() {
		c.state, c.powerAt = Idle, now
	}
	s.cards = append(s.cards, c)
	s.notify()
	return c, nil
}

// PresentFor presents a card and takes it away after d of wall time, as a
// person tapping a badge does. It returns at once; the removal runs on a
// timer (no goroutine waits meanwhile).
func (s *Sim) PresentFor(spec CardSpec, d time.Duration) (*Card, error) {
	c, err := s.Present(spec)
	if err != nil {
		return nil, err
	}
	time.AfterFunc(d, func() { s.Remove(c) })
	return c, nil
}

// Remove takes a card out of the field; removing it twice does nothing.
func (s *Sim) Remove(c *Card) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(c)
}

func (s *Sim) removeLocked(c *Card) {
	s.chip.settle(s.now())
	s.detach(c)
	s.notify()
}

// detach takes a card out of the field without running chip events.
func (s *Sim) detach(c *Card) {
	for i, x := range s.cards {
		if x == c {
			s.cards = append(s.cards[:i], s.cards[i+1:]...)
			c.present, c.removedAt, c.state = false, s.now(), PowerOff
			return
		}
	}
}

// RemoveUID takes the cards with this UID out of the field and reports
// whether there was one.
func (s *Sim) RemoveUID(uid []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for _, c := range append([]*Card(nil), s.cards...) {
		if bytes.Equal(c.spec.UID, uid) {
			s.removeLocked(c)
			found = true
		}
	}
	return found
}

// Cards returns the cards in the field.
func (s *Sim) Cards() []*Card {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Card(nil), s.cards...)
}

// UID returns the card's UID.
func (c *Card) UID() []byte { return append([]byte(nil), c.spec.UID...) }

// State returns the card's ISO 14443-3 state.
func (c *Card) State() CardState {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.chip.settle(c.s.now())
	return c.state
}

// Selects counts how many times the card was selected at its last cascade
// level (entered ACTIVE).
func (c *Card) Selects() int {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.selects
}

// Inject adds a fault to the card's next matching answers.
func (c *Card) Inject(f Fault) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.faults = append(c.faults, f.normal())
}

// normal gives a fault its default count of one.
func (f Fault) normal() Fault {
	if f.Count <= 0 {
		f.Count = 1
	}
	return f
}

// fieldChanged powers the card up or down; s.mu is held.
func (c *Card) fieldChanged(on bool, now time.Duration) {
	if !c.present {
		return
	}
	if on {
		c.state, c.powerAt, c.star, c.level = Idle, now, false, 0
	} else {
		c.state = PowerOff
	}
	c.dep = depState{}
}

// readyAt reports whether the card is powered long enough to answer at t.
func (c *Card) readyAt(t time.Duration) bool {
	return c.present && c.state != PowerOff && t-c.powerAt >= c.spec.PowerUp
}

func (c *Card) inFieldAt(t time.Duration) bool { return c.present || c.removedAt > t }

func (c *Card) leftAt() (bool, time.Duration) { return !c.present, c.removedAt }

// answer is what a card sends back.
type answer struct {
	bits      bitString
	parityErr bool
	collide   int           // 1-based bit the chip sees as a collision (Collide fault); 0: none
	delay     time.Duration // the card's processing time beyond the minimum frame delay time
}

// selCode is the SEL byte of a cascade level (0-based): 93h, 95h, 97h.
func selCode(level int) byte { return 0x93 + 2*byte(level) }

// other is ISO 14443-3's "any other command": back to IDLE, or to HALT from
// the READY* and ACTIVE* states.
func (c *Card) other() {
	if c.star {
		c.state = Halt
	} else {
		c.state = Idle
	}
	c.level = 0
	c.dep = depState{}
}

// receive runs the card's state machine on a reader frame and returns its
// answer, if any. gain is the reader's receiver gain in dB.
func (c *Card) receive(f bitString, gain int) (answer, bool) {
	if r := c.spec.Responder; r != nil {
		out, n, ok := r.Respond(append([]byte(nil), f.b...), f.n)
		if !ok || gain < c.spec.MinGainDB {
			return answer{}, false
		}
		bits := bytesToBits(out)
		bits.n = max(min(n, bits.n), 0)
		return answer{bits: bits}, true
	}
	if c.deaf() {
		return answer{}, false
	}
	level := c.level + 1
	ans, cmd, ok := c.step(f)
	if !ok {
		return answer{}, false
	}
	if gain < c.spec.MinGainDB {
		return answer{}, false // the card answered, the reader did not hear it
	}
	return c.spoil(ans, cmd, level)
}

// step is the ISO 14443-3 type A state machine.
func (c *Card) step(f bitString) (answer, Command, bool) {
	if f.n == 7 { // short frame
		cmd := f.b[0] & 0x7F
		switch {
		case cmd == 0x26 && c.state == Idle,
			cmd == 0x52 && (c.state == Idle || c.state == Halt):
			c.star = c.state == Halt
			c.state, c.level = Ready, 0
			return answer{bits: bytesToBits(c.spec.ATQA[:])}, Request, true
		case c.state == Ready || c.state == Active:
			c.other()
		}
		return answer{}, 0, false
	}
	switch c.state {
	case Ready:
		return c.anticollision(f)
	case Active:
		data, partial := f.wholeBytes()
		if partial || !checkCRCA(data) {
			return answer{}, 0, false // a damaged frame is ignored
		}
		data = data[:len(data)-2]
		if len(data) == 2 && data[0] == 0x50 && data[1] == 0x00 && !c.dep.active {
			c.state = Halt
			return answer{}, 0, false
		}
		if c.spec.ISODEP != nil {
			out, delay, ok := c.isoDEP(data)
			if !ok {
				return answer{}, 0, false
			}
			return answer{bits: bytesToBits(appendCRCA(out)), delay: delay}, Block, true
		}
		if c.spec.App != nil {
			if out, ok := c.spec.App.Handle(append([]byte(nil), data...)); ok {
				return answer{bits: bytesToBits(appendCRCA(out))}, AnyCommand, true
			}
			return answer{}, 0, false
		}
		c.other()
	}
	return answer{}, 0, false
}

// anticollision handles ANTICOLLISION and SELECT in the READY state.
func (c *Card) anticollision(f bitString) (answer, Command, bool) {
	if f.n < 16 || f.b[0] != selCode(c.level) {
		c.other()
		return answer{}, 0, false
	}
	nvb := f.b[1]
	known := int(nvb>>4)*8 + int(nvb&0x0F) - 16 // UID bits the reader sends
	cl := c.cls[c.level]
	clBits := bytesToBits(cl[:])
	if nvb == 0x70 { // SELECT: SEL NVB CLn BCC CRC_A
		data, partial := f.wholeBytes()
		if f.n != 72 || partial || !checkCRCA(data) {
			c.other()
			return answer{}, 0, false
		}
		if !bytes.Equal(data[2:7], cl[:]) {
			return answer{}, 0, false // another card is selected: stay READY
		}
		sak := byte(0x04)
		if c.level == len(c.cls)-1 {
			sak = c.spec.SAK &^ 0x04
			c.state = Active
			c.selects++
		} else {
			c.level++
		}
		return answer{bits: bytesToBits(appendCRCA([]byte{sak}))}, Select, true
	}
	if nvb&0x0F > 7 || nvb>>4 < 2 || known > 32 || f.n != 16+known {
		c.other()
		return answer{}, 0, false
	}
	for i := 0; i < known; i++ {
		if f.bit(16+i) != clBits.bit(i) {
			return answer{}, 0, false // not this card: it stays READY, silent
		}
	}
	return answer{bits: clBits.slice(known, 40)}, Anticollision, true
}

// deaf consumes a matching Deaf fault, if any, for the frame the card is
// about to hear.
func (c *Card) deaf() bool {
	for i := range c.faults {
		f := &c.faults[i]
		if f.Kind != Deaf || f.Count <= 0 || (f.On != AnyCommand && (f.On != Block || !c.dep.active)) {
			continue
		}
		if f.After > 0 {
			f.After--
			continue
		}
		f.Count--
		return true
	}
	return false
}

// spoil applies the first matching injected fault to an answer to a command
// of the given cascade level (1-based).
func (c *Card) spoil(a answer, cmd Command, level int) (answer, bool) {
	for i := range c.faults {
		f := &c.faults[i]
		if f.Count <= 0 || (f.On != AnyCommand && f.On != cmd) || (f.Level != 0 && f.Level != level) {
			continue
		}
		if f.Kind == BadCRC && cmd != Select && cmd != AnyCommand && cmd != Block {
			continue
		}
		if f.Kind == BadPCB && cmd != Block || f.Kind == Deaf {
			continue
		}
		if f.After > 0 {
			f.After--
			continue
		}
		f.Count--
		bits := a.bits.slice(0, a.bits.n)
		switch f.Kind {
		case Noise, SilentNoise:
			i := bits.n / 2
			bits.b[i/8] ^= 1 << (i % 8)
			a.parityErr = f.Kind == Noise
		case BadCRC:
			bits.b[len(bits.b)-1] ^= 0x01
		case NoAnswer:
			return answer{}, false
		case Pulled:
			bits = bits.slice(0, bits.n/2)
			c.leaving = true
		case Collide:
			a.collide = bits.n/2 + 1
		case BadPCB:
			data, _ := bits.wholeBytes()
			data = append([]byte{data[0]&^0xE0 | 0x22}, data[1:len(data)-2]...)
			bits = bytesToBits(appendCRCA(data))
		}
		a.bits = bits
		return a, true
	}
	return a, true
}
