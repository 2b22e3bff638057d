package api

import (
	"errors"
	"net/http"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Secure badges: the personalisation station's two calls.
//
// POST /badges/{uid}/personalisation (technician, admin) answers the keys a
// station writes on one card: its application keys (key 0, the application
// master key, first; then key 1, the door key; keys 2 to 4 too on an NTAG
// 424 DNA) of the current card master key version, diversified for that
// card's UID, and, for a badge recorded as secure with an older version,
// that version's keys (the card's current keys, needed to re-key it).
//
// What this exposes to a station: the keys of that one card. With them the
// station (or whoever controls it, or reads its memory) can re-key,
// re-personalise or copy that card, as the card's owner could; not any other
// card, not the master key. A technician gets the keys of a UID registered
// as a badge they may see (that they added, for a member of their centers)
// or of a UID not registered yet (a new card); the keys of another center's
// badge are answered as for a missing badge. Each answer is logged with the
// caller and the UID (never the keys).
//
// PUT /badges/{uid}/credential (technician, admin) records what the station
// made of the card: its card type and key version.

// CardKeyRing is what the API needs of the card master keys (central/cardkeys.Ring).
type CardKeyRing interface {
	Current() uint8
	AppKeys(uid protocol.UID, card protocol.CardType, v uint8) ([]protocol.CardKey, error)
}

// PersonalisationRequest is the body of POST /badges/{uid}/personalisation.
type PersonalisationRequest struct {
	CardType protocol.CardType `json:"card_type"`
}

// Credential is the body of PUT /badges/{uid}/credential.
type Credential struct {
	CardType   protocol.CardType `json:"card_type"`
	KeyVersion uint8             `json:"key_version"`
}

func (s *Server) ring() (CardKeyRing, error) {
	if s.cardKeys == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "personalisation_unavailable", Message: "this central holds no card master keys"}
	}
	return s.cardKeys, nil
}

// personalisationBadge returns the registered badge of the path's UID (nil
// when none), checking the caller may see it.
func (s *Server) personalisationBadge(r *http.Request, p *principal) (protocol.UID, *domain.Badge, error) {
	uid, err := protocol.ParseUID(r.PathValue("uid"))
	if err != nil {
		return "", nil, errInvalid("uid", "%v", err)
	}
	x, err := s.st.Badge(r.Context(), uid)
	if errors.Is(err, store.ErrNotFound) {
		return uid, nil, nil
	}
	if err != nil {
		return uid, nil, err
	}
	if err := s.seesBadge(r, p, x); err != nil {
		return uid, nil, err
	}
	return uid, &x, nil
}

func (s *Server) personalise(w http.ResponseWriter, r *http.Request, p *principal) error {
	ring, err := s.ring()
	if err != nil {
		return err
	}
	var req PersonalisationRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if !req.CardType.Secure() {
		return errInvalid("card_type", "%q: want %s or %s", req.CardType, protocol.CardNTAG424DNA, protocol.CardDESFireEV2)
	}
	uid, badge, err := s.personalisationBadge(r, p)
	if err != nil {
		return err
	}
	out := protocol.Personalisation{UID: uid, CardType: req.CardType, KeyVersion: ring.Current()}
	if out.Keys, err = ring.AppKeys(uid, req.CardType, out.KeyVersion); err != nil {
		return err
	}
	if badge != nil && badge.Card == req.CardType && badge.KeyVersion != 0 && badge.KeyVersion != out.KeyVersion {
		keys, err := ring.AppKeys(uid, req.CardType, badge.KeyVersion)
		if err != nil {
			return errInvalid("key_version", "badge %s holds key version %d, which this central no longer has: the card cannot be re-keyed, only replaced", uid, badge.KeyVersion)
		}
		out.Current = &protocol.VersionedKeys{KeyVersion: badge.KeyVersion, Keys: keys}
	}
	s.log.Info("api: card keys handed to a personalisation station", "by", p.ID, "uid", string(uid), "card_type", string(req.CardType),
		"key_version", out.KeyVersion, "registered", badge != nil)
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) setCredential(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.badge(r, p)
	if err != nil {
		return err
	}
	var c Credential
	if err := s.decode(w, r, &c); err != nil {
		return err
	}
	if c.CardType.Secure() {
		if ring, err := s.ring(); err == nil && c.KeyVersion > ring.Current() {
			return errInvalid("key_version", "%d is above the current card master key version %d", c.KeyVersion, ring.Current())
		}
	}
	if err := s.st.SetBadgeCredential(r.Context(), x.UID, c.CardType, c.KeyVersion); err != nil {
		return err
	}
	x.Card, x.KeyVersion = c.CardType, c.KeyVersion
	if x.Card == protocol.CardUIDOnly {
		x.Card = ""
	}
	return writeJSON(w, http.StatusOK, x)
}
