package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The billing's storage (store.BillingStore).

func billingPeriod(s string) credit.Period {
	p, err := credit.ParsePeriod(s)
	if err != nil {
		panic(err)
	}
	return p
}

func memberDetails(id, name string) billing.Details {
	return billing.Details{Kind: billing.PartyMember, ID: id, Name: name, Street: "Rue Haute 5", PostalCode: "4000",
		City: "Liège", Country: "BE", Email: id + "@example.org", Private: true}
}

// billingDraft is a valid draft of the standard sample, for subject and
// issuer, issued in 2026.
func billingDraft(issuer, subject string, p credit.Period) billing.Draft {
	d := invoicetest.Samples()[0].Doc
	return billing.Draft{Issuer: issuer, Period: p, Subject: subject, Purpose: billing.PurposeInvoice, MemberID: subject, Doc: d}
}

func finishAt(ms int64) func(billing.Draft, int64) (billing.Issued, error) {
	return func(d billing.Draft, seq int64) (billing.Issued, error) { return billing.Finish(d, seq, ms) }
}

func auditAddPrice(ctx context.Context, s store.Store) error {
	return s.Billing().AddPrice(ctx, billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: billingPeriod("2026-01"), Cents: 800})
}

func auditSetDetails(ctx context.Context, s store.Store) error {
	return s.Billing().SetDetails(ctx, memberDetails("m1", "Ann Example"))
}

func auditIssueDocuments(ctx context.Context, s store.Store) error {
	_, err := s.Billing().IssueDocuments(ctx, []billing.Draft{billingDraft(billing.CooperativeID, "m1", billingPeriod("2026-02"))}, finishAt(base().UnixMilli()))
	return err
}

// testBillingPrices: versions are added, listed in order, validated, refer
// to existing centers and rooms, and none starts in an invoiced period.
func testBillingPrices(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	bs := s.Billing()
	jan, mar := billingPeriod("2026-01"), billingPeriod("2026-03")
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: mar, Cents: 900}))
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: jan, Cents: 800}))
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceCenterHour, CenterID: "c1", ValidFrom: jan, Cents: 700, VATRate: 600}))
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: jan, Cents: 2500}))
	for _, c := range []struct {
		name  string
		p     billing.Price
		kind  error
		field string
	}{
		{"invalid kind", billing.Price{Kind: "x", ValidFrom: jan}, domain.ErrValidation, "kind"},
		{"negative", billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: billingPeriod("2026-05"), Cents: -1}, domain.ErrValidation, "cents"},
		{"same version", billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: jan, Cents: 1}, store.ErrExists, "valid_from"},
		{"missing center", billing.Price{Kind: billing.PriceCenterHour, CenterID: "zz", ValidFrom: jan}, store.ErrMissingRef, "center_id"},
		{"room of another center", billing.Price{Kind: billing.PriceRoomHour, CenterID: "c2", RoomID: "r1", ValidFrom: jan}, store.ErrMissingRef, "room_id"},
	} {
		requireKind(t, bs.AddPrice(ctx, c.p), c.kind, c.field)
	}
	ps, err := bs.Prices(ctx)
	require.NoError(t, err)
	require.Len(t, ps, 4)
	got, ok := ps.At(billing.PriceNomadicHour, "", "", billingPeriod("2026-02"))
	require.True(t, ok)
	require.Equal(t, int64(800), got.Cents)
	got, _ = ps.At(billing.PriceCenterHour, "c1", "", mar)
	require.Equal(t, int64(600), int64(got.VATRate))

	_, err = bs.IssueDocuments(ctx, []billing.Draft{billingDraft(billing.CooperativeID, "n1", mar)}, finishAt(base().UnixMilli()))
	require.NoError(t, err)
	requireKind(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: mar, Cents: 1}), store.ErrStale, "valid_from")
	requireKind(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: billingPeriod("2026-02"), Cents: 1}), store.ErrStale, "valid_from")
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceNomadicHour, ValidFrom: billingPeriod("2026-04"), Cents: 1000}))
}

// testBillingDetails: details are created, replaced, read back, validated
// and refer to existing parties.
func testBillingDetails(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	bs := s.Billing()
	d := memberDetails("m1", "Ann")
	require.NoError(t, bs.SetDetails(ctx, d))
	d.Name = "Ann Example"
	require.NoError(t, bs.SetDetails(ctx, d))
	got, err := bs.Details(ctx, billing.PartyMember, "m1")
	require.NoError(t, err)
	require.Equal(t, "Ann Example", got.Name)
	require.NotZero(t, got.UpdatedMs)
	_, err = bs.Details(ctx, billing.PartyMember, "m2")
	requireKind(t, err, store.ErrNotFound, "")

	bad := d
	bad.Country = "Belgium"
	requireKind(t, bs.SetDetails(ctx, bad), domain.ErrValidation, "country")
	requireKind(t, bs.SetDetails(ctx, memberDetails("zz", "Nobody")), store.ErrMissingRef, "id")
	c := billing.Details{Kind: billing.PartyCenter, ID: "zz", Name: "Centre", Country: "BE", Email: "c@example.org",
		EnterpriseNumber: "0202239951", IBAN: "BE68539007547034"}
	requireKind(t, bs.SetDetails(ctx, c), store.ErrMissingRef, "id")
	c.ID = "c1"
	require.NoError(t, bs.SetDetails(ctx, c))
	all, err := bs.AllDetails(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, billing.PartyCenter, all[0].Kind)
}

// testBillingIssue: documents are numbered 1, 2, ... per issuer and year,
// stored byte for byte, issued once per (period, subject, purpose); a
// failed issue takes no number.
func testBillingIssue(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	bs := s.Billing()
	feb := billingPeriod("2026-02")
	got, err := bs.IssueDocuments(ctx, []billing.Draft{
		billingDraft(billing.CooperativeID, "n1", feb), billingDraft("c1", "m1", feb), billingDraft(billing.CooperativeID, "n2", feb),
	}, finishAt(base().UnixMilli()))
	require.NoError(t, err)
	require.Equal(t, []string{"SWC-2026-000001", "C1-2026-000001", "SWC-2026-000002"}, []string{got[0].Number, got[1].Number, got[2].Number})

	_, err = bs.IssueDocuments(ctx, []billing.Draft{billingDraft(billing.CooperativeID, "n3", feb), billingDraft(billing.CooperativeID, "n1", feb)}, finishAt(0))
	requireKind(t, err, store.ErrExists, "purpose")
	boom := errors.New("render failed")
	_, err = bs.IssueDocuments(ctx, []billing.Draft{billingDraft(billing.CooperativeID, "n3", feb)}, func(billing.Draft, int64) (billing.Issued, error) { return billing.Issued{}, boom })
	require.ErrorIs(t, err, boom)
	next, err := bs.IssueDocuments(ctx, []billing.Draft{billingDraft(billing.CooperativeID, "n3", feb)}, finishAt(0))
	require.NoError(t, err)
	require.Equal(t, "SWC-2026-000003", next[0].Number, "the failed issues took no number")

	docs, err := bs.Documents(ctx, billing.DocumentFilter{Issuer: billing.CooperativeID})
	require.NoError(t, err)
	require.Len(t, docs, 3)
	one, err := bs.Document(ctx, billing.CooperativeID, "SWC-2026-000001")
	require.NoError(t, err)
	require.Equal(t, got[0].Model, one.Model)
	require.Equal(t, got[0].UBL, one.UBL)
	require.Equal(t, got[0].Digest, one.Digest)
	require.Equal(t, "SWC-2026-000001", one.Doc.Number)
	mine, err := bs.Documents(ctx, billing.DocumentFilter{Involving: "c1"})
	require.NoError(t, err)
	require.Len(t, mine, 1)
	none, err := bs.Documents(ctx, billing.DocumentFilter{Corrects: "SWC-2026-000001"})
	require.NoError(t, err)
	require.Empty(t, none)
	_, err = bs.Document(ctx, billing.CooperativeID, "SWC-2026-000009")
	requireKind(t, err, store.ErrNotFound, "")
}

// testBillingIssueConcurrent: issues racing on two issuers, each issue
// numbering documents of both in an order of its own (so that locks taken
// in draft order would deadlock), give each issuer the numbers 1..n
// exactly once.
func testBillingIssueConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	const workers, each = 6, 4
	feb := billingPeriod("2026-02")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			issuers := []string{billing.CooperativeID, "c1"}
			if w%2 == 1 {
				issuers[0], issuers[1] = issuers[1], issuers[0]
			}
			for i := range each {
				batch := []billing.Draft{billingDraft(issuers[0], fmt.Sprintf("w%d-%d-a", w, i), feb), billingDraft(issuers[1], fmt.Sprintf("w%d-%d-b", w, i), feb)}
				if _, err := s.Billing().IssueDocuments(ctx, batch, finishAt(0)); err != nil { // no retry: a deadlock fails
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, issuer := range []string{billing.CooperativeID, "c1"} {
		docs, err := s.Billing().Documents(ctx, billing.DocumentFilter{Issuer: issuer})
		require.NoError(t, err)
		var seqs []int64
		for _, d := range docs {
			seqs = append(seqs, d.Seq)
		}
		slices.Sort(seqs)
		want := make([]int64, workers*each)
		for i := range want {
			want[i] = int64(i + 1)
		}
		require.Equal(t, want, seqs, "issuer %s: numbers without gaps or repeats", issuer)
	}
}

func auditAddPack(ctx context.Context, s store.Store) error {
	return s.Billing().AddPack(ctx, billing.Pack{ID: "pk1", MemberID: "m1", Hours: 10, Cents: 9000,
		ValidFrom: billingPeriod("2026-06"), ValidUntil: billingPeriod("2026-12")})
}

// testBillingPacks: hour packs are sold to existing members by the party
// that owns the client, validated, never in an invoiced period; issuing a
// draft records what it takes from packs, refuses to take more than a
// pack holds (rolling the whole issue back), and once per period.
func testBillingPacks(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	bs := s.Billing()
	jan, feb, mar := billingPeriod("2026-01"), billingPeriod("2026-02"), billingPeriod("2026-03")
	local := billing.Pack{ID: "pk-m1", MemberID: "m1", Hours: 2, Cents: 1800, VATRate: 600, ValidFrom: jan, ValidUntil: mar}
	require.NoError(t, bs.AddPack(ctx, local))
	require.NoError(t, bs.AddPack(ctx, billing.Pack{ID: "pk-n1", MemberID: "n1", Hours: 5, Cents: 4000, ValidFrom: feb, ValidUntil: mar}))
	for _, c := range []struct {
		name  string
		p     billing.Pack
		kind  error
		field string
	}{
		{"no hours", billing.Pack{ID: "x", MemberID: "m1", ValidFrom: jan, ValidUntil: jan}, domain.ErrValidation, "hours"},
		{"unknown member", billing.Pack{ID: "x", MemberID: "zz", Hours: 1, ValidFrom: jan, ValidUntil: jan}, store.ErrMissingRef, "member_id"},
		{"same id", billing.Pack{ID: "pk-m1", MemberID: "m2", Hours: 1, ValidFrom: jan, ValidUntil: jan}, store.ErrExists, "id"},
	} {
		requireKind(t, bs.AddPack(ctx, c.p), c.kind, c.field)
	}
	packs, err := bs.Packs(ctx, "")
	require.NoError(t, err)
	require.Len(t, packs, 2)
	require.Equal(t, "c1", packs[0].Issuer, "a local member's pack is the home center's")
	require.Equal(t, billing.CooperativeID, packs[1].Issuer, "a nomadic member's pack is the cooperative's")
	require.Equal(t, int64(120), packs[0].RemainingMinutes)
	require.Equal(t, invoice.Rate(600), packs[0].VATRate)

	use := func(subject string, p credit.Period, minutes int64) billing.Draft {
		d := billingDraft("c1", subject, p)
		d.PackUses = []billing.PackUse{{PackID: "pk-m1", Period: p, Minutes: minutes}}
		return d
	}
	got, err := bs.IssueDocuments(ctx, []billing.Draft{use("m1", jan, 90)}, finishAt(0))
	require.NoError(t, err)
	// February wants 45 minutes of the 30 left: the issue is refused whole.
	_, err = bs.IssueDocuments(ctx, []billing.Draft{billingDraft("c1", "m2", feb), use("m1", feb, 45)}, finishAt(0))
	requireKind(t, err, store.ErrStale, "pack_uses")
	// Another member's draft cannot take from m1's pack.
	_, err = bs.IssueDocuments(ctx, []billing.Draft{use("m2", feb, 10)}, finishAt(0))
	requireKind(t, err, store.ErrStale, "pack_uses")
	_, err = bs.IssueDocuments(ctx, []billing.Draft{use("m1", feb, 30)}, finishAt(0))
	require.NoError(t, err)
	mine, err := bs.Packs(ctx, "m1")
	require.NoError(t, err)
	require.Len(t, mine, 1)
	require.Equal(t, []billing.PackUse{{PackID: "pk-m1", Period: jan, Minutes: 90, Number: got[0].Number},
		{PackID: "pk-m1", Period: feb, Minutes: 30, Number: "C1-2026-000002"}}, mine[0].Uses)
	require.Equal(t, int64(120), mine[0].UsedMinutes)
	require.Zero(t, mine[0].RemainingMinutes)
	docs, err := bs.Documents(ctx, billing.DocumentFilter{Issuer: "c1"})
	require.NoError(t, err)
	require.Len(t, docs, 2, "the refused issues left no document and took no number")
	none, err := bs.Packs(ctx, "m2")
	require.NoError(t, err)
	require.Empty(t, none)
	// The sale and each use are audited on the pack, for its center.
	page, err := s.ListAudit(ctx, store.AuditFilter{ObjectKind: billing.ObjectPack, ObjectID: "pk-m1"})
	require.NoError(t, err)
	var actions []audit.Action
	for _, a := range page.Items {
		actions = append(actions, a.Action)
		require.Equal(t, []string{"c1"}, a.Centers)
	}
	require.Equal(t, []audit.Action{audit.Update, audit.Update, audit.Create}, actions, "newest first")
	require.Contains(t, string(page.Items[0].After), `"used_minutes":120`)

	requireKind(t, bs.AddPack(ctx, billing.Pack{ID: "late", MemberID: "m1", Hours: 1, ValidFrom: feb, ValidUntil: mar}), store.ErrStale, "valid_from")
	require.NoError(t, bs.AddPack(ctx, billing.Pack{ID: "next", MemberID: "m1", Hours: 1, ValidFrom: mar, ValidUntil: mar}))

	// A price's VAT exemption is kept.
	require.NoError(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: mar, Cents: 2500, VATExemption: "VATEX-EU-135-1"}))
	requireKind(t, bs.AddPrice(ctx, billing.Price{Kind: billing.PriceRoomHour, CenterID: "c2", RoomID: "r2", ValidFrom: mar, VATExemption: "VATEX-EU-151-1B"}), domain.ErrValidation, "vat_exemption")
	ps, err := bs.Prices(ctx)
	require.NoError(t, err)
	room, ok := ps.At(billing.PriceRoomHour, "c1", "r1", mar)
	require.True(t, ok)
	require.Equal(t, "VATEX-EU-135-1", room.VATExemption)
}

// testBillingRoomBookings: the room bookings starting in a range, every
// status, with their member's home; desk bookings and bookings starting
// outside the range are left out.
func testBillingRoomBookings(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	at := base()
	for _, b := range []domain.Booking{
		{ID: "b1", MemberID: "m1", CenterID: "c1", RoomID: "r1", Start: at, End: at.Add(time.Hour), Status: domain.BookingConfirmed},
		{ID: "b2", MemberID: "n1", CenterID: "c1", RoomID: "r1", Start: at.Add(2 * time.Hour), End: at.Add(3 * time.Hour), Status: domain.BookingCancelled},
		{ID: "b3", MemberID: "m2", CenterID: "c2", RoomID: "r2", Start: at.Add(time.Hour), End: at.Add(2 * time.Hour), Status: domain.BookingReleased},
		{ID: "b4", MemberID: "m1", CenterID: "c1", Start: at, End: at.Add(time.Hour), Status: domain.BookingConfirmed},
		{ID: "b5", MemberID: "m1", CenterID: "c1", RoomID: "r1", Start: at.Add(-time.Hour), End: at.Add(-time.Minute), Status: domain.BookingConfirmed},
		{ID: "b6", MemberID: "m1", CenterID: "c1", RoomID: "r1", Start: at.Add(24 * time.Hour), End: at.Add(25 * time.Hour), Status: domain.BookingConfirmed},
	} {
		require.NoError(t, s.CreateBooking(ctx, b))
	}
	got, err := s.Billing().RoomBookings(ctx, at, at.Add(24*time.Hour))
	require.NoError(t, err)
	var ids, homes, statuses []string
	for _, rb := range got {
		ids, homes, statuses = append(ids, rb.ID), append(homes, rb.HomeCenterID), append(statuses, rb.Status)
	}
	require.Equal(t, []string{"b1", "b3", "b2"}, ids)
	require.Equal(t, []string{"c1", "c2", ""}, homes)
	require.Equal(t, []string{domain.BookingConfirmed, domain.BookingReleased, domain.BookingCancelled}, statuses)
	require.True(t, got[0].End.Equal(at.Add(time.Hour)))
}
