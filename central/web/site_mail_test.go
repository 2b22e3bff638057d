package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/store"
)

// TestSiteBookingMails: booking, changing and cancelling on the site send
// the member e-mails in the page's language through the outbox to a real
// SMTP server, each with an .ics: the confirmation METHOD:REQUEST
// SEQUENCE:0, the change REQUEST SEQUENCE:1 with the same UID, the
// cancellation METHOD:CANCEL STATUS:CANCELLED SEQUENCE:2.
func TestSiteBookingMails(t *testing.T) {
	relay := mailtest.Start(t, mailtest.Options{})
	var outbox *mail.Outbox
	s := newSite(t, func(st store.Store) *mail.Outbox {
		var err error
		outbox, err = mail.NewOutbox(mail.OutboxConfig{Mail: relay.Config("Smart Work Centers <noreply@swc.example>"), Store: st.Outbox()})
		require.NoError(t, err)
		return outbox
	})
	ctx := context.Background()
	deliver := func(n int) []mailtest.Message {
		t.Helper()
		res, err := outbox.Flush(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Sent)
		return relay.Wait(t, n)
	}

	r := s.post("/my/bookings", "fr-BE", bookForm("c1", "r1", tuesday(), "09:00", "11:00"))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	msgs := deliver(1)
	booked := msgs[0]
	require.Equal(t, []string{"nora@example.org"}, booked.To)
	require.Contains(t, booked.Subject, "Réservation confirmée : Blue room · Gent")
	require.Contains(t, booked.Text, "Bonjour Nora Nomad")
	require.Contains(t, booked.Text, "09:00–11:00 CE")
	ics := onlyICS(t, booked, "REQUEST")
	require.Contains(t, ics, "METHOD:REQUEST\r\n")
	require.Contains(t, ics, "SEQUENCE:0\r\n")
	require.Contains(t, ics, `ORGANIZER;CN="Smart Work Centers":mailto:noreply@swc.example`)
	require.Contains(t, ics, `ATTENDEE;CN="Nora Nomad";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:nora@example.org`)
	uid := regexp.MustCompile(`UID:(\S+)`).FindStringSubmatch(ics)[1]
	require.True(t, strings.HasSuffix(uid, "@swc.example"), uid)

	home := s.get("/my/", "en")
	id := regexp.MustCompile(`data-booking="([^"]+)"`).FindStringSubmatch(home.body)[1]
	r = s.post("/my/bookings/"+id+"/change", "en", url.Values{"date": {ymd(tuesday())}, "from": {"10:00"}, "to": {"12:00"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	changed := deliver(2)[1]
	require.Contains(t, changed.Subject, "Booking changed: Blue room · Gent")
	ics = onlyICS(t, changed, "REQUEST")
	require.Contains(t, ics, "UID:"+uid+"\r\n")
	require.Contains(t, ics, "SEQUENCE:1\r\n")

	r = s.post("/my/bookings/"+id+"/cancel", "nl-BE", url.Values{})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	cancelled := deliver(3)[2]
	require.Contains(t, cancelled.Subject, "Reservatie geannuleerd: Blue room · Gent")
	ics = onlyICS(t, cancelled, "CANCEL")
	require.Contains(t, ics, "METHOD:CANCEL\r\n")
	require.Contains(t, ics, "STATUS:CANCELLED\r\n")
	require.Contains(t, ics, "UID:"+uid+"\r\n")
	require.Contains(t, ics, "SEQUENCE:2\r\n")

	// The feed shows the booking at its last revision.
	r = s.post("/my/calendar/reset", "en", url.Values{})
	feed := regexp.MustCompile(`id="feed-url"[^>]*>([^<]+)</textarea>`).FindStringSubmatch(r.body)[1]
	res, err := http.Get(feed)
	require.NoError(t, err)
	defer res.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, res.Body)
	require.NoError(t, err)
	require.Contains(t, b.String(), "SEQUENCE:2\r\n")
	require.Contains(t, b.String(), "STATUS:CANCELLED\r\n")
}

// onlyICS returns the message's one calendar attachment, of the method,
// its folded lines unfolded.
func onlyICS(t *testing.T, m mailtest.Message, method string) string {
	t.Helper()
	require.Len(t, m.Attachments, 1)
	a := m.Attachments[0]
	require.Equal(t, "text/calendar", a.MediaType)
	require.Equal(t, method, a.Params["method"])
	require.Equal(t, "booking.ics", a.Filename)
	return strings.ReplaceAll(string(a.Data), "\r\n ", "")
}

// TestSiteWithoutMail: without a mail relay, booking works, no e-mail is
// queued and the site says so once in its log, not once per booking.
func TestSiteWithoutMail(t *testing.T) {
	s := newSite(t, nil)
	for _, span := range [][2]string{{"09:00", "11:00"}, {"13:00", "15:00"}} {
		r := s.post("/my/bookings", "en", bookForm("c2", "", tuesday(), span[0], span[1]))
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
	}
	require.Len(t, s.log.lines(map[string]any{"msg": "web: no mail relay configured: booking e-mails are not sent"}), 1)
	n, err := s.st.Outbox().Depth(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
}
