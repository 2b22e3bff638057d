package desfire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sessionPair(t *testing.T, ctr uint16) (host, card *Session) {
	t.Helper()
	enc, mac := unhex(t, "1309C877509E5A215007FF0ED19CA564"), unhex(t, "4C6626F5E72EA694202139295C7A7FC7")
	host, err := NewSession(enc, mac, [4]byte{1, 2, 3, 4}, ctr)
	require.NoError(t, err)
	card, err = NewSession(enc, mac, [4]byte{1, 2, 3, 4}, ctr)
	require.NoError(t, err)
	return host, card
}

// Host and card ends agree in every mode, for empty, short and block-sized data.
func TestSessionRoundTrip(t *testing.T) {
	for _, mode := range []CommMode{Plain, MAC, Full} {
		for _, n := range []int{0, 1, 15, 16, 17, 32} {
			host, card := sessionPair(t, 7)
			header := []byte{0x02, 0, 0, 0, byte(n), 0, 0}
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(i + 1)
			}
			payload, err := host.SealCommand(0x8D, header, data, mode)
			require.NoError(t, err)
			h, d, err := card.OpenCommand(0x8D, payload, len(header), mode)
			require.NoError(t, err, "%v %d", mode, n)
			assert.Equal(t, header, h)
			assert.Equal(t, data, append([]byte{}, d...), "%v %d", mode, n)
			resp := card.SealResponse(0x00, data, mode)
			got, err := host.OpenResponse(0x00, resp, mode)
			require.NoError(t, err)
			assert.Equal(t, data, append([]byte{}, got...))
			assert.Equal(t, uint16(8), host.CmdCtr)
			assert.Equal(t, uint16(8), card.CmdCtr)
		}
	}
}

func TestSessionCardRefusals(t *testing.T) {
	host, card := sessionPair(t, 7)
	payload, err := host.SealCommand(0x51, nil, nil, Full)
	require.NoError(t, err)
	card.CmdCtr = 6 // out of step: the MAC cannot match
	_, _, err = card.OpenCommand(0x51, payload, 0, Full)
	assert.ErrorIs(t, err, ErrIntegrity)

	_, _, err = card.OpenCommand(0x51, []byte{1, 2, 3}, 0, MAC)
	assert.ErrorIs(t, err, ErrLength)

	host, card = sessionPair(t, 0xFFFF)
	_, err = host.SealCommand(0x51, nil, nil, MAC)
	assert.ErrorIs(t, err, ErrCounterExhausted)
	host.CmdCtr = 0xFFFE
	payload, err = host.SealCommand(0x51, nil, nil, MAC)
	require.NoError(t, err)
	_, _, err = card.OpenCommand(0x51, payload, 0, MAC)
	assert.ErrorIs(t, err, ErrIntegrity, "a command at CmdCtr FFFFh is refused like a wrong MAC")

	_, err = NewSession(make([]byte, 15), make([]byte, 16), [4]byte{}, 0)
	assert.Error(t, err)
	assert.Equal(t, "full", Full.String())
}
