package storetest

import (
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// doorCert is a valid certificate record of door with key (keyHash),
// issued at now for 30 days.
func doorCert(serial, door, key string, now int64) store.DoorCert {
	return store.DoorCert{Serial: serial, Door: door, KeySHA256: keyHash(key), NotBeforeMs: now - 60_000, NotAfterMs: now + 30*86_400_000, IssuedMs: now}
}

// enrollKey redeems a new token of door with key at atMs.
func enrollKey(e *env, door, key string, atMs int64) {
	e.t.Helper()
	secret := store.NewSecret("swce_")
	require.NoError(e.t, e.s.CreateEnrollmentToken(e.ctx, store.EnrollmentToken{ID: "e-" + door + "-" + key, Door: door, CreatedBy: "t1",
		CreatedMs: atMs - 1000, ExpiresMs: atMs + 60_000}, secret))
	_, err := e.s.RedeemEnrollment(e.ctx, secret, store.DoorKey{KeySHA256: keyHash(key), EnrolledMs: atMs})
	require.NoError(e.t, err)
}

func serials(certs []store.DoorCert) []string {
	out := []string{}
	for _, c := range certs {
		out = append(out, c.Serial)
	}
	return out
}

// testDoorCerts: issued certificates are recorded once; enrolling a door
// again supersedes the certificates of its other keys at the enrollment's
// time (a renewal, same key, supersedes nothing), deleting a door revokes
// its certificates, an explicit revocation keeps the first one; a
// certificate recorded for a removed door or a superseded key is born
// revoked; the revision counts every revocation and the list leaves out
// the expired certificates; an import skips what is known and revokes
// what the store's state says is revoked.
func testDoorCerts(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.CreateDoor(ctx, domain.Door{ID: "d2", CenterID: "c2", Name: "Back"}))
	e.rec.take()
	dc := s.DoorCerts()
	now := base().UnixMilli()

	for _, bad := range []struct {
		c     store.DoorCert
		field string
	}{
		{doorCert("A1", "d1", "k1", now), "serial"},
		{doorCert("01", "d1", "k1", now), "serial"},
		{doorCert("a1", "bad door", "k1", now), "door"},
		{store.DoorCert{Serial: "a1", Door: "d1", KeySHA256: "xyz", NotBeforeMs: 1, NotAfterMs: 2, IssuedMs: 1}, "key_sha256"},
		{store.DoorCert{Serial: "a1", Door: "d1", KeySHA256: keyHash("k1"), NotBeforeMs: 2, NotAfterMs: 2, IssuedMs: 1}, "not_after_ms"},
		{func() store.DoorCert { c := doorCert("a1", "d1", "k1", now); c.RevokedMs = now; return c }(), "reason"},
	} {
		_, err := dc.RecordDoorCert(ctx, bad.c, false)
		requireKind(t, err, domain.ErrValidation, bad.field)
	}

	enrollKey(e, "d1", "k1", now)
	a1, err := dc.RecordDoorCert(ctx, doorCert("a1", "d1", "k1", now), false)
	require.NoError(t, err)
	require.Equal(t, doorCert("a1", "d1", "k1", now), a1, "valid when recorded")
	_, err = dc.RecordDoorCert(ctx, doorCert("a1", "d1", "k1", now), false)
	requireKind(t, err, store.ErrExists, "serial")
	_, err = dc.RecordDoorCert(ctx, doorCert("a2", "d1", "k1", now+1000), true) // a renewal
	require.NoError(t, err)
	_, err = dc.RecordDoorCert(ctx, doorCert("b1", "d1", "k2", now+2000), false) // a new enrollment, before its token is redeemed
	require.NoError(t, err)
	r, err := dc.RevokedDoorCerts(ctx, now)
	require.NoError(t, err)
	require.Equal(t, store.Revocations{Revision: 0, Certs: []store.DoorCert{}}, r, "a renewal and an enrollment under way revoke nothing")

	enrollKey(e, "d1", "k2", now+3000)
	r, err = dc.RevokedDoorCerts(ctx, now)
	require.NoError(t, err)
	require.Equal(t, int64(2), r.Revision)
	require.Equal(t, []string{"a1", "a2"}, serials(r.Certs))
	for _, c := range r.Certs {
		require.Equal(t, store.RevokedSuperseded, c.Reason)
		require.Equal(t, now+3000, c.RevokedMs, "revoked when the door enrolled again")
	}
	got, err := dc.DoorCert(ctx, "b1")
	require.NoError(t, err)
	require.Zero(t, got.RevokedMs, "the new key's certificate")
	_, err = dc.DoorCert(ctx, "ff")
	requireKind(t, err, store.ErrNotFound, "")

	// A renewal of the old key that raced the enrollment is born revoked;
	// so is an enrollment's certificate of a superseded key.
	late, err := dc.RecordDoorCert(ctx, doorCert("a3", "d1", "k1", now+4000), true)
	require.NoError(t, err)
	require.Equal(t, store.RevokedSuperseded, late.Reason)
	require.Equal(t, now+4000, late.RevokedMs)
	late, err = dc.RecordDoorCert(ctx, doorCert("a4", "d1", "k1", now+4000), false)
	require.NoError(t, err)
	require.Equal(t, store.RevokedSuperseded, late.Reason)

	// Explicitly: once, the first revocation stays.
	requireKind(t, dc.RevokeDoorCert(ctx, "ff", now), store.ErrNotFound, "")
	require.NoError(t, dc.RevokeDoorCert(ctx, "a1", now+9000))
	got, err = dc.DoorCert(ctx, "a1")
	require.NoError(t, err)
	require.Equal(t, store.RevokedSuperseded, got.Reason)
	require.Equal(t, now+3000, got.RevokedMs)

	// A removed door's certificates, and one recorded after.
	enrollKey(e, "d2", "k5", now)
	_, err = dc.RecordDoorCert(ctx, doorCert("c1", "d2", "k5", now), false)
	require.NoError(t, err)
	require.NoError(t, s.DeleteDoor(ctx, "d2"))
	require.Len(t, e.rec.take(), 1, "the door's deletion alone")
	got, err = dc.DoorCert(ctx, "c1")
	require.NoError(t, err)
	require.Equal(t, store.RevokedDoorRemoved, got.Reason)
	require.Positive(t, got.RevokedMs)
	gone, err := dc.RecordDoorCert(ctx, doorCert("c2", "d2", "k5", now+5000), false)
	require.NoError(t, err)
	require.Equal(t, store.RevokedDoorRemoved, gone.Reason)

	require.NoError(t, dc.RevokeDoorCert(ctx, "b1", now+6000))
	got, err = dc.DoorCert(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, store.DoorCert{Serial: "b1", Door: "d1", KeySHA256: keyHash("k2"), NotBeforeMs: now + 2000 - 60_000,
		NotAfterMs: now + 2000 + 30*86_400_000, IssuedMs: now + 2000, RevokedMs: now + 6000, Reason: store.RevokedExplicit}, got)

	// A door's certificates, revoked or not, by serial.
	of, err := dc.DoorCertsOf(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, []string{"a1", "a2", "a3", "a4", "b1"}, serials(of))
	require.Equal(t, got, of[4])
	of, err = dc.DoorCertsOf(ctx, "nope")
	require.NoError(t, err)
	require.Empty(t, of)

	r, err = dc.RevokedDoorCerts(ctx, now)
	require.NoError(t, err)
	require.Equal(t, int64(7), r.Revision)
	require.Equal(t, []string{"a1", "a2", "a3", "a4", "b1", "c1", "c2"}, serials(r.Certs))
	// Expired certificates leave the list; the revision stays.
	r, err = dc.RevokedDoorCerts(ctx, now+5000+30*86_400_000)
	require.NoError(t, err)
	require.Equal(t, store.Revocations{Revision: 7, Certs: []store.DoorCert{}}, r)
	r, err = dc.RevokedDoorCerts(ctx, now+30*86_400_000)
	require.NoError(t, err)
	require.Equal(t, []string{"a2", "a3", "a4", "b1", "c2"}, serials(r.Certs), "not_after_ms is the first instant a certificate is expired")

	// Import: known serials are skipped (their state kept), the others
	// revoked as the store's state says.
	revokedBefore := doorCert("e4", "d1", "k9", now)
	revokedBefore.RevokedMs, revokedBefore.Reason = now-1, store.RevokedSuperseded
	n, err := dc.ImportDoorCerts(ctx, []store.DoorCert{
		doorCert("b1", "d1", "k2", now), // known, revoked explicitly: stays
		doorCert("e1", "d1", "k2", now), // the door's key: valid
		doorCert("e2", "d1", "k1", now), // another key: superseded
		doorCert("e3", "d2", "k5", now), // removed door
		revokedBefore,                   // revoked in the file: kept
	}, now+7000)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	for serial, want := range map[string]struct {
		reason string
		at     int64
	}{"b1": {store.RevokedExplicit, now + 6000}, "e1": {"", 0}, "e2": {store.RevokedSuperseded, now + 7000},
		"e3": {store.RevokedDoorRemoved, now + 7000}, "e4": {store.RevokedSuperseded, now - 1}} {
		got, err := dc.DoorCert(ctx, serial)
		require.NoError(t, err)
		require.Equal(t, want.reason, got.Reason, serial)
		require.Equal(t, want.at, got.RevokedMs, serial)
	}
	n, err = dc.ImportDoorCerts(ctx, []store.DoorCert{doorCert("e1", "d1", "k2", now)}, now+8000)
	require.NoError(t, err)
	require.Zero(t, n, "idempotent")
	_, err = dc.ImportDoorCerts(ctx, []store.DoorCert{doorCert("e9", "d1", "k2", now), doorCert("E9", "d1", "k2", now)}, now)
	requireKind(t, err, domain.ErrValidation, "serial")
	_, err = dc.DoorCert(ctx, "e9")
	requireKind(t, err, store.ErrNotFound, "") // all or nothing
	r, err = dc.RevokedDoorCerts(ctx, now)
	require.NoError(t, err)
	require.Equal(t, int64(10), r.Revision)
	require.Empty(t, e.rec.take(), "certificates are not domain changes")
}

// testDoorCertsConcurrent: a renewal recorded while the door enrolls again
// with another key ends revoked whichever commits first (the door's rows
// are locked), never a valid certificate of a superseded key.
func testDoorCertsConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	now := base().UnixMilli()
	enrollKey(e, "d1", "k0", now)
	_, err := s.DoorCerts().RecordDoorCert(ctx, doorCert("a0", "d1", "k0", now), false)
	require.NoError(t, err)
	for i := range 5 {
		var wg sync.WaitGroup
		serial := string(rune('b'+i)) + "1"
		oldKey, newKey := "k"+string(rune('0'+i)), "k"+string(rune('1'+i))
		secret := store.NewSecret("swce_")
		at := now + int64(i+1)*1000
		require.NoError(t, s.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "e" + serial, Door: "d1", CreatedBy: "t1", CreatedMs: at - 1000, ExpiresMs: at + 60_000}, secret))
		var recErr, redeemErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, recErr = s.DoorCerts().RecordDoorCert(ctx, doorCert(serial, "d1", oldKey, at), true)
		}()
		go func() {
			defer wg.Done()
			_, redeemErr = s.RedeemEnrollment(ctx, secret, store.DoorKey{KeySHA256: keyHash(newKey), EnrolledMs: at})
		}()
		wg.Wait()
		require.NoError(t, recErr)
		require.NoError(t, redeemErr)
		got, err := s.DoorCerts().DoorCert(ctx, serial)
		require.NoError(t, err)
		require.Equal(t, store.RevokedSuperseded, got.Reason, "round %d", i)
	}
}
