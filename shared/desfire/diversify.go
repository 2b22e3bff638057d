package desfire

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"

	"github.com/smartworkcenters/swc/shared/cmac"
)

// SystemIdentifier is the system identifier of the network's diversification
// input (AN10922 lets a system add its own bytes to UID and AID).
const SystemIdentifier = "SWC"

// NTAG424DiversificationAID stands for the NTAG 424 DNA application in the
// diversification input: that application has no DESFire AID, so the last three
// bytes of its DF name (85 01 01) are used.
var NTAG424DiversificationAID = [3]byte{0x85, 0x01, 0x01}

// NetworkDESFireAID is the AID of the network's application on DESFire
// EV2/EV3 badges ("SWC"), which is also its diversification AID.
var NetworkDESFireAID = [3]byte{0x53, 0x57, 0x43}

// DiversifyAES128 derives a card key from a master key with NXP AN10922 §2.2
// (AES-128): the CMAC of D = 0x01 ‖ M, where D is always padded to 32 bytes
// (0x80 then zeros, last block XORed with K2) or, when 0x01 ‖ M is exactly 32
// bytes, left as is with K1. M (the diversification input) is 1 to 31 bytes.
func DiversifyAES128(master, input []byte) ([KeySize]byte, error) {
	var out [KeySize]byte
	if len(master) != KeySize {
		return out, fmt.Errorf("desfire: diversification master key must be %d bytes, got %d", KeySize, len(master))
	}
	if len(input) < 1 || len(input) > 31 {
		return out, fmt.Errorf("desfire: diversification input of %d bytes (1 to 31)", len(input))
	}
	c, err := cmac.New(master)
	if err != nil {
		return out, err
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return out, err
	}
	k1, k2 := c.Subkeys()
	var d [32]byte
	d[0] = 0x01
	copy(d[1:], input)
	if n := 1 + len(input); n < 32 {
		d[n] = 0x80
		subtle.XORBytes(d[16:], d[16:], k2[:])
	} else {
		subtle.XORBytes(d[16:], d[16:], k1[:])
	}
	var iv [16]byte
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(d[:], d[:])
	copy(out[:], d[16:])
	return out, nil
}

// CardKey derives key keyNo of one card from the network's card master key
// (of one key version): DiversifyAES128(master, UID ‖ AID ‖ keyNo ‖ "SWC").
// The key number in the input makes the door key and the application master
// key of a card unrelated to each other (see the package's key custody notes).
func CardKey(master, uid []byte, aid [3]byte, keyNo byte) ([KeySize]byte, error) {
	if len(uid) != 4 && len(uid) != 7 && len(uid) != 10 {
		return [KeySize]byte{}, fmt.Errorf("desfire: card key: UID of %d bytes", len(uid))
	}
	input := make([]byte, 0, 31)
	input = append(input, uid...)
	input = append(input, aid[:]...)
	input = append(input, keyNo)
	input = append(input, SystemIdentifier...)
	return DiversifyAES128(master, input)
}
