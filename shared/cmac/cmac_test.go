package cmac

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// RFC 4493 §4: AES-128 key, subkeys and the four examples.
const rfcKey = "2b7e1516 28aed2a6 abf71588 09cf4f3c"

const rfcMessage = "6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51" +
	"30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710"

func TestSubkeysRFC4493(t *testing.T) {
	c, err := New(unhex(t, rfcKey))
	require.NoError(t, err)
	k1, k2 := c.Subkeys()
	assert.Equal(t, unhex(t, "fbeed618 35713366 7c85e08f 7236a8de"), k1[:])
	assert.Equal(t, unhex(t, "f7ddac30 6ae266cc f90bc11e e46d513b"), k2[:])
}

func TestSumRFC4493(t *testing.T) {
	c, err := New(unhex(t, rfcKey))
	require.NoError(t, err)
	msg := unhex(t, rfcMessage)
	for _, tc := range []struct {
		name string
		len  int
		want string
	}{
		{"example 1: empty", 0, "bb1d6929 e9593728 7fa37d12 9b756746"},
		{"example 2: 16 bytes", 16, "070a16b4 6b4d4144 f79bdd9d d04a287c"},
		{"example 3: 40 bytes", 40, "dfa66747 de9ae630 30ca3261 1497c827"},
		{"example 4: 64 bytes", 64, "51f0bebf 7e3b9d92 fc497417 79363cfe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.want)
			got := c.Sum(msg[:tc.len])
			assert.Equal(t, want, got[:])
			// The same message cut into parts at every position gives the same MAC.
			for cut := 0; cut <= tc.len; cut++ {
				got := c.Sum(msg[:cut], nil, msg[cut:tc.len])
				require.Equal(t, want, got[:], "cut at %d", cut)
			}
		})
	}
}

// AN12196 rev. 2.0 Table 26 (rev. 1.8 Table 27, ChangeKey of key 0): CMAC B7A60161F202EC3489BD4BEDEF64BB32 under
// KSesAuthMACKey 5529860B2FC5FB6154B7F28361D30BF9 over Cmd‖CmdCtr‖TI‖KeyNo‖E(data),
// truncated to A6610234BDED6432.
func TestTruncatedAN12196(t *testing.T) {
	c, err := New(unhex(t, "5529860B2FC5FB6154B7F28361D30BF9"))
	require.NoError(t, err)
	input := unhex(t, "C4 0300 7614281A 00 C0EB4DEEFEDDF0B513A03A95A75491818580503190D4D05053FF75668A01D6FD")
	full := c.Sum(input)
	assert.Equal(t, unhex(t, "B7A60161F202EC3489BD4BEDEF64BB32"), full[:])
	trunc := c.SumTruncated(input[:5], input[5:])
	assert.Equal(t, unhex(t, "A6610234BDED6432"), trunc[:])
}

func TestNewRejectsBadKey(t *testing.T) {
	_, err := New(make([]byte, 15))
	assert.Error(t, err)
}

func TestEqual(t *testing.T) {
	assert.True(t, Equal([]byte{1, 2, 3}, []byte{1, 2, 3}))
	assert.False(t, Equal([]byte{1, 2, 3}, []byte{1, 2, 4}))
	assert.False(t, Equal([]byte{1, 2, 3}, []byte{1, 2}))
}

func BenchmarkSum(b *testing.B) {
	c, err := New(unhex(b, rfcKey))
	require.NoError(b, err)
	for _, n := range []int{16, 40, 64} {
		msg := make([]byte, n)
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				c.Sum(msg)
			}
		})
	}
}
