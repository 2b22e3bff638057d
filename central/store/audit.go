package store

import (
	"time"

	"github.com/smartworkcenters/swc/central/audit"
)

// AuditFilter selects audit entries (Store.ListAudit), newest first.
// CenterIDs nil means every entry; otherwise entries that concern one of
// those centers ("" in the list: entries of no center, such as an admin
// token's). The other fields, when set, must match exactly; From and To
// (either may be zero) bound the entry's time [From, To). The page cursor
// is an entry id: the next page holds older entries.
type AuditFilter struct {
	CenterIDs  []string
	ActorKind  audit.ActorKind
	ActorID    string
	ObjectKind string
	ObjectID   string
	Action     audit.Action
	From, To   time.Time
	PageRequest
}
