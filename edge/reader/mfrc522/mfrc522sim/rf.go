package mfrc522sim

import "time"

// carrier is the ISO 14443 carrier frequency, fc.
const carrier = 13.56e6

// etus is n elementary time units at 106 kbit/s: 128/fc, about 9.44 µs each.
func etus(n int) time.Duration { return fc(128 * n) }

// fc converts a number of carrier periods into a duration.
func fc(n int) time.Duration { return time.Duration(float64(n) * 1e9 / carrier) }

// bitString is a frame on the air as its data bits, least significant bit of
// each byte first (ISO 14443 sends LSB first); parity bits are not stored.
type bitString struct {
	b []byte
	n int // number of valid bits
}

func bytesToBits(b []byte) bitString {
	return bitString{b: append([]byte(nil), b...), n: 8 * len(b)}
}

func (s bitString) bit(i int) byte { return s.b[i/8] >> (i % 8) & 1 }

func (s *bitString) push(v byte) {
	if s.n%8 == 0 {
		s.b = append(s.b, 0)
	}
	s.b[s.n/8] |= (v & 1) << (s.n % 8)
	s.n++
}

// slice returns bits [from, to).
func (s bitString) slice(from, to int) bitString {
	var out bitString
	for i := from; i < to && i < s.n; i++ {
		out.push(s.bit(i))
	}
	return out
}

// bytes returns the whole bytes of the frame and whether a partial byte ends it.
func (s bitString) wholeBytes() ([]byte, bool) {
	return s.b[:s.n/8], s.n%8 != 0
}

// frameBits is the length on the air, in bit periods (etus at 106 kbit/s),
// of a frame of n data bits that starts at bit position align of its first
// byte: start of communication, the data, a parity bit for every byte
// completed (9 bits a byte), end of communication.
func frameBits(n, align int) int { return 1 + n + (align+n)/8 + 1 }

// pcdFrameTime is the air time of a reader frame of n data bits: start of
// communication, the data with a parity bit after each complete byte (none in
// a 7-bit short frame), end of communication.
func pcdFrameTime(n int) time.Duration {
	parity := n / 8
	return etus(1 + n + parity + 1)
}

// piccFrameTime is the air time of a card frame of n data bits that starts at
// bit position align of its first byte (bit-oriented anticollision): start
// bit, data, one parity bit for every byte completed, end.
func piccFrameTime(n, align int) time.Duration {
	parity := (align + n) / 8
	return etus(1 + n + parity + 1)
}

// frameDelay is the time from the end of a reader frame to the start of the
// card's answer for REQA, WUPA, ANTICOLLISION and SELECT (ISO 14443-3
// 6.2.1.1): (n·128 + 84)/fc after a last data bit of 1, (n·128 + 20)/fc after
// a 0, with n = 9.
func frameDelay(lastBit byte) time.Duration {
	if lastBit == 1 {
		return fc(9*128 + 84)
	}
	return fc(9*128 + 20)
}

// crc16 runs the CRC coprocessor: CRC-CCITT (x^16 + x^12 + x^5 + 1) from
// preset over data, LSB first unless msbFirst. With preset 0x6363 and LSB
// first it is ISO 14443-3's CRC_A, sent low byte first.
func crc16(preset uint16, msbFirst bool, data []byte) uint16 {
	crc := preset
	for _, d := range data {
		if msbFirst {
			crc ^= uint16(d) << 8
			for i := 0; i < 8; i++ {
				if crc&0x8000 != 0 {
					crc = crc<<1 ^ 0x1021
				} else {
					crc <<= 1
				}
			}
			continue
		}
		for i := 0; i < 8; i++ {
			if (uint16(d>>i)^crc)&1 != 0 {
				crc = crc>>1 ^ 0x8408
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// appendCRCA appends CRC_A (low byte first) to b.
func appendCRCA(b []byte) []byte {
	c := crc16(0x6363, false, b)
	return append(b, byte(c), byte(c>>8))
}

// checkCRCA reports whether b ends with a valid CRC_A over the bytes before it.
func checkCRCA(b []byte) bool {
	if len(b) < 3 {
		return false
	}
	c := crc16(0x6363, false, b[:len(b)-2])
	return b[len(b)-2] == byte(c) && b[len(b)-1] == byte(c>>8)
}
