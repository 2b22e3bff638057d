package store

import (
	"context"

	"github.com/smartworkcenters/swc/central/settings"
)

// SettingsStore keeps the versions of the network settings (package
// settings). Versions are only added, never changed.
type SettingsStore interface {
	// SettingsHistory returns every stored version, oldest first (none on
	// a new database: the defaults apply).
	SettingsHistory(ctx context.Context) (settings.History, error)
	// SaveSettings stores v as the next version and returns it as stored
	// (Number set; CreatedMs set when 0). In one transaction it checks v
	// (settings.Version.CheckNew: a *domain.FieldError naming the field;
	// one starting in a closed period also matches
	// settings.ErrClosedPeriod) against the last closed period, locked
	// against a concurrent close. It notifies a domain.Change of kind
	// domain.KindSettings.
	SaveSettings(ctx context.Context, v settings.Version) (settings.Version, error)
}
