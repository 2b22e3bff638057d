package protocol

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeqBounds: a sequence number above MaxSeq (such as 2^63-1, or 2^63
// and above, which a database's signed integers cannot hold) is refused
// with its own typed error, so that the central counts it and never hands
// it to the store.
func TestSeqBounds(t *testing.T) {
	good, err := Encode(sampleBatch())
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		seq  string
		ok   bool
	}{
		{"max", fmt.Sprint(MaxSeq), true},
		{"max+1", fmt.Sprint(MaxSeq + 1), false},
		{"2^63-1", "9223372036854775807", false},
		{"2^63", "9223372036854775808", false},
		{"2^64-1", "18446744073709551615", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The sample's second event has seq 2: make it the big one.
			in := strings.Replace(string(good), `"seq":2`, `"seq":`+tc.seq, 1)
			_, err := DecodeEventBatch([]byte(in))
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrSeqRange)
			assert.Equal(t, "seq_range", Code(err))
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "events[1].seq", pe.Field)
		})
	}
	_, err = DecodeAck([]byte(`{"v":1,"door":"door-a","through":4294967296,"server_ms":1700000000000}`))
	assert.ErrorIs(t, err, ErrSeqRange, "an ack beyond MaxSeq")
}

// TestStoreIdentity: batches and acks name the door's event stream; an
// empty store is the stream of a door from before store identities.
func TestStoreIdentity(t *testing.T) {
	id := NewStoreID()
	require.NoError(t, ValidStoreID(id))
	assert.NotEqual(t, id, NewStoreID(), "random")

	b := sampleBatch()
	b.Store = id
	enc, err := Encode(b)
	require.NoError(t, err)
	got, err := DecodeEventBatch(enc)
	require.NoError(t, err)
	assert.Equal(t, id, got.Store)

	for _, bad := range []string{"x/y", "#", strings.Repeat("a", MaxStoreIDLen+1), "-a"} {
		b.Store = bad
		enc, err := Encode(b)
		require.NoError(t, err)
		_, err = DecodeEventBatch(enc)
		require.ErrorIs(t, err, ErrInvalid, bad)
		var pe *Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "store", pe.Field)
	}

	ack := &Ack{V: Version, Door: "door-a", Store: id, Through: 7, ServerMs: ms(testNow)}
	enc, err = Encode(ack)
	require.NoError(t, err)
	gotAck, err := DecodeAck(enc)
	require.NoError(t, err)
	assert.Equal(t, ack, gotAck)
	_, err = DecodeAck([]byte(`{"v":1,"door":"door-a","store":"a/b","through":1,"server_ms":1700000000000}`))
	assert.ErrorIs(t, err, ErrInvalid)
}
