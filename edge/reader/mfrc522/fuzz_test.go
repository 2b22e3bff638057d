package mfrc522_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/spi"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
)

// FuzzDriver drives the driver with arbitrary chip and card behaviour and
// checks that it never panics, never outlives its deadline, returns only the
// driver's typed errors, and never returns a card whose UID was not SELECTed
// level by level with a valid BCC and answered with a SAK whose CRC_A
// verified. The first byte picks the attacker:
//
//	0: a simulated chip and cards whose SPI answers are corrupted,
//	   one fuzz byte per read frame (0 leaves it alone);
//	1: a hostile card on a simulated chip, answering every frame with
//	   fuzz-given bits (a header byte: 0 silence, else the bit count, then
//	   the bytes);
//	2: a chip that answers every read from the fuzz bytes.
func FuzzDriver(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0x11})
	f.Add([]byte{0, 6})
	f.Add(append([]byte{1}, hostileScript(uid4(), 0x08)...))
	f.Add(append([]byte{1}, hostileScript(uid7(), 0x00)...))
	f.Add([]byte{2, 0x20, 0x92})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		in := &fuzzBytes{b: data[1:]}
		var c spi.Conn
		var clock mfrc522.Clock
		switch data[0] % 3 {
		case 0:
			sim := mfrc522sim.New(mfrc522sim.Options{})
			sizes := [][]byte{uid4(), uid7(), uid10()}
			first := in.next()
			_, _ = sim.Present(mfrc522sim.NewCard(sizes[int(first)%3], mfrc522sim.MifareClassic1K))
			if first&4 != 0 {
				_, _ = sim.Present(mfrc522sim.NewCard([]byte{0x3A, 0x11, 0x52, 0xC6}, mfrc522sim.MifareClassic4K))
			}
			c, clock = &recorder{inner: sim, tamper: in}, sim
		case 1:
			sim := mfrc522sim.New(mfrc522sim.Options{})
			spec := mfrc522sim.NewCard(uid4(), mfrc522sim.MifareClassic1K)
			spec.Responder = &hostile{in: in}
			_, _ = sim.Present(spec)
			c, clock = &recorder{inner: sim}, sim
		default:
			c, clock = &recorder{inner: &fuzzChip{in: in}}, &fakeClock{}
		}
		rec := c.(*recorder)
		dev, err := mfrc522.New(c, &mfrc522.Options{Clock: clock, PollInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer dev.Close()
		const deadline = 10 * time.Millisecond
		for _, call := range []string{"ReadCard", "Next", "ReadCard"} {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			start := time.Now()
			var card reader.Card
			if call == "Next" {
				card, err = dev.Next(ctx)
			} else {
				card, err = dev.ReadCard(ctx)
			}
			cancel()
			if took := time.Since(start); took > deadline+2*time.Second {
				t.Fatalf("%s took %s with a deadline of %s", call, took, deadline)
			}
			if err != nil {
				checkTyped(t, err)
				continue
			}
			if err := rec.verify(card); err != nil {
				t.Fatalf("%s returned %v: %v", call, card, err)
			}
		}
	})
}

// checkTyped fails unless err is one of the driver's kinds.
func checkTyped(t *testing.T, err error) {
	for _, kind := range []error{mfrc522.ErrNoCard, mfrc522.ErrTimeout, mfrc522.ErrCollision, mfrc522.ErrCRC,
		mfrc522.ErrBCC, mfrc522.ErrProtocol, mfrc522.ErrChipNotResponding, mfrc522.ErrUnknownChip,
		mfrc522.ErrATS, mfrc522.ErrWTXLimit, mfrc522.ErrNotISODEP, mfrc522.ErrSessionClosed} {
		if errors.Is(err, kind) {
			return
		}
	}
	t.Fatalf("untyped error: %v", err)
}

// fuzzBytes hands out the fuzz input, then zeros.
type fuzzBytes struct {
	mu sync.Mutex
	b  []byte
}

func (f *fuzzBytes) next() byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.b) == 0 {
		return 0
	}
	v := f.b[0]
	f.b = f.b[1:]
	return v
}

// hostile is a card answering from the fuzz input.
type hostile struct{ in *fuzzBytes }

func (h *hostile) Respond(frame []byte, bits int) ([]byte, int, bool) {
	n := int(h.in.next())
	if n == 0 {
		return nil, 0, false
	}
	out := make([]byte, (n+7)/8)
	for i := range out {
		out[i] = h.in.next()
	}
	return out, n, true
}

// hostileScript is the hostile card's script for a clean read of a card with
// a 4 or 7-byte UID: ATQA, then per level the anticollision answer and SAK.
func hostileScript(uid []byte, sak byte) []byte {
	s := []byte{16, 0x04, 0x00}
	levels := [][]byte{uid}
	if len(uid) == 7 {
		levels = [][]byte{{0x88, uid[0], uid[1], uid[2]}, uid[3:]}
	}
	for i, cl := range levels {
		s = append(s, 40)
		s = append(s, cl...)
		s = append(s, cl[0]^cl[1]^cl[2]^cl[3])
		k := sak
		if i < len(levels)-1 {
			k = 0x04
		}
		s = append(s, 24)
		s = append(s, crcAppend([]byte{k})...)
	}
	return s
}

func crcAppend(b []byte) []byte {
	crc := uint16(0x6363)
	for _, v := range b {
		crc ^= uint16(v)
		for i := 0; i < 8; i++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x8408
			} else {
				crc >>= 1
			}
		}
	}
	return append(b, byte(crc), byte(crc>>8))
}

// fuzzChip is a chip whose every read byte comes from the fuzz input.
type fuzzChip struct{ in *fuzzBytes }

func (c *fuzzChip) String() string       { return "fuzzchip" }
func (c *fuzzChip) Duplex() conn.Duplex  { return conn.Full }
func (c *fuzzChip) Tx(w, r []byte) error { return c.TxPackets([]spi.Packet{{W: w, R: r}}) }
func (c *fuzzChip) TxPackets(p []spi.Packet) error {
	for _, pk := range p {
		for i := range pk.R {
			pk.R[i] = c.in.next()
		}
	}
	return nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Unix(0, 0).Add(c.t)
}

func (c *fakeClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t += d
}

// recorder passes SPI traffic through, optionally corrupting what is read,
// and keeps, per frame sent to the cards, the FIFO bytes written before it
// and the FIFO bytes the driver read after it.
type recorder struct {
	inner   spi.Conn
	tamper  *fuzzBytes
	mu      sync.Mutex
	pending []byte
	log     []exchangeRecord
}

type exchangeRecord struct{ tx, rx []byte }

func (r *recorder) String() string        { return "recorder" }
func (r *recorder) Duplex() conn.Duplex   { return conn.Full }
func (r *recorder) Tx(w, rd []byte) error { return r.TxPackets([]spi.Packet{{W: w, R: rd}}) }

func (r *recorder) TxPackets(p []spi.Packet) error {
	if err := r.inner.TxPackets(p); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pk := range p {
		if len(pk.W) == 0 {
			continue
		}
		if pk.W[0]&0x80 == 0 {
			switch reg := pk.W[0] >> 1 & 0x3F; {
			case reg == 0x09:
				r.pending = append(r.pending, pk.W[1:]...)
			case reg == 0x0A && len(pk.W) > 1 && pk.W[1]&0x80 != 0:
				r.pending = nil
			case reg == 0x0D && len(pk.W) > 1 && pk.W[len(pk.W)-1]&0x80 != 0:
				r.log = append(r.log, exchangeRecord{tx: r.pending})
				r.pending = nil
			}
			continue
		}
		if pk.R == nil {
			continue
		}
		if r.tamper != nil && len(pk.R) > 1 {
			if v := r.tamper.next(); v != 0 {
				pk.R[1+int(v)%(len(pk.R)-1)] ^= v
			}
		}
		for i := 0; i < len(pk.W)-1; i++ {
			if pk.W[i]>>1&0x3F == 0x09 && len(r.log) > 0 {
				last := &r.log[len(r.log)-1]
				last.rx = append(last.rx, pk.R[i+1])
			}
		}
	}
	return nil
}

// verify checks a returned card against the traffic: the last SELECT frames
// must be levels 1..n with valid BCC and CRC_A, each answered by exactly a
// SAK with a valid CRC_A, cascade bit set but on the last, and together give
// the card's UID and SAK.
func (r *recorder) verify(card reader.Card) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	levels := map[int]int{4: 1, 7: 2, 10: 3}[len(card.UID)]
	if levels == 0 {
		return fmt.Errorf("UID of %d bytes", len(card.UID))
	}
	var sels []exchangeRecord
	for _, e := range r.log {
		if len(e.tx) == 9 && e.tx[1] == 0x70 {
			sels = append(sels, e)
		}
	}
	if len(sels) < levels {
		return fmt.Errorf("%d SELECT frames for %d levels", len(sels), levels)
	}
	sels = sels[len(sels)-levels:]
	var uid []byte
	for i, e := range sels {
		if e.tx[0] != byte(0x93+2*i) {
			return fmt.Errorf("level %d selected with SEL %#02x", i+1, e.tx[0])
		}
		if string(crcAppend(append([]byte(nil), e.tx[:7]...))) != string(e.tx) {
			return fmt.Errorf("level %d SELECT frame CRC wrong: % X", i+1, e.tx)
		}
		cl := e.tx[2:7]
		if cl[4] != cl[0]^cl[1]^cl[2]^cl[3] {
			return fmt.Errorf("level %d selected with a wrong BCC: % X", i+1, cl)
		}
		if len(e.rx) != 3 || string(crcAppend([]byte{e.rx[0]})) != string(e.rx) {
			return fmt.Errorf("level %d SAK answer % X does not verify", i+1, e.rx)
		}
		last := i == levels-1
		if (e.rx[0]&0x04 == 0) != last {
			return fmt.Errorf("level %d SAK %#02x", i+1, e.rx[0])
		}
		if last {
			uid = append(uid, cl[:4]...)
			if e.rx[0] != card.SAK {
				return fmt.Errorf("SAK %#02x returned, %#02x received", card.SAK, e.rx[0])
			}
		} else {
			if cl[0] != 0x88 {
				return fmt.Errorf("level %d without cascade tag: % X", i+1, cl)
			}
			uid = append(uid, cl[1:4]...)
		}
	}
	if string(uid) != string(card.UID) {
		return fmt.Errorf("UID % X returned, % X selected", card.UID, uid)
	}
	return nil
}
