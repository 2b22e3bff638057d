package domain

import (
	"fmt"
	"sync"
	"time"
)

// Zones loads time zones once per name for its owner. Each time.LoadLocation
// parses the zone's file into a new *time.Location of a few KiB: a cache
// keyed by door or event that loads its center's zone for every entry holds
// thousands of copies of the same zone. The zero value is ready to use and
// safe for concurrent use; a zone that fails to load is not remembered (the
// next call tries again).
type Zones struct {
	mu   sync.Mutex
	locs map[string]*time.Location
}

// Load returns the location of the IANA zone name, loaded on the first call
// for that name.
func (z *Zones) Load(name string) (*time.Location, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if loc, ok := z.locs[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	if z.locs == nil {
		z.locs = map[string]*time.Location{}
	}
	z.locs[name] = loc
	return loc, nil
}
