package desfire

import (
	"bytes"
	"context"
	"testing"
)

// chunks answers each APDU with the next part of the fuzz input.
type chunks struct{ parts [][]byte }

func (c *chunks) Transceive(_ context.Context, _ []byte) ([]byte, error) {
	if len(c.parts) == 0 {
		return []byte{0x91, 0xCA}, nil
	}
	p := c.parts[0]
	c.parts = c.parts[1:]
	return p, nil
}

// FuzzCardAnswers feeds arbitrary card answers (split on 0xFF 0xFF) to the
// host: authentication, then the door's and the station's commands. Nothing
// may panic, and a session survives only a correct authentication.
func FuzzCardAnswers(f *testing.F) {
	f.Add([]byte{0xA0, 0x4C, 0x12, 0x42, 0x13, 0xC1, 0x86, 0xF2, 0x23, 0x99, 0xD3, 0x3A, 0xC2, 0xA3, 0x02, 0x15, 0x91, 0xAF, 0xFF, 0xFF, 0x91, 0x00})
	f.Add([]byte{0x91, 0xAE})
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		tr := &chunks{parts: bytes.Split(data, []byte{0xFF, 0xFF})}
		card := New(tr, bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
		if err := card.AuthenticateEV2First(ctx, 1, make([]byte, 16)); err == nil && card.Session() == nil {
			t.Fatal("authenticated without a session")
		}
		_, _ = card.GetCardUID(ctx)
		_, _ = card.GetVersion(ctx)
		_, _ = card.ReadData(ctx, 2, 0, 16, Full)
		_, _ = card.GetFileCounters(ctx, 2)
		_ = card.ChangeKey(ctx, 2, make([]byte, 16), make([]byte, 16), 1)
		_, _ = card.GetKeySettings(ctx)
		_ = card.SelectNTAG424Application(ctx)
	})
}
