package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/api/apitest"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// syncBuffer is a log destination that tests read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log lines whose fields contain every key/value of want.
func (b *syncBuffer) lines(want map[string]any) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		ok := true
		for k, v := range want {
			if fmt.Sprint(m[k]) != fmt.Sprint(v) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// network is a running central (real HTTP, SQLite, embedded broker) with
// two centers: c1 "Gent" (door d1, local member m1, manager mgr1,
// technician tech1) and c2 "Leuven" (door d2, local member m2, manager
// mgr2), and a nomadic member n1 with a pass for every center.
type network struct {
	t      *testing.T
	srv    *server.Server
	base   string
	log    *syncBuffer
	tokens map[string]string // admin, mgr1, mgr2, tech1 → secret
	// staffSeq numbers the staff accounts tests sign in with.
	staffSeq int
	doors    map[string]*doorClient
}

// everyDay opens a center 08:00–18:00 every day.
func everyDay() [7][]map[string]int {
	var h [7][]map[string]int
	for d := range h {
		h[d] = []map[string]int{{"open": 8 * 60, "close": 18 * 60}}
	}
	return h
}

func startNetwork(t *testing.T) *network { return startNetworkWith(t, nil) }

// startNetworkWith is startNetwork with the server's configuration changed
// by adjust first (such as an SMTP relay).
func startNetworkWith(t *testing.T, adjust func(*server.Config)) *network {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	n := &network{t: t, log: &syncBuffer{}, tokens: map[string]string{}, doors: map[string]*doorClient{}}
	cfg := server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		DefaultRateCents: 1000, Out: io.Discard, PasswordParams: accounts.TestParams(), Logger: slog.New(slog.NewJSONHandler(n.log, nil))}
	if adjust != nil {
		adjust(&cfg)
	}
	s, err := server.Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	n.srv, n.base = s, "http://"+s.HTTPAddr()
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	n.tokens["admin"] = strings.TrimSpace(string(raw))

	n.api("POST", "/centers", map[string]any{"id": "c1", "name": "Gent", "time_zone": "Europe/Brussels", "hours": everyDay()})
	n.api("POST", "/centers", map[string]any{"id": "c2", "name": "Leuven", "time_zone": "Europe/Brussels", "hours": everyDay()})
	n.api("POST", "/doors", map[string]any{"id": "d1", "center_id": "c1", "name": "Gent front"})
	n.api("POST", "/doors", map[string]any{"id": "d2", "center_id": "c2", "name": "Leuven front"})
	n.api("POST", "/members", map[string]any{"id": "m1", "name": "Ann Gent", "home_center_id": "c1", "status": "active"})
	n.api("POST", "/members", map[string]any{"id": "m2", "name": "Bert Leuven", "home_center_id": "c2", "status": "active"})
	n.api("POST", "/members", map[string]any{"id": "n1", "name": "Nora Nomad", "status": "active"})
	n.api("POST", "/badges", map[string]any{"uid": "04A1B2C3", "member_id": "n1"})
	n.api("POST", "/badges", map[string]any{"uid": "04D1D2D3", "member_id": "m1"})
	n.api("POST", "/badges", map[string]any{"uid": "04E1E2E3", "member_id": "m2"})
	from := time.Now().AddDate(-1, 0, 0).UTC().Truncate(time.Hour)
	n.api("POST", "/passes", map[string]any{"id": "p1", "member_id": "n1", "valid_from": from, "valid_until": from.AddDate(2, 0, 0)})
	for name, tk := range map[string]map[string]any{
		"mgr1":  {"id": "mgr1", "name": "Gent manager", "role": "manager", "centers": []string{"c1"}},
		"mgr2":  {"id": "mgr2", "name": "Leuven manager", "role": "manager", "centers": []string{"c2"}},
		"tech1": {"id": "tech1", "name": "Gent technician", "role": "technician", "centers": []string{"c1"}},
	} {
		var res struct{ Secret string }
		require.NoError(t, json.Unmarshal(n.api("POST", "/tokens", tk), &res))
		n.tokens[name] = res.Secret
	}
	for _, d := range []string{"d1", "d2"} {
		var sec struct{ Secret string }
		require.NoError(t, json.Unmarshal(n.api("POST", "/doors/"+d+"/secret", nil), &sec))
		n.doors[d] = connectDoor(t, s, d, sec.Secret)
	}
	return n
}

// api calls the API as admin and requires success.
func (n *network) api(method, path string, body any) []byte {
	n.t.Helper()
	code, b := n.apiAs("admin", method, path, body)
	require.Less(n.t, code, 300, "%s %s: %s", method, path, b)
	return b
}

// checkedClient sends requests to the API through the OpenAPI check: an
// exchange that does not match openapi.json is the request's error.
func checkedClient() *http.Client { return &http.Client{Transport: apitest.Transport{}} }

// apiAs calls the token API as who; the exchange must match openapi.json.
func (n *network) apiAs(who, method, path string, body any) (int, []byte) {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		require.NoError(n.t, err)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, n.base+"/api/v1"+path, rd)
	require.NoError(n.t, err)
	req.Header.Set("Authorization", "Bearer "+n.tokens[who])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := checkedClient().Do(req)
	require.NoError(n.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(n.t, err)
	return res.StatusCode, b
}

// browser is an HTTP client with a session, as a browser would hold it.
type browser struct {
	// id is the principal the pages act as: the admin token's id, or
	// "staff.ACCOUNT" for a staff account.
	id   string
	t    *testing.T
	n    *network
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login signs in as who through the sign-in forms: the admin with the
// break-glass API-token form (/login/token); the managers and the
// technician as staff accounts with their token's role and centers
// (e-mail, password, then the TOTP code computed from the secret).
func (n *network) login(who string) *browser {
	n.t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(n.t, err)
	b := &browser{t: n.t, n: n, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if strings.HasPrefix(who, "admin") { // admin, admin2: admin tokens
		code, body := b.get("/login/token")
		require.Equal(n.t, http.StatusOK, code)
		m := csrfRE.FindStringSubmatch(body)
		require.NotNil(n.t, m, "the login form has a CSRF token")
		code, _, hdr := b.post("/login/token", url.Values{"token": {n.tokens[who]}, "csrf": {m[1]}, "next": {"/"}})
		require.Equal(n.t, http.StatusSeeOther, code)
		require.Equal(n.t, "/", hdr.Get("Location"))
		tk, err := n.srv.Store.AuthenticateToken(context.Background(), n.tokens[who])
		require.NoError(n.t, err)
		b.id = tk.ID
	} else {
		u := n.staffAccount(who)
		n.staffSignIn(b, u)
		b.id = "staff." + u.id
	}
	code, body := b.get("/")
	require.Equal(n.t, http.StatusOK, code, body)
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(n.t, m, "pages carry the session's CSRF token")
	b.csrf = m[1]
	return b
}

// staffPassword is the password of the test's staff accounts.
const staffPassword = "correct ostrich paperclip 42"

// staffUser is a staff account a test signs in with.
type staffUser struct {
	id, email, secret string
}

// staffAccount creates an active staff account with the role and centers
// of the token who (a new one at each call: a TOTP code signs in once).
func (n *network) staffAccount(who string) staffUser {
	n.t.Helper()
	tk, err := n.srv.Store.Token(context.Background(), who)
	require.NoError(n.t, err)
	n.staffSeq++
	u := staffUser{email: fmt.Sprintf("%s.%d@staff.example", who, n.staffSeq), secret: accounts.NewTOTPSecret()}
	a, _, err := n.srv.Accounts.CreateActive(audit.WithSystem(context.Background(), "test"),
		accounts.Invitation{Email: u.email, Name: tk.Name, Role: tk.Role, Centers: tk.Centers}, staffPassword, u.secret)
	require.NoError(n.t, err)
	u.id = a.ID
	return u
}

// staffSignIn signs b in with e-mail, password and TOTP code.
func (n *network) staffSignIn(b *browser, u staffUser) {
	n.t.Helper()
	code, body := b.get("/login")
	require.Equal(n.t, http.StatusOK, code)
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(n.t, m, "the sign-in form has a CSRF token")
	code, body, hdr := b.post("/login", url.Values{"email": {u.email}, "password": {staffPassword}, "csrf": {m[1]}, "next": {"/"}})
	require.Equal(n.t, http.StatusSeeOther, code, body)
	require.Equal(n.t, "/login/totp?next=%2F", hdr.Get("Location"))
	code, body = b.get(hdr.Get("Location"))
	require.Equal(n.t, http.StatusOK, code)
	m = csrfRE.FindStringSubmatch(body)
	require.NotNil(n.t, m)
	totp, err := accounts.TOTPCode(u.secret, time.Now())
	require.NoError(n.t, err)
	code, body, hdr = b.post("/login/totp", url.Values{"code": {totp}, "csrf": {m[1]}, "next": {"/"}})
	require.Equal(n.t, http.StatusSeeOther, code, body)
	require.Equal(n.t, "/", hdr.Get("Location"))
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.c.Get(b.n.base + path)
	require.NoError(b.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return res.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values, headers ...string) (int, string, http.Header) {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.n.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return res.StatusCode, string(body), res.Header
}

// doorClient is a real paho client playing a door on the embedded broker,
// logged in with the secret the API issued.
type doorClient struct {
	id   string
	c    mqtt.Client
	mu   sync.Mutex
	cmds [][]byte
	acks []uint64
}

func connectDoor(t *testing.T, s *server.Server, door, secret string) *doorClient {
	t.Helper()
	d := &doorClient{id: door}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + s.Broker.Addr()).SetClientID(door).SetUsername(door).SetPassword(secret).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	d.c = mqtt.NewClient(opts)
	tok := d.c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { d.c.Disconnect(0) })
	topics := protocol.DefaultTopics()
	for kind, h := range map[string]mqtt.MessageHandler{
		protocol.TopicCommands: func(_ mqtt.Client, m mqtt.Message) { d.mu.Lock(); d.cmds = append(d.cmds, m.Payload()); d.mu.Unlock() },
		protocol.TopicAck: func(_ mqtt.Client, m mqtt.Message) {
			if a, err := protocol.DecodeAck(m.Payload()); err == nil {
				d.mu.Lock()
				d.acks = append(d.acks, a.Through)
				d.mu.Unlock()
			}
		},
	} {
		tok := d.c.Subscribe(topics.Door(door, kind), 1, h)
		require.True(t, tok.WaitTimeout(5*time.Second))
		require.NoError(t, tok.Error())
	}
	return d
}

func (d *doorClient) publish(t *testing.T, kind string, v any) {
	t.Helper()
	b, err := protocol.Encode(v)
	require.NoError(t, err)
	tok := d.c.Publish(protocol.DefaultTopics().Door(d.id, kind), 1, false, b)
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
}

// events publishes a batch and waits for its acknowledgement.
func (d *doorClient) events(t *testing.T, evs ...protocol.Event) {
	t.Helper()
	d.publish(t, protocol.TopicEvents, &protocol.EventBatch{V: protocol.Version, Door: d.id, Events: evs})
	last := evs[len(evs)-1].Seq
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, a := range d.acks {
			if a >= last {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "door %s: no ack through %d", d.id, last)
}

func (d *doorClient) commands() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.cmds...)
}

// tap is a tap event of the door at t.
func tap(seq uint64, at time.Time, uid protocol.UID, member string, reason protocol.Reason) protocol.Event {
	return protocol.Event{Seq: seq, TimeMs: at.UnixMilli(), Trusted: true, Boot: "boot1", Kind: protocol.EventTap,
		UID: uid, Member: member, Reason: reason, WLVersion: 1}
}
