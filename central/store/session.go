package store

import (
	"context"
	"fmt"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// SubjectKind is who a web session belongs to.
type SubjectKind string

// Subject kinds. A session names its subject by kind and id; the web layer
// checks on every request that the subject still exists and may sign in.
const (
	SubjectAPIToken SubjectKind = "api_token"     // break-glass sign-in with an API token (id: the token's id)
	SubjectStaff    SubjectKind = "staff_account" // a staff account (issue 16)
	SubjectMember   SubjectKind = "member"        // a member on the booking site (issue 15)
)

// Session is a signed-in browser as stored. The session id (the cookie's
// value) is never stored: only its hash (HashSecret).
type Session struct {
	SubjectKind SubjectKind `json:"subject_kind"`
	SubjectID   string      `json:"subject_id"`
	// CSRF is the token every form of the session carries.
	CSRF string `json:"-"`
	// Lang is the language chosen in this session ("" = none chosen).
	Lang string `json:"lang,omitempty"`
	// CreatedMs and LastSeenMs are Unix milliseconds.
	CreatedMs  int64 `json:"created_ms"`
	LastSeenMs int64 `json:"last_seen_ms"`
	// IdleMs: the session ends IdleMs after LastSeenMs; ExpiresMs: it ends
	// then however busy it is (absolute expiry).
	IdleMs    int64 `json:"idle_ms"`
	ExpiresMs int64 `json:"expires_ms"`
}

// Live reports whether the session may still be used at nowMs.
func (s *Session) Live(nowMs int64) bool {
	return nowMs < s.ExpiresMs && nowMs < s.LastSeenMs+s.IdleMs
}

// Validate checks the session.
func (s *Session) Validate() error {
	switch s.SubjectKind {
	case SubjectAPIToken, SubjectStaff, SubjectMember:
	default:
		return &domain.FieldError{Field: "subject_kind", Message: fmt.Sprintf("%q; want api_token, staff_account or member", s.SubjectKind)}
	}
	if err := protocol.ValidID(s.SubjectID); err != nil {
		return &domain.FieldError{Field: "subject_id", Message: fmt.Sprintf("%q: %v", s.SubjectID, err)}
	}
	if len(s.CSRF) < 32 || len(s.CSRF) > 200 {
		return &domain.FieldError{Field: "csrf", Message: "32 to 200 bytes"}
	}
	if len(s.Lang) > 35 {
		return &domain.FieldError{Field: "lang", Message: "at most 35 bytes (a BCP 47 tag)"}
	}
	if s.IdleMs <= 0 {
		return &domain.FieldError{Field: "idle_ms", Message: "must be positive"}
	}
	if s.ExpiresMs <= s.CreatedMs || s.LastSeenMs < s.CreatedMs {
		return &domain.FieldError{Field: "expires_ms", Message: "must come after created_ms (and last_seen_ms not before it)"}
	}
	return nil
}

// SessionStore keeps the web layer's sessions, so that they survive a
// restart and are shared by replicas on one database. Methods take the
// session id (the cookie's secret) and look it up by its hash.
//
// A session that is unknown, revoked, or expired (idle or absolute) at the
// given time is ErrNotFound alike.
type SessionStore interface {
	// CreateSession stores a new session under the hash of id (at least 32
	// bytes; ErrExists when taken).
	CreateSession(ctx context.Context, id string, s Session) error
	// TouchSession returns the session when it is live at nowMs and records
	// nowMs as its last use (extending its idle expiry); an expired session
	// is deleted and ErrNotFound returned.
	TouchSession(ctx context.Context, id string, nowMs int64) (Session, error)
	// PeekSession is TouchSession without recording the use (a long
	// stream rechecking its session).
	PeekSession(ctx context.Context, id string, nowMs int64) (Session, error)
	// SetSessionLang stores the language chosen in the session.
	SetSessionLang(ctx context.Context, id, lang string) error
	// SetSessionFlash leaves a message for the session's next page;
	// TakeSessionFlash returns it and clears it (at most one reader gets it).
	SetSessionFlash(ctx context.Context, id, msg string) error
	TakeSessionFlash(ctx context.Context, id string) (string, error)
	// RevokeSession ends one session (ErrNotFound when there is none).
	RevokeSession(ctx context.Context, id string) error
	// RevokeSubjectSessions ends every session of the subject and returns
	// how many there were (signing out everywhere; a suspended member; a
	// deleted staff account). DeleteToken does it for its token itself.
	RevokeSubjectSessions(ctx context.Context, kind SubjectKind, subjectID string) (int, error)
	// PurgeSessions deletes the sessions expired at nowMs and returns how many.
	PurgeSessions(ctx context.Context, nowMs int64) (int, error)
}
