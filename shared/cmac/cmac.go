// Package cmac is AES-CMAC (RFC 4493, NIST SP 800-38B) on crypto/aes, with the
// 8-byte truncation ("MACt") that NXP's DESFire EV2/EV3 and NTAG 424 DNA put on
// the wire, and a constant-time comparison for checking received MACs.
package cmac

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
)

// Size is the length of a full CMAC, one AES block.
const Size = aes.BlockSize

// TruncatedSize is the length of MACt, the truncated MAC of NXP secure messaging.
const TruncatedSize = 8

// CMAC computes AES-CMAC under one key. It holds the expanded key and the two
// subkeys, so one value serves many messages; it is safe for concurrent use
// because Sum keeps its state on the stack.
type CMAC struct {
	block  cipher.Block
	k1, k2 [Size]byte
}

// New returns the CMAC of an AES key (16, 24 or 32 bytes).
func New(key []byte) (*CMAC, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("cmac: key: %w", err)
	}
	c := &CMAC{block: block}
	var l [Size]byte
	block.Encrypt(l[:], l[:])
	c.k1 = double(l)
	c.k2 = double(c.k1)
	return c, nil
}

// Subkeys returns K1 and K2 (RFC 4493 §2.3), for tests against published values.
func (c *CMAC) Subkeys() (k1, k2 [Size]byte) { return c.k1, c.k2 }

// double is the multiplication by x in GF(2^128) of RFC 4493's subkey generation,
// written without a data-dependent branch.
func double(in [Size]byte) [Size]byte {
	var out [Size]byte
	msb := in[0] >> 7
	for i := 0; i < Size-1; i++ {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[Size-1] = in[Size-1]<<1 ^ (0x87 & -msb)
	return out
}

// Sum returns the CMAC of the concatenation of parts (the parts are not copied
// together, so a caller can MAC header, counter and data without allocating).
func (c *CMAC) Sum(parts ...[]byte) [Size]byte {
	var x, buf [Size]byte // x: chaining value; buf: the pending block
	n := 0                // bytes in buf
	for _, p := range parts {
		for len(p) > 0 {
			if n == Size {
				// buf is full and more data follows: it is not the last block.
				subtle.XORBytes(x[:], x[:], buf[:])
				c.block.Encrypt(x[:], x[:])
				n = 0
			}
			k := copy(buf[n:], p)
			n += k
			p = p[k:]
		}
	}
	if n == Size {
		subtle.XORBytes(buf[:], buf[:], c.k1[:])
	} else {
		buf[n] = 0x80
		clear(buf[n+1:])
		subtle.XORBytes(buf[:], buf[:], c.k2[:])
	}
	subtle.XORBytes(x[:], x[:], buf[:])
	c.block.Encrypt(x[:], x[:])
	return x
}

// Truncate returns MACt: the bytes of the CMAC at odd indices (S1, S3, ... S15),
// which NXP's documents call "the even-numbered bytes" counting from 1 (AN12196).
func Truncate(mac [Size]byte) [TruncatedSize]byte {
	var t [TruncatedSize]byte
	for i := range t {
		t[i] = mac[2*i+1]
	}
	return t
}

// SumTruncated is Truncate(c.Sum(parts...)).
func (c *CMAC) SumTruncated(parts ...[]byte) [TruncatedSize]byte {
	return Truncate(c.Sum(parts...))
}

// Equal reports whether two MACs are equal, in time that does not depend on
// where they differ.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
