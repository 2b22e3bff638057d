package desfire

import (
	"encoding/binary"
	"fmt"
)

// NativeCLA is the class byte of DESFire native commands wrapped in ISO 7816-4 APDUs.
const NativeCLA = 0x90

// Native command codes this package sends (and desfiresim answers).
const (
	CmdAuthenticateEV2First    = 0x71
	CmdAuthenticateEV2NonFirst = 0x77
	CmdAdditionalFrame         = 0xAF
	CmdGetVersion              = 0x60
	CmdGetCardUID              = 0x51
	CmdSelectApplication       = 0x5A
	CmdCreateApplication       = 0xCA
	CmdGetKeySettings          = 0x45
	CmdChangeKeySettings       = 0x54
	CmdChangeKey               = 0xC4
	CmdGetKeyVersion           = 0x64
	CmdGetFileSettings         = 0xF5
	CmdChangeFileSettings      = 0x5F
	CmdGetFileCounters         = 0xF6
	CmdReadData                = 0xAD
	CmdWriteData               = 0x8D
	CmdCreateStdDataFile       = 0xCD
	ISOSelectFile              = 0xA4 // INS of ISO SELECT (CLA 00)
)

// NTAG424DFName is the ISO DF name of the NTAG 424 DNA application.
var NTAG424DFName = [7]byte{0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01}

// WrapNative returns the ISO 7816-4 short APDU of a native command:
// 90 cmd 00 00 Lc data 00, or 90 cmd 00 00 00 without data.
func WrapNative(cmd byte, data []byte) ([]byte, error) {
	if len(data) > 255 {
		return nil, fmt.Errorf("desfire: command %02X: %d bytes do not fit a short APDU", cmd, len(data))
	}
	if len(data) == 0 {
		return []byte{NativeCLA, cmd, 0, 0, 0}, nil
	}
	apdu := make([]byte, 0, 6+len(data))
	apdu = append(apdu, NativeCLA, cmd, 0, 0, byte(len(data)))
	apdu = append(apdu, data...)
	return append(apdu, 0), nil
}

// ParseAPDU splits a short command APDU into its header and data, for the card
// side: CLA INS P1 P2 [Lc data] [Le].
func ParseAPDU(apdu []byte) (cla, ins, p1, p2 byte, data []byte, err error) {
	if len(apdu) < 4 {
		return 0, 0, 0, 0, nil, fmt.Errorf("%w: APDU of %d bytes", ErrMalformed, len(apdu))
	}
	cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
	switch {
	case len(apdu) <= 5: // case 1 or 2: no data
		return cla, ins, p1, p2, nil, nil
	case len(apdu) == 5+int(apdu[4]) || len(apdu) == 6+int(apdu[4]):
		return cla, ins, p1, p2, apdu[5 : 5+int(apdu[4])], nil
	}
	return 0, 0, 0, 0, nil, fmt.Errorf("%w: APDU of %d bytes with Lc %d", ErrMalformed, len(apdu), apdu[4])
}

// SplitResponse splits a response APDU into its data and status word.
func SplitResponse(resp []byte) ([]byte, uint16, error) {
	if len(resp) < 2 {
		return nil, 0, fmt.Errorf("%w: response of %d bytes", ErrMalformed, len(resp))
	}
	n := len(resp) - 2
	return resp[:n], binary.BigEndian.Uint16(resp[n:]), nil
}

// Response appends a status word to data: the card side of SplitResponse.
func Response(data []byte, sw uint16) []byte {
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return binary.BigEndian.AppendUint16(out, sw)
}

// le24 encodes the 3-byte little-endian offsets and lengths of file commands.
func le24(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }

// LE24 decodes a 3-byte little-endian value.
func LE24(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }
