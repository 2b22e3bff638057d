package storetest

import (
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// testDoorHealth: the last known state of a door is kept whole, with its
// center, and the certificate's expiry survives status writes.
func testDoorHealth(e *env) {
	t, ctx, s := e.t, e.ctx, e.s.Health()
	e.seed()
	require.NoError(t, e.s.CreateDoor(ctx, domain.Door{ID: "d2", CenterID: "c2", Name: "Back"}))

	_, err := s.DoorHealth(ctx, "d1")
	requireKind(t, err, store.ErrNotFound, "")
	require.NoError(t, s.SetDoorCertificate(ctx, "d1", base().Add(30*24*time.Hour).UnixMilli()))
	h := store.DoorHealth{Door: "d1", State: store.DoorOffline, StatusTimeMs: base().UnixMilli(), Boot: "b1", Firmware: "1.2.3",
		WLVersion: 42, WLIssuedMs: base().UnixMilli() - 1000, OutboxDepth: 7, OutboxOldestMs: base().UnixMilli() - 5000,
		ClockTrusted: true, DoorState: "locked", Reader: "fault", LastSeenMs: base().UnixMilli(),
		OfflineSinceMs: base().UnixMilli() + 10, UpdatedMs: base().UnixMilli() + 20}
	require.NoError(t, s.SaveDoorHealth(ctx, h))
	got, err := s.DoorHealth(ctx, "d1")
	require.NoError(t, err)
	want := h
	want.Center, want.CertNotAfterMs = "c1", base().Add(30*24*time.Hour).UnixMilli()
	require.Equal(t, want, got, "every field is kept and the certificate expiry survives a status write")

	h.State, h.OfflineSinceMs, h.WLVersion = store.DoorOnline, 0, 43
	require.NoError(t, s.SaveDoorHealth(ctx, h))
	require.NoError(t, s.SaveDoorHealth(ctx, store.DoorHealth{Door: "d2", State: store.DoorOnline, UpdatedMs: 1}))
	all, err := s.ListDoorHealth(ctx, nil)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, uint64(43), all[0].WLVersion)
	require.Equal(t, "c2", all[1].Center)
	only, err := s.ListDoorHealth(ctx, []string{"c2"})
	require.NoError(t, err)
	require.Len(t, only, 1)
	require.Equal(t, "d2", only[0].Door)

	requireKind(t, s.SaveDoorHealth(ctx, store.DoorHealth{Door: "nope", State: store.DoorOnline}), store.ErrMissingRef, "door")
	requireKind(t, s.SaveDoorHealth(ctx, store.DoorHealth{Door: "d1", State: "sleeping"}), domain.ErrValidation, "state")
	requireKind(t, s.SetDoorCertificate(ctx, "nope", 1), store.ErrMissingRef, "door")

	require.NoError(t, e.s.DeleteDoor(ctx, "d2"))
	_, err = s.DoorHealth(ctx, "d2")
	requireKind(t, err, store.ErrNotFound, "")
}

// testAlerts: an alert is open once per door and kind, resolved once, and
// raised again as a new alert afterwards; lists filter and page newest first.
func testAlerts(e *env) {
	t, ctx, s := e.t, e.ctx, e.s.Health()
	e.seed()
	at := base().UnixMilli()
	a, raised, err := s.RaiseAlert(ctx, store.Alert{Door: "d1", Kind: store.AlertForced, RaisedMs: at, Details: map[string]string{"seq": "4"}})
	require.NoError(t, err)
	require.True(t, raised)
	require.Equal(t, "c1", a.Center, "the center is the door's")
	again, raised, err := s.RaiseAlert(ctx, store.Alert{Door: "d1", Kind: store.AlertForced, RaisedMs: at + 5})
	require.NoError(t, err)
	require.False(t, raised, "an open alert is not raised twice")
	require.Equal(t, a.ID, again.ID)
	require.Equal(t, map[string]string{"seq": "4"}, again.Details)

	_, raised, err = s.RaiseAlert(ctx, store.Alert{Door: "d1", Kind: store.AlertReaderFault, RaisedMs: at + 1})
	require.NoError(t, err)
	require.True(t, raised, "another kind is another alert")
	_, raised, err = s.RaiseAlert(ctx, store.Alert{Door: "d9", Center: "c2", Kind: store.AlertOffline, RaisedMs: at + 2})
	require.NoError(t, err)
	require.True(t, raised)

	res, ok, err := s.ResolveAlert(ctx, "d1", store.AlertForced, at+100)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, a.ID, res.ID)
	require.Equal(t, at+100, res.ResolvedMs)
	_, ok, err = s.ResolveAlert(ctx, "d1", store.AlertForced, at+200)
	require.NoError(t, err)
	require.False(t, ok, "resolved once")
	b, raised, err := s.RaiseAlert(ctx, store.Alert{Door: "d1", Kind: store.AlertForced, RaisedMs: at + 300})
	require.NoError(t, err)
	require.True(t, raised, "raised again after it was resolved")
	require.NotEqual(t, a.ID, b.ID)

	yes, no := true, false
	for _, tc := range []struct {
		name string
		f    store.AlertFilter
		want int
	}{
		{"all", store.AlertFilter{}, 4},
		{"open", store.AlertFilter{Open: &yes}, 3},
		{"resolved", store.AlertFilter{Open: &no}, 1},
		{"kind", store.AlertFilter{Kind: store.AlertForced}, 2},
		{"center", store.AlertFilter{CenterIDs: []string{"c2"}}, 1},
		{"no center", store.AlertFilter{CenterIDs: []string{}}, 0},
		{"door", store.AlertFilter{Door: "d1", Open: &yes}, 2},
	} {
		page, err := s.ListAlerts(ctx, tc.f)
		require.NoError(t, err, tc.name)
		require.Len(t, page.Items, tc.want, tc.name)
	}
	page, err := s.ListAlerts(ctx, store.AlertFilter{PageRequest: store.PageRequest{Limit: 3}})
	require.NoError(t, err)
	require.Equal(t, b.ID, page.Items[0].ID, "newest first")
	require.NotEmpty(t, page.Next)
	page, err = s.ListAlerts(ctx, store.AlertFilter{PageRequest: store.PageRequest{Limit: 3, After: page.Next}})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, a.ID, page.Items[0].ID)
	require.Empty(t, page.Next)

	got, err := s.Alert(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, res, got)
	_, err = s.Alert(ctx, "al-nope")
	requireKind(t, err, store.ErrNotFound, "")
	_, _, err = s.RaiseAlert(ctx, store.Alert{Door: "d1", Kind: "door_exploded", RaisedMs: at})
	requireKind(t, err, domain.ErrValidation, "kind")
}

// testAlertsConcurrent: replicas raising the same alert at once store it once.
func testAlertsConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s.Health()
	e.seed()
	const n = 8
	var wg sync.WaitGroup
	raised := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, raised[i], errs[i] = s.RaiseAlert(ctx, store.Alert{Door: "d1", Kind: store.AlertOffline, RaisedMs: base().UnixMilli() + int64(i)})
		}()
	}
	wg.Wait()
	count := 0
	for i := range n {
		require.NoError(t, errs[i])
		if raised[i] {
			count++
		}
	}
	require.Equal(t, 1, count, "exactly one raise wins")
	page, err := s.ListAlerts(ctx, store.AlertFilter{Door: "d1"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
}

// testWebhooks: endpoints per center and network-wide, and their delivery log.
func testWebhooks(e *env) {
	t, ctx, s := e.t, e.ctx, e.s.Health()
	e.seed()
	w1 := store.Webhook{ID: "w1", Center: "c1", URL: "https://hooks.example/a", Secret: "0123456789abcdef", CreatedBy: "tk1", CreatedMs: 5,
		Kinds: []store.AlertKind{store.AlertForced}}
	wn := store.Webhook{ID: "wn", URL: "http://127.0.0.1:9/x", Secret: "fedcba9876543210", CreatedBy: "tk1", CreatedMs: 6, Kinds: []store.AlertKind{}}
	require.NoError(t, s.CreateWebhook(ctx, w1))
	require.NoError(t, s.CreateWebhook(ctx, wn))
	requireKind(t, s.CreateWebhook(ctx, w1), store.ErrExists, "id")
	bad := w1
	bad.ID, bad.Center = "w2", "nope"
	requireKind(t, s.CreateWebhook(ctx, bad), store.ErrMissingRef, "center")
	bad.Center, bad.URL = "c1", "ftp://x"
	requireKind(t, s.CreateWebhook(ctx, bad), domain.ErrValidation, "url")
	bad.URL, bad.Secret = "https://x", "short"
	requireKind(t, s.CreateWebhook(ctx, bad), domain.ErrValidation, "secret")

	got, err := s.Webhook(ctx, "w1")
	require.NoError(t, err)
	require.Equal(t, w1, got)
	require.True(t, got.Wants(store.AlertForced))
	require.False(t, got.Wants(store.AlertOffline))

	upd := store.Webhook{ID: "w1", Center: "c2", URL: "https://hooks.example/b", Kinds: nil}
	require.NoError(t, s.UpdateWebhook(ctx, upd))
	got, err = s.Webhook(ctx, "w1")
	require.NoError(t, err)
	require.Equal(t, "c1", got.Center, "the center does not change")
	require.Equal(t, w1.Secret, got.Secret, "no secret given keeps the secret")
	require.Equal(t, "https://hooks.example/b", got.URL)
	require.True(t, got.Wants(store.AlertOffline))
	requireKind(t, s.UpdateWebhook(ctx, store.Webhook{ID: "nope"}), store.ErrNotFound, "")

	page, err := s.ListWebhooks(ctx, []string{"c1", ""}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	page, err = s.ListWebhooks(ctx, []string{"c2"}, store.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, page.Items)

	for i := 1; i <= 3; i++ {
		require.NoError(t, s.LogDelivery(ctx, store.Delivery{Webhook: "w1", Alert: "al-1", Event: "raised", Attempt: i,
			HTTPStatus: 500 - 300*(i/3), OK: i == 3, AtMs: int64(1000 * i)}))
	}
	requireKind(t, s.LogDelivery(ctx, store.Delivery{Webhook: "w1", Alert: "al-1", Event: "exploded", AtMs: 1}), domain.ErrValidation, "event")
	dl, err := s.ListDeliveries(ctx, "w1", store.PageRequest{Limit: 2})
	require.NoError(t, err)
	require.Len(t, dl.Items, 2)
	require.Equal(t, 3, dl.Items[0].Attempt, "newest first")
	require.True(t, dl.Items[0].OK)
	require.Equal(t, 200, dl.Items[0].HTTPStatus)
	dl, err = s.ListDeliveries(ctx, "w1", store.PageRequest{Limit: 2, After: dl.Next})
	require.NoError(t, err)
	require.Len(t, dl.Items, 1)
	require.False(t, dl.Items[0].OK)

	require.NoError(t, s.DeleteWebhook(ctx, "w1"))
	requireKind(t, s.DeleteWebhook(ctx, "w1"), store.ErrNotFound, "")
	dl, err = s.ListDeliveries(ctx, "w1", store.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, dl.Items, "the log goes with its endpoint")
}

// testCommandRecords: a command's delivery and execution, newest first.
func testCommandRecords(e *env) {
	t, ctx, s := e.t, e.ctx, e.s.Health()
	e.seed()
	at := base().UnixMilli()
	for i, d := range []string{store.CommandSent, store.CommandQueued, store.CommandFailed} {
		require.NoError(t, s.SaveCommand(ctx, store.CommandRecord{ID: "cmd-" + string(rune('a'+i)), Door: "d1", Center: "c1", Action: "unlock",
			Seconds: 5, By: "tk1", IssuedMs: at + int64(i), ExpiresMs: at + 120_000, Delivery: d, Signed: []byte{0, 1, byte(i), 0xff}}))
	}
	requireKind(t, s.SaveCommand(ctx, store.CommandRecord{ID: "cmd-x", Door: "d1", Delivery: "lost"}), domain.ErrValidation, "delivery")
	require.NoError(t, s.CommandExecuted(ctx, "d1", "cmd-b", at+500))
	require.NoError(t, s.CommandExecuted(ctx, "d2", "cmd-a", at+500), "another door's report changes nothing")
	require.NoError(t, s.CommandExecuted(ctx, "d1", "cmd-unknown", at+500))

	now := time.UnixMilli(at + 1000)
	for id, want := range map[string]string{"cmd-a": store.CommandSent, "cmd-b": store.CommandDone, "cmd-c": store.CommandFailed} {
		c, err := s.Command(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, c.Status(now), id)
	}
	c, err := s.Command(ctx, "cmd-a")
	require.NoError(t, err)
	require.Equal(t, store.CommandExpired, c.Status(time.UnixMilli(at+120_000)))
	require.Equal(t, []byte{0, 1, 0, 0xff}, c.Signed)

	require.NoError(t, s.SaveCommand(ctx, store.CommandRecord{ID: "cmd-d", Door: "d1", Center: "c1", Action: "relock", By: "tk1",
		IssuedMs: at + 10, ExpiresMs: at + 120_000, Delivery: store.CommandQueued, Signed: []byte("signed-d")}))
	pending, err := s.PendingCommands(ctx, "d1", at+1000)
	require.NoError(t, err)
	require.Len(t, pending, 1, "cmd-b (queued) was executed; cmd-d is pending")
	require.Equal(t, "cmd-d", pending[0].ID)
	require.Equal(t, []byte("signed-d"), pending[0].Signed)
	pending, err = s.PendingCommands(ctx, "d1", at+120_000)
	require.NoError(t, err)
	require.Empty(t, pending, "an expired command is not pending")
	require.NoError(t, s.MarkCommandSent(ctx, "cmd-d"))
	c, err = s.Command(ctx, "cmd-d")
	require.NoError(t, err)
	require.Equal(t, store.CommandSent, c.Delivery)
	pending, err = s.PendingCommands(ctx, "d1", at+1000)
	require.NoError(t, err)
	require.Empty(t, pending)

	page, err := s.ListCommands(ctx, "d1", store.PageRequest{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"cmd-d", "cmd-c"}, []string{page.Items[0].ID, page.Items[1].ID})
	page, err = s.ListCommands(ctx, "d1", store.PageRequest{Limit: 2, After: page.Next})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, []string{"cmd-b", "cmd-a"}, []string{page.Items[0].ID, page.Items[1].ID})
	require.Empty(t, page.Next)
}
