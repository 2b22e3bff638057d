package store

import (
	"context"

	"github.com/smartworkcenters/swc/central/domain"
)

// Bundle is a part of the network created at once by Store.Import: the
// onboarding of a region (package onboarding reads it from JSON or CSV).
// Objects may refer to each other within the bundle (a door to a center
// of the bundle) or to stored ones.
type Bundle struct {
	Centers   []domain.Center   `json:"centers,omitempty"`
	Rooms     []domain.Room     `json:"rooms,omitempty"`
	DeskPools []domain.DeskPool `json:"desk_pools,omitempty"`
	Doors     []domain.Door     `json:"doors,omitempty"`
	Members   []domain.Member   `json:"members,omitempty"`
	Badges    []domain.Badge    `json:"badges,omitempty"`
	Passes    []domain.Pass     `json:"passes,omitempty"`
}

// The lists of a Bundle, as RowError.List names them.
const (
	ListCenters   = "centers"
	ListRooms     = "rooms"
	ListDeskPools = "desk_pools"
	ListDoors     = "doors"
	ListMembers   = "members"
	ListBadges    = "badges"
	ListPasses    = "passes"
)

// BundleLists are the lists of a Bundle in the order they are created.
func BundleLists() []string {
	return []string{ListCenters, ListRooms, ListDeskPools, ListDoors, ListMembers, ListBadges, ListPasses}
}

// Len counts the bundle's objects.
func (b Bundle) Len() int {
	return len(b.Centers) + len(b.Rooms) + len(b.DeskPools) + len(b.Doors) + len(b.Members) + len(b.Badges) + len(b.Passes)
}

// MaxBundleObjects bounds the objects of one Import.
const MaxBundleObjects = 500_000

// ImportOptions tune Store.Import.
type ImportOptions struct {
	// DryRun checks everything the import would check, in its
	// transaction, then rolls it back: nothing is stored, audited or
	// notified.
	DryRun bool
	// DoorSecrets gives every imported door a new random broker secret
	// (as RotateDoorSecret does, in the same transaction): only its hash
	// is stored, and ImportResult.DoorSecrets is the only time the
	// secrets are seen. Not in a dry run.
	DoorSecrets bool
}

// ImportResult counts the objects an import created (or, in a dry run,
// would create).
type ImportResult struct {
	DryRun    bool `json:"dry_run"`
	Centers   int  `json:"centers"`
	Rooms     int  `json:"rooms"`
	DeskPools int  `json:"desk_pools"`
	Doors     int  `json:"doors"`
	Members   int  `json:"members"`
	Badges    int  `json:"badges"`
	Passes    int  `json:"passes"`
	// DoorSecrets maps each imported door to its broker secret
	// (ImportOptions.DoorSecrets).
	DoorSecrets map[string]string `json:"door_secrets,omitempty"`
}

// Total is the number of objects.
func (r ImportResult) Total() int {
	return r.Centers + r.Rooms + r.DeskPools + r.Doors + r.Members + r.Badges + r.Passes
}

// BatchNotifier receives the changes of one bulk write (Store.Import) at
// once, after its commit, so that a listener reacts once per import rather
// than once per object.
type BatchNotifier func(ctx context.Context, chs []domain.Change)
