package desfire

import (
	"testing"

	"github.com/smartworkcenters/swc/shared/cmac"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AN10922 §2.2.1 (AES-128), as quoted by libfreefare's
// test/test_mifare_key_deriver_an10922.c: master key 00112233445566778899AABBCCDDEEFF,
// M = UID 04782E21801D80 ‖ AID 3042F5 ‖ "NXP Abu", diversified key A8DD63A3B89D54B37CA802473FDA9175.
func TestDiversifyAES128AN10922(t *testing.T) {
	master := unhex(t, "00112233445566778899AABBCCDDEEFF")
	input := append(unhex(t, "04782E21801D80 3042F5"), "NXP Abu"...)
	assert.Equal(t, unhex(t, "01 04782E21801D80 3042F5 4E585020416275"), append([]byte{0x01}, input...), "M of the note")
	got, err := DiversifyAES128(master, input)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "A8DD63A3B89D54B37CA802473FDA9175"), got[:])
}

// Where 0x01 ‖ M is longer than one block, AN10922's padding to 32 bytes is
// CMAC's own, so the two must agree; for shorter inputs AN10922 pads to 32 bytes
// where CMAC pads to 16, so they must differ.
func TestDiversifyAES128PaddingRule(t *testing.T) {
	master := unhex(t, "00112233445566778899AABBCCDDEEFF")
	c, err := cmac.New(master)
	require.NoError(t, err)
	for n := 1; n <= 31; n++ {
		input := make([]byte, n)
		for i := range input {
			input[i] = byte(i*7 + n)
		}
		got, err := DiversifyAES128(master, input)
		require.NoError(t, err)
		plain := c.Sum([]byte{0x01}, input)
		if n >= 16 {
			assert.Equal(t, plain, got, "input of %d bytes", n)
		} else {
			assert.NotEqual(t, plain, got, "input of %d bytes", n)
		}
	}
	_, err = DiversifyAES128(master, nil)
	assert.Error(t, err)
	_, err = DiversifyAES128(master, make([]byte, 32))
	assert.Error(t, err)
	_, err = DiversifyAES128(master[:8], []byte{1})
	assert.Error(t, err)
}

func TestCardKeySeparatesCardsAndKeys(t *testing.T) {
	master := unhex(t, "00112233445566778899AABBCCDDEEFF")
	uid7 := unhex(t, "04782E21801D80")
	aid := [3]byte{0x53, 0x57, 0x43}
	k1, err := CardKey(master, uid7, aid, 1)
	require.NoError(t, err)
	input := append(append(append(append([]byte{}, uid7...), aid[:]...), 1), "SWC"...)
	want, err := DiversifyAES128(master, input)
	require.NoError(t, err)
	assert.Equal(t, want, k1, "UID ‖ AID ‖ keyNo ‖ SWC")
	k0, err := CardKey(master, uid7, aid, 0)
	require.NoError(t, err)
	assert.NotEqual(t, k0, k1, "door key and application master key differ")
	other, err := CardKey(master, unhex(t, "04782E21801D81"), aid, 1)
	require.NoError(t, err)
	assert.NotEqual(t, k1, other, "two cards differ")
	_, err = CardKey(master, uid7[:5], aid, 1)
	assert.Error(t, err)
	k4, err := CardKey(master, uid7[:4], aid, 1)
	require.NoError(t, err)
	assert.NotEqual(t, k1, k4)
}
