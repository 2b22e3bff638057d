package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
)

// SettingsHistory implements store.SettingsStore.
func (s *DB) SettingsHistory(ctx context.Context) (settings.History, error) {
	rows, err := s.query(ctx, `SELECT version, effective_from, settings, created_ms, created_by, note FROM settings_versions ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("settings history: %w", err)
	}
	defer rows.Close()
	var h settings.History
	for rows.Next() {
		var v settings.Version
		var from, body string
		if err := rows.Scan(&v.Number, &from, &body, &v.CreatedMs, &v.CreatedBy, &v.Note); err != nil {
			return nil, fmt.Errorf("settings history: %w", err)
		}
		p, err := parsePeriod(from)
		if err != nil {
			return nil, fmt.Errorf("settings version %d: %w", v.Number, err)
		}
		v.EffectiveFrom = p
		// Over the defaults: a field added after the version was stored
		// reads as its default.
		v.Settings = settings.Defaults()
		if err := json.Unmarshal([]byte(body), &v.Settings); err != nil {
			return nil, fmt.Errorf("settings version %d: decode: %w", v.Number, err)
		}
		h = append(h, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("settings history: %w", err)
	}
	return h, nil
}

// SaveSettings implements store.SettingsStore. The credit_state row is
// locked first, as a close locks it, so that a version never starts in a
// period closed meanwhile, and two saves take consecutive numbers.
func (s *DB) SaveSettings(ctx context.Context, v settings.Version) (settings.Version, error) {
	if v.CreatedMs == 0 {
		v.CreatedMs = s.now().UnixMilli()
	}
	err := s.write(ctx, func(t *wtx) error {
		last, err := (&creditStore{db: s}).lockLastClosed(ctx, t)
		if err != nil {
			return err
		}
		if err := v.CheckNew(last); err != nil {
			return err
		}
		body, err := json.Marshal(v.Settings)
		if err != nil {
			return fmt.Errorf("encode settings: %w", err)
		}
		if err := t.queryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM settings_versions`).Scan(&v.Number); err != nil {
			return fmt.Errorf("next settings version: %w", err)
		}
		if _, err := t.exec(ctx, `INSERT INTO settings_versions (version, effective_from, settings, created_ms, created_by, note) VALUES (?, ?, ?, ?, ?, ?)`,
			v.Number, v.EffectiveFrom.String(), string(body), v.CreatedMs, v.CreatedBy, v.Note); err != nil {
			return s.mapErr(err, fmt.Sprintf("settings version %d", v.Number), "version")
		}
		t.changed(domain.Change{Kind: domain.KindSettings, SettingsVersion: v.Number})
		return t.audit(ctx, audit.Create, "settings", strconv.FormatInt(v.Number, 10), orNetwork(nil), nil, v)
	})
	if err != nil {
		return settings.Version{}, err
	}
	return v, nil
}
