package web

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Hours is what the hours and member pages read from the crediting side.
// The central wires its credit.Ledger behind it (see ComputedHours for a
// computation from scratch over the store).
type Hours interface {
	// Settlement returns period p's settlement for the whole network (the
	// pages narrow it with ForCenter for a manager).
	Settlement(ctx context.Context, p credit.Period) (*credit.Settlement, error)
	// Statement returns a member's statement for period p.
	Statement(ctx context.Context, member string, p credit.Period) (*credit.Statement, error)
	// DailyMinutes returns the minutes credited to center ("" for every
	// center) on each day of p, index 0 being the 1st: the credited
	// minutes of the visits that start that day (network time zone).
	// Adjustments of closed periods are not in it; the settlement has them.
	DailyMinutes(ctx context.Context, center string, p credit.Period) ([]int64, error)
}

// DailyFromResults sums the credited minutes of the visits in results per
// day of p in loc, for center ("" for every center), by the day a visit
// starts. A Hours implementation over a credit.Store gets its results from
// MemberPeriods(ctx, p).
func DailyFromResults(results []credit.MemberPeriod, center string, p credit.Period, loc *time.Location) []int64 {
	start := p.Start(loc)
	days := p.End(loc).AddDate(0, 0, -1).Day()
	out := make([]int64, days)
	for i := range results {
		for j := range results[i].Visits {
			v := &results[i].Visits[j]
			if !v.Credited || (center != "" && v.CenterID != center) {
				continue
			}
			s := v.Start.In(loc)
			if s.Before(start) || credit.PeriodOf(s, loc) != p {
				continue
			}
			out[s.Day()-1] += v.CreditedMinutes
		}
	}
	return out
}

// ComputedHours computes hours from scratch over the store with
// credit.Compute: the directory of centers, doors, members, passes and the
// bookings around the period, and the events of credit.EventWindow. It
// needs no crediting tables, and it gives what a Ledger gives for an open
// period without adjustments; its cost grows with the period's events, so
// results are kept for CacheFor. Events are read by their door time: an
// event received in the window whose door time lies outside it changes no
// credited minute, but its set-aside count (such as clock_ahead) is
// missing from the settlement's counts.
type ComputedHours struct {
	st       store.Store
	cfg      credit.Config
	now      func() time.Time
	CacheFor time.Duration

	mu    sync.Mutex
	cache map[credit.Period]computed
}

type computed struct {
	res *credit.Result
	at  time.Time
}

// NewComputedHours returns hours computed with the rules of cfg.
func NewComputedHours(st store.Store, cfg credit.Config, now func() time.Time) (*ComputedHours, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &ComputedHours{st: st, cfg: cfg, now: now, CacheFor: 30 * time.Second, cache: map[credit.Period]computed{}}, nil
}

func (h *ComputedHours) result(ctx context.Context, p credit.Period) (*credit.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if c, ok := h.cache[p]; ok && now.Sub(c.at) < h.CacheFor {
		return c.res, nil
	}
	loc := h.cfg.Location
	centers, err := store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Center], error) {
		return h.st.ListCenters(ctx, store.CenterFilter{PageRequest: pr})
	})
	if err != nil {
		return nil, err
	}
	doors, err := store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Door], error) {
		return h.st.ListDoors(ctx, store.DoorFilter{PageRequest: pr})
	})
	if err != nil {
		return nil, err
	}
	members, err := store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Member], error) {
		return h.st.ListMembers(ctx, store.MemberFilter{PageRequest: pr})
	})
	if err != nil {
		return nil, err
	}
	margin := 2*24*time.Hour + h.cfg.Grace
	bookings, err := store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Booking], error) {
		return h.st.ListBookings(ctx, store.BookingFilter{From: p.Start(loc).Add(-margin), To: p.End(loc).Add(margin), PageRequest: pr})
	})
	if err != nil {
		return nil, err
	}
	passes, err := store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Pass], error) {
		return h.st.ListPasses(ctx, store.PassFilter{PageRequest: pr})
	})
	if err != nil {
		return nil, err
	}
	dir := credit.NewDirectory(centers, doors, members, bookings, passes)
	from, to := credit.EventWindow(h.cfg, dir, p)
	events, err := store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Event], error) {
		return h.st.ListEvents(ctx, store.EventFilter{From: from, To: to, PageRequest: pr})
	})
	if err != nil {
		return nil, err
	}
	res, err := credit.Compute(h.cfg, dir, events)
	if err != nil {
		return nil, err
	}
	for k, c := range h.cache {
		if now.Sub(c.at) >= h.CacheFor {
			delete(h.cache, k)
		}
	}
	h.cache[p] = computed{res: res, at: now}
	return res, nil
}

// Settlement implements Hours.
func (h *ComputedHours) Settlement(ctx context.Context, p credit.Period) (*credit.Settlement, error) {
	res, err := h.result(ctx, p)
	if err != nil {
		return nil, err
	}
	return res.Settlement(p), nil
}

// Statement implements Hours.
func (h *ComputedHours) Statement(ctx context.Context, member string, p credit.Period) (*credit.Statement, error) {
	res, err := h.result(ctx, p)
	if err != nil {
		return nil, err
	}
	return res.Statement(member, p), nil
}

// DailyMinutes implements Hours.
func (h *ComputedHours) DailyMinutes(ctx context.Context, center string, p credit.Period) ([]int64, error) {
	res, err := h.result(ctx, p)
	if err != nil {
		return nil, err
	}
	return DailyFromResults(res.MemberPeriods(p), center, p, h.cfg.Location), nil
}

// periodOf reads the period parameter (default: the current month).
func (w *Web) periodOf(r *http.Request) (credit.Period, error) {
	s := r.URL.Query().Get("period")
	if s == "" {
		return credit.PeriodOf(w.now(), w.loc), nil
	}
	p, err := credit.ParsePeriod(s)
	if err != nil {
		return p, pageErr(http.StatusBadRequest, "error.bad_period")
	}
	return p, nil
}

// centerOf reads the center parameter: a manager always gets their own
// center (and a refusal for another), an admin the one asked for or "".
func (w *Web) centerOf(r *http.Request, v *viewer) (string, error) {
	c := r.URL.Query().Get("center")
	if c != "" && protocol.ValidID(c) != nil {
		return "", pageErr(http.StatusBadRequest, "error.no_center")
	}
	if v.Admin() {
		return c, nil
	}
	if c != "" && !v.Sees(c) {
		return "", forbidden(c)
	}
	if c == "" && len(v.Centers) > 0 {
		c = v.Centers[0]
	}
	return c, nil
}

// chart is the SVG bar chart of hours per day.
type chart struct {
	Width, Height       int
	Left, Right         int // x of the plot's edges
	Bottom, Top         int
	PlotW, PlotH        int
	Bars                []bar
	Ticks               []tick
	Labels              []label
	TotalHours, MaxHour string
	Empty               bool
}

type bar struct {
	X, Y, W, H float64
	Title      string
}

type tick struct {
	Y     float64
	Label string
}

type label struct {
	X     float64
	Label string
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}

func hoursText(minutes int64) string { return strconv.FormatFloat(float64(minutes)/60, 'f', 2, 64) }

// newChart lays the days out; the SVG scales to the page width.
func newChart(days []int64, p credit.Period, loc *time.Location) chart {
	c := chart{Width: 720, Height: 260, Left: 64, Bottom: 30, Top: 14}
	c.PlotW, c.PlotH = c.Width-c.Left-8, c.Height-c.Bottom-c.Top
	c.Right = c.Left + c.PlotW
	var maxMin, total int64
	for _, m := range days {
		maxMin = max(maxMin, m)
		total += m
	}
	c.Empty = total == 0
	c.TotalHours = hoursText(total)
	top := niceCeil(float64(maxMin) / 60)
	c.MaxHour = strconv.FormatFloat(top, 'f', -1, 64)
	for i := 0; i <= 4; i++ {
		h := top * float64(i) / 4
		c.Ticks = append(c.Ticks, tick{Y: float64(c.Top) + float64(c.PlotH)*(1-float64(i)/4), Label: strconv.FormatFloat(h, 'f', -1, 64)})
	}
	slot := float64(c.PlotW) / float64(len(days))
	for i, m := range days {
		h := float64(m) / 60 / top * float64(c.PlotH)
		x := float64(c.Left) + float64(i)*slot
		day := time.Date(p.Year, p.Month, i+1, 0, 0, 0, 0, loc)
		c.Bars = append(c.Bars, bar{X: x + slot*0.15, Y: float64(c.Top+c.PlotH) - h, W: slot * 0.7, H: h,
			Title: fmt.Sprintf("%s: %s h", day.Format("Mon 2 Jan"), hoursText(m))})
		if d := i + 1; d == 1 || d%5 == 0 {
			c.Labels = append(c.Labels, label{X: x + slot/2, Label: strconv.Itoa(d)})
		}
	}
	return c
}

// recentPeriods lists the current month and the eleven before it.
func recentPeriods(now time.Time, loc *time.Location) []credit.Period {
	p := credit.PeriodOf(now, loc)
	out := make([]credit.Period, 0, 12)
	for i := 0; i < 12; i++ {
		out = append(out, p)
		p = p.Prev()
	}
	return out
}

// hours shows a center's credited hours per day and the month's settlement.
func (w *Web) hours(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	p, err := w.periodOf(r)
	if err != nil {
		return err
	}
	center, err := w.centerOf(r, v)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	data := map[string]any{"Period": p, "Periods": recentPeriods(w.now(), w.loc), "Center": center, "Centers": centers,
		"Available": w.cfg.Hours != nil, "Month": w.locale(r, v).Month(p.Start(w.loc))}
	if center != "" {
		c, err := w.st.Center(ctx, center)
		if err != nil {
			return err
		}
		data["CenterName"] = c.Name
	}
	if w.cfg.Hours != nil {
		s, err := w.cfg.Hours.Settlement(ctx, p)
		if err != nil {
			return err
		}
		if center != "" {
			s = s.ForCenter(center)
		}
		days, err := w.cfg.Hours.DailyMinutes(ctx, center, p)
		if err != nil {
			return err
		}
		data["Settlement"] = s
		data["Chart"] = newChart(days, p, w.loc)
		q := "period=" + p.String()
		if center != "" {
			q += "&center=" + center
		}
		data["CSV"] = template.URL("/hours/settlement.csv?" + q)
	}
	w.render(rw, r, http.StatusOK, "hours", v, data)
	return nil
}

// settlementCSV downloads the settlement, narrowed to the manager's center.
func (w *Web) settlementCSV(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Hours == nil {
		return pageErr(http.StatusServiceUnavailable, "hours.unavailable")
	}
	p, err := w.periodOf(r)
	if err != nil {
		return err
	}
	return w.sendSettlement(rw, r, v, p, credit.FormatCSV)
}
