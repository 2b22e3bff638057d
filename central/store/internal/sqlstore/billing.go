package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

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
		if err := t.afterInvoiced(ctx, "price", p.ValidFrom); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO billing_prices (kind, center_id, room_id, valid_from, cents, vat_rate, created_ms, created_by, vat_exemption) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			string(p.Kind), p.CenterID, p.RoomID, p.ValidFrom.String(), p.Cents, int64(p.VATRate), p.CreatedMs, p.CreatedBy, p.VATExemption); err != nil {
			return b.db.mapErr(err, "price "+p.Key()+" from "+p.ValidFrom.String(), "valid_from")
		}
		return t.audit(ctx, audit.Create, billing.ObjectPrice, p.Key()+"@"+p.ValidFrom.String(), []string{p.CenterID}, nil, p)
	})
}

// Prices implements store.BillingStore.
func (b *billingStore) Prices(ctx context.Context) (billing.Prices, error) {
	rows, err := b.db.query(ctx, `SELECT kind, center_id, room_id, valid_from, cents, vat_rate, created_ms, created_by, vat_exemption FROM billing_prices`)
	if err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	defer rows.Close()
	out := billing.Prices{}
	for rows.Next() {
		var p billing.Price
		var kind, from string
		var rate int64
		if err := rows.Scan(&kind, &p.CenterID, &p.RoomID, &from, &p.Cents, &rate, &p.CreatedMs, &p.CreatedBy, &p.VATExemption); err != nil {
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
			if err := b.usePacks(ctx, t, dr, is); err != nil {
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

// afterInvoiced refuses what starts in or before the last invoiced
// period (ErrStale, field valid_from): an invoiced period keeps what it
// was billed with.
func (t *wtx) afterInvoiced(ctx context.Context, what string, from credit.Period) error {
	var last sql.NullString
	if err := t.queryRow(ctx, `SELECT max(period) FROM billing_documents`).Scan(&last); err != nil {
		return fmt.Errorf("add %s: last invoiced period: %w", what, err)
	}
	if last.Valid && from.String() <= last.String {
		return store.Errf(store.ErrStale, "valid_from", "%s is invoiced up to %s: a new %s starts after it", from, last.String, what)
	}
	return nil
}

// AddPack implements store.BillingStore.
func (b *billingStore) AddPack(ctx context.Context, p billing.Pack) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.CreatedMs == 0 {
		p.CreatedMs = b.db.now().UnixMilli()
	}
	if p.CreatedBy == "" {
		p.CreatedBy = audit.ActorOr(ctx).ID
	}
	p.Uses = []billing.PackUse{}
	return b.db.write(ctx, func(t *wtx) error {
		if ok, err := t.exists(ctx, `SELECT 1 FROM members WHERE id = ?`, p.MemberID); err != nil || !ok {
			return errors.Join(err, store.Errf(store.ErrMissingRef, "member_id", "no member %q", p.MemberID))
		}
		home, err := t.memberHome(ctx, p.MemberID)
		if err != nil {
			return err
		}
		p.Issuer = cmp.Or(home, billing.CooperativeID)
		if err := t.afterInvoiced(ctx, "hour pack", p.ValidFrom); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO billing_packs (id, member_id, issuer, hours, cents, vat_rate, valid_from, valid_until, created_ms, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.MemberID, p.Issuer, p.Hours, p.Cents, int64(p.VATRate),
			p.ValidFrom.String(), p.ValidUntil.String(), p.CreatedMs, p.CreatedBy); err != nil {
			return b.db.mapErr(err, "hour pack "+p.ID, "id")
		}
		p.Sum()
		return t.audit(ctx, audit.Create, billing.ObjectPack, p.ID, []string{home}, nil, p)
	})
}

// usePacks records what an issued document took from hour packs, each
// use audited as an update of its pack.
func (b *billingStore) usePacks(ctx context.Context, t *wtx, dr billing.Draft, is billing.Issued) error {
	for _, u := range dr.PackUses {
		var member, home string
		var hours int64
		if err := t.queryRow(ctx, `SELECT member_id, issuer, hours FROM billing_packs WHERE id = ?`, u.PackID).Scan(&member, &home, &hours); err != nil {
			return fmt.Errorf("hour pack %s: %w", u.PackID, err)
		}
		var used int64
		if err := t.queryRow(ctx, `SELECT coalesce(sum(minutes), 0) FROM billing_pack_uses WHERE pack_id = ?`, u.PackID).Scan(&used); err != nil {
			return fmt.Errorf("hour pack %s: %w", u.PackID, err)
		}
		if member != is.MemberID || u.Minutes <= 0 || used+u.Minutes > hours*60 {
			return store.Errf(store.ErrStale, "pack_uses", "hour pack %s of %s holds %d of %d minutes: cannot take %d for %s", u.PackID, member, hours*60-used, hours*60, u.Minutes, is.MemberID)
		}
		if _, err := t.exec(ctx, `INSERT INTO billing_pack_uses (pack_id, period, minutes, number) VALUES (?, ?, ?, ?)`,
			u.PackID, u.Period.String(), u.Minutes, is.Number); err != nil {
			return b.db.mapErr(err, "use of hour pack "+u.PackID+" in "+u.Period.String(), "pack_uses")
		}
		if home == billing.CooperativeID {
			home = ""
		}
		u.Number = is.Number
		if err := t.audit(ctx, audit.Update, billing.ObjectPack, u.PackID, []string{home},
			map[string]int64{"used_minutes": used}, map[string]any{"used_minutes": used + u.Minutes, "use": u}); err != nil {
			return err
		}
	}
	return nil
}

// Packs implements store.BillingStore.
func (b *billingStore) Packs(ctx context.Context, member string) ([]billing.Pack, error) {
	w := &where{}
	if member != "" {
		w.add("member_id = ?", member)
	}
	rows, err := b.db.query(ctx, `SELECT id, member_id, issuer, hours, cents, vat_rate, valid_from, valid_until, created_ms, created_by FROM billing_packs`+
		w.sql()+` ORDER BY member_id, valid_from, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("hour packs: %w", err)
	}
	defer rows.Close()
	out := []billing.Pack{}
	index := map[string]int{}
	for rows.Next() {
		var p billing.Pack
		var from, until string
		var rate int64
		if err := rows.Scan(&p.ID, &p.MemberID, &p.Issuer, &p.Hours, &p.Cents, &rate, &from, &until, &p.CreatedMs, &p.CreatedBy); err != nil {
			return nil, fmt.Errorf("hour packs: %w", err)
		}
		p.VATRate = invoice.Rate(rate)
		if p.ValidFrom, err = credit.ParsePeriod(from); err != nil {
			return nil, fmt.Errorf("hour pack %s: %w", p.ID, err)
		}
		if p.ValidUntil, err = credit.ParsePeriod(until); err != nil {
			return nil, fmt.Errorf("hour pack %s: %w", p.ID, err)
		}
		p.Uses = []billing.PackUse{}
		index[p.ID] = len(out)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hour packs: %w", err)
	}
	rows.Close()
	q := `SELECT u.pack_id, u.period, u.minutes, u.number FROM billing_pack_uses u`
	var args []any
	if member != "" {
		q += ` JOIN billing_packs p ON p.id = u.pack_id WHERE p.member_id = ?`
		args = append(args, member)
	}
	urows, err := b.db.query(ctx, q+` ORDER BY u.pack_id, u.period`, args...)
	if err != nil {
		return nil, fmt.Errorf("hour pack uses: %w", err)
	}
	defer urows.Close()
	for urows.Next() {
		var u billing.PackUse
		var per string
		if err := urows.Scan(&u.PackID, &per, &u.Minutes, &u.Number); err != nil {
			return nil, fmt.Errorf("hour pack uses: %w", err)
		}
		if u.Period, err = credit.ParsePeriod(per); err != nil {
			return nil, fmt.Errorf("hour pack %s: %w", u.PackID, err)
		}
		if i, ok := index[u.PackID]; ok {
			out[i].Uses = append(out[i].Uses, u)
		}
	}
	if err := urows.Err(); err != nil {
		return nil, fmt.Errorf("hour pack uses: %w", err)
	}
	for i := range out {
		out[i].Sum()
	}
	return out, nil
}

// RoomBookings implements store.BillingStore.
func (b *billingStore) RoomBookings(ctx context.Context, from, to time.Time) ([]billing.RoomBooking, error) {
	rows, err := b.db.query(ctx, `SELECT k.id, k.member_id, k.center_id, k.room_id, k.start_ms, k.end_ms, k.status,
		k.created_by_role, k.created_by_center, k.created_by_token, m.home_center_id
		FROM bookings k JOIN members m ON m.id = k.member_id
		WHERE k.room_id IS NOT NULL AND k.room_id <> '' AND k.start_ms >= ? AND k.start_ms < ? ORDER BY k.start_ms, k.id`, ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("room bookings: %w", err)
	}
	defer rows.Close()
	out := []billing.RoomBooking{}
	for rows.Next() {
		var rb billing.RoomBooking
		var home sql.NullString
		if rb.Booking, err = scanBooking(homeScan{rows, &home}); err != nil {
			return nil, fmt.Errorf("room bookings: %w", err)
		}
		rb.HomeCenterID = home.String
		out = append(out, rb)
	}
	return out, rows.Err()
}

// homeScan scans a booking row followed by its member's home.
type homeScan struct {
	rows *sql.Rows
	home *sql.NullString
}

func (h homeScan) Scan(dest ...any) error { return h.rows.Scan(append(dest, h.home)...) }
