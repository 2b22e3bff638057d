package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/calendar"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
)

// The booking site's notices and calendars: the confirmation, change and
// cancellation e-mails (each with an .ics: METHOD:REQUEST or CANCEL, the
// booking's revision as SEQUENCE, kept by store.SiteStore), and each
// member's private iCalendar feed, reached by a secret token in its URL
// (only its hash is stored; resetting it makes the old URL answer 404).

// notice is the kind of a booking e-mail.
type notice string

const (
	noticeBooked    notice = "booked"
	noticeChanged   notice = "changed"
	noticeCancelled notice = "cancelled"
)

// feedTokenPrefix starts every feed token.
const feedTokenPrefix = "swcf_"

// siteBase is the scheme and host the request came to, for the links in
// e-mails and calendars.
func siteBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// icsDomain is the domain of the calendars' UIDs.
func (w *Web) icsDomain(r *http.Request) string {
	if a, err := netmail.ParseAddress(w.cfg.MailFrom); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			return a.Address[i+1:]
		}
	}
	host := r.Host
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return host
}

// event is a booking as a calendar event, in the locale's words.
func (w *Web) event(ctx context.Context, r *http.Request, l i18n.Locale, pl *places, b domain.Booking, seq int) calendar.Event {
	c, loc, _ := pl.center(ctx, b.CenterID)
	place := placeName(c.Name, pl.roomName(ctx, b.RoomID))
	link := siteBase(r) + SitePrefix + "bookings/" + b.ID
	e := calendar.Event{UID: calendar.BookingUID(b.ID, w.icsDomain(r)), Sequence: seq, Stamp: w.now(), Start: b.Start, End: b.End,
		Summary: l.T("site.ics.summary", "place", place), Location: place, URL: link,
		Description: l.T("site.ics.description", "when", span(l, b.Start, b.End, loc), "link", link), Status: calendar.StatusConfirmed}
	if b.Status != domain.BookingConfirmed {
		e.Status = calendar.StatusCancelled
	}
	return e
}

// notify sends the member the e-mail of a booking made, changed or
// cancelled, in the page's language, with its .ics. A change or a
// cancellation raises the booking's revision (the .ics SEQUENCE). Without
// a mail relay (Config.Mail nil) nothing is sent, which is logged once; a
// member without an e-mail address gets nothing (logged). A failure to
// queue is logged and counted: the booking stands.
func (w *Web) notify(ctx context.Context, r *http.Request, v *viewer, kind notice, b domain.Booking) {
	seq := 0
	if kind != noticeBooked {
		var err error
		if seq, err = w.st.Site().BumpBookingRevision(ctx, b.ID); err != nil {
			w.log.WarnContext(ctx, "web: booking revision", "booking", b.ID, "err", err)
			w.mailFailed.Inc()
			return
		}
	}
	if w.cfg.Mail == nil {
		w.noMail.Do(func() { w.log.InfoContext(ctx, "web: no mail relay configured: booking e-mails are not sent") })
		return
	}
	if v.Member.Email == "" {
		w.log.InfoContext(ctx, "web: member has no e-mail address: no booking e-mail", "member", v.Member.ID, "booking", b.ID)
		return
	}
	if err := w.sendNotice(ctx, r, v, kind, b, seq); err != nil {
		w.log.WarnContext(ctx, "web: booking e-mail", "booking", b.ID, "notice", string(kind), "err", err)
		w.mailFailed.Inc()
	}
}

func (w *Web) sendNotice(ctx context.Context, r *http.Request, v *viewer, kind notice, b domain.Booking, seq int) error {
	l := w.locale(r, v)
	pl := w.places()
	c, loc, err := pl.center(ctx, b.CenterID)
	if err != nil {
		return err
	}
	from, err := netmail.ParseAddress(w.cfg.MailFrom)
	if err != nil {
		return fmt.Errorf("organizer %q: %w", w.cfg.MailFrom, err)
	}
	e := w.event(ctx, r, l, pl, b, seq)
	e.Organizer = &calendar.Person{Name: from.Name, Email: from.Address}
	e.Attendee = &calendar.Person{Name: v.Member.Name, Email: v.Member.Email}
	method := calendar.MethodRequest
	if kind == noticeCancelled {
		method = calendar.MethodCancel
	}
	ics, err := (&calendar.Calendar{Method: method, Events: []calendar.Event{e}}).Encode()
	if err != nil {
		return err
	}
	place := placeName(c.Name, pl.roomName(ctx, b.RoomID))
	when := span(l, b.Start, b.End, loc)
	to := (&netmail.Address{Name: v.Member.Name, Address: v.Member.Email}).String()
	m := mail.Message{To: to, Subject: l.T("site.mail."+string(kind)+".subject", "place", place, "when", when),
		Text:        l.T("site.mail."+string(kind)+".text", "name", v.Member.Name, "place", place, "when", when, "link", siteBase(r)+SitePrefix),
		Attachments: []mail.Attachment{{Filename: "booking.ics", ContentType: calendar.ContentType(method), Data: ics}}}
	_, _, err = w.cfg.Mail.Enqueue(ctx, fmt.Sprintf("booking:%s:%s:%d", b.ID, kind, seq), m)
	return err
}

// siteCalendar shows the member's feed: whether there is one (its URL is
// shown once, when made) and the button that makes a new one.
func (w *Web) siteCalendar(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	return w.showCalendar(rw, r, v, "")
}

func (w *Web) showCalendar(rw http.ResponseWriter, r *http.Request, v *viewer, url string) error {
	ctx, cancel := w.context(r)
	defer cancel()
	data := map[string]any{"URL": url}
	at, err := w.st.Site().FeedCreated(ctx, v.Member.ID)
	switch {
	case err == nil:
		data["Since"] = time.UnixMilli(at)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	w.render(rw, r, http.StatusOK, "site_calendar", v, data)
	return nil
}

// siteCalendarReset makes a new feed URL; the old one answers 404.
func (w *Web) siteCalendarReset(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	secret := store.NewSecret(feedTokenPrefix)
	if err := w.st.Site().ResetFeedToken(r.Context(), v.Member.ID, secret, w.now().UnixMilli()); err != nil {
		return err
	}
	return w.showCalendar(rw, r, v, siteBase(r)+SitePrefix+"calendar/"+secret+".ics")
}

// siteFeed serves a member's feed: GET /my/calendar/{token}.ics, found by
// the token alone (calendar clients send no cookie): the member's bookings
// from siteRecent ago to siteFeedAhead ahead, cancelled ones as CANCELLED.
func (w *Web) siteFeed(rw http.ResponseWriter, r *http.Request) {
	secret, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
	if !ok || !strings.HasPrefix(secret, feedTokenPrefix) {
		w.errorPage(rw, r, nil, pageErr(http.StatusNotFound, "error.no_page"))
		return
	}
	ctx, cancel := w.context(r)
	defer cancel()
	member, err := w.st.Site().FeedMember(ctx, secret)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			w.log.ErrorContext(ctx, "web: feed", "err", err)
		}
		w.errorPage(rw, r, nil, pageErr(http.StatusNotFound, "error.no_page"))
		return
	}
	ics, err := w.feed(ctx, r, member)
	if err != nil {
		w.log.ErrorContext(ctx, "web: feed", "member", member, "err", err)
		w.errorPage(rw, r, nil, err)
		return
	}
	rw.Header().Set("Content-Type", calendar.ContentType(calendar.MethodNone))
	rw.Header().Set("Content-Disposition", `inline; filename="bookings.ics"`)
	_, _ = rw.Write(ics)
}

func (w *Web) feed(ctx context.Context, r *http.Request, member string) ([]byte, error) {
	now := w.now()
	bs, err := w.booking.MyBookings(ctx, member, now.Add(-siteRecent), now.Add(siteFeedAhead))
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(bs))
	for i := range bs {
		ids[i] = bs[i].ID
	}
	revs, err := w.st.Site().BookingRevisions(ctx, ids)
	if err != nil {
		return nil, err
	}
	l := w.locale(r, nil)
	pl := w.places()
	cal := calendar.Calendar{Name: l.T("site.ics.feed_name"), Refresh: time.Hour, Events: make([]calendar.Event, 0, len(bs))}
	for _, b := range bs {
		cal.Events = append(cal.Events, w.event(ctx, r, l, pl, b, revs[b.ID]))
	}
	return cal.Encode()
}
