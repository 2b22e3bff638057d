package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/web"
)

// signinSite is the booking site with member sign-in, served at
// http://localhost:PORT (a passkey's relying party must be a name).
type signinSite struct {
	st   store.Store
	srv  *mailtest.Server
	ob   *mail.Outbox
	base string
}

func startSigninSite(t *testing.T, withMail bool) *signinSite {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "Gent", TimeZone: "Europe/Brussels"}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "ann", Name: "Ann Peeters", Email: "ann@example.org", HomeCenterID: "c1", Status: domain.MemberActive}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &signinSite{st: st, base: "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")}
	cfg := accounts.MemberConfig{Store: st, PublicURL: s.base}
	if withMail {
		s.srv = mailtest.Start(t, mailtest.Options{})
		s.ob, err = mail.NewOutbox(mail.OutboxConfig{Mail: s.srv.Config("Smart Work Centers <noreply@example.org>"), Store: st.Outbox(), Owner: "t"})
		require.NoError(t, err)
		cfg.Mail = s.ob
	}
	members, err := accounts.NewMembers(cfg)
	require.NoError(t, err)
	w, err := web.New(web.Config{Store: st, Members: members, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(w.Close)
	hs := &http.Server{Handler: w}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	return s
}

// code delivers the outbox and returns the code of the last mail to ann.
func (s *signinSite) code(t *testing.T) string {
	t.Helper()
	_, err := s.ob.Flush(context.Background())
	require.NoError(t, err)
	msgs := s.srv.Messages()
	require.NotEmpty(t, msgs)
	last := msgs[len(msgs)-1]
	require.Equal(t, []string{"ann@example.org"}, last.To)
	c := regexp.MustCompile(`\b[0-9]{6}\b`).FindString(last.Text)
	require.NotEmpty(t, c, last.Text)
	return c
}

// browserless is a cookie-keeping HTTP client that does not follow
// redirects.
func browserless(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func getPage(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	res, err := c.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func postForm(t *testing.T, c *http.Client, u string, f url.Values) (int, string, string) {
	t.Helper()
	res, err := c.PostForm(u, f)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

// TestCodeSignInPages: the pages' code flow end to end, the code read
// from the mail a real SMTP server received: an address with no member
// gets exactly the answer a member gets (and no mail); the code page
// counts wrong codes down; the right code starts a member session and goes
// to the asked page, never off the site; the form refuses a post without
// its sign-in token.
func TestCodeSignInPages(t *testing.T) {
	s := startSigninSite(t, true)
	signin := func(c *http.Client, email, next string) (int, string) {
		code, body := getPage(t, c, s.base+web.SiteSignIn+"?next="+url.QueryEscape(next))
		require.Equal(t, http.StatusOK, code)
		m := csrfRE.FindStringSubmatch(body)
		require.NotNil(t, m, body)
		status, loc, _ := postForm(t, c, s.base+web.SiteSignIn, url.Values{"csrf": {m[1]}, "email": {email}, "next": {next}})
		return status, loc
	}

	// No enumeration: same status and the same page for both addresses.
	stranger := browserless(t)
	st1, loc1 := signin(stranger, "nobody@example.org", "/my/bookings")
	ann := browserless(t)
	st2, loc2 := signin(ann, "ann@example.org", "/my/bookings")
	require.Equal(t, http.StatusSeeOther, st1)
	require.Equal(t, st1, st2)
	require.Equal(t, loc1, loc2)
	require.NotContains(t, loc2, "example.org", "the address stays out of the URL")
	code := s.code(t)
	require.Len(t, s.srv.Messages(), 1, "no mail to an unknown address")

	codePage := func(c *http.Client) string {
		_, body := getPage(t, c, s.base+loc2)
		m := csrfRE.FindStringSubmatch(body)
		require.NotNil(t, m, body)
		return m[1]
	}
	csrf := codePage(ann)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	status, _, body := postForm(t, ann, s.base+web.SiteSignIn+"/code", url.Values{"csrf": {csrf}, "code": {wrong}, "next": {"/my/bookings"}})
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, body, "4 tries left")
	status, _, _ = postForm(t, ann, s.base+web.SiteSignIn+"/code", url.Values{"code": {code}})
	require.Equal(t, http.StatusForbidden, status, "no sign-in token")
	status, loc, _ := postForm(t, ann, s.base+web.SiteSignIn+"/code", url.Values{"csrf": {csrf}, "code": {code}, "next": {"//evil.example/"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, web.SitePrefix, loc, "an unsafe next goes to the site's home")
	status, body = getPage(t, ann, s.base+web.SitePrefix)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Ann Peeters")
	status, _ = getPage(t, ann, s.base+"/")
	require.Equal(t, http.StatusSeeOther, status, "a member's session opens no staff page")

	// A suspended member's session ends at their next request.
	m, err := s.st.Member(context.Background(), "ann")
	require.NoError(t, err)
	m.Status = domain.MemberSuspended
	require.NoError(t, s.st.UpdateMember(context.Background(), m))
	status, _ = getPage(t, ann, s.base+web.SitePrefix)
	require.Equal(t, http.StatusSeeOther, status, "suspended: back to the sign-in")
}

// TestPasskeyEndpointsRefuse: the passkey sign-in's endpoints want the
// sign-in token, and junk is refused with a message for the page.
func TestPasskeyEndpointsRefuse(t *testing.T) {
	s := startSigninSite(t, false)
	c := browserless(t)
	status, _, body := postForm(t, c, s.base+web.SiteSignIn+"/passkey/begin", url.Values{})
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, `"error":"The sign-in form expired`)
	_, page := getPage(t, c, s.base+web.SiteSignIn)
	csrf := regexp.MustCompile(`data-csrf="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, csrf, page)
	status, _, body = postForm(t, c, s.base+web.SiteSignIn+"/passkey/begin", url.Values{"csrf": {csrf[1]}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `"challenge"`)
	status, _, body = postForm(t, c, s.base+web.SiteSignIn+"/passkey/finish", url.Values{"csrf": {csrf[1]}, "credential": {`{"id":"AAAA","type":"public-key"}`}})
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, body, "This passkey was not accepted")
}

// TestSigninWithoutMail: with no relay, the sign-in page says e-mail
// sign-in is not available and still offers passkeys.
func TestSigninWithoutMail(t *testing.T) {
	s := startSigninSite(t, false)
	status, body := getPage(t, browserless(t), s.base+web.SiteSignIn)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `id="no-mail"`)
	require.Contains(t, body, "Sign-in by e-mail is not available")
	require.NotContains(t, body, `id="email"`)
	require.Contains(t, body, `id="passkey-signin"`)
}
