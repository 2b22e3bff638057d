package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/smartworkcenters/swc/central/audit"
)

// The booking site: the members' pages live under SitePrefix, beside the
// staff pages, in the same layout, stylesheet and catalog. A member signs
// in at SiteSignIn (an e-mail code or a passkey), which starts a session
// of kind store.SubjectMember; memberPage lets only such sessions in, and
// page (the staff side) never does, since a member has no role.

const (
	// SitePrefix is where the booking site's pages are.
	SitePrefix = "/my/"
	// SiteSignIn is the booking site's sign-in page.
	SiteSignIn = "/my/signin"
)

// memberPage wraps a booking-site handler: the request must carry a
// member's session (else a GET goes to the sign-in page and comes back),
// the audit log names the member, and a POST must carry the session's
// CSRF token.
func (w *Web) memberPage(h handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		defer func() {
			if x := recover(); x != nil {
				w.log.ErrorContext(r.Context(), "web: panic", "method", r.Method, "path", r.URL.Path, "panic", x)
				w.errorPage(rw, r, nil, pageErr(http.StatusInternalServerError, "error.internal"))
			}
		}()
		v, err := w.viewer(r)
		if err == nil && v.Member == nil {
			err = errNoSession // a staff session is not a member's
		}
		if err != nil {
			if errors.Is(err, errNoSession) {
				if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, ".ics") {
					http.Redirect(rw, r, SiteSignIn+"?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				w.errorPage(rw, r, nil, pageErr(http.StatusUnauthorized, "error.session_ended"))
				return
			}
			w.errorPage(rw, r, nil, err)
			return
		}
		r = r.WithContext(audit.WithActor(r.Context(), audit.FromRequest(r, audit.Actor{
			Kind: audit.KindMember, ID: v.Member.ID, Name: v.Member.Name})))
		if r.Method == http.MethodPost {
			if err := w.checkCSRF(r, v); err != nil {
				w.errorPage(rw, r, v, err)
				return
			}
		}
		if err := h(rw, r, v); err != nil {
			w.errorPage(rw, r, v, err)
		}
	})
}
