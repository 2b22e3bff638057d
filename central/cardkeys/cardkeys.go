// Package cardkeys keeps the network's card master keys, one per key
// version, in the central's data folder, and derives from them what each
// party may hold (shared/desfire's key custody): a door gets, in its
// whitelist, the door key of each secure badge it lists; a technician's
// station gets, for one card it personalises, that card's application keys.
// The master keys themselves never leave this package: they are not logged,
// not served by the API and not sent to any door or station.
//
// The file (FileName, mode 0600, created on first use like the signing key)
// holds every version still in use: the current one, and older ones until
// their cut-off (not-after) date, after which doors refuse them. A rotation
// (Rotate, `swc-central card-keys rotate`) adds a new current version and
// gives the previous one its cut-off; a running central notices the file
// changed and reads it again (Reload), so the rotation takes effect without
// a restart.
package cardkeys

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/shared/atomicfile"
	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// FileName is the card master keys' file in the data folder.
const FileName = "card-master-keys.json"

// MaxVersions bounds the versions the file keeps (255 versions in a key byte;
// more than a handful alive at once means something is wrong).
const MaxVersions = 8

// version is one master key version in the file.
type version struct {
	Version  uint8     `json:"version"`
	Key      string    `json:"key"` // 32 hex digits
	Created  time.Time `json:"created"`
	NotAfter time.Time `json:"not_after,omitzero"` // set when a newer version replaced it

	master []byte
}

type file struct {
	Current  uint8     `json:"current"`
	Versions []version `json:"versions"`
}

// Ring is the card master keys of one data folder. It is safe for concurrent use.
type Ring struct {
	path string
	mu   sync.Mutex
	f    file
}

// VersionInfo describes a version without its key.
type VersionInfo struct {
	Version  uint8
	Created  time.Time
	NotAfter time.Time // zero: the current version
	Current  bool
}

// LoadOrCreate returns the ring kept in dir, creating it with version 1
// (and dir) when there is none. created tells whether it was made now.
func LoadOrCreate(dir string, now time.Time) (r *Ring, created bool, err error) {
	path := filepath.Join(dir, FileName)
	r, err = Load(path)
	if err == nil {
		return r, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("cardkeys: data folder: %w", err)
	}
	r = &Ring{path: path}
	if err := r.add(now); err != nil {
		return nil, false, err
	}
	if err := r.save(); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// Load reads the ring's file. It refuses a file that others than its owner
// may read, and one whose content does not validate.
func Load(path string) (*Ring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cardkeys: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("cardkeys: %s has mode %v; the card master keys must be readable by their owner only (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cardkeys: %w", err)
	}
	r := &Ring{path: path}
	if err := json.Unmarshal(b, &r.f); err != nil {
		return nil, fmt.Errorf("cardkeys: %s: %w", path, err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("cardkeys: %s: %w", path, err)
	}
	return r, nil
}

func (r *Ring) check() error {
	if len(r.f.Versions) == 0 || len(r.f.Versions) > MaxVersions {
		return fmt.Errorf("versions: %d; want 1 to %d", len(r.f.Versions), MaxVersions)
	}
	seen := map[uint8]bool{}
	for i := range r.f.Versions {
		v := &r.f.Versions[i]
		if v.Version == 0 || seen[v.Version] {
			return fmt.Errorf("versions[%d].version: %d is 0 or listed twice", i, v.Version)
		}
		seen[v.Version] = true
		m, err := hex.DecodeString(v.Key)
		if err != nil || len(m) != desfire.KeySize {
			return fmt.Errorf("versions[%d].key: not %d hex digits", i, 2*desfire.KeySize)
		}
		v.master = m
	}
	if !seen[r.f.Current] {
		return fmt.Errorf("current: version %d not in versions", r.f.Current)
	}
	if !r.get(r.f.Current).NotAfter.IsZero() {
		return fmt.Errorf("current: version %d has a not_after date", r.f.Current)
	}
	return nil
}

func (r *Ring) get(v uint8) *version {
	for i := range r.f.Versions {
		if r.f.Versions[i].Version == v {
			return &r.f.Versions[i]
		}
	}
	return nil
}

// add makes a new current version.
func (r *Ring) add(now time.Time) error {
	next := r.f.Current + 1
	if r.f.Current == 255 {
		return errors.New("cardkeys: version 255 reached; key versions are one byte")
	}
	m := make([]byte, desfire.KeySize)
	if _, err := rand.Read(m); err != nil {
		return fmt.Errorf("cardkeys: %w", err)
	}
	r.f.Versions = append(r.f.Versions, version{Version: next, Key: hex.EncodeToString(m), Created: now.UTC(), master: m})
	r.f.Current = next
	return nil
}

func (r *Ring) save() error {
	b, err := json.MarshalIndent(&r.f, "", " ")
	if err != nil {
		return fmt.Errorf("cardkeys: %w", err)
	}
	if err := atomicfile.Write(r.path, b, 0o600); err != nil {
		return fmt.Errorf("cardkeys: %w", err)
	}
	return nil
}

// Reload reads the ring's file again (another process rotated it: `swc-central
// card-keys rotate`) and reports whether the versions changed. A file that
// does not load (mode, content) is an error and the ring keeps what it held.
func (r *Ring) Reload() (bool, error) {
	n, err := Load(r.path)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := n.f.Current != r.f.Current || !slices.EqualFunc(n.f.Versions, r.f.Versions, func(a, b version) bool {
		return a.Version == b.Version && a.Key == b.Key && a.Created.Equal(b.Created) && a.NotAfter.Equal(b.NotAfter)
	})
	r.f = n.f
	return changed, nil
}

// Path returns the ring's file.
func (r *Ring) Path() string { return r.path }

// Current returns the current key version.
func (r *Ring) Current() uint8 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Current
}

// Versions describes the versions kept, oldest first.
func (r *Ring) Versions() []VersionInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]VersionInfo, 0, len(r.f.Versions))
	for _, v := range r.f.Versions {
		out = append(out, VersionInfo{Version: v.Version, Created: v.Created, NotAfter: v.NotAfter, Current: v.Version == r.f.Current})
	}
	slices.SortFunc(out, func(a, b VersionInfo) int { return int(a.Version) - int(b.Version) })
	return out
}

// Rotate makes a new current version; the previous one is accepted by doors
// until notAfter (which must be after now). Versions whose cut-off passed
// are dropped from the file. It returns the new version.
func (r *Ring) Rotate(now, notAfter time.Time) (uint8, error) {
	if !notAfter.After(now) {
		return 0, fmt.Errorf("cardkeys: rotate: the old version's cut-off %v is not after now", notAfter)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := r.f.Versions[:0]
	for _, v := range r.f.Versions {
		if v.NotAfter.IsZero() || v.NotAfter.After(now) {
			keep = append(keep, v)
		}
	}
	r.f.Versions = keep
	if len(r.f.Versions) >= MaxVersions {
		return 0, fmt.Errorf("cardkeys: rotate: %d versions are still before their cut-off; wait for the oldest to pass it", len(r.f.Versions))
	}
	r.get(r.f.Current).NotAfter = notAfter.UTC()
	if err := r.add(now); err != nil {
		return 0, err
	}
	return r.f.Current, r.save()
}

// AID returns the application AID that enters a card type's key diversification.
func AID(card protocol.CardType) ([3]byte, error) {
	switch card {
	case protocol.CardNTAG424DNA:
		return desfire.NTAG424DiversificationAID, nil
	case protocol.CardDESFireEV2:
		return desfire.NetworkDESFireAID, nil
	}
	return [3]byte{}, fmt.Errorf("cardkeys: card type %q is not a secure card", card)
}

// ErrUnknownVersion is a key version the ring does not hold (never made, or
// dropped after its cut-off).
var ErrUnknownVersion = errors.New("cardkeys: unknown key version")

func (r *Ring) cardKey(uid protocol.UID, card protocol.CardType, v uint8, keyNo byte) (protocol.CardKey, error) {
	aid, err := AID(card)
	if err != nil {
		return protocol.CardKey{}, err
	}
	ver := r.get(v)
	if ver == nil {
		return protocol.CardKey{}, fmt.Errorf("%w: %d", ErrUnknownVersion, v)
	}
	k, err := desfire.CardKey(ver.master, uid.Bytes(), aid, keyNo)
	return protocol.CardKey(k), err
}

// DoorKeys returns the door keys a whitelist lists for a secure badge whose
// card holds key version v: that version's door key (with its cut-off when
// it is an old version) and, when v is not current, the current version's
// door key, so that the badge keeps opening once it is re-keyed while the
// door is offline. An old version past its cut-off is left out. It returns
// nothing for a UID-only badge.
func (r *Ring) DoorKeys(uid protocol.UID, card protocol.CardType, v uint8, now time.Time) ([]protocol.DoorKey, error) {
	if !card.Secure() {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []protocol.DoorKey
	if ver := r.get(v); ver != nil && v != r.f.Current && ver.NotAfter.After(now) {
		k, err := r.cardKey(uid, card, v, desfire.KeyDoor)
		if err != nil {
			return nil, err
		}
		out = append(out, protocol.DoorKey{Version: v, Key: k, NotAfterMs: ver.NotAfter.UnixMilli()})
	}
	k, err := r.cardKey(uid, card, r.f.Current, desfire.KeyDoor)
	if err != nil {
		return nil, err
	}
	return append(out, protocol.DoorKey{Version: r.f.Current, Key: k}), nil
}

// AppKeys returns the application keys (0 first) of version v of one card,
// for a technician's station that personalises or re-keys it. They let the
// station change that card's keys and settings, and nothing else: they are
// diversified for its UID.
func (r *Ring) AppKeys(uid protocol.UID, card protocol.CardType, v uint8) ([]protocol.CardKey, error) {
	if err := uid.Validate(); err != nil {
		return nil, fmt.Errorf("cardkeys: uid: %w", err)
	}
	if _, err := AID(card); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]protocol.CardKey, protocol.PersonalisationKeyCount(card))
	for n := range out {
		k, err := r.cardKey(uid, card, v, byte(n))
		if err != nil {
			return nil, err
		}
		out[n] = k
	}
	return out, nil
}

// String keeps the keys out of logs.
func (r *Ring) String() string {
	return fmt.Sprintf("cardkeys.Ring(%s, current version %d)", r.path, r.Current())
}
