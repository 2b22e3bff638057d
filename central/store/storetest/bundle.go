package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The bulk import's conformance (Store.Import).

// batches records the changes notified at once (Options.NotifyAll).
type batches struct {
	mu  sync.Mutex
	got [][]domain.Change
}

func (b *batches) notify(_ context.Context, chs []domain.Change) {
	b.mu.Lock()
	b.got = append(b.got, chs)
	b.mu.Unlock()
}

// newBulkEnv is newEnv whose store also hands bulk changes to a batches.
func newBulkEnv(t *testing.T, open Factory) (*env, *batches) {
	rec, bs := &recorder{}, &batches{}
	s := open(t, store.Options{Notify: rec.notify, NotifyAll: bs.notify})
	return &env{t: t, open: open, s: s, rec: rec, ctx: context.Background()}, bs
}

// region is a bundle of two new centers (one with a room, a room door and a
// desk pool), three doors, two members (one local), their badges and
// passes; a door and a pass refer to the stored center c1 and a badge to
// the stored member n1 (env.seed).
func region() store.Bundle {
	return store.Bundle{
		Centers:   []domain.Center{center("r-c1"), center("r-c2")},
		Rooms:     []domain.Room{{ID: "r-room", CenterID: "r-c1", Name: "Board", Capacity: 8, Equipment: []string{"screen"}}},
		DeskPools: []domain.DeskPool{{CenterID: "r-c1", Capacity: 12}},
		Doors: []domain.Door{
			{ID: "r-d1", CenterID: "r-c1", Name: "Front"},
			{ID: "r-d2", CenterID: "r-c1", Name: "Board room", RoomID: "r-room"},
			{ID: "r-d3", CenterID: "c1", Name: "Side"},
		},
		Members: []domain.Member{
			{ID: "r-m1", Name: "Ines", HomeCenterID: "r-c2", Status: domain.MemberActive},
			{ID: "r-m2", Name: "Jan", Status: domain.MemberActive},
		},
		Badges: []domain.Badge{
			{UID: "0A0B0C01", MemberID: "r-m1", AddedBy: "tk1"},
			{UID: "0A0B0C02", MemberID: "r-m2"},
			{UID: "0A0B0C03", MemberID: "n1"},
		},
		Passes: []domain.Pass{
			{ID: "r-p1", MemberID: "r-m2", ValidFrom: base(), ValidUntil: base().Add(30 * 24 * time.Hour), CenterIDs: []string{"r-c1", "c1"}},
			{ID: "r-p2", MemberID: "n1", ValidFrom: base(), ValidUntil: base().Add(24 * time.Hour)},
		},
	}
}

// counts reads how many objects of each list the store holds.
func counts(e *env) map[string]int {
	e.t.Helper()
	ctx, s := e.ctx, e.s
	out := map[string]int{}
	add := func(list string, n int, err error) {
		require.NoError(e.t, err)
		out[list] = n
	}
	cs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Center], error) {
		return s.ListCenters(ctx, store.CenterFilter{PageRequest: p})
	})
	add(store.ListCenters, len(cs), err)
	rs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Room], error) {
		return s.ListRooms(ctx, store.RoomFilter{PageRequest: p})
	})
	add(store.ListRooms, len(rs), err)
	ps, err := s.Places().ListDeskPools(ctx, nil)
	add(store.ListDeskPools, len(ps), err)
	ds, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Door], error) {
		return s.ListDoors(ctx, store.DoorFilter{PageRequest: p})
	})
	add(store.ListDoors, len(ds), err)
	ms, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Member], error) {
		return s.ListMembers(ctx, store.MemberFilter{PageRequest: p})
	})
	add(store.ListMembers, len(ms), err)
	bs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Badge], error) {
		return s.ListBadges(ctx, store.BadgeFilter{PageRequest: p})
	})
	add(store.ListBadges, len(bs), err)
	pas, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Pass], error) {
		return s.ListPasses(ctx, store.PassFilter{PageRequest: p})
	})
	add(store.ListPasses, len(pas), err)
	as, err := store.All(ctx, func(p store.PageRequest) (store.Page[audit.Entry], error) {
		return s.ListAudit(ctx, store.AuditFilter{PageRequest: p})
	})
	add("audit", len(as), err)
	return out
}

// testImport: a bundle is stored whole, reads back as given, is audited
// object by object and notified in one batch.
func testImport(e *env) {
	e, bs := newBulkEnv(e.t, e.open)
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	b := region()
	res, err := s.Import(ctx, b, store.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, store.ImportResult{Centers: 2, Rooms: 1, DeskPools: 1, Doors: 3, Members: 2, Badges: 3, Passes: 2}, res)
	require.Equal(t, 14, res.Total())

	c, err := s.Center(ctx, "r-c2")
	require.NoError(t, err)
	require.Equal(t, b.Centers[1], c)
	r, err := s.Room(ctx, "r-room")
	require.NoError(t, err)
	require.Equal(t, b.Rooms[0], r)
	pool, err := s.Places().DeskPool(ctx, "r-c1")
	require.NoError(t, err)
	require.Equal(t, 12, pool.Capacity)
	d, err := s.Door(ctx, "r-d2")
	require.NoError(t, err)
	require.Equal(t, b.Doors[1], d)
	m, err := s.Member(ctx, "r-m1")
	require.NoError(t, err)
	require.Equal(t, b.Members[0], m)
	bd, err := s.Badge(ctx, "0A0B0C01")
	require.NoError(t, err)
	require.Equal(t, b.Badges[0], bd)
	p, err := s.Pass(ctx, "r-p1")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"r-c1", "c1"}, p.CenterIDs)
	require.True(t, p.ValidFrom.Equal(base()))
	p, err = s.Pass(ctx, "r-p2")
	require.NoError(t, err)
	require.Empty(t, p.CenterIDs)

	require.Empty(t, e.rec.take(), "an import notifies its changes at once, not one by one")
	require.Len(t, bs.got, 1)
	kinds := map[domain.Kind]int{}
	for _, ch := range bs.got[0] {
		kinds[ch.Kind]++
		require.False(t, ch.Deleted)
	}
	require.Equal(t, map[domain.Kind]int{domain.KindCenter: 2, domain.KindRoom: 1, domain.KindDoor: 3, domain.KindMember: 2, domain.KindBadge: 3, domain.KindPass: 2}, kinds)

	page, err := s.ListAudit(ctx, store.AuditFilter{Action: audit.Import, PageRequest: store.PageRequest{Limit: 100}})
	require.NoError(t, err)
	require.Len(t, page.Items, 14, "one audit row per object")
	byID := map[string]audit.Entry{}
	for _, a := range page.Items {
		byID[a.ObjectKind+"/"+a.ObjectID] = a
	}
	require.Equal(t, []string{"c1"}, byID["door/r-d3"].Centers)
	require.Equal(t, []string{"r-c2"}, byID["badge/0A0B0C01"].Centers, "a badge concerns its member's home")
	require.Equal(t, []string{"", "c1", "r-c1"}, byID["pass/r-p1"].Centers, "a pass concerns its centers and its member's home (the network)")
	require.Equal(t, []string{"r-c1"}, byID["desk_pool/r-c1"].Centers)

	// Without NotifyAll, the changes come one by one.
	e2 := newEnv(t, e.open)
	e2.seed()
	_, err = e2.s.Import(ctx, region(), store.ImportOptions{})
	require.NoError(t, err)
	require.Len(t, e2.rec.take(), 13, "every object but the desk pool is a change")
}

// testImportRejected: every wrong object is listed with its list, row,
// field and code, and nothing is stored, audited or notified.
func testImportRejected(e *env) {
	e, bs := newBulkEnv(e.t, e.open)
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.CreateCenter(ctx, center("gone")))
	require.NoError(t, s.DeleteCenter(ctx, "gone"))
	e.rec.take()
	before := counts(e)

	b := region()
	b.Centers = append(b.Centers, center("c1"), center("r-c1"), domain.Center{ID: "bad", Name: "Bad", TimeZone: "Mars/Olympus"}, center("gone"))
	b.Rooms = append(b.Rooms, domain.Room{ID: "r1", CenterID: "c1", Name: "Taken"}, domain.Room{ID: "r-room2", CenterID: "nowhere", Name: "Lost"})
	b.DeskPools = append(b.DeskPools, domain.DeskPool{CenterID: "r-c1", Capacity: 3})
	b.Doors = append(b.Doors,
		domain.Door{ID: "r-d4", CenterID: "nowhere", Name: "Lost"},
		domain.Door{ID: "r-d5", CenterID: "r-c2", Name: "Wrong room", RoomID: "r-room"},
		domain.Door{ID: "r-d6", CenterID: "c2", Name: "Stored room of another center", RoomID: "r1"},
		domain.Door{ID: "d1", CenterID: "c1", Name: "Taken"},
		domain.Door{ID: "r-d1", CenterID: "r-c1", Name: "Twice"},
	)
	b.Members = append(b.Members, domain.Member{ID: "r-m3", Name: "X", Status: "sleeping"}, domain.Member{ID: "r-m4", Name: "Y", HomeCenterID: "nowhere", Status: domain.MemberActive})
	b.Badges = append(b.Badges, domain.Badge{UID: "0A0B0C09", MemberID: "nobody"}, domain.Badge{UID: "zz", MemberID: "r-m1"})
	b.Passes = append(b.Passes,
		domain.Pass{ID: "r-p3", MemberID: "nobody", ValidFrom: base(), ValidUntil: base().Add(time.Hour), CenterIDs: []string{"c1", "nowhere", "c1"}},
		domain.Pass{ID: "r-p4", MemberID: "r-m1", ValidFrom: base(), ValidUntil: base()},
	)
	_, err := s.Import(ctx, b, store.ImportOptions{})
	var ie *store.ImportError
	require.ErrorAs(t, err, &ie)
	require.ErrorIs(t, err, store.ErrImport)
	type key struct {
		list  string
		row   int
		code  string
		field string
	}
	var got []key
	for _, r := range ie.Rows {
		require.NotEmpty(t, r.Message)
		got = append(got, key{r.List, r.Row, r.Code, r.Field})
	}
	require.ElementsMatch(t, []key{
		{store.ListCenters, 3, "exists", "id"},
		{store.ListCenters, 4, "duplicate_id", "id"},
		{store.ListCenters, 5, "invalid", "time_zone"},
		{store.ListCenters, 6, "retired", "id"},
		{store.ListRooms, 2, "exists", "id"},
		{store.ListRooms, 3, "missing_ref", "center_id"},
		{store.ListDeskPools, 2, "duplicate_id", "center_id"},
		{store.ListDoors, 4, "missing_ref", "center_id"},
		{store.ListDoors, 5, "missing_ref", "room_id"},
		{store.ListDoors, 6, "missing_ref", "room_id"},
		{store.ListDoors, 7, "exists", "id"},
		{store.ListDoors, 8, "duplicate_id", "id"},
		{store.ListMembers, 3, "invalid", "status"},
		{store.ListMembers, 4, "missing_ref", "home_center_id"},
		{store.ListBadges, 4, "missing_ref", "member_id"},
		{store.ListBadges, 5, "invalid", "uid"},
		{store.ListPasses, 3, "invalid", "center_ids[2]"},
		{store.ListPasses, 3, "missing_ref", "member_id"},
		{store.ListPasses, 3, "missing_ref", "center_ids[1]"},
		{store.ListPasses, 4, "invalid", "valid_until"},
	}, got)
	require.Equal(t, len(got), ie.Total)

	require.Equal(t, before, counts(e), "a rejected import stores nothing")
	require.Empty(t, e.rec.take())
	require.Empty(t, bs.got)
}

// testImportAllOrNothing: one wrong object among many leaves nothing, and
// the same bundle without it is then stored whole.
func testImportAllOrNothing(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	before := counts(e)
	b := store.Bundle{}
	for i := range 50 {
		b.Centers = append(b.Centers, center(fmt.Sprintf("an-c%02d", i)))
		for j := range 20 {
			b.Doors = append(b.Doors, domain.Door{ID: fmt.Sprintf("an-d%02d-%02d", i, j), CenterID: fmt.Sprintf("an-c%02d", i), Name: "Door"})
		}
	}
	for i := range 300 {
		id := fmt.Sprintf("an-m%03d", i)
		b.Members = append(b.Members, domain.Member{ID: id, Name: "M", Status: domain.MemberActive})
		b.Badges = append(b.Badges, domain.Badge{UID: protocol.UID(fmt.Sprintf("0B%06X", i)), MemberID: id})
	}
	bad := b
	bad.Badges = append(append([]domain.Badge(nil), b.Badges...), domain.Badge{UID: "0BFFFFFF", MemberID: "an-missing"})
	_, err := s.Import(ctx, bad, store.ImportOptions{})
	var ie *store.ImportError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, []store.RowError{{List: store.ListBadges, Row: 301, Code: "missing_ref", Field: "member_id", Message: ie.Rows[0].Message}}, ie.Rows)
	require.Equal(t, before, counts(e), "the last row's error leaves nothing of the 1,650 objects before it")
	require.Empty(t, e.rec.take())

	res, err := s.Import(ctx, b, store.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 1000, res.Doors)
	after := counts(e)
	require.Equal(t, before[store.ListDoors]+1000, after[store.ListDoors])
	require.Equal(t, before[store.ListBadges]+300, after[store.ListBadges])
	require.Equal(t, before["audit"]+50+1000+300+300, after["audit"])
	require.Len(t, e.rec.take(), 1650)
}

// testImportAgain: importing the same bundle twice is refused object by
// object ("exists"), and changes nothing.
func testImportAgain(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	b := region()
	_, err := s.Import(ctx, b, store.ImportOptions{})
	require.NoError(t, err)
	e.rec.take()
	before := counts(e)
	_, err = s.Import(ctx, b, store.ImportOptions{})
	var ie *store.ImportError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, b.Len(), ie.Total, "every object is reported: %v", ie.Rows)
	for _, r := range ie.Rows {
		require.Equal(t, "exists", r.Code, "%+v", r)
	}
	require.Equal(t, before, counts(e))
	require.Empty(t, e.rec.take())
}

// testImportDryRun: a dry run reports the counts, or every error, and
// stores, audits and notifies nothing.
func testImportDryRun(e *env) {
	e, bs := newBulkEnv(e.t, e.open)
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	before := counts(e)
	res, err := s.Import(ctx, region(), store.ImportOptions{DryRun: true})
	require.NoError(t, err)
	require.Equal(t, store.ImportResult{DryRun: true, Centers: 2, Rooms: 1, DeskPools: 1, Doors: 3, Members: 2, Badges: 3, Passes: 2}, res)
	require.Equal(t, before, counts(e))
	require.Empty(t, e.rec.take())
	require.Empty(t, bs.got)

	b := region()
	b.Doors[0].CenterID = "nowhere"
	_, err = s.Import(ctx, b, store.ImportOptions{DryRun: true})
	var ie *store.ImportError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, 1, ie.Total)
	require.Equal(t, before, counts(e))

	// The real import after a dry run stores it.
	_, err = s.Import(ctx, region(), store.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, before[store.ListDoors]+3, counts(e)[store.ListDoors])
}

// BenchmarkImport measures Store.Import of a region: centers with doors
// doors in all (ten a center), a member with a badge per door. It
// reports s/import.
func BenchmarkImport(b *testing.B, open Factory, doors int) {
	ctx := context.Background()
	bundle := benchRegion(doors)
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		s := open(b, store.Options{})
		b.StartTimer()
		t0 := time.Now()
		res, err := s.Import(ctx, bundle, store.ImportOptions{})
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if res.Doors != doors {
			b.Fatalf("imported %d doors of %d", res.Doors, doors)
		}
		b.StopTimer()
		require.NoError(b, s.Close())
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/import")
}

// benchRegion is doors/10 centers of ten doors, one a room door, and as
// many members (a fifth local) with a badge each, a tenth with a pass.
func benchRegion(doors int) store.Bundle {
	var b store.Bundle
	centers := max(1, doors/10)
	for c := range centers {
		cid := fmt.Sprintf("bc%05d", c)
		b.Centers = append(b.Centers, center(cid))
		b.Rooms = append(b.Rooms, domain.Room{ID: "br" + cid, CenterID: cid, Name: "Room", Capacity: 6})
		b.DeskPools = append(b.DeskPools, domain.DeskPool{CenterID: cid, Capacity: 20})
	}
	for i := range doors {
		c := i % centers
		d := domain.Door{ID: fmt.Sprintf("bd%06d", i), CenterID: fmt.Sprintf("bc%05d", c), Name: "Door"}
		if i/centers == 1 {
			d.RoomID = "br" + d.CenterID
		}
		b.Doors = append(b.Doors, d)
	}
	for i := range doors {
		m := domain.Member{ID: fmt.Sprintf("bm%06d", i), Name: "Member", Status: domain.MemberActive}
		if i%5 == 0 {
			m.HomeCenterID = fmt.Sprintf("bc%05d", i%centers)
		}
		b.Members = append(b.Members, m)
		b.Badges = append(b.Badges, domain.Badge{UID: protocol.UID(fmt.Sprintf("0C%06X", i)), MemberID: m.ID})
		if i%10 == 0 {
			b.Passes = append(b.Passes, domain.Pass{ID: "bp" + m.ID, MemberID: m.ID, ValidFrom: base(), ValidUntil: base().Add(30 * 24 * time.Hour)})
		}
	}
	return b
}

// testImportDoorSecrets: with DoorSecrets every imported door gets a broker
// secret that authenticates it, seen only in the result; the audit says a
// secret was issued without holding it or its hash; a dry run issues none.
func testImportDoorSecrets(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	b := store.Bundle{Centers: []domain.Center{center("s-c1")}, Doors: []domain.Door{
		{ID: "s-d1", CenterID: "s-c1", Name: "Front"}, {ID: "s-d2", CenterID: "s-c1", Name: "Back"}}}
	res, err := s.Import(ctx, b, store.ImportOptions{DryRun: true, DoorSecrets: true})
	require.NoError(t, err)
	require.Nil(t, res.DoorSecrets)
	res, err = s.Import(ctx, b, store.ImportOptions{DoorSecrets: true})
	require.NoError(t, err)
	require.Len(t, res.DoorSecrets, 2)
	require.NotEqual(t, res.DoorSecrets["s-d1"], res.DoorSecrets["s-d2"])
	for door, secret := range res.DoorSecrets {
		require.NoError(t, s.VerifyDoorSecret(ctx, door, secret), door)
		require.ErrorIs(t, s.VerifyDoorSecret(ctx, door, secret+"x"), store.ErrBadCredentials)
		page, err := s.ListAudit(ctx, store.AuditFilter{ObjectKind: audit.ObjectDoor, ObjectID: door})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Contains(t, string(page.Items[0].After), `"secret":"`+audit.Redacted+`"`)
		require.NotContains(t, string(page.Items[0].After), secret)
		require.NotContains(t, string(page.Items[0].After), store.HashSecret(secret))
	}
}

// testImportConcurrent: two imports of the same region at once: one
// stores it, the other is refused whole (its checks or, on PostgreSQL, the
// unique keys catch the race).
func testImportConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	before := counts(e)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := s.Import(ctx, region(), store.ImportOptions{})
			errs <- err
		}()
	}
	var failed int
	for range 2 {
		if err := <-errs; err != nil {
			failed++
			t.Logf("refused: %v", err)
			require.True(t, errors.Is(err, store.ErrImport) || errors.Is(err, store.ErrExists), "%v", err)
		}
	}
	require.Equal(t, 1, failed, "exactly one import stores the region")
	after := counts(e)
	require.Equal(t, before[store.ListDoors]+3, after[store.ListDoors])
	require.Equal(t, before[store.ListPasses]+2, after[store.ListPasses])
	require.Equal(t, before["audit"]+region().Len(), after["audit"])
}
