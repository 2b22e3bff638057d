package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/store"
)

// Billing implements store.Store.
func (s *DB) Billing() store.BillingStore { return &billingStore{db: s} }

type billingStore struct{ db *DB }

// AddPrice implements store.BillingStore.
func (b *billingStore) AddPrice(ctx context.Context, p billing.Price) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.CreatedMs == 0 {
		p.CreatedMs = b.db.now().UnixMilli()
	}
	if p.CreatedBy == "" {
		p.CreatedBy = audit.ActorOr(ctx).ID
	}
	return b.db.write(ctx, func(t *wtx) error {
		if p.CenterID != "" {
			if ok, err := t.exists(ctx, `SELECT 1 FROM centers WHERE id = ?`, p.CenterID); err != nil || !ok {
				return errors.Join(err, store.Errf(store.ErrMissingRef, "center_id", "no center %q", p.CenterID))
			}
		}
		if p.RoomID != "" {
			if ok, err := t.exists(ctx, `SELECT 1 FROM rooms WHERE id = ? AND center_id = ?`, p.RoomID, p.CenterID); err != nil || !ok {
				return errors.Join(err, store.Errf(store.ErrMissingRef, "room_id", "no room %q in center %q", p.RoomID, p.CenterID))
			}
		}
		var last sql.NullString
		if err := t.queryRow(ctx, `SELECT max(period) FROM billing_documents`).Scan(&last); err != nil {
			return fmt.Errorf("add price: last invoiced period: %w", err)
		}
		if last.Valid && p.ValidFrom.String() <= last.String {
			return store.Errf(store.ErrStale, "valid_from", "%s is invoiced up to %s: a new price starts after it", p.ValidFrom, last.String)
		}
		if _, err := t.exec(ctx, `INSERT INTO billing_prices (kind, center_id, room_id, valid_from, cents, vat_rate, created_ms, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			string(p.Kind), p.CenterID, p.RoomID, p.ValidFrom.String(), p.Cents, int64(p.VATRate), p.CreatedMs, p.CreatedBy); err != nil {
			return b.db.mapErr(err, "price "+p.Key()+" from "+p.ValidFrom.String(), "valid_from")
		}
		return t.audit(ctx, audit.Create, billing.ObjectPrice, p.Key()+"@"+p.ValidFrom.String(), []string{p.CenterID}, nil, p)
	})
}

// Prices implements store.BillingStore.
func (b *billingStore) Prices(ctx context.Context) (billing.Prices, error) {
	rows, err := b.db.query(ctx, `SELECT kind, center_id, room_id, valid_from, cents, vat_rate, created_ms, created_by FROM billing_prices`)
	if err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	defer rows.Close()
	out := billing.Prices{}
	for rows.Next() {
		var p billing.Price
		var kind, from string
		var rate int64
		if err := rows.Scan(&kind, &p.CenterID, &p.RoomID, &from, &p.Cents, &rate, &p.CreatedMs, &p.CreatedBy); err != nil {
			return nil, fmt.Errorf("prices: %w", err)
		}
		p.Kind = billing.PriceKind(kind)
		p.VATRate = invoice.Rate(rate)
		if p.ValidFrom, err = credit.ParsePeriod(from); err != nil {
			return nil, fmt.Errorf("prices: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	out.Sort()
	return out, nil
}

// SetDetails implements store.BillingStore.
func (b *billingStore) SetDetails(ctx context.Context, d billing.Details) error {
	if err := d.Validate(); err != nil {
		return err
	}
	d.UpdatedMs = b.db.now().UnixMilli()
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("details %s %s: %w", d.Kind, d.ID, err)
	}
	return b.db.write(ctx, func(t *wtx) error {
		center := ""
		switch d.Kind {
		case billing.PartyMember:
			ok, err := t.exists(ctx, `SELECT 1 FROM members WHERE id = ?`, d.ID)
			if err != nil || !ok {
				return errors.Join(err, store.Errf(store.ErrMissingRef, "id", "no member %q", d.ID))
			}
			if center, err = t.memberHome(ctx, d.ID); err != nil {
				return err
			}
		case billing.PartyCenter:
			ok, err := t.exists(ctx, `SELECT 1 FROM centers WHERE id = ?`, d.ID)
			if err != nil || !ok {
				return errors.Join(err, store.Errf(store.ErrMissingRef, "id", "no center %q", d.ID))
			}
			center = d.ID
		}
		old, err := b.details(ctx, t.queryRow, d.Kind, d.ID)
		var before any
		switch {
		case err == nil:
			before = old
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		action := audit.Create
		if before != nil {
			action = audit.Update
			_, err = t.exec(ctx, `UPDATE billing_details SET details = ?, updated_ms = ? WHERE kind = ? AND id = ?`, string(body), d.UpdatedMs, string(d.Kind), d.ID)
		} else {
			_, err = t.exec(ctx, `INSERT INTO billing_details (kind, id, details, updated_ms) VALUES (?, ?, ?, ?)`, string(d.Kind), d.ID, string(body), d.UpdatedMs)
		}
		if err != nil {
			return b.db.mapErr(err, "details of "+string(d.Kind)+" "+d.ID, "id")
		}
		return t.audit(ctx, action, billing.ObjectDetails, string(d.Kind)+"/"+d.ID, []string{center}, before, d)
	})
}

type rowFunc func(ctx context.Context, q string, args ...any) *sql.Row

func (b *billingStore) details(ctx context.Context, row rowFunc, kind billing.PartyKind, id string) (billing.Details, error) {
	var body string
	if err := row(ctx, `SELECT details FROM billing_details WHERE kind = ? AND id = ?`, string(kind), id).Scan(&body); err != nil {
		return billing.Details{}, b.db.mapErr(err, "details of "+string(kind)+" "+id, "id")
	}
	var d billing.Details
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return billing.Details{}, fmt.Errorf("details of %s %s: %w", kind, id, err)
	}
	return d, nil
}

// Details implements store.BillingStore.
func (b *billingStore) Details(ctx context.Context, kind billing.PartyKind, id string) (billing.Details, error) {
	return b.details(ctx, b.db.queryRow, kind, id)
}

// AllDetails implements store.BillingStore.
func (b *billingStore) AllDetails(ctx context.Context) ([]billing.Details, error) {
	rows, err := b.db.query(ctx, `SELECT details FROM billing_details ORDER BY kind, id`)
	if err != nil {
		return nil, fmt.Errorf("details: %w", err)
	}
	defer rows.Close()
	out := []billing.Details{}
	for rows.Next() {
		var body string
		var d billing.Details
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("details: %w", err)
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return nil, fmt.Errorf("details: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// IssueDocuments implements store.BillingStore.
func (b *billingStore) IssueDocuments(ctx context.Context, drafts []billing.Draft, finish func(billing.Draft, int64) (billing.Issued, error)) ([]billing.Issued, error) {
	// The counter rows are locked first, in one order (issuer, year), so
	// that issues of several issuers in other orders cannot deadlock.
	type counter struct {
		issuer string
		year   int
	}
	var counters []counter
	for _, dr := range drafts {
		c := counter{dr.Issuer, dr.Doc.IssueDate.Year()}
		if !slices.Contains(counters, c) {
			counters = append(counters, c)
		}
	}
	slices.SortFunc(counters, func(a, b counter) int { return cmp.Or(cmp.Compare(a.issuer, b.issuer), cmp.Compare(a.year, b.year)) })
	var out []billing.Issued
	err := b.db.write(ctx, func(t *wtx) error {
		out = out[:0]
		for _, c := range counters {
			if _, err := t.exec(ctx, `INSERT INTO billing_counters (issuer, year, last) VALUES (?, ?, 0) ON CONFLICT (issuer, year) DO NOTHING`, c.issuer, c.year); err != nil {
				return fmt.Errorf("counter of %s %d: %w", c.issuer, c.year, err)
			}
			var last int64
			if err := t.queryRow(ctx, `SELECT last FROM billing_counters WHERE issuer = ? AND year = ?`+t.d.ForUpdate, c.issuer, c.year).Scan(&last); err != nil {
				return fmt.Errorf("counter of %s %d: %w", c.issuer, c.year, err)
			}
		}
		for _, dr := range drafts {
			year := dr.Doc.IssueDate.Year()
			if ok, err := t.exists(ctx, `SELECT 1 FROM billing_documents WHERE period = ? AND subject = ? AND purpose = ?`,
				dr.Period.String(), dr.Subject, dr.Purpose); err != nil || ok {
				return errors.Join(err, store.Errf(store.ErrExists, "purpose", "%s of %s for %s is issued already", dr.Purpose, dr.Subject, dr.Period))
			}
			var seq int64
			if err := t.queryRow(ctx, `UPDATE billing_counters SET last = last + 1 WHERE issuer = ? AND year = ? RETURNING last`, dr.Issuer, year).Scan(&seq); err != nil {
				return fmt.Errorf("counter of %s %d: %w", dr.Issuer, year, err)
			}
			is, err := finish(dr, seq)
			if err != nil {
				return err
			}
			var x any
			if is.UBL != nil {
				x = is.UBL
			}
			if _, err := t.exec(ctx, `INSERT INTO billing_documents (issuer, number, year, seq, type, period, subject, purpose, member_id, center_id, corrects,
				issued_ms, payable_cents, currency, model, ubl, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				is.Issuer, is.Number, is.Year, is.Seq, string(is.Type), is.Period.String(), is.Subject, is.Purpose, is.MemberID, is.CenterID, is.Corrects,
				is.IssuedMs, is.PayableCents, is.Currency, is.Model, x, is.Digest); err != nil {
				return b.db.mapErr(err, "document "+is.Number, "purpose")
			}
			centers := []string{is.CenterID}
			if is.Issuer != billing.CooperativeID && is.Issuer != billing.SelfBillingSeries {
				centers = append(centers, is.Issuer)
			}
			if err := t.audit(ctx, audit.Create, billing.ObjectDocument, is.Issuer+"/"+is.Number, centers, nil, is); err != nil {
				return err
			}
			out = append(out, is)
		}
		if len(drafts) == 0 {
			t.noAudit("nothing to issue")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const documentCols = `SELECT issuer, number, year, seq, type, period, subject, purpose, member_id, center_id, corrects,
	issued_ms, payable_cents, currency, model, ubl, digest FROM billing_documents`

func scanDocument(sc interface{ Scan(...any) error }) (billing.Issued, error) {
	var is billing.Issued
	var typ, per string
	err := sc.Scan(&is.Issuer, &is.Number, &is.Year, &is.Seq, &typ, &per, &is.Subject, &is.Purpose, &is.MemberID, &is.CenterID, &is.Corrects,
		&is.IssuedMs, &is.PayableCents, &is.Currency, &is.Model, &is.UBL, &is.Digest)
	if err != nil {
		return is, err
	}
	is.Type = invoice.TypeCode(typ)
	if is.Period, err = credit.ParsePeriod(per); err != nil {
		return is, fmt.Errorf("document %s: %w", is.Number, err)
	}
	if err := is.Check(); err != nil {
		return is, err
	}
	return is, nil
}

// Documents implements store.BillingStore.
func (b *billingStore) Documents(ctx context.Context, f billing.DocumentFilter) ([]billing.Issued, error) {
	w := &where{}
	if !f.Period.IsZero() {
		w.add("period = ?", f.Period.String())
	}
	if f.Issuer != "" {
		w.add("issuer = ?", f.Issuer)
	}
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	if f.CenterID != "" {
		w.add("center_id = ?", f.CenterID)
	}
	if f.Corrects != "" {
		w.add("corrects = ?", f.Corrects)
	}
	if f.Involving != "" {
		w.add("(issuer = ? OR center_id = ?)", f.Involving, f.Involving)
	}
	rows, err := b.db.query(ctx, documentCols+w.sql()+` ORDER BY issuer, year, seq`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	defer rows.Close()
	out := []billing.Issued{}
	for rows.Next() {
		is, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("documents: %w", err)
		}
		out = append(out, is)
	}
	return out, rows.Err()
}

// Document implements store.BillingStore.
func (b *billingStore) Document(ctx context.Context, issuer, number string) (billing.Issued, error) {
	is, err := scanDocument(b.db.queryRow(ctx, documentCols+` WHERE issuer = ? AND number = ?`, issuer, number))
	if err != nil {
		return billing.Issued{}, b.db.mapErr(err, "document "+issuer+"/"+number, "number")
	}
	return is, nil
}
