package domain

import (
	"fmt"
	"time"
)

// Limits on places.
const (
	MaxRoomCapacity  = 1000
	MaxEquipment     = 50
	MaxDeskCapacity  = 10000
	MaxBookAheadDays = 730
)

func (r *Room) validatePlace() error {
	if r.Capacity < 0 || r.Capacity > MaxRoomCapacity {
		return fieldErr("capacity", "%d; want 0 (not stated) to %d people", r.Capacity, MaxRoomCapacity)
	}
	if len(r.Equipment) > MaxEquipment {
		return fieldErr("equipment", "more than %d items", MaxEquipment)
	}
	seen := map[string]bool{}
	for i, e := range r.Equipment {
		if e == "" || len(e) > 100 {
			return fieldErr(fmt.Sprintf("equipment[%d]", i), "required, at most 100 bytes")
		}
		if seen[e] {
			return fieldErr(fmt.Sprintf("equipment[%d]", i), "%q listed twice", e)
		}
		seen[e] = true
	}
	return nil
}

// Desk is one individually named desk of a center's pool.
type Desk struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DeskPool is a center's open-space desks: Capacity desks that members
// book without choosing one (a booking without a room is a desk booking).
// Desks optionally names them; when it does, Capacity is their number.
type DeskPool struct {
	CenterID string `json:"center_id"`
	Capacity int    `json:"capacity"`
	Desks    []Desk `json:"desks,omitempty"`
}

// Validate checks the pool.
func (p *DeskPool) Validate() error {
	if err := checkID("center_id", p.CenterID); err != nil {
		return err
	}
	if p.Capacity < 0 || p.Capacity > MaxDeskCapacity {
		return fieldErr("capacity", "%d; want 0 to %d desks", p.Capacity, MaxDeskCapacity)
	}
	if len(p.Desks) == 0 {
		return nil
	}
	if p.Capacity != len(p.Desks) {
		return fieldErr("capacity", "%d, but %d desks are named; with named desks the capacity is their number", p.Capacity, len(p.Desks))
	}
	seen := map[string]bool{}
	for i, d := range p.Desks {
		if err := checkID(fmt.Sprintf("desks[%d].id", i), d.ID); err != nil {
			return err
		}
		if seen[d.ID] {
			return fieldErr(fmt.Sprintf("desks[%d].id", i), "%q named twice", d.ID)
		}
		seen[d.ID] = true
		if d.Name == "" || len(d.Name) > 200 {
			return fieldErr(fmt.Sprintf("desks[%d].name", i), "required, at most 200 bytes")
		}
	}
	return nil
}

// BookingRules are what a member may book at a center. The network has
// defaults (DefaultBookingRules until the cooperative sets its own); a
// center may have its own set, which replaces them whole.
type BookingRules struct {
	// MaxAdvanceDays: a booking starts at most this many days from now.
	MaxAdvanceDays int `json:"max_advance_days"`
	// MinMinutes and MaxMinutes bound one booking's length.
	MinMinutes int `json:"min_minutes"`
	MaxMinutes int `json:"max_minutes"`
	// MaxOpenBookings bounds a member's confirmed bookings that have not
	// ended yet, across the network (0: no limit).
	MaxOpenBookings int `json:"max_open_bookings"`
	// CancelDeadlineMinutes: a member cancels or changes a booking at the
	// latest this long before its start (0: until it starts).
	CancelDeadlineMinutes int `json:"cancel_deadline_minutes"`
	// NomadsBookRooms lets nomadic members (of the cooperative) book
	// meeting rooms; local members of the center always may.
	NomadsBookRooms bool `json:"nomads_book_rooms"`
	// WithinOpeningHours keeps bookings inside one opening span of the
	// center's local day.
	WithinOpeningHours bool `json:"within_opening_hours"`
	// ReleaseAfterMinutes releases a room booking that nobody checked in to
	// (a granted tap of the member at the center) this long after its
	// start: the room is free again (0: never released). Rules stored or
	// sent without it take DefaultReleaseAfterMinutes (decode them over
	// UndecodedBookingRules).
	ReleaseAfterMinutes int `json:"release_after_minutes"`
}

// DefaultReleaseAfterMinutes is BookingRules.ReleaseAfterMinutes when the
// rules do not say.
const DefaultReleaseAfterMinutes = 15

// UndecodedBookingRules is what JSON rules are decoded over: zero but for
// ReleaseAfterMinutes, so that rules stored or sent before it existed keep
// its default rather than "never".
func UndecodedBookingRules() BookingRules {
	return BookingRules{ReleaseAfterMinutes: DefaultReleaseAfterMinutes}
}

// DefaultBookingRules are the network defaults before the cooperative sets
// any: 60 days ahead, 30 minutes to 12 hours, 20 open bookings, cancel up
// to an hour before, nomads may book rooms, within opening hours, rooms
// released 15 minutes after their start when nobody checked in.
func DefaultBookingRules() BookingRules {
	return BookingRules{MaxAdvanceDays: 60, MinMinutes: 30, MaxMinutes: 12 * 60, MaxOpenBookings: 20,
		CancelDeadlineMinutes: 60, NomadsBookRooms: true, WithinOpeningHours: true, ReleaseAfterMinutes: DefaultReleaseAfterMinutes}
}

// Validate checks the rules.
func (r *BookingRules) Validate() error {
	switch {
	case r.MaxAdvanceDays < 1 || r.MaxAdvanceDays > MaxBookAheadDays:
		return fieldErr("max_advance_days", "%d; want 1 to %d", r.MaxAdvanceDays, MaxBookAheadDays)
	case r.MinMinutes < 1:
		return fieldErr("min_minutes", "%d; want at least 1", r.MinMinutes)
	case r.MaxMinutes < r.MinMinutes || time.Duration(r.MaxMinutes)*time.Minute > MaxBookingLength:
		return fieldErr("max_minutes", "%d; want min_minutes (%d) to %d", r.MaxMinutes, r.MinMinutes, int(MaxBookingLength/time.Minute))
	case r.MaxOpenBookings < 0 || r.MaxOpenBookings > 10000:
		return fieldErr("max_open_bookings", "%d; want 0 (no limit) to 10000", r.MaxOpenBookings)
	case r.CancelDeadlineMinutes < 0 || r.CancelDeadlineMinutes > 30*24*60:
		return fieldErr("cancel_deadline_minutes", "%d; want 0 to %d", r.CancelDeadlineMinutes, 30*24*60)
	case r.ReleaseAfterMinutes < 0 || r.ReleaseAfterMinutes > 24*60:
		return fieldErr("release_after_minutes", "%d; want 0 (never) to %d", r.ReleaseAfterMinutes, 24*60)
	}
	return nil
}
