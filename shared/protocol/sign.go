package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Signed message types, bound into every signature so that a signed body of
// one type can never be presented as another.
const (
	TypeWhitelist = "whitelist"
	TypeCommand   = "command"
)

// signingContext prefixes the signed bytes (domain separation).
const signingContext = "swc-signed-v1\n"

// signedBytes is what a signature covers: the context, the message type and
// the body's exact bytes.
func signedBytes(typ string, body []byte) []byte {
	m := make([]byte, 0, len(signingContext)+len(typ)+1+len(body))
	m = append(m, signingContext...)
	m = append(m, typ...)
	m = append(m, '\n')
	return append(m, body...)
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// FormatPublicKey renders a public key for configuration files: "ed25519:<base64>".
func FormatPublicKey(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey parses the FormatPublicKey form.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "ed25519:")
	if !ok {
		return nil, fmt.Errorf("public key %q: want the form ed25519:<base64>", s)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("public key: base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: %d bytes; an Ed25519 key has %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// KeyRing holds the public keys a door (or a test) trusts, by KeyID. A door
// pins its central's key at provisioning; more than one key allows rotation.
type KeyRing struct {
	keys map[string]ed25519.PublicKey
}

// NewKeyRing returns a key ring trusting the given keys.
func NewKeyRing(keys ...ed25519.PublicKey) *KeyRing {
	r := &KeyRing{keys: make(map[string]ed25519.PublicKey, len(keys))}
	for _, k := range keys {
		r.keys[KeyID(k)] = k
	}
	return r
}

// Signer signs whitelist messages and commands with the central's key.
type Signer struct {
	priv ed25519.PrivateKey
	id   string
}

// NewSigner returns a signer for the private key.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	pub := priv.Public().(ed25519.PublicKey)
	return &Signer{priv: priv, id: KeyID(pub)}
}

// PublicKey returns the key doors pin to verify this signer.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// KeyID returns the id of the signer's public key.
func (s *Signer) KeyID() string { return s.id }

// seal wraps body bytes in a signed envelope:
//
//	{"v":1,"type":"<type>","key":"<key id>","sig":"<base64 signature>","body":<body>}
func (s *Signer) seal(typ string, body []byte) ([]byte, error) {
	sig := ed25519.Sign(s.priv, signedBytes(typ, body))
	var b bytes.Buffer
	b.Grow(len(body) + 160)
	b.WriteString(`{"v":` + strconv.Itoa(Version) + `,"type":"` + typ + `","key":"` + s.id + `","sig":"`)
	b.WriteString(base64.StdEncoding.EncodeToString(sig))
	b.WriteString(`","body":`)
	b.Write(body)
	b.WriteByte('}')
	if b.Len() > MaxMessageSize {
		return nil, &Error{Kind: ErrTooLarge, Detail: fmt.Sprintf("signed %s is %d bytes; at most %d", typ, b.Len(), MaxMessageSize)}
	}
	return b.Bytes(), nil
}

// SignCommand validates and signs a command.
func (s *Signer) SignCommand(c *Command) ([]byte, error) {
	c.V = Version
	if err := c.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode command: %w", err)
	}
	return s.seal(TypeCommand, body)
}

// SignWhitelist validates and signs a single whitelist message (a delta, or
// one part of a snapshot). It returns an ErrTooLarge error when the message
// does not fit; the caller then sends a snapshot instead of a delta.
func (s *Signer) SignWhitelist(w *Whitelist) ([]byte, error) {
	w.V = Version
	if err := w.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode whitelist: %w", err)
	}
	return s.seal(TypeWhitelist, body)
}

// partBudget is the room for entries in one snapshot part, leaving space for
// the header and the envelope.
const partBudget = MaxMessageSize - 4096

// SignSnapshot splits a snapshot (header fields from h; h.Entries is ignored)
// into as few parts as fit MaxMessageSize and signs each. Entries are written
// in the order given. An empty snapshot is one part with no entries.
func (s *Signer) SignSnapshot(h Whitelist, entries []Entry) ([][]byte, error) {
	se, err := EncodeSnapshotEntries(entries)
	if err != nil {
		return nil, err
	}
	return s.SignSnapshotEntries(h, se)
}

// SnapshotEntries are a snapshot's entries validated, encoded and grouped
// into parts once, so that the same list can be signed for several doors
// (SignSnapshotEntries) without encoding it again. It is immutable.
type SnapshotEntries struct {
	groups [][]byte // per part, the entries' JSON separated by commas
	n      int
}

// Len returns the number of entries.
func (se *SnapshotEntries) Len() int { return se.n }

// Size returns the bytes the encoded entries hold.
func (se *SnapshotEntries) Size() int {
	n := 0
	for _, g := range se.groups {
		n += len(g)
	}
	return n
}

// EncodeSnapshotEntries validates and encodes entries, in the order given,
// and groups them into the parts SignSnapshot would make.
func EncodeSnapshotEntries(entries []Entry) (*SnapshotEntries, error) {
	se := &SnapshotEntries{n: len(entries)}
	var group []byte
	size := 0 // the group's entries plus one byte each, as the part budget counts them
	seen := make(map[UID]bool, len(entries))
	for i := range entries {
		p := fmt.Sprintf("entries[%d].", i)
		if err := entries[i].Validate(p); err != nil {
			return nil, err
		}
		if seen[entries[i].UID] {
			return nil, invalid(p+"uid", "badge %s listed twice", entries[i].UID)
		}
		seen[entries[i].UID] = true
		b, err := json.Marshal(&entries[i])
		if err != nil {
			return nil, fmt.Errorf("protocol: encode entry: %w", err)
		}
		if len(b) > partBudget {
			return nil, &Error{Kind: ErrTooLarge, Field: p + "grants", Detail: "one entry does not fit a message"}
		}
		if size+len(b)+1 > partBudget {
			se.groups = append(se.groups, group)
			group, size = nil, 0
		}
		if len(group) > 0 {
			group = append(group, ',')
		}
		group = append(group, b...)
		size += len(b) + 1
	}
	se.groups = append(se.groups, group)
	return se, nil
}

// SignSnapshotEntries signs a snapshot of encoded entries (header fields
// from h; h.Entries is ignored): the same messages as SignSnapshot.
func (s *Signer) SignSnapshotEntries(h Whitelist, se *SnapshotEntries) ([][]byte, error) {
	h.V, h.Kind, h.Base, h.Entries, h.Removed = Version, Snapshot, 0, nil, nil
	out := make([][]byte, 0, len(se.groups))
	for gi, g := range se.groups {
		h.Part, h.Parts = gi+1, len(se.groups)
		if err := h.Validate(); err != nil {
			return nil, err
		}
		head, err := json.Marshal(&h)
		if err != nil {
			return nil, fmt.Errorf("protocol: encode snapshot header: %w", err)
		}
		var body bytes.Buffer
		body.Grow(len(head) + len(g) + 16)
		body.Write(head[:len(head)-1]) // drop the closing brace
		if len(g) > 0 {
			body.WriteString(`,"entries":[`)
			body.Write(g)
			body.WriteByte(']')
		}
		body.WriteByte('}')
		msg, err := s.seal(TypeWhitelist, body.Bytes())
		if err != nil {
			return nil, err
		}
		out = append(out, msg)
	}
	return out, nil
}

// envelopeFields are the only fields a signed envelope may have.
var envelopeFields = map[string]bool{"v": true, "type": true, "key": true, "sig": true, "body": true}

// open checks the envelope of a signed message and verifies its signature,
// returning the exact body bytes. Nothing of the body is parsed before the
// signature holds.
func (r *KeyRing) open(msg []byte, wantType string) ([]byte, error) {
	if len(msg) > MaxMessageSize {
		return nil, &Error{Kind: ErrTooLarge, Detail: fmt.Sprintf("%d bytes; at most %d", len(msg), MaxMessageSize)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(msg, &fields); err != nil {
		return nil, mapJSONError(err, len(msg))
	}
	if fields == nil {
		return nil, &Error{Kind: ErrWrongType, Field: "(message)", Detail: "want a JSON object"}
	}
	if _, signed := fields["sig"]; !signed || fields["body"] == nil {
		return nil, &Error{Kind: ErrUnsigned, Detail: fmt.Sprintf("a %s must be a signed envelope with sig and body", wantType)}
	}
	for k := range fields {
		if !envelopeFields[k] {
			return nil, &Error{Kind: ErrUnknownField, Field: k}
		}
	}
	var env struct {
		V    int
		Type string
		Key  string
		Sig  string
	}
	for name, dst := range map[string]any{"v": &env.V, "type": &env.Type, "key": &env.Key, "sig": &env.Sig} {
		raw, ok := fields[name]
		if !ok {
			return nil, invalid(name, "missing")
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return nil, &Error{Kind: ErrWrongType, Field: name, Err: err}
		}
	}
	if env.V != Version {
		return nil, &Error{Kind: ErrUnsupportedVersion, Field: "v", Detail: fmt.Sprintf("%d; this side speaks %d", env.V, Version)}
	}
	if env.Type != wantType {
		return nil, invalid("type", "%q; want %q", env.Type, wantType)
	}
	if env.Sig == "" {
		return nil, &Error{Kind: ErrUnsigned, Field: "sig", Detail: "empty"}
	}
	pub, ok := r.keys[env.Key]
	if !ok {
		return nil, &Error{Kind: ErrUnknownKey, Field: "key", Detail: fmt.Sprintf("%q is not a pinned key", env.Key)}
	}
	sig, err := base64.StdEncoding.DecodeString(env.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, &Error{Kind: ErrBadSignature, Field: "sig", Detail: "not a base64 Ed25519 signature"}
	}
	body := []byte(fields["body"])
	if !ed25519.Verify(pub, signedBytes(wantType, body), sig) {
		return nil, &Error{Kind: ErrBadSignature, Field: "sig"}
	}
	return body, nil
}

// OpenWhitelist verifies a signed whitelist message and decodes its body. It
// checks the signature, the body's fields and expiry against now; the caller
// then checks it against the door's state with (*Whitelist).CheckFor.
func (r *KeyRing) OpenWhitelist(msg []byte, now time.Time) (*Whitelist, error) {
	body, err := r.open(msg, TypeWhitelist)
	if err != nil {
		return nil, err
	}
	var w Whitelist
	if err := decodeStrict(body, &w); err != nil {
		return nil, prefixed("body.", err)
	}
	if err := w.Validate(); err != nil {
		return nil, prefixed("body.", err)
	}
	if now.UnixMilli() >= w.ExpiresMs {
		return nil, &Error{Kind: ErrExpired, Field: "body.expires_ms", Detail: fmt.Sprintf("expired %s", time.UnixMilli(w.ExpiresMs).UTC().Format(time.RFC3339))}
	}
	return &w, nil
}

// CheckFor checks a verified whitelist message against a door's state: it must
// be for this door and newer than the door's current version; a delta must
// start exactly at the current version.
func (w *Whitelist) CheckFor(door string, current uint64) error {
	if w.Door != door {
		return &Error{Kind: ErrWrongDoor, Field: "body.door", Detail: fmt.Sprintf("%q, this door is %q", w.Door, door)}
	}
	if w.Version <= current {
		return &Error{Kind: ErrReplay, Field: "body.version", Detail: fmt.Sprintf("%d, door has %d", w.Version, current)}
	}
	if w.Kind == Delta && w.Base != current {
		return &Error{Kind: ErrGap, Field: "body.base", Detail: fmt.Sprintf("delta %d→%d, door has %d", w.Base, w.Version, current)}
	}
	return nil
}

// OpenCommand verifies a signed command for door and checks its expiry. The
// door still has to refuse an id it has already executed.
func (r *KeyRing) OpenCommand(msg []byte, door string, now time.Time) (*Command, error) {
	body, err := r.open(msg, TypeCommand)
	if err != nil {
		return nil, err
	}
	var c Command
	if err := decodeStrict(body, &c); err != nil {
		return nil, prefixed("body.", err)
	}
	if err := c.Validate(); err != nil {
		return nil, prefixed("body.", err)
	}
	if c.Door != door {
		return nil, &Error{Kind: ErrWrongDoor, Field: "body.door", Detail: fmt.Sprintf("%q, this door is %q", c.Door, door)}
	}
	if now.UnixMilli() >= c.ExpiresMs {
		return nil, &Error{Kind: ErrExpired, Field: "body.expires_ms", Detail: fmt.Sprintf("expired %s", time.UnixMilli(c.ExpiresMs).UTC().Format(time.RFC3339))}
	}
	return &c, nil
}

func prefixed(p string, err error) error {
	if pe, ok := err.(*Error); ok {
		cp := *pe
		if cp.Field != "" {
			cp.Field = p + cp.Field
		}
		return &cp
	}
	return err
}
