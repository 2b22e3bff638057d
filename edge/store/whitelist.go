package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/smartworkcenters/swc/shared/protocol"
)

func headerIn(tx *bolt.Tx) (header, error) {
	v := tx.Bucket(bucketMeta).Get(keyWL)
	if v == nil {
		return header{}, nil
	}
	return decodeHeader(v)
}

// WhitelistInfo describes the whitelist held and any snapshot being staged.
type WhitelistInfo struct {
	Version uint64 // 0: none
	Issued  time.Time
	Expires time.Time
	Center  string
	Room    string
	// RequireSecure is the center's require_secure_credentials policy.
	RequireSecure bool
	// HeldOpen is the network's held-open threshold the whitelist carries
	// (protocol.Whitelist.HeldOpenS); 0 when it carries none.
	HeldOpen    time.Duration
	Badges      uint64
	Staging     uint64 // version of a snapshot whose parts are arriving, or 0
	StagedParts int    // parts of it stored so far
	StagingOf   int    // parts it has
}

// Whitelist reads the whitelist header.
func (s *Store) Whitelist(ctx context.Context) (WhitelistInfo, error) {
	var wi WhitelistInfo
	err := s.view(ctx, func(tx *bolt.Tx) error {
		h, err := headerIn(tx)
		if err != nil {
			return err
		}
		wi = WhitelistInfo{Version: h.Version, Center: h.Center, Room: h.Room, RequireSecure: h.RequireSecure, HeldOpen: time.Duration(h.HeldOpenS) * time.Second, Badges: h.Badges}
		if h.Version != 0 {
			wi.Issued, wi.Expires = time.UnixMilli(h.IssuedMs), time.UnixMilli(h.ExpiresMs)
		}
		st := tx.Bucket(bucketStaging)
		if v := st.Get(keyHeader); v != nil {
			sh, err := decodeHeader(v)
			if err != nil {
				return err
			}
			wi.Staging, wi.StagingOf, wi.StagedParts = sh.Version, int(sh.Parts), countParts(st)
		}
		return nil
	})
	if err != nil {
		return WhitelistInfo{}, fmt.Errorf("store: whitelist: %w", err)
	}
	return wi, nil
}

// Entry returns a badge's whitelist entry, with grant refs.
func (s *Store) Entry(ctx context.Context, uid protocol.UID) (protocol.Entry, bool, error) {
	if err := uid.Validate(); err != nil {
		return protocol.Entry{}, false, fmt.Errorf("store: entry: uid %q: %w", uid, err)
	}
	var e protocol.Entry
	var found bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketWhitelist).Get(uid.Bytes())
		if v == nil {
			return nil
		}
		found = true
		return decodeEntry(uid, v, &e, true)
	})
	return e, found, err
}

// ApplyResult says what a whitelist message did.
type ApplyResult struct {
	Applied bool   // the door now holds Version
	Version uint64 // the version the door holds afterwards
	Staged  int    // for a snapshot part not yet applied: parts stored so far
	Parts   int    // ... out of this many
}

// ApplyWhitelist hands a verified whitelist message to StageSnapshot or
// ApplyDelta according to its kind.
func (s *Store) ApplyWhitelist(ctx context.Context, w *protocol.Whitelist) (ApplyResult, error) {
	if w == nil {
		return ApplyResult{}, errors.New("store: nil whitelist")
	}
	if w.Kind == protocol.Delta {
		return s.ApplyDelta(ctx, w)
	}
	return s.StageSnapshot(ctx, w)
}

// checkFor re-checks a whitelist against the door's state inside the
// transaction that applies it: the right door, a newer version and, for a
// delta, the right base. Errors are protocol errors (ErrWrongDoor,
// ErrReplay, ErrGap), so protocol.Code labels them.
func (s *Store) checkFor(w *protocol.Whitelist, cur uint64) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if s.door != "" {
		return w.CheckFor(s.door, cur)
	}
	return w.CheckFor(w.Door, cur)
}

// StageSnapshot stores one verified part of a snapshot. Parts of the same
// version are staged on disk (so a restart keeps them) and applied together,
// in the transaction that stores the last missing part: the whitelist then
// holds exactly the snapshot's entries, its header becomes the door's, the
// staging is cleared and the last trusted time advances to the issued-at.
// A part of a newer version discards older staged parts; a part of an older
// version than the one staging, or not above the one held, is refused with
// protocol.ErrReplay. Parts of one version must agree on their header.
func (s *Store) StageSnapshot(ctx context.Context, w *protocol.Whitelist) (ApplyResult, error) {
	if w.Kind != protocol.Snapshot {
		return ApplyResult{}, fmt.Errorf("store: stage snapshot: kind %q", w.Kind)
	}
	var res ApplyResult
	var discard error // staged parts found inconsistent: dropped, reported after commit
	err := s.update(ctx, func(tx *bolt.Tx) error {
		cur, err := headerIn(tx)
		if err != nil {
			return err
		}
		res.Version = cur.Version
		if err := s.checkFor(w, cur.Version); err != nil {
			return err
		}
		st := tx.Bucket(bucketStaging)
		want := header{Version: w.Version, IssuedMs: w.IssuedMs, ExpiresMs: w.ExpiresMs, Parts: uint64(w.Parts), Center: w.Center, Room: w.Room, RequireSecure: w.RequireSecure, HeldOpenS: w.HeldOpenS}
		if v := st.Get(keyHeader); v != nil {
			sh, err := decodeHeader(v)
			if err != nil {
				return err
			}
			switch {
			case sh.Version > w.Version:
				return &protocol.Error{Kind: protocol.ErrReplay, Field: "body.version", Detail: fmt.Sprintf("%d, a snapshot of version %d is being staged", w.Version, sh.Version)}
			case sh.Version < w.Version:
				if st, err = resetStaging(tx); err != nil {
					return err
				}
			case sh != want:
				return &protocol.Error{Kind: protocol.ErrInvalid, Field: "body", Detail: fmt.Sprintf("part %d of version %d disagrees with the parts staged before (header %+v, staged %+v)", w.Part, w.Version, want, sh)}
			}
		}
		if err := st.Put(keyHeader, want.encode()); err != nil {
			return err
		}
		if err := st.Put(partKey(w.Part), encodePart(w.Entries)); err != nil {
			return err
		}
		staged := countParts(st)
		res.Staged, res.Parts = staged, w.Parts
		if staged < w.Parts {
			return nil
		}
		n, err := installSnapshot(tx, st, want)
		if errors.Is(err, errDuplicateAcrossParts) {
			discard = err
			_, err = resetStaging(tx)
			return err
		}
		if err != nil {
			return err
		}
		want.Badges, want.Parts = n, 0
		if err := tx.Bucket(bucketMeta).Put(keyWL, want.encode()); err != nil {
			return err
		}
		if _, err := advanceTrusted(tx, time.UnixMilli(w.IssuedMs)); err != nil {
			return err
		}
		if _, err := resetStaging(tx); err != nil {
			return err
		}
		res = ApplyResult{Applied: true, Version: w.Version, Staged: w.Parts, Parts: w.Parts}
		return nil
	})
	if err == nil {
		err = discard
	}
	if err != nil {
		return ApplyResult{}, fmt.Errorf("store: snapshot %d part %d/%d: %w", w.Version, w.Part, w.Parts, err)
	}
	return res, nil
}

var errDuplicateAcrossParts = &protocol.Error{Kind: protocol.ErrInvalid, Field: "body.entries", Detail: "a badge is listed in two parts of one snapshot; the staged parts were dropped"}

// countParts counts the staged parts with a cursor, which (unlike
// Bucket.Stats) sees this transaction's own puts.
func countParts(st *bolt.Bucket) int {
	n := 0
	c := st.Cursor()
	for k, _ := c.Seek([]byte("p")); k != nil && k[0] == 'p'; k, _ = c.Next() {
		n++
	}
	return n
}

func partKey(part int) []byte { return binary.BigEndian.AppendUint32([]byte("p"), uint32(part)) }

func resetStaging(tx *bolt.Tx) (*bolt.Bucket, error) {
	if err := tx.DeleteBucket(bucketStaging); err != nil {
		return nil, err
	}
	return tx.CreateBucket(bucketStaging)
}

// encodePart packs a part's entries: per entry uvarint key length, key,
// uvarint value length, value.
func encodePart(entries []protocol.Entry) []byte {
	var b, v []byte
	for i := range entries {
		k := entries[i].UID.Bytes()
		v = encodeEntry(v[:0], &entries[i])
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// installSnapshot replaces the whitelist bucket with the staged parts'
// entries, inserted in key order into densely filled pages. It returns the
// number of badges.
func installSnapshot(tx *bolt.Tx, st *bolt.Bucket, h header) (uint64, error) {
	// Gather the records as offsets into the parts' bytes (valid for the
	// whole transaction), sort by key, and refuse duplicates.
	type rec struct{ k, v []byte }
	var recs []rec
	for p := 1; p <= int(h.Parts); p++ {
		// A cursor, not Get: bbolt's Get answers nil for the empty value
		// of a part without entries (an empty snapshot) as for a missing key.
		key := partKey(p)
		k, blob := st.Cursor().Seek(key)
		if !bytes.Equal(k, key) {
			return 0, fmt.Errorf("staged part %d missing", p)
		}
		d := decoder{b: blob}
		for len(d.b) > 0 && d.err == nil {
			k := d.bytes()
			v := d.bytes()
			recs = append(recs, rec{k, v})
		}
		if d.err != nil {
			return 0, fmt.Errorf("staged part %d: %w", p, d.err)
		}
	}
	slices.SortFunc(recs, func(a, b rec) int { return bytes.Compare(a.k, b.k) })
	for i := 1; i < len(recs); i++ {
		if bytes.Equal(recs[i-1].k, recs[i].k) {
			return 0, errDuplicateAcrossParts
		}
	}
	if err := tx.DeleteBucket(bucketWhitelist); err != nil {
		return 0, err
	}
	wl, err := tx.CreateBucket(bucketWhitelist)
	if err != nil {
		return 0, err
	}
	wl.FillPercent = 1.0 // sequential inserts: fill pages completely
	for _, r := range recs {
		if err := wl.Put(r.k, r.v); err != nil {
			return 0, err
		}
	}
	return uint64(len(recs)), nil
}

// ApplyDelta applies a verified delta from the version held (its base) to
// its version in one transaction: upsert its entries, delete its removed
// badges, take its header (center and room only when it carries them) and
// advance the last trusted time to its issued-at. A delta not above the
// version held is refused with protocol.ErrReplay, one whose base is not the
// version held with protocol.ErrGap (the sync then asks for a snapshot).
func (s *Store) ApplyDelta(ctx context.Context, w *protocol.Whitelist) (ApplyResult, error) {
	if w.Kind != protocol.Delta {
		return ApplyResult{}, fmt.Errorf("store: apply delta: kind %q", w.Kind)
	}
	var res ApplyResult
	err := s.update(ctx, func(tx *bolt.Tx) error {
		cur, err := headerIn(tx)
		if err != nil {
			return err
		}
		if err := s.checkFor(w, cur.Version); err != nil {
			return err
		}
		wl := tx.Bucket(bucketWhitelist)
		n := cur.Badges
		for i := range w.Entries {
			k := w.Entries[i].UID.Bytes()
			if wl.Get(k) == nil {
				n++
			}
			// A fresh slice each time: bbolt keeps the value, not a copy,
			// until the transaction commits.
			if err := wl.Put(k, encodeEntry(nil, &w.Entries[i])); err != nil {
				return err
			}
		}
		for _, u := range w.Removed {
			k := u.Bytes()
			if wl.Get(k) == nil {
				continue
			}
			n--
			if err := wl.Delete(k); err != nil {
				return err
			}
		}
		// The policy and the held-open threshold come with every message
		// (protocol.Whitelist.RequireSecure, HeldOpenS).
		h := header{Version: w.Version, IssuedMs: w.IssuedMs, ExpiresMs: w.ExpiresMs, Badges: n, Center: cur.Center, Room: cur.Room, RequireSecure: w.RequireSecure, HeldOpenS: w.HeldOpenS}
		if w.Center != "" {
			h.Center = w.Center
		}
		if w.Room != "" {
			h.Room = w.Room
		}
		if err := tx.Bucket(bucketMeta).Put(keyWL, h.encode()); err != nil {
			return err
		}
		if sv := tx.Bucket(bucketStaging).Get(keyHeader); sv != nil {
			if sh, err := decodeHeader(sv); err != nil || sh.Version <= w.Version {
				if _, err := resetStaging(tx); err != nil {
					return err
				}
			}
		}
		if _, err := advanceTrusted(tx, time.UnixMilli(w.IssuedMs)); err != nil {
			return err
		}
		res = ApplyResult{Applied: true, Version: w.Version}
		return nil
	})
	if err != nil {
		return ApplyResult{}, fmt.Errorf("store: delta %d→%d: %w", w.Base, w.Version, err)
	}
	return res, nil
}
