package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/store"
)

// Credit is the hours ledger as the API serves it (posting.Service).
type Credit interface {
	Settlement(ctx context.Context, p credit.Period) (*credit.Settlement, error)
	Statement(ctx context.Context, member string, p credit.Period) (*credit.Statement, error)
	Close(ctx context.Context, p credit.Period) (*credit.Settlement, error)
	// ToClose and CloseThrough close every open period up to one in one
	// action (posting.Service.CloseThrough).
	ToClose(ctx context.Context, p credit.Period) ([]credit.Period, error)
	CloseThrough(ctx context.Context, p credit.Period) ([]*credit.Settlement, error)
}

// Who sees what of the hours:
//
//   - admin: every settlement and statement; closes periods.
//   - manager of center C: the settlement as credit.Settlement.ForCenter
//     gives it (C's line, the cross-center lines where C is host or home,
//     C's adjustments). Statements: the whole statement of a local member
//     of C (C is their center, and is invoiced for their hours elsewhere);
//     of any other member, nomadic or local elsewhere, only the part at C
//     (credit.Statement.ForCenter: visits and adjustments at C, without the
//     member's name or what they did elsewhere), and only when that part
//     is not empty; else 403.
//   - technician: nothing.

func (s *Server) credit() (Credit, error) {
	if s.cr == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "crediting_unavailable", Message: "hours crediting is not running"}
	}
	return s.cr, nil
}

// creditErr gives the ledger's errors their API codes.
func creditErr(err error) error {
	code, status := "", http.StatusConflict
	switch {
	case errors.Is(err, credit.ErrPeriod):
		return errInvalid("period", "%v", err)
	case errors.Is(err, credit.ErrCloseOrder):
		code = "close_order"
	case errors.Is(err, credit.ErrPeriodNotOver):
		code = "period_not_over"
	case errors.Is(err, credit.ErrAlreadyClosed):
		code = "already_closed"
	case errors.Is(err, credit.ErrStale):
		code = "stale"
	case errors.Is(err, posting.ErrNotRunning):
		code, status = "crediting_unavailable", http.StatusServiceUnavailable
	default:
		return err
	}
	return &Error{Status: status, Code: code, Field: "period", Message: err.Error()}
}

func pathPeriod(r *http.Request) (credit.Period, error) {
	p, err := credit.ParsePeriod(r.PathValue("period"))
	if err != nil {
		return p, errInvalid("period", "%v", err)
	}
	return p, nil
}

// periodAlone reads the path's period of a request that takes no query
// parameter of its own.
func periodAlone(r *http.Request) (credit.Period, error) {
	p, err := pathPeriod(r)
	if err != nil {
		return p, err
	}
	if q := newQuery(r); q.err != nil {
		return p, q.err
	}
	return p, nil
}

// format reads ?format= and, without it, the Accept header: csv when
// text/csv is preferred to application/json.
func (q *query) format(r *http.Request) string {
	if f := q.oneOf("format", credit.FormatJSON, credit.FormatCSV); f != "" {
		return f
	}
	best, bestQ := credit.FormatJSON, 0.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		weight := 1.0
		if v, ok := params["q"]; ok {
			if weight, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		if mt == "text/csv" && weight > bestQ {
			best, bestQ = credit.FormatCSV, weight
		}
		if (mt == "application/json" || mt == "*/*" || mt == "application/*") && weight >= bestQ {
			best, bestQ = credit.FormatJSON, weight
		}
	}
	return best
}

// sendExport sends v as JSON, or as a CSV download named filename.
func sendExport(w http.ResponseWriter, format, filename string, v any, csv func(*bytes.Buffer) error) error {
	if format != credit.FormatCSV {
		return writeJSON(w, http.StatusOK, v)
	}
	var buf bytes.Buffer
	if err := csv(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	_, err := w.Write(buf.Bytes())
	return err
}

func (s *Server) getSettlement(w http.ResponseWriter, r *http.Request, p *principal) error {
	period, err := pathPeriod(r)
	if err != nil {
		return err
	}
	q := newQuery(r, "format")
	format := q.format(r)
	if q.err != nil {
		return q.err
	}
	cr, err := s.credit()
	if err != nil {
		return err
	}
	st, err := cr.Settlement(r.Context(), period)
	if err != nil {
		return creditErr(err)
	}
	name := "settlement-" + period.String()
	if !p.admin() {
		st = st.ForCenter(p.Centers[0])
		name += "-" + p.Centers[0]
	}
	return sendExport(w, format, name+".csv", st, func(b *bytes.Buffer) error { return st.WriteCSV(b) })
}

func (s *Server) getStatement(w http.ResponseWriter, r *http.Request, p *principal) error {
	member, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q := newQuery(r, "period", "format")
	format := q.format(r)
	raw := q.v.Get("period")
	if q.err != nil {
		return q.err
	}
	if raw == "" {
		return errInvalid("period", "required: the month, such as 2026-11")
	}
	period, err := credit.ParsePeriod(raw)
	if err != nil {
		return errInvalid("period", "%v", err)
	}
	cr, err := s.credit()
	if err != nil {
		return err
	}
	st, err := cr.Statement(r.Context(), member, period)
	if err != nil {
		return creditErr(err)
	}
	name := fmt.Sprintf("statement-%s-%s", member, period)
	if !p.admin() {
		c := p.Centers[0]
		if st.HomeCenterID != c {
			st = st.ForCenter(c)
			if len(st.Visits) == 0 && len(st.Adjustments) == 0 {
				// As the crediting answers for a member it does not know.
				return store.Errf(store.ErrNotFound, "id", "member %s", member)
			}
			name += "-" + c
		}
	}
	return sendExport(w, format, name+".csv", st, func(b *bytes.Buffer) error { return st.WriteCSV(b) })
}

func (s *Server) closePeriod(w http.ResponseWriter, r *http.Request, p *principal) error {
	period, cr, err := s.periodToClose(r)
	if err != nil {
		return err
	}
	st, err := cr.Close(r.Context(), period)
	if err != nil {
		return creditErr(err)
	}
	s.log.InfoContext(r.Context(), "api: period closed", "period", period.String(), "total_cents", st.TotalCents, "by", p.ID)
	return writeJSON(w, http.StatusOK, st)
}

// periodToClose reads the path's period of a close request (no query
// parameter) and the ledger that closes it.
func (s *Server) periodToClose(r *http.Request) (credit.Period, Credit, error) {
	period, err := periodAlone(r)
	if err != nil {
		return period, nil, err
	}
	cr, err := s.credit()
	return period, cr, err
}

// CloseThroughResult is the answer of POST /periods/{period}/close-through:
// the periods closed, oldest first, and their frozen settlements.
type CloseThroughResult struct {
	Closed      []credit.Period      `json:"closed"`
	Settlements []*credit.Settlement `json:"settlements"`
}

// closeThrough closes every open period up to the path's, oldest first,
// in one request (instead of one POST /periods/{p}/close per month). When
// a close fails after others succeeded, the answer is the error; the
// periods closed before it stay closed (GET /settlements shows them) and a
// new request continues where it stopped.
func (s *Server) closeThrough(w http.ResponseWriter, r *http.Request, p *principal) error {
	period, cr, err := s.periodToClose(r)
	if err != nil {
		return err
	}
	sts, err := cr.CloseThrough(r.Context(), period)
	for _, st := range sts {
		s.log.InfoContext(r.Context(), "api: period closed", "period", st.Period.String(), "total_cents", st.TotalCents, "through", period.String(), "by", p.ID)
	}
	if err != nil {
		return creditErr(err)
	}
	res := CloseThroughResult{Closed: []credit.Period{}, Settlements: sts}
	for _, st := range sts {
		res.Closed = append(res.Closed, st.Period)
	}
	return writeJSON(w, http.StatusOK, res)
}

// approvalErr gives the approval store's refusals their API codes.
func approvalErr(err error, p credit.Period) error {
	switch {
	case errors.Is(err, store.ErrExists):
		return &Error{Status: http.StatusConflict, Code: "already_approved", Field: "period", Message: fmt.Sprintf("%s is approved already", p)}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusConflict, Code: "not_closed", Field: "period", Message: fmt.Sprintf("%s is not closed: only a closed period is approved", p)}
	}
	return err
}

// approvePeriod is POST /periods/{period}/approve (admins): the caller
// approves the closed period's settlement, once (store.ApprovalStore).
func (s *Server) approvePeriod(w http.ResponseWriter, r *http.Request, p *principal) error {
	period, err := periodAlone(r)
	if err != nil {
		return err
	}
	a, err := s.st.Credit().ApproveSettlement(r.Context(), store.SettlementApproval{Period: period, ApprovedBy: p.ID, ApprovedByName: p.Name})
	if err != nil {
		return approvalErr(err, period)
	}
	s.log.InfoContext(r.Context(), "api: settlement approved", "period", period.String(), "total_cents", a.TotalCents, "by", p.ID)
	return created(w, a)
}

// getApproval is GET /periods/{period}/approval: who approved the period's
// settlement and when (404 while it is not approved). Managers see it too:
// the approval concerns every center's payment.
func (s *Server) getApproval(w http.ResponseWriter, r *http.Request, p *principal) error {
	period, err := periodAlone(r)
	if err != nil {
		return err
	}
	a, err := s.st.Credit().SettlementApproval(r.Context(), period)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}
