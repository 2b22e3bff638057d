package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The booking site's own state (migration 0015): members' calendar feed
// tokens and bookings' revisions.

// Site implements store.Store.
func (s *DB) Site() store.SiteStore { return &siteStore{db: s} }

type siteStore struct{ db *DB }

var _ store.SiteStore = (*siteStore)(nil)

// feedAudit is what the audit log holds of a feed: never the token.
type feedAudit struct {
	MemberID  string `json:"member_id"`
	CreatedMs int64  `json:"created_ms"`
}

// ResetFeedToken implements store.SiteStore.
func (ss *siteStore) ResetFeedToken(ctx context.Context, memberID, secret string, atMs int64) error {
	if len(secret) < 32 {
		return &domain.FieldError{Field: "token", Message: "a feed token has at least 32 bytes"}
	}
	return ss.db.write(ctx, func(t *wtx) error {
		var home sql.NullString
		if err := t.queryRow(ctx, `SELECT home_center_id FROM members WHERE id = ?`, memberID).Scan(&home); err != nil {
			return ss.db.mapErr(err, "member "+memberID, "member_id")
		}
		var before *feedAudit
		var old int64
		switch err := t.queryRow(ctx, `SELECT created_ms FROM member_feeds WHERE member_id = ?`, memberID).Scan(&old); {
		case err == nil:
			before = &feedAudit{MemberID: memberID, CreatedMs: old}
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("member %s: feed: %w", memberID, err)
		}
		if _, err := t.exec(ctx, `INSERT INTO member_feeds (member_id, token_hash, created_ms) VALUES (?, ?, ?)
			ON CONFLICT (member_id) DO UPDATE SET token_hash = excluded.token_hash, created_ms = excluded.created_ms`,
			memberID, store.HashSecret(secret), atMs); err != nil {
			return ss.db.mapErr(err, "member "+memberID+" feed", "token")
		}
		action := audit.Update
		if before == nil {
			action = audit.Create
		}
		return t.audit(ctx, action, "member_feed", memberID, []string{home.String}, before, &feedAudit{MemberID: memberID, CreatedMs: atMs})
	})
}

// FeedMember implements store.SiteStore.
func (ss *siteStore) FeedMember(ctx context.Context, secret string) (string, error) {
	var id string
	err := ss.db.queryRow(ctx, `SELECT member_id FROM member_feeds WHERE token_hash = ?`, store.HashSecret(secret)).Scan(&id)
	return id, ss.db.mapErr(err, "feed", "token")
}

// FeedCreated implements store.SiteStore.
func (ss *siteStore) FeedCreated(ctx context.Context, memberID string) (int64, error) {
	var at int64
	err := ss.db.queryRow(ctx, `SELECT created_ms FROM member_feeds WHERE member_id = ?`, memberID).Scan(&at)
	return at, ss.db.mapErr(err, "member "+memberID+" feed", "member_id")
}

// BumpBookingRevision implements store.SiteStore.
func (ss *siteStore) BumpBookingRevision(ctx context.Context, bookingID string) (int, error) {
	var rev int
	err := ss.db.write(ctx, func(t *wtx) error {
		t.noAudit("a booking's revision counts its changes, each audited on the booking itself")
		var one int
		if err := t.queryRow(ctx, `SELECT 1 FROM bookings WHERE id = ?`, bookingID).Scan(&one); err != nil {
			return ss.db.mapErr(err, "booking "+bookingID, "booking_id")
		}
		return t.queryRow(ctx, `INSERT INTO booking_revisions (booking_id, revision) VALUES (?, 1)
			ON CONFLICT (booking_id) DO UPDATE SET revision = booking_revisions.revision + 1 RETURNING revision`, bookingID).Scan(&rev)
	})
	return rev, err
}

// BookingRevisions implements store.SiteStore.
func (ss *siteStore) BookingRevisions(ctx context.Context, bookingIDs []string) (map[string]int, error) {
	out := map[string]int{}
	if len(bookingIDs) == 0 {
		return out, nil
	}
	rows, err := ss.db.query(ctx, `SELECT booking_id, revision FROM booking_revisions WHERE booking_id IN (`+placeholders(len(bookingIDs))+`)`, anySlice(bookingIDs)...)
	if err != nil {
		return nil, fmt.Errorf("booking revisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rev int
		if err := rows.Scan(&id, &rev); err != nil {
			return nil, fmt.Errorf("booking revisions: %w", err)
		}
		out[id] = rev
	}
	return out, rows.Err()
}
