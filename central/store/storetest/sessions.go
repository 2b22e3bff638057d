package storetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

func session(kind store.SubjectKind, id string, nowMs int64) store.Session {
	return store.Session{SubjectKind: kind, SubjectID: id, CSRF: store.NewSecret("csrf_"), Lang: "nl-BE",
		CreatedMs: nowMs, LastSeenMs: nowMs, IdleMs: 30 * 60_000, ExpiresMs: nowMs + 12*3_600_000}
}

// testSessions: a session is found by its id only (the store keeps a
// hash), is extended by use, ends when idle or at its absolute expiry, and
// can be revoked alone or with all of its subject's sessions.
func testSessions(e *env) {
	t, ctx, ss := e.t, e.ctx, e.s.Sessions()
	now := base().UnixMilli()
	id := store.NewSecret("")
	want := session(store.SubjectMember, "m1", now)
	require.NoError(t, ss.CreateSession(ctx, id, want))
	requireKind(t, ss.CreateSession(ctx, id, want), store.ErrExists, "id")

	got, err := ss.TouchSession(ctx, id, now+60_000)
	require.NoError(t, err)
	want.LastSeenMs = now + 60_000
	require.Equal(t, want, got)
	_, err = ss.TouchSession(ctx, id+"x", now)
	requireKind(t, err, store.ErrNotFound, "")
	_, err = ss.TouchSession(ctx, store.HashSecret(id), now)
	requireKind(t, err, store.ErrNotFound, "") // the stored hash is no id

	require.NoError(t, ss.SetSessionLang(ctx, id, "fr-BE"))
	got, err = ss.PeekSession(ctx, id, now+120_000)
	require.NoError(t, err)
	require.Equal(t, "fr-BE", got.Lang)
	require.Equal(t, now+60_000, got.LastSeenMs, "peek does not extend the session")

	require.NoError(t, ss.SetSessionFlash(ctx, id, "Saved."))
	msg, err := ss.TakeSessionFlash(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "Saved.", msg)
	msg, err = ss.TakeSessionFlash(ctx, id)
	require.NoError(t, err)
	require.Empty(t, msg, "a flash is read once")

	// Idle expiry: 30 minutes after the last use.
	_, err = ss.TouchSession(ctx, id, now+60_000+30*60_000-1)
	require.NoError(t, err)
	_, err = ss.TouchSession(ctx, id, now+60_000+2*30*60_000)
	requireKind(t, err, store.ErrNotFound, "")
	_, err = ss.PeekSession(ctx, id, now)
	requireKind(t, err, store.ErrNotFound, "") // an expired session is deleted

	// Absolute expiry however busy.
	id2 := store.NewSecret("")
	require.NoError(t, ss.CreateSession(ctx, id2, session(store.SubjectStaff, "s1", now)))
	at := now
	for at+20*60_000 < now+12*3_600_000 {
		at += 20 * 60_000
		_, err := ss.TouchSession(ctx, id2, at)
		require.NoError(t, err, "busy at +%d min", (at-now)/60_000)
	}
	_, err = ss.TouchSession(ctx, id2, now+12*3_600_000)
	requireKind(t, err, store.ErrNotFound, "")

	// Revocation: one, then all of a subject's.
	ids := []string{store.NewSecret(""), store.NewSecret(""), store.NewSecret("")}
	for i, x := range ids {
		sub := "m1"
		if i == 2 {
			sub = "m2"
		}
		require.NoError(t, ss.CreateSession(ctx, x, session(store.SubjectMember, sub, now)))
	}
	require.NoError(t, ss.RevokeSession(ctx, ids[0]))
	requireKind(t, ss.RevokeSession(ctx, ids[0]), store.ErrNotFound, "")
	_, err = ss.TouchSession(ctx, ids[0], now)
	requireKind(t, err, store.ErrNotFound, "")
	n, err := ss.RevokeSubjectSessions(ctx, store.SubjectMember, "m1")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = ss.TouchSession(ctx, ids[1], now)
	requireKind(t, err, store.ErrNotFound, "")
	_, err = ss.TouchSession(ctx, ids[2], now)
	require.NoError(t, err, "another subject's session stays")
	n, err = ss.RevokeSubjectSessions(ctx, store.SubjectStaff, "m2")
	require.NoError(t, err)
	require.Equal(t, 0, n, "same id, other kind: not the same subject")

	// Purge.
	n, err = ss.PurgeSessions(ctx, now+13*3_600_000)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	requireKind(t, ss.SetSessionLang(ctx, ids[2], "en"), store.ErrNotFound, "")
}

// testSessionsInvalid: bad sessions are refused naming the field.
func testSessionsInvalid(e *env) {
	t, ctx, ss := e.t, e.ctx, e.s.Sessions()
	now := base().UnixMilli()
	tests := []struct {
		name  string
		id    string
		edit  func(*store.Session)
		field string
	}{
		{"short id", "abc", func(*store.Session) {}, "id"},
		{"kind", store.NewSecret(""), func(s *store.Session) { s.SubjectKind = "robot" }, "subject_kind"},
		{"subject", store.NewSecret(""), func(s *store.Session) { s.SubjectID = "" }, "subject_id"},
		{"csrf", store.NewSecret(""), func(s *store.Session) { s.CSRF = "x" }, "csrf"},
		{"lang", store.NewSecret(""), func(s *store.Session) { s.Lang = fmt.Sprintf("%040d", 0) }, "lang"},
		{"idle", store.NewSecret(""), func(s *store.Session) { s.IdleMs = 0 }, "idle_ms"},
		{"expiry", store.NewSecret(""), func(s *store.Session) { s.ExpiresMs = s.CreatedMs }, "expires_ms"},
	}
	for _, tc := range tests {
		s := session(store.SubjectMember, "m1", now)
		tc.edit(&s)
		requireKind(t, ss.CreateSession(ctx, tc.id, s), domain.ErrValidation, tc.field)
	}
}

// testSessionsOfDeletedToken: deleting an API token ends its sessions in
// the same transaction; so does the deletion of the last center of a
// manager's token.
func testSessionsOfDeletedToken(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	now := base().UnixMilli()
	require.NoError(t, s.CreateToken(ctx, store.Token{ID: "tk1", Name: "a", Role: store.RoleAdmin}, store.NewSecret("swc_")))
	require.NoError(t, s.CreateToken(ctx, store.Token{ID: "tk2", Name: "m", Role: store.RoleManager, Centers: []string{"c2"}}, store.NewSecret("swc_")))
	tk, err := s.Token(ctx, "tk2")
	require.NoError(t, err)
	require.Equal(t, []string{"c2"}, tk.Centers)
	_, err = s.Token(ctx, "nope")
	requireKind(t, err, store.ErrNotFound, "")

	a, b := store.NewSecret(""), store.NewSecret("")
	require.NoError(t, s.Sessions().CreateSession(ctx, a, session(store.SubjectAPIToken, "tk1", now)))
	require.NoError(t, s.Sessions().CreateSession(ctx, b, session(store.SubjectAPIToken, "tk2", now)))
	require.NoError(t, s.DeleteToken(ctx, "tk1"))
	_, err = s.Sessions().TouchSession(ctx, a, now)
	requireKind(t, err, store.ErrNotFound, "")
	_, err = s.Sessions().TouchSession(ctx, b, now)
	require.NoError(t, err)

	require.NoError(t, s.DeleteRoom(ctx, "r2"))
	require.NoError(t, s.DeleteMember(ctx, "m2"))
	require.NoError(t, s.DeleteCenter(ctx, "c2"))
	_, err = s.Sessions().TouchSession(ctx, b, now)
	requireKind(t, err, store.ErrNotFound, "")
}

// testSessionsConcurrent: a flash taken by two requests at once reaches
// exactly one of them.
func testSessionsConcurrent(e *env) {
	t, ctx, ss := e.t, e.ctx, e.s.Sessions()
	now := time.Now().UnixMilli()
	id := store.NewSecret("")
	require.NoError(t, ss.CreateSession(ctx, id, session(store.SubjectStaff, "s1", now)))
	require.NoError(t, ss.SetSessionFlash(ctx, id, "once"))
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, err := ss.TakeSessionFlash(ctx, id)
			if err == nil {
				got[i] = msg
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, m := range got {
		if m == "once" {
			n++
		}
	}
	require.Equal(t, 1, n, "%q", got)
}
