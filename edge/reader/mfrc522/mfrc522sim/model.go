package mfrc522sim

import "time"

// Sub returns the counts of c since an earlier reading o (Now is the
// virtual time between them).
func (c Counters) Sub(o Counters) Counters {
	return Counters{
		Calls:      c.Calls - o.Calls,
		Frames:     c.Frames - o.Frames,
		Bytes:      c.Bytes - o.Bytes,
		Violations: c.Violations - o.Violations,
		HardResets: c.HardResets - o.HardResets,
		SoftResets: c.SoftResets - o.SoftResets,
		Exchanges:  c.Exchanges - o.Exchanges,
		WireTime:   c.WireTime - o.WireTime,
		AirTime:    c.AirTime - o.AirTime,
		AirBits:    c.AirBits - o.AirBits,
		CardTime:   c.CardTime - o.CardTime,
		Now:        c.Now - o.Now,
	}
}

// The Pi Zero model's parameters.
const (
	// PiZeroSPIClock is the SPI clock of the model: 4 MHz, what a Pi
	// Zero's spidev gives reliably over RC522 boards' flying leads (the
	// chip itself takes 10 MHz).
	PiZeroSPIClock = 4e6
	// PiZeroPerTransaction is the modelled host cost of one SPI transaction
	// (chip-select frame) beyond its clocked bits. Assumption, to be
	// replaced by a measurement on the hardware: an ioctl on a Pi Zero's
	// ARM1176 at 1 GHz costs a few tens of µs (syscall, spidev copy,
	// spi-bcm2835 set-up and the chip-select toggles; the simulator's
	// default of 20 µs a call is a Pi 3/4 figure), and the driver sends
	// about two transactions per ioctl (10 calls for the 20 transactions
	// of a 4-byte UID read), so 20 µs per transaction.
	PiZeroPerTransaction = 20 * time.Microsecond
)

// PiZeroTime is the modelled time on a Raspberry Pi Zero of the work
// counted in c (a difference of two Counters readings, see Sub), the
// figure reported as modelled-ms/op by BenchmarkISODEP and
// BenchmarkSecureTap:
//
//   - SPI: every transaction costs PiZeroPerTransaction, and every byte 8
//     bits at PiZeroSPIClock (MFRC522 datasheet 8.1.2: one address byte and
//     the data, MSB first, no gaps);
//   - RF: every frame on the air both ways at 106 kbit/s, 1 etu = 128/fc
//     = 9.44 µs a bit, counting start and end of communication and a parity
//     bit after every byte (9/8 of the data, CRC_A included) (ISO/IEC
//     14443-2 8.1 and 14443-3 6.1.3; Counters.AirBits);
//   - the cards: before each answer its frame delay time, (9·128 + 84)/fc
//     = 91 µs after a 1 or (9·128 + 20)/fc = 86 µs after a 0 (ISO/IEC
//     14443-3 6.2.1.1, the minimum an ISO/IEC 14443-4 card keeps too), plus
//     the card's processing time as the simulated card declares it
//     (ISODEP.Processing or ISODEP.Timing; for real cards the datasheets
//     give only the upper bound, the frame waiting time of their ATS: FWI
//     8, 77 ms, on MIFARE DESFire EV1/EV2, NXP AN10833 and the MF3D(H)x2
//     datasheet) (Counters.CardTime).
//
// It leaves out the host's waits beyond those (the driver sleeps a
// frame's modelled time and polls the status, which on a Pi adds timer
// slack), the chip's own processing (tens of ns per register) and
// what the host does between calls.
func PiZeroTime(c Counters) time.Duration {
	spi := time.Duration(c.Frames)*PiZeroPerTransaction +
		time.Duration(float64(c.Bytes)*8/PiZeroSPIClock*float64(time.Second))
	rf := etus(int(c.AirBits))
	return spi + rf + c.CardTime
}
