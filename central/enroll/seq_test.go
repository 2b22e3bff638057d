package enroll_test

import (
	"database/sql"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestEnrollWhateverTheCentralHolds: whatever numbers the central holds
// for a door (written before seqs were bounded, such as a forged 2^63-1),
// enrollment answers a valid NextSeq (within 1..protocol.MaxSeq) instead
// of failing after the token is spent.
func TestEnrollWhateverTheCentralHolds(t *testing.T) {
	for _, held := range []uint64{7, protocol.MaxSeq - 1, protocol.MaxSeq, 1 << 62, math.MaxInt64} {
		t.Run(fmt.Sprint(held), func(t *testing.T) {
			f := newFixture(t)
			db, err := sql.Open("sqlite", f.path+"?_busy_timeout=5000")
			require.NoError(t, err)
			defer db.Close()
			_, err = db.Exec(`INSERT INTO event_streams (door, store, slot, through_seq, max_seq) VALUES ('door-a', '', 0, ?, ?)`, int64(held), int64(held))
			require.NoError(t, err)

			tok := f.token("door-a", time.Hour)
			_, csr := doorKey(t)
			e, err := f.svc.Enroll(f.ctx, &protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: csr})
			require.NoError(t, err)
			require.NoError(t, e.Validate())
			assert.Equal(t, min(held+1, protocol.MaxSeq), e.NextSeq)
		})
	}
}
