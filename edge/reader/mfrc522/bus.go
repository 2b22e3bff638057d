package mfrc522

import (
	"fmt"

	"periph.io/x/conn/v3/spi"
)

// The SPI address byte: 0x80 for a read, the register in bits 6..1.
func addrWrite(reg byte) byte { return reg << 1 & 0x7E }
func addrRead(reg byte) byte  { return 0x80 | reg<<1&0x7E }

// batch collects register writes to send in one TxPackets call: one
// chip-select frame per register, one ioctl on a Pi. On a connection
// without TxPackets (detected at the first batch after each chip reset),
// the same frames go one Tx each.
type batch struct {
	d   *Dev
	buf []byte
	pk  []spi.Packet
}

func (d *Dev) batch() *batch {
	return &batch{d: d, buf: d.buf[:0], pk: d.pk[:0]}
}

// write queues a write of data to reg (several bytes all go to reg: the FIFO).
func (b *batch) write(reg byte, data ...byte) {
	start := len(b.buf)
	b.buf = append(b.buf, addrWrite(reg))
	b.buf = append(b.buf, data...)
	b.pk = append(b.pk, spi.Packet{W: b.buf[start:len(b.buf):len(b.buf)]})
}

// send sends the queued writes.
func (b *batch) send() error {
	// The packets point into buf, which append may have moved: rebuild them.
	off := 0
	for i := range b.pk {
		n := len(b.pk[i].W)
		b.pk[i].W = b.buf[off : off+n : off+n]
		off += n
	}
	b.d.buf, b.d.pk = b.buf, b.pk
	if len(b.pk) == 0 {
		return nil
	}
	d := b.d
	if d.noPackets {
		return d.txEach(b.pk)
	}
	err := d.c.TxPackets(b.pk)
	if err == nil || d.busChecked {
		d.busChecked = true
		return err
	}
	// The first batch since the chip was reset failed, while the reset's
	// single transactions went through: the connection may not implement
	// TxPackets. Try the same writes one Tx each; the writes are idempotent.
	if txErr := d.txEach(b.pk); txErr != nil {
		return fmt.Errorf("TxPackets: %w; one Tx per packet: %w", err, txErr)
	}
	d.noPackets, d.busChecked = true, true
	return nil
}

// txEach sends the packets one Tx each: the fallback for connections
// without TxPackets. Each packet is still its own chip-select frame.
func (d *Dev) txEach(pk []spi.Packet) error {
	for _, p := range pk {
		if err := d.c.Tx(p.W, p.R); err != nil {
			return err
		}
	}
	return nil
}

// writeReg writes one register in its own transaction.
func (d *Dev) writeReg(reg, v byte) error {
	return d.c.Tx([]byte{addrWrite(reg), v}, nil)
}

// readRegs reads registers in one frame: the chip answers each address byte
// one byte later.
func (d *Dev) readRegs(regs ...byte) ([]byte, error) {
	w := make([]byte, len(regs)+1)
	for i, r := range regs {
		w[i] = addrRead(r)
	}
	r := make([]byte, len(w))
	if err := d.c.Tx(w, r); err != nil {
		return nil, err
	}
	return r[1:], nil
}

// readFIFO reads n bytes from the FIFO in one burst.
func (d *Dev) readFIFO(n int) ([]byte, error) {
	regs := make([]byte, n)
	for i := range regs {
		regs[i] = regFIFOData
	}
	return d.readRegs(regs...)
}
