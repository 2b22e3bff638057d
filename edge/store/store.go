// Package store is the door agent's durable state in one bbolt file: the
// whitelist with its signed header, the outbox of events numbered gap-free
// per store identity (a new one at every Open: see streams.go), the last
// trusted time, the boot counter and the ids of executed remote commands.
//
// Every verb is one bbolt transaction, so it is either wholly on disk (after
// one fsync) or not at all. Tap decides and appends the tap event in the same
// transaction; the caller drives the relay only after it returns.
//
// Signature verification is not done here. The caller (the MQTT sync, or
// `swc-edge whitelist load`) verifies every signed whitelist message with
// protocol.KeyRing against the pinned key before handing it over. The store
// then validates the body again and re-checks, inside the transaction that
// applies it, that it is for this door, that its version is above the one
// held and that a delta starts at the version held (no rollback, no replay,
// no gap), so two racing updates can never apply out of order.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Bucket and key names.
var (
	bucketMeta      = []byte("meta")
	bucketWhitelist = []byte("whitelist")
	bucketStaging   = []byte("staging")
	bucketOutbox    = []byte("outbox")
	bucketCommands  = []byte("commands")
	bucketStreams   = []byte("streams")
	// bucketReadCtr holds each secure badge's last NTAG 424 DNA read
	// counter (UID bytes → 8-byte big-endian), to refuse replays.
	bucketReadCtr = []byte("readctr")

	keySchema  = []byte("schema")
	keyDoor    = []byte("door")
	keyWL      = []byte("wl")
	keyTrusted = []byte("trusted_ms")
	keyBoots   = []byte("boots")
	keyHeader  = []byte("header")
)

// schemaVersion 2 added the streams bucket (store identities); a version 1
// file is upgraded at Open, its events becoming the stream without identity.
const schemaVersion = 2

// DefaultOpenTimeout is how long Open waits for another process's lock.
const DefaultOpenTimeout = 5 * time.Second

// DefaultOutboxAlarm is the outbox depth that raises the alarm: 150,000
// events, two and a half times 30 days offline at 2,000 taps a day (door
// events such as door_closed come on top of taps). The outbox never evicts;
// at about 250 bytes an event this is under 40 MB of file.
const DefaultOutboxAlarm = 150_000

// Errors of the store's own (protocol errors keep their protocol kinds).
var (
	// ErrInUse means another process holds the database (another swc-edge).
	ErrInUse = errors.New("the database file is in use by another process")
	// ErrCommandSeen means a command id was already executed.
	ErrCommandSeen = errors.New("command already executed")
	// ErrAckAhead means an ack covers sequence numbers never recorded here.
	ErrAckAhead = errors.New("ack is beyond the last recorded event")
	// ErrWrongDoor means the data folder belongs to another door.
	ErrWrongDoor = errors.New("the database belongs to another door")
	// ErrClosed means the store was used after Close.
	ErrClosed = errors.New("store closed")
)

// Options configure Open.
type Options struct {
	// Door is this door's id. The first Open binds the file to it; a later
	// Open with another id fails with ErrWrongDoor, and whitelists for other
	// doors are refused. Empty leaves the file unbound (tools, tests).
	Door string
	// OpenTimeout bounds the wait for another process's lock (default
	// DefaultOpenTimeout).
	OpenTimeout time.Duration
	// OutboxAlarm is the depth at which OutboxStats.Alarm is set (default
	// DefaultOutboxAlarm).
	OutboxAlarm uint64
}

// Store is an open database.
type Store struct {
	db    *bolt.DB
	path  string
	door  string
	alarm uint64
}

// Open opens (creating when needed) the database at path. It waits at most
// opts.OpenTimeout for another process's lock and then fails with ErrInUse.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = DefaultOpenTimeout
	}
	if opts.OutboxAlarm == 0 {
		opts.OutboxAlarm = DefaultOutboxAlarm
	}
	if opts.Door != "" {
		if err := protocol.ValidID(opts.Door); err != nil {
			return nil, fmt.Errorf("store: door id %q: %w", opts.Door, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: data folder: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.OpenTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s: %w (waited %v; is another swc-edge running? see `systemctl status swc-edge`)", path, ErrInUse, opts.OpenTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, door: opts.Door, alarm: opts.OutboxAlarm}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketWhitelist, bucketStaging, bucketOutbox, bucketCommands, bucketStreams, bucketReadCtr} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keySchema); v == nil {
			if err := meta.Put(keySchema, u64(schemaVersion)); err != nil {
				return err
			}
		} else if n, ok := getU64(v); ok && n == 1 {
			if err := upgradeStreams(tx); err != nil {
				return err
			}
		} else if !ok || n != schemaVersion {
			return fmt.Errorf("schema %x is not %d: written by another swc-edge version", v, schemaVersion)
		}
		if s.door != "" {
			switch held := string(meta.Get(keyDoor)); held {
			case "":
				if err := meta.Put(keyDoor, []byte(s.door)); err != nil {
					return err
				}
			case s.door:
			default:
				return fmt.Errorf("%w: it holds door %q, the configuration says %q (use a fresh data_dir for another door)", ErrWrongDoor, held, s.door)
			}
		}
		// In the same transaction: opening costs no extra fsync.
		_, err := startStream(tx)
		return err
	})
}

// BoundDoor returns the door the database file is bound to ("" when none
// yet), whatever the door the store was opened with.
func (s *Store) BoundDoor(ctx context.Context) (string, error) {
	var door string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		door = string(tx.Bucket(bucketMeta).Get(keyDoor))
		return nil
	})
	return door, err
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database; it is safe to call twice.
func (s *Store) Close() error { return s.db.Close() }

// update runs fn in a read-write transaction after checking ctx.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return closedErr(s.db.Update(fn))
}

// view runs fn in a read-only transaction after checking ctx.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return closedErr(s.db.View(fn))
}

func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// Boot identifies one run of the agent.
type Boot struct {
	ID     string // unique id carried by every event of the run
	Number uint64 // how many runs this database has seen, this one included
}

// StartBoot records a new run and returns its id: the run number and 48
// random bits, such as "17-9f2c4e1a0b3d".
func (s *Store) StartBoot(ctx context.Context) (Boot, error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return Boot{}, fmt.Errorf("store: boot id: %w", err)
	}
	var b Boot
	err := s.update(ctx, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		n, _ := getU64(meta.Get(keyBoots))
		b = Boot{Number: n + 1, ID: fmt.Sprintf("%d-%s", n+1, hex.EncodeToString(rnd[:]))}
		return meta.Put(keyBoots, u64(b.Number))
	})
	if err != nil {
		return Boot{}, fmt.Errorf("store: start boot: %w", err)
	}
	return b, nil
}

// TrustedTime returns the last trusted time (zero when none was recorded).
func (s *Store) TrustedTime(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := s.view(ctx, func(tx *bolt.Tx) error {
		t = trustedIn(tx)
		return nil
	})
	return t, err
}

func trustedIn(tx *bolt.Tx) time.Time {
	ms, ok := getU64(tx.Bucket(bucketMeta).Get(keyTrusted))
	if !ok {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms))
}

// advanceTrusted raises the stored last trusted time to t; it never lowers it.
func advanceTrusted(tx *bolt.Tx, t time.Time) (time.Time, error) {
	cur := trustedIn(tx)
	if !t.After(cur) || t.UnixMilli() <= 0 {
		return cur, nil
	}
	t = time.UnixMilli(t.UnixMilli())
	return t, tx.Bucket(bucketMeta).Put(keyTrusted, u64(uint64(t.UnixMilli())))
}

// AdvanceTrustedTime raises the persisted last trusted time to t (from NTP,
// an acknowledgement's server time or a signed whitelist's issued-at) and
// returns the stored value, which never goes back.
func (s *Store) AdvanceTrustedTime(ctx context.Context, t time.Time) (time.Time, error) {
	var out time.Time
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = advanceTrusted(tx, t)
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: advance trusted time: %w", err)
	}
	return out, nil
}

// Check runs bbolt's consistency check over the whole file.
func (s *Store) Check(ctx context.Context) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}
