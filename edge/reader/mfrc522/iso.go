package mfrc522

import "time"

// carrier is the ISO 14443 carrier frequency, fc.
const carrier = 13.56e6

// carrierTime converts carrier periods into a duration.
func carrierTime(n int) time.Duration { return time.Duration(float64(n) * 1e9 / carrier) }

// etus is n elementary time units of 128/fc (about 9.44 µs): one bit at
// 106 kbit/s.
func etus(n int) time.Duration { return carrierTime(128 * n) }

// pcdTime is the air time of a frame of n data bits sent by the reader:
// start, data, a parity bit per whole byte, end.
func pcdTime(n int) time.Duration { return etus(2 + n + n/8) }

// piccTime is the air time of a card's answer of n bits that completes a
// byte begun at bit align.
func piccTime(n, align int) time.Duration { return etus(2 + n + (align+n)/8) }

// frameDelay is the longest ISO 14443-3 frame delay time from reader to card
// for the commands the driver sends: (9·128 + 84)/fc.
func frameDelay() time.Duration { return carrierTime(9*128 + 84) }

// timerTimeout is how long the chip timer runs before TimerIRq:
// (TReload+1)·(2·TPrescaler+1)/fc.
func timerTimeout() time.Duration {
	return carrierTime((timerReload + 1) * (2*timerPrescaler + 1))
}

// crcA computes ISO 14443-3's CRC_A (CRC-CCITT, reflected, preset 6363h) in
// software: cheaper than a round trip to the chip's coprocessor.
func crcA(data []byte) uint16 {
	crc := uint16(0x6363)
	for _, b := range data {
		crc ^= uint16(b)
		for i := 0; i < 8; i++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x8408
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// appendCRCA appends CRC_A, low byte first as it is sent.
func appendCRCA(b []byte) []byte {
	c := crcA(b)
	return append(b, byte(c), byte(c>>8))
}

// validCRCA reports whether the last two bytes of b are the CRC_A of the rest.
func validCRCA(b []byte) bool {
	if len(b) < 3 {
		return false
	}
	c := crcA(b[:len(b)-2])
	return b[len(b)-2] == byte(c) && b[len(b)-1] == byte(c>>8)
}

// bcc is the block check character of a cascade level: XOR of its 4 bytes.
func bcc(b []byte) byte { return b[0] ^ b[1] ^ b[2] ^ b[3] }
