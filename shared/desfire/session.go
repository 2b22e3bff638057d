package desfire

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"github.com/smartworkcenters/swc/shared/cmac"
)

// KeySize is the length of an AES-128 key, the only key type this package speaks.
const KeySize = 16

// CommMode is how a command's data and its response are protected (NXP's
// CommMode.Plain, CommMode.MAC and CommMode.FULL). Outside an authenticated
// session every command is plain.
type CommMode int

const (
	Plain CommMode = iota // data in clear, no MAC
	MAC                   // data in clear, 8-byte MACt appended
	Full                  // data AES-CBC encrypted (ISO 9797-1 padding 2) then MACt
)

func (m CommMode) String() string {
	switch m {
	case Plain:
		return "plain"
	case MAC:
		return "MAC"
	case Full:
		return "full"
	}
	return fmt.Sprintf("CommMode(%d)", int(m))
}

// Session is the state of EV2 secure messaging after an authentication: the two
// session keys, the transaction identifier TI and the command counter CmdCtr.
// Both ends hold one: the host seals commands and opens responses, the card
// (package desfiresim) opens commands and seals responses. Each command-response
// pair advances CmdCtr by one: SealCommand/OpenCommand use the counter and then
// increment it; OpenResponse/SealResponse use the incremented value.
type Session struct {
	KeyNo   byte    // the key the session was authenticated with
	TI      [4]byte // transaction identifier chosen by the card
	CmdCtr  uint16  // command counter
	PDcap2  [6]byte // the card's capabilities from AuthenticateEV2First
	PCDcap2 [6]byte // the reader's capabilities echoed by the card

	encKey, macKey [KeySize]byte
	enc            cipher.Block
	mac            *cmac.CMAC
}

// NewSession makes a session from its keys (SesAuthENCKey, SesAuthMACKey), TI and counter.
func NewSession(encKey, macKey []byte, ti [4]byte, cmdCtr uint16) (*Session, error) {
	if len(encKey) != KeySize || len(macKey) != KeySize {
		return nil, fmt.Errorf("desfire: session keys must be %d bytes (got %d and %d)", KeySize, len(encKey), len(macKey))
	}
	enc, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("desfire: session ENC key: %w", err)
	}
	mac, err := cmac.New(macKey)
	if err != nil {
		return nil, fmt.Errorf("desfire: session MAC key: %w", err)
	}
	s := &Session{TI: ti, CmdCtr: cmdCtr, enc: enc, mac: mac}
	copy(s.encKey[:], encKey)
	copy(s.macKey[:], macKey)
	return s, nil
}

// Keys returns SesAuthENCKey and SesAuthMACKey.
func (s *Session) Keys() (enc, mac [KeySize]byte) { return s.encKey, s.macKey }

// DeriveSessionKeys computes SesAuthENCKey and SesAuthMACKey from the
// authentication key and the two random numbers (NTAG 424 DNA datasheet §9.1.7,
// AN12196): CMAC(K, label ‖ 00 01 00 80 ‖ RndA[15..14] ‖ (RndA[13..8] ⊕
// RndB[15..10]) ‖ RndB[9..0] ‖ RndA[7..0]), with label A5 5A for ENC and 5A A5
// for MAC (NXP numbers bytes from the right; here index 0 is the first byte sent).
func DeriveSessionKeys(key, rndA, rndB []byte) (enc, mac [KeySize]byte, err error) {
	if len(rndA) != 16 || len(rndB) != 16 {
		return enc, mac, fmt.Errorf("desfire: RndA and RndB must be 16 bytes")
	}
	c, err := cmac.New(key)
	if err != nil {
		return enc, mac, fmt.Errorf("desfire: authentication key: %w", err)
	}
	var sv [32]byte
	copy(sv[2:6], []byte{0x00, 0x01, 0x00, 0x80})
	copy(sv[6:8], rndA[0:2])
	for i := 0; i < 6; i++ {
		sv[8+i] = rndA[2+i] ^ rndB[i]
	}
	copy(sv[14:24], rndB[6:16])
	copy(sv[24:32], rndA[8:16])
	sv[0], sv[1] = 0xA5, 0x5A
	enc = c.Sum(sv[:])
	sv[0], sv[1] = 0x5A, 0xA5
	mac = c.Sum(sv[:])
	return enc, mac, nil
}

// iv computes the IV of a command (label A5 5A) or response (5A A5):
// E(SesAuthENCKey, label ‖ TI ‖ CmdCtr(LE) ‖ 0^8).
func (s *Session) iv(l0, l1 byte) [16]byte {
	var b [16]byte
	b[0], b[1] = l0, l1
	copy(b[2:6], s.TI[:])
	binary.LittleEndian.PutUint16(b[6:8], s.CmdCtr)
	s.enc.Encrypt(b[:], b[:])
	return b
}

// pad appends ISO 9797-1 padding method 2 (0x80 then zeros), always at least one byte.
func pad(data []byte) []byte {
	n := (len(data)/aes.BlockSize + 1) * aes.BlockSize
	out := make([]byte, n)
	copy(out, data)
	out[len(data)] = 0x80
	return out
}

// unpad removes ISO 9797-1 padding method 2.
func unpad(data []byte) ([]byte, error) {
	for i := len(data) - 1; i >= 0 && i >= len(data)-aes.BlockSize; i-- {
		switch data[i] {
		case 0x80:
			return data[:i], nil
		case 0x00:
			continue
		}
		break
	}
	return nil, fmt.Errorf("%w: bad padding", ErrMalformed)
}

func (s *Session) encrypt(iv [16]byte, plain []byte) []byte {
	out := pad(plain)
	cipher.NewCBCEncrypter(s.enc, iv[:]).CryptBlocks(out, out)
	return out
}

func (s *Session) decrypt(iv [16]byte, ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: encrypted data of %d bytes", ErrMalformed, len(ct))
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(s.enc, iv[:]).CryptBlocks(out, ct)
	return unpad(out)
}

func (s *Session) macT(first byte, header, data []byte) [cmac.TruncatedSize]byte {
	var pre [7]byte
	pre[0] = first
	binary.LittleEndian.PutUint16(pre[1:3], s.CmdCtr)
	copy(pre[3:7], s.TI[:])
	return s.mac.SumTruncated(pre[:], header, data)
}

// SealCommand protects a native command's header and data for mode and returns
// the bytes that follow the command code (header ‖ data or E(data) ‖ MACt).
// The header (file number, offsets, key number...) is never encrypted. It then
// advances CmdCtr.
func (s *Session) SealCommand(cmd byte, header, data []byte, mode CommMode) ([]byte, error) {
	if s.CmdCtr == 0xFFFF {
		return nil, ErrCounterExhausted
	}
	out := make([]byte, 0, len(header)+len(data)+aes.BlockSize+cmac.TruncatedSize)
	out = append(out, header...)
	switch mode {
	case Plain:
		out = append(out, data...)
	case MAC, Full:
		body := data
		if mode == Full && len(data) > 0 {
			body = s.encrypt(s.iv(0xA5, 0x5A), data)
		}
		out = append(out, body...)
		m := s.macT(cmd, header, body)
		out = append(out, m[:]...)
	default:
		return nil, fmt.Errorf("desfire: unknown %v", mode)
	}
	s.CmdCtr++
	return out, nil
}

// OpenResponse checks and removes the protection of a successful response's
// data (status byte sc, usually 0x00) for mode, with the already advanced CmdCtr.
func (s *Session) OpenResponse(sc byte, body []byte, mode CommMode) ([]byte, error) {
	switch mode {
	case Plain:
		return body, nil
	case MAC, Full:
	default:
		return nil, fmt.Errorf("desfire: unknown %v", mode)
	}
	if len(body) < cmac.TruncatedSize {
		return nil, fmt.Errorf("%w: response of %d bytes has no MAC", ErrMalformed, len(body))
	}
	data, got := body[:len(body)-cmac.TruncatedSize], body[len(body)-cmac.TruncatedSize:]
	want := s.macT(sc, nil, data)
	if !cmac.Equal(got, want[:]) {
		return nil, ErrResponseMAC
	}
	if mode == MAC || len(data) == 0 {
		return data, nil
	}
	return s.decrypt(s.iv(0x5A, 0xA5), data)
}

// OpenCommand is the card's side of SealCommand: it checks the MAC of the bytes
// after the command code, splits off the first headerLen bytes, decrypts the
// rest in Full mode, and advances CmdCtr. A wrong MAC or padding, or a counter
// at FFFFh, is ErrIntegrity.
func (s *Session) OpenCommand(cmd byte, payload []byte, headerLen int, mode CommMode) (header, data []byte, err error) {
	if len(payload) < headerLen {
		return nil, nil, ErrLength
	}
	if s.CmdCtr == 0xFFFF { // "handled like the MAC was wrong" (NT4H2421Gx §9.1.2)
		return nil, nil, ErrIntegrity
	}
	header, body := payload[:headerLen], payload[headerLen:]
	switch mode {
	case Plain:
		s.CmdCtr++
		return header, body, nil
	case MAC, Full:
	default:
		return nil, nil, fmt.Errorf("desfire: unknown %v", mode)
	}
	if len(body) < cmac.TruncatedSize {
		return nil, nil, ErrLength
	}
	body, got := body[:len(body)-cmac.TruncatedSize], body[len(body)-cmac.TruncatedSize:]
	want := s.macT(cmd, header, body)
	if !cmac.Equal(got, want[:]) {
		return nil, nil, ErrIntegrity
	}
	data = body
	if mode == Full && len(body) > 0 {
		if data, err = s.decrypt(s.iv(0xA5, 0x5A), body); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrIntegrity, err)
		}
	}
	s.CmdCtr++
	return header, data, nil
}

// SealResponse is the card's side of OpenResponse: it protects a successful
// response's data with the advanced CmdCtr and returns data' ‖ MACt.
func (s *Session) SealResponse(sc byte, data []byte, mode CommMode) []byte {
	if mode == Plain {
		return data
	}
	body := data
	if mode == Full && len(data) > 0 {
		body = s.encrypt(s.iv(0x5A, 0xA5), data)
	}
	m := s.macT(sc, nil, body)
	out := make([]byte, 0, len(body)+len(m))
	return append(append(out, body...), m[:]...)
}
