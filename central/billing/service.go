package billing

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/billing/bank"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoicepdf"
	"github.com/smartworkcenters/swc/central/billing/sepa"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// ErrNotIssuable: the document cannot be voided, or the period not
// issued or paid out.
var ErrNotIssuable = errors.New("billing: not possible")

// Store is what the billing keeps (store.BillingStore implements it).
type Store interface {
	Prices(ctx context.Context) (Prices, error)
	AllDetails(ctx context.Context) ([]Details, error)
	IssueDocuments(ctx context.Context, drafts []Draft, finish func(Draft, int64) (Issued, error)) ([]Issued, error)
	Documents(ctx context.Context, f DocumentFilter) ([]Issued, error)
	Document(ctx context.Context, issuer, number string) (Issued, error)
	// Packs are the hour packs of a member ("": of every member) with
	// their uses.
	Packs(ctx context.Context, member string) ([]Pack, error)
	// RoomBookings are the room bookings that start in [from, to), every
	// status, with their member's home center.
	RoomBookings(ctx context.Context, from, to time.Time) ([]RoomBooking, error)
}

// Ledger is the frozen crediting the billing reads (credit.Store
// implements it).
type Ledger interface {
	ClosedSettlement(ctx context.Context, p credit.Period) (*credit.Settlement, error)
	MemberPeriods(ctx context.Context, p credit.Period) ([]credit.MemberPeriod, error)
	BookedAdjustments(ctx context.Context, bookedIn credit.Period, member string) ([]credit.Adjustment, error)
}

// Config configures a Service.
type Config struct {
	Store  Store
	Ledger Ledger
	Log    *slog.Logger
	// Metrics receives the billing's counters (a new registry when nil).
	Metrics *metrics.Registry
	// Now is the clock (time.Now when nil): the issue date is its UTC day.
	Now func() time.Time
	// DueDays is the payment term of member invoices (30 when 0).
	DueDays int
	// Notify, when set, is given the documents of each Issue, and the
	// credit note of each Void, after their transaction committed (the
	// members' e-mail: package invoicemail).
	// It cannot undo the issue: it logs and counts its own failures.
	Notify func(ctx context.Context, docs []Issued)
	// Catalog writes the documents' lines and notes in their buyer's
	// language (Input.Catalog); nil: the embedded catalog (i18n.New).
	Catalog *i18n.Catalog
}

// Service issues a period's documents, voids them, and writes payouts.
type Service struct {
	cfg     Config
	catErr  error // the embedded catalog could not be read: nothing is issued
	invalid *metrics.CounterVec
	issued  *metrics.CounterVec
}

// NewService returns a service over cfg's store and ledger.
func NewService(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var catErr error
	if cfg.Catalog == nil {
		cfg.Catalog, catErr = i18n.New()
	}
	return &Service{cfg: cfg, catErr: catErr,
		invalid: cfg.Metrics.CounterVec("swc_billing_validation_failures_total",
			"Billing inputs or documents refused by validation, by what (details, document, transfer).", "what"),
		issued: cfg.Metrics.CounterVec("swc_billing_documents_issued_total", "Billing documents issued, by type code.", "type"),
	}
}

func (s *Service) today() time.Time {
	n := s.cfg.Now().UTC()
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
}

// DryRun is the plan of a closed period without issuing anything: the
// documents not issued yet, totals per issuer, and every party without
// usable billing details or price.
func (s *Service) DryRun(ctx context.Context, p credit.Period) (*Plan, error) {
	pl, err := s.plan(ctx, p)
	if err != nil {
		return nil, err
	}
	return pl, nil
}

func (s *Service) plan(ctx context.Context, p credit.Period) (*Plan, error) {
	st, err := s.cfg.Ledger.ClosedSettlement(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("billing %s: %w", p, err)
	}
	results, err := s.cfg.Ledger.MemberPeriods(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("billing %s: results: %w", p, err)
	}
	adjs, err := s.cfg.Ledger.BookedAdjustments(ctx, p, "")
	if err != nil {
		return nil, fmt.Errorf("billing %s: adjustments: %w", p, err)
	}
	prices, err := s.cfg.Store.Prices(ctx)
	if err != nil {
		return nil, fmt.Errorf("billing %s: %w", p, err)
	}
	all, err := s.cfg.Store.AllDetails(ctx)
	if err != nil {
		return nil, fmt.Errorf("billing %s: %w", p, err)
	}
	loc, err := time.LoadLocation(cmp.Or(st.TimeZone, "Europe/Brussels"))
	if err != nil {
		return nil, fmt.Errorf("billing %s: time zone: %w", p, err)
	}
	rooms, err := s.cfg.Store.RoomBookings(ctx, p.Start(loc), p.End(loc))
	if err != nil {
		return nil, fmt.Errorf("billing %s: %w", p, err)
	}
	packs, err := s.cfg.Store.Packs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("billing %s: %w", p, err)
	}
	// What was issued for p (not issued twice) and for the periods the
	// adjustments correct (the invoices they refer to).
	periods := map[credit.Period]bool{p: true}
	for _, a := range adjs {
		periods[a.BelongsTo] = true
	}
	var issued []Issued
	for q := range periods {
		docs, err := s.cfg.Store.Documents(ctx, DocumentFilter{Period: q})
		if err != nil {
			return nil, fmt.Errorf("billing %s: %w", p, err)
		}
		issued = append(issued, docs...)
	}
	in := &Input{Catalog: s.cfg.Catalog, Period: p, IssueDate: s.today(), DueDays: s.cfg.DueDays, Currency: st.Currency, Settlement: st,
		Results: results, Adjustments: adjs, Prices: prices, Details: map[string]Details{}, Issued: issued,
		RoomBookings: rooms, Location: loc, Packs: packs}
	for _, d := range all {
		in.Details[DetailsKey(d.Kind, d.ID)] = d
	}
	pl := MakePlan(in)
	for _, m := range pl.Missing {
		s.invalid.With("details").Inc()
		s.cfg.Log.WarnContext(ctx, "billing: party not invoiceable", "period", p.String(), "kind", m.Kind, "id", m.ID, "reason", m.Reason)
	}
	return pl, nil
}

// Issue issues every document of the closed period p not issued yet, in
// one transaction: all of them or none. Parties listed in the plan's
// Missing are left out (issue again once their details are set).
func (s *Service) Issue(ctx context.Context, p credit.Period) ([]Issued, *Plan, error) {
	pl, err := s.plan(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	out, err := s.issue(ctx, pl.Drafts)
	if err != nil {
		return nil, pl, err
	}
	s.cfg.Log.InfoContext(ctx, "billing: period issued", "period", p.String(), "documents", len(out), "missing", len(pl.Missing))
	if s.cfg.Notify != nil && len(out) > 0 {
		s.cfg.Notify(context.WithoutCancel(ctx), out)
	}
	return out, pl, nil
}

func (s *Service) issue(ctx context.Context, drafts []Draft) ([]Issued, error) {
	if len(drafts) == 0 {
		return []Issued{}, nil
	}
	now := s.cfg.Now().UnixMilli()
	out, err := s.cfg.Store.IssueDocuments(ctx, drafts, func(d Draft, seq int64) (Issued, error) {
		is, err := Finish(d, seq, now)
		if errors.Is(err, invoice.ErrInvalid) {
			s.invalid.With("document").Inc()
			s.cfg.Log.ErrorContext(ctx, "billing: document invalid", "issuer", d.Issuer, "subject", d.Subject, "purpose", d.Purpose, "err", err)
		}
		return is, err
	})
	if err != nil {
		return nil, err
	}
	for _, is := range out {
		s.issued.With(string(is.Type)).Inc()
	}
	return out, nil
}

// Void issues a credit note of every line of an invoice (381 for 380, 261
// for 389), referring to it, and gives it to Config.Notify once committed.
// A document is voided once.
func (s *Service) Void(ctx context.Context, issuer, number string) (Issued, error) {
	if s.catErr != nil {
		return Issued{}, fmt.Errorf("billing: %w", s.catErr)
	}
	is, err := s.cfg.Store.Document(ctx, issuer, number)
	if err != nil {
		return Issued{}, err
	}
	// A credit note of all lines would credit twice what a correction
	// credited already.
	later, err := s.cfg.Store.Documents(ctx, DocumentFilter{Issuer: issuer, Corrects: number})
	if err != nil {
		return Issued{}, err
	}
	for _, l := range later {
		if l.Doc.IsCreditNote() {
			return Issued{}, fmt.Errorf("%w: %s is credited in part by %s already; correct the rest with a credit note by hand", ErrNotIssuable, number, l.Number)
		}
	}
	d := is.Doc
	switch d.Type {
	case invoice.TypeInvoice:
		d.Type = invoice.TypeCreditNote
	case invoice.TypeSelfBilled:
		d.Type = invoice.TypeSelfBilledCreditNote
	default:
		return Issued{}, fmt.Errorf("%w: %s is a credit note already", ErrNotIssuable, number)
	}
	d.Corrects = &invoice.Reference{Number: is.Number, IssueDate: is.Doc.IssueDate}
	d.Number, d.IssueDate, d.DueDate = "", s.today(), time.Time{}
	w, err := s.words(ctx, &is)
	if err != nil {
		return Issued{}, err
	}
	d.Note = w.T("billing.doc.voids", "number", is.Number)
	d.Payment = nil
	out, err := s.issue(ctx, []Draft{{Issuer: is.Issuer, Period: is.Period, Subject: is.Subject, Purpose: purposeVoid + is.Number,
		MemberID: is.MemberID, CenterID: is.CenterID, Doc: d}})
	if err != nil {
		return Issued{}, err
	}
	s.cfg.Log.InfoContext(ctx, "billing: document voided", "issuer", issuer, "number", number, "credit_note", out[0].Number)
	if s.cfg.Notify != nil { // the member is told, as of the invoice
		s.cfg.Notify(context.WithoutCancel(ctx), out)
	}
	return out[0], nil
}

// words are the words of a document's buyer: the member's language, the
// center's for a self-billed or cross-center document (Draft).
func (s *Service) words(ctx context.Context, is *Issued) (words, error) {
	k, id := PartyMember, is.MemberID
	if id == "" {
		k, id = PartyCenter, is.CenterID
	}
	all, err := s.cfg.Store.AllDetails(ctx)
	if err != nil {
		return words{}, fmt.Errorf("billing: void %s: %w", is.Number, err)
	}
	lang := ""
	for _, d := range all {
		if d.Kind == k && d.ID == id {
			lang = d.Lang
		}
	}
	return newWords(s.cfg.Catalog, lang), nil
}

// PDF renders an issued document in lang (fr, nl or en): the same bytes
// every time.
func PDF(is *Issued, lang string) ([]byte, error) {
	l, err := invoicepdf.ParseLang(cmp.Or(lang, "fr"))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := invoicepdf.Render(&b, &is.Doc, l); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Payout is what one center is paid for a period.
type Payout struct {
	CenterID    string   `json:"center_id"`
	AmountCents int64    `json:"amount_cents"`
	Documents   []string `json:"documents"`
}

// Payouts writes the SEPA credit transfer (pain.001.001.09) that pays
// every center the amount due of its self-billed documents of period p
// (invoices minus credit notes), from the cooperative's account, on
// execution's date. Centers owed nothing are left out.
func (s *Service) Payouts(ctx context.Context, p credit.Period, execution time.Time) ([]byte, []Payout, error) {
	docs, err := s.cfg.Store.Documents(ctx, DocumentFilter{Period: p, Issuer: SelfBillingSeries})
	if err != nil {
		return nil, nil, err
	}
	all, err := s.cfg.Store.AllDetails(ctx)
	if err != nil {
		return nil, nil, err
	}
	details := map[string]Details{}
	for _, d := range all {
		details[DetailsKey(d.Kind, d.ID)] = d
	}
	coop, ok := details[DetailsKey(PartyCooperative, CooperativeID)]
	if !ok {
		return nil, nil, fmt.Errorf("%w: the cooperative has no billing details (its account pays)", ErrNotIssuable)
	}
	by := map[string]*Payout{}
	comm := map[string]bank.Communication{}
	var order []string
	for _, d := range docs {
		po := by[d.CenterID]
		if po == nil {
			po = &Payout{CenterID: d.CenterID}
			by[d.CenterID] = po
			order = append(order, d.CenterID)
		}
		if d.Type == invoice.TypeSelfBilledCreditNote {
			po.AmountCents -= d.PayableCents
		} else {
			po.AmountCents += d.PayableCents
		}
		po.Documents = append(po.Documents, d.Number)
		if d.Doc.Payment != nil && len(po.Documents) == 1 {
			comm[d.CenterID] = d.Doc.Payment.Communication
		}
	}
	slices.Sort(order)
	t := &sepa.Transfer{MessageID: "SWC-PAYOUT-" + p.String(), CreatedAt: s.cfg.Now().UTC(), ExecutionDate: execution,
		Debtor: sepa.Account{Name: coop.Name, IBAN: coop.IBAN, BIC: coop.BIC}}
	payouts := []Payout{}
	for _, id := range order {
		po := by[id]
		if po.AmountCents <= 0 {
			continue
		}
		cd, ok := details[DetailsKey(PartyCenter, id)]
		if !ok {
			return nil, nil, fmt.Errorf("%w: center %s has no billing details (its IBAN)", ErrNotIssuable, id)
		}
		t.Payments = append(t.Payments, sepa.Payment{EndToEndID: po.Documents[0], Creditor: sepa.Account{Name: cd.Name, IBAN: cd.IBAN, BIC: cd.BIC},
			AmountCents: po.AmountCents, Text: "Self-billed " + joinMax(po.Documents, 120)})
		if len(po.Documents) == 1 { // one document: pay its structured communication
			if c := comm[id]; !c.IsZero() {
				t.Payments[len(t.Payments)-1].Communication, t.Payments[len(t.Payments)-1].Text = c, ""
			}
		}
		payouts = append(payouts, *po)
	}
	if len(t.Payments) == 0 {
		return nil, nil, fmt.Errorf("%w: nothing to pay for %s", ErrNotIssuable, p)
	}
	b, err := sepa.Marshal(t)
	if err != nil {
		s.invalid.With("transfer").Inc()
		s.cfg.Log.ErrorContext(ctx, "billing: payouts file invalid", "period", p.String(), "err", err)
		return nil, nil, err
	}
	return b, payouts, nil
}

// joinMax joins numbers with ", " up to max bytes.
func joinMax(ss []string, max int) string {
	out := ""
	for i, s := range ss {
		next := s
		if i > 0 {
			next = ", " + s
		}
		if len(out)+len(next) > max {
			break
		}
		out += next
	}
	return out
}
