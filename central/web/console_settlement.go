package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/store"
)

// PeriodCloser closes periods for the settlement workflow: the central's
// posting.Service, reached through Config.Hours (which it backs). When
// Hours does not implement it, the pages show settlements without the
// close buttons.
type PeriodCloser interface {
	// ToClose lists the open periods that CloseThrough(p) closes, oldest first.
	ToClose(ctx context.Context, p credit.Period) ([]credit.Period, error)
	// CloseThrough closes them in one action and returns their frozen settlements.
	CloseThrough(ctx context.Context, p credit.Period) ([]*credit.Settlement, error)
}

func (w *Web) closer() PeriodCloser {
	c, _ := w.cfg.Hours.(PeriodCloser)
	return c
}

// periodRow is a period of the settlement page's list.
type periodRow struct {
	Period  credit.Period
	Closed  bool
	Current bool
}

// countRow is one count of a settlement (catalog key console.count.KEY).
type countRow struct {
	Key string
	N   int64
}

// countOrder puts the used events first, then every counted exclusion.
func countOrder() []string {
	return []string{credit.CountEntries, credit.CountExits, credit.CountUntrustedUsed, credit.CountExitWithoutEntry,
		credit.CountDuplicate, credit.CountConflict, credit.CountInvalid, credit.CountUnknownDoor, credit.CountNoMember,
		credit.CountUnknownMember, credit.CountUntrustedExcluded, credit.CountClockAhead, credit.CountNotTap, credit.CountDenied}
}

func countRows(c credit.Counts) []countRow {
	var out []countRow
	for _, k := range countOrder() {
		out = append(out, countRow{Key: k, N: c[k]})
	}
	// A count this version does not name yet is shown by its key.
	var rest []string
	for k := range c {
		if !slices.Contains(countOrder(), k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, countRow{Key: k, N: c[k]})
	}
	return out
}

// settlementPeriod reads ?period= (default: the month before this one, the
// one usually reviewed and closed).
func (w *Web) settlementPeriod(r *http.Request) (credit.Period, error) {
	if r.URL.Query().Get("period") == "" {
		return credit.PeriodOf(w.now(), w.loc).Prev(), nil
	}
	return w.periodOf(r)
}

// settlementsPage is GET /settlements: the periods (open or closed), one
// period's settlement per center with its money in its currency, its
// counts (duplicates and every other exclusion), the adjustments booked
// for it after it closed, export links, and for an admin the close of the
// period with every earlier open period, listed, in one action.
func (w *Web) settlementsPage(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Hours == nil {
		return pageErr(http.StatusServiceUnavailable, "hours.unavailable")
	}
	p, err := w.settlementPeriod(r)
	if err != nil {
		return err
	}
	center, err := w.centerOf(r, v)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	last, err := w.st.Credit().LastClosed(ctx)
	if err != nil {
		return err
	}
	now := credit.PeriodOf(w.now(), w.loc)
	var periods []periodRow
	for _, q := range recentPeriods(w.now(), w.loc) {
		periods = append(periods, periodRow{Period: q, Closed: !last.IsZero() && !last.Before(q), Current: q == p})
	}
	s, err := w.cfg.Hours.Settlement(ctx, p)
	if err != nil {
		return err
	}
	if center != "" {
		s = s.ForCenter(center)
	}
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	data := map[string]any{"Period": p, "Periods": periods, "S": s, "Counts": countRows(s.Counts), "Center": center, "Centers": centers,
		"Flash": w.takeFlash(r, v), "Ended": p.Before(now)}
	q := "?center=" + center
	data["CSV"] = "/settlements/" + p.String() + "/export" + q + "&format=csv"
	data["JSON"] = "/settlements/" + p.String() + "/export" + q + "&format=json"
	if s.Closed {
		// The adjustments booked for p in the periods after it.
		type laterAdjustment struct {
			credit.AdjustmentLine
			BookedIn credit.Period
		}
		var adj []laterAdjustment
		for q := p.Next(); !now.Before(q); q = q.Next() {
			later, err := w.cfg.Hours.Settlement(ctx, q)
			if err != nil {
				return err
			}
			if center != "" {
				later = later.ForCenter(center)
			}
			for _, a := range later.Adjustments {
				if a.BelongsTo == p {
					adj = append(adj, laterAdjustment{AdjustmentLine: a, BookedIn: q})
				}
			}
		}
		data["LaterAdjustments"] = adj
		ap, err := w.st.Credit().SettlementApproval(ctx, p)
		switch {
		case err == nil:
			data["Approval"] = ap
			data["ApprovedAt"] = time.UnixMilli(ap.ApprovedMs)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	if v.Admin() && !s.Closed && p.Before(now) && w.closer() != nil {
		list, err := w.closer().ToClose(ctx, p)
		if err != nil {
			return err
		}
		data["ToClose"] = list
	}
	w.render(rw, r, http.StatusOK, "console_settlements", v, data)
	return nil
}

// closeSettlements is POST /settlements/{period}/close (admins): closes the
// period and every earlier open period in one action. The form carries the
// periods it listed ("periods", comma-separated); when the periods to close
// are no longer those (another close came between), nothing is closed and
// the page lists them again.
func (w *Web) closeSettlements(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	c := w.closer()
	if c == nil {
		return pageErr(http.StatusServiceUnavailable, "hours.unavailable")
	}
	p, err := credit.ParsePeriod(r.PathValue("period"))
	if err != nil {
		return pageErr(http.StatusBadRequest, "error.bad_period")
	}
	loc := w.locale(r, v)
	ctx, cancel := w.context(r)
	defer cancel()
	back := "/settlements?period=" + p.String()
	list, err := c.ToClose(ctx, p)
	if err != nil {
		return w.closeRefused(rw, r, v, back, err)
	}
	names := make([]string, len(list))
	for i, q := range list {
		names[i] = q.String()
	}
	if r.PostFormValue("periods") != strings.Join(names, ",") {
		w.opsRefused.With("settlements", "periods").Inc()
		w.log.WarnContext(ctx, "web: close refused: the periods to close changed", "period", p.String(), "listed", r.PostFormValue("periods"))
		w.setFlash(r, v, loc.T("console.settle.changed"))
		http.Redirect(rw, r, back, http.StatusSeeOther)
		return nil
	}
	sts, err := c.CloseThrough(ctx, p)
	if err != nil {
		if len(sts) > 0 {
			w.log.ErrorContext(ctx, "web: close stopped part way", "through", p.String(), "closed", len(sts), "err", err)
		}
		return w.closeRefused(rw, r, v, back, err)
	}
	w.log.InfoContext(ctx, "web: periods closed", "through", p.String(), "periods", strings.Join(names, ","), "by", v.ID)
	w.setFlash(r, v, loc.T("console.settle.closed", "n", len(sts), "periods", strings.Join(names, ", ")))
	http.Redirect(rw, r, back, http.StatusSeeOther)
	return nil
}

// closeRefused shows why a close was refused on the settlement page.
func (w *Web) closeRefused(rw http.ResponseWriter, r *http.Request, v *viewer, back string, err error) error {
	key := ""
	switch {
	case errors.Is(err, credit.ErrAlreadyClosed):
		key = "console.settle.already_closed"
	case errors.Is(err, credit.ErrPeriodNotOver):
		key = "console.settle.not_over"
	case errors.Is(err, credit.ErrCloseOrder), errors.Is(err, credit.ErrStale):
		key = "console.settle.changed"
	default:
		return err
	}
	w.opsRefused.With("settlements", "period").Inc()
	w.log.WarnContext(r.Context(), "web: close refused", "err", err)
	w.setFlash(r, v, w.locale(r, v).T(key))
	http.Redirect(rw, r, back, http.StatusSeeOther)
	return nil
}

// settlementExport is GET /settlements/{period}/export?format=csv|json: the
// settlement (a manager's: their center's part) as a download.
func (w *Web) settlementExport(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Hours == nil {
		return pageErr(http.StatusServiceUnavailable, "hours.unavailable")
	}
	p, err := credit.ParsePeriod(r.PathValue("period"))
	if err != nil {
		return pageErr(http.StatusBadRequest, "error.bad_period")
	}
	format := r.URL.Query().Get("format")
	if format != credit.FormatCSV && format != credit.FormatJSON {
		w.opsRefused.With("settlements", "format").Inc()
		return pageErr(http.StatusBadRequest, "console.bad_filter", "field", w.locale(r, v).T("console.settle.format"))
	}
	return w.sendSettlement(rw, r, v, p, format)
}

// sendSettlement sends period p's settlement (the viewer's center's part
// when the request names one) as a CSV or JSON download: the console's
// export and the dashboard's hours page share it.
func (w *Web) sendSettlement(rw http.ResponseWriter, r *http.Request, v *viewer, p credit.Period, format string) error {
	center, err := w.centerOf(r, v)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	s, err := w.cfg.Hours.Settlement(ctx, p)
	if err != nil {
		return err
	}
	name := "settlement-" + p.String()
	if center != "" {
		s = s.ForCenter(center)
		name += "-" + center
	}
	var buf strings.Builder
	if err := s.Write(&buf, format); err != nil {
		return err
	}
	ctype := "application/json"
	if format == credit.FormatCSV {
		ctype = "text/csv; charset=utf-8"
	}
	rw.Header().Set("Content-Type", ctype)
	rw.Header().Set("Content-Disposition", `attachment; filename="`+name+"."+format+`"`)
	rw.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, err = fmt.Fprint(rw, buf.String())
	return err
}

// approveSettlement is POST /settlements/{period}/approve (admins): the
// administrator approves the closed period's settlement (stored with who
// and when, audited). A period not closed, or approved already, is
// refused with a message on the page.
func (w *Web) approveSettlement(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	p, err := credit.ParsePeriod(r.PathValue("period"))
	if err != nil {
		return pageErr(http.StatusBadRequest, "error.bad_period")
	}
	loc := w.locale(r, v)
	back := "/settlements?period=" + p.String()
	_, err = w.st.Credit().ApproveSettlement(r.Context(), store.SettlementApproval{Period: p, ApprovedBy: v.ID, ApprovedByName: v.Name})
	switch {
	case err == nil:
		w.log.InfoContext(r.Context(), "web: settlement approved", "period", p.String(), "by", v.ID)
		w.setFlash(r, v, loc.T("console.settle.approved_now", "period", p.String()))
	case errors.Is(err, store.ErrExists):
		w.opsRefused.With("settlements", "approve").Inc()
		w.setFlash(r, v, loc.T("console.settle.approved_already"))
	case errors.Is(err, store.ErrNotFound):
		w.opsRefused.With("settlements", "approve").Inc()
		w.setFlash(r, v, loc.T("console.settle.approve_not_closed"))
	default:
		return err
	}
	http.Redirect(rw, r, back, http.StatusSeeOther)
	return nil
}
