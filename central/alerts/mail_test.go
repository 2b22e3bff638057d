package alerts_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/domain"
)

// TestStaffRecipients: a center's alerts go to its active staff and the
// network's with an e-mail address, never to another center's staff;
// alerts of no center to the network's staff; each address once.
func TestStaffRecipients(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t, b.location(t))
			seed(t, st)
			for _, m := range []domain.Member{
				{ID: "ann", Name: "Ann", Email: "ann@c1.example", Status: domain.MemberActive},
				{ID: "bob", Name: "Bob", Email: "bob@c2.example", Status: domain.MemberActive},
				{ID: "net", Name: "Net", Email: "ops@network.example", Status: domain.MemberActive},
				{ID: "nomail", Name: "No mail", Status: domain.MemberActive},
				{ID: "gone", Name: "Suspended", Email: "gone@c1.example", Status: domain.MemberSuspended},
				{ID: "member", Name: "Not staff", Email: "member@c1.example", Status: domain.MemberActive},
			} {
				require.NoError(t, st.CreateMember(ctx, m))
			}
			for _, s := range []domain.Staff{{MemberID: "ann", CenterID: "c1"}, {MemberID: "bob", CenterID: "c2"}, {MemberID: "net"},
				{MemberID: "nomail", CenterID: "c1"}, {MemberID: "gone", CenterID: "c1"}, {MemberID: "net", CenterID: "c1"}} {
				require.NoError(t, st.AddStaff(ctx, s))
			}
			to := alerts.StaffRecipients(st)
			for center, want := range map[string][]string{
				"c1": {"ann@c1.example", "ops@network.example"},
				"c2": {"bob@c2.example", "ops@network.example"},
				"":   {"ops@network.example"},
			} {
				got, err := to(ctx, center)
				require.NoError(t, err)
				require.Equal(t, want, got, "center %q", center)
			}
		})
	}
}
