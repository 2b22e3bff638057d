package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/store"
)

// Deleted centers. A center's id is a scope: API tokens, events and the
// hours of settlements name it. Deleting a center therefore revokes the
// tokens bound to it and retires its id for good (a row in
// deleted_centers): a center created later under the same id would
// otherwise inherit the old tokens' rights and the old center's events and
// hours. Retiring ids was chosen over binding tokens to a generation of the
// center because every other record that names a center (events, hours,
// settlement lines) would need that generation too.

// retireCenter revokes the API tokens bound to center id (a manager's, a
// technician's of that center only; a technician of several centers keeps
// the others) and records the id as retired. It runs in DeleteCenter's
// transaction.
func (t *wtx) retireCenter(ctx context.Context, id string, now time.Time) error {
	rows, err := t.query(ctx, `SELECT id, centers FROM api_tokens WHERE centers <> ''`)
	if err != nil {
		return fmt.Errorf("tokens of center %s: %w", id, err)
	}
	type change struct {
		token   string
		centers []string
	}
	var changes []change
	for rows.Next() {
		var tok, centers string
		if err := rows.Scan(&tok, &centers); err != nil {
			rows.Close()
			return fmt.Errorf("tokens of center %s: %w", id, err)
		}
		if cs := splitIDs(centers); slices.Contains(cs, id) {
			changes = append(changes, change{tok, slices.DeleteFunc(cs, func(c string) bool { return c == id })})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("tokens of center %s: %w", id, err)
	}
	for _, c := range changes {
		old, err := t.tokenBefore(ctx, c.token)
		if err != nil {
			return err
		}
		if len(c.centers) == 0 {
			_, err = t.exec(ctx, `DELETE FROM api_tokens WHERE id = ?`, c.token)
			if err == nil {
				err = t.revokeSubject(ctx, store.SubjectAPIToken, c.token)
			}
		} else {
			_, err = t.exec(ctx, `UPDATE api_tokens SET centers = ? WHERE id = ?`, joinIDs(c.centers), c.token)
		}
		if err != nil {
			return fmt.Errorf("revoke token %s of center %s: %w", c.token, id, err)
		}
		if err := t.auditRetiredToken(ctx, old, c.centers); err != nil {
			return err
		}
	}
	if _, err := t.exec(ctx, `INSERT INTO deleted_centers (id, deleted_ms) VALUES (?, ?)`, id, now.UnixMilli()); err != nil {
		return fmt.Errorf("retire center id %s: %w", id, err)
	}
	return nil
}

// needFreshCenterID refuses the id of a deleted center (ErrRetired).
func (t *wtx) needFreshCenterID(ctx context.Context, id string) error {
	var ms int64
	err := t.queryRow(ctx, `SELECT deleted_ms FROM deleted_centers WHERE id = ?`, id).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleted center %s: %w", id, err)
	}
	return store.Errf(store.ErrRetired, "id", "center id %s belonged to a center deleted at %s; the ids of deleted centers are not reused (their tokens, events and hours name them): choose another id",
		id, fromMs(ms).Format("2006-01-02 15:04:05Z"))
}
