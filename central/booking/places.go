package booking

import (
	"context"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// Places of one center: its desk pool (zero Capacity when it has none) and
// its meeting rooms, by id.
type Places struct {
	Center domain.Center   `json:"center"`
	Desks  domain.DeskPool `json:"desks"`
	Rooms  []domain.Room   `json:"rooms"`
}

// Places returns a center's places (CodeUnknownCenter).
func (s *Service) Places(ctx context.Context, center string) (Places, error) {
	c, err := s.center(ctx, center)
	if err != nil {
		return Places{}, err
	}
	p := Places{Center: c, Desks: domain.DeskPool{CenterID: center}}
	pool, err := s.ps.DeskPool(ctx, center)
	switch {
	case err == nil:
		p.Desks = pool
	case !errors.Is(err, store.ErrNotFound):
		return Places{}, err
	}
	p.Rooms, err = store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Room], error) {
		return s.st.ListRooms(ctx, store.RoomFilter{CenterIDs: []string{center}, PageRequest: pr})
	})
	if p.Rooms == nil {
		p.Rooms = []domain.Room{}
	}
	return p, err
}

// SetDeskPool creates or replaces a center's desk pool (staff of the
// center, or the cooperative: the caller checks who may).
func (s *Service) SetDeskPool(ctx context.Context, p domain.DeskPool) error {
	if err := s.ps.PutDeskPool(ctx, p); err != nil {
		if errors.Is(err, store.ErrMissingRef) {
			return s.fail(ctx, "set_desks", refuse(CodeUnknownCenter, "center_id", "no center %s", p.CenterID))
		}
		return s.fail(ctx, "set_desks", storeErr(err, &domain.Booking{CenterID: p.CenterID}))
	}
	return nil
}

// RemoveDeskPool removes a center's desk pool: no desks to book there.
func (s *Service) RemoveDeskPool(ctx context.Context, center string) error {
	err := s.ps.DeleteDeskPool(ctx, center)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(CodeNoDeskPool, "center_id", "center %s has no desk pool", center)
	}
	return err
}

// Rules answers which booking rules apply where.
type Rules struct {
	domain.BookingRules
	// Source says where they come from: "center" (set for the center),
	// "network" (the cooperative's defaults) or "default" (built in).
	Source string `json:"source"`
}

// Rules returns the rules in force at a center, or the network defaults
// when center is "".
func (s *Service) Rules(ctx context.Context, center string) (Rules, error) {
	if center != "" {
		if _, err := s.center(ctx, center); err != nil {
			return Rules{}, err
		}
		r, err := s.ps.BookingRules(ctx, center)
		if err == nil {
			return Rules{r, "center"}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return Rules{}, err
		}
	}
	r, err := s.ps.BookingRules(ctx, "")
	if err == nil {
		return Rules{r, "network"}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return Rules{}, err
	}
	return Rules{domain.DefaultBookingRules(), "default"}, nil
}

// SetRules sets a center's rules, or the network defaults when center is "".
func (s *Service) SetRules(ctx context.Context, center string, r domain.BookingRules) error {
	err := s.ps.PutBookingRules(ctx, center, r)
	var fe *domain.FieldError
	switch {
	case errors.As(err, &fe):
		return s.fail(ctx, "set_rules", refuse(CodeInvalid, fe.Field, "%s", fe.Message))
	case errors.Is(err, store.ErrMissingRef):
		return s.fail(ctx, "set_rules", refuse(CodeUnknownCenter, "center_id", "no center %s", center))
	}
	return err
}

// ResetRules makes a center follow the network defaults again (or the
// network the built-in ones); nothing to reset is not an error.
func (s *Service) ResetRules(ctx context.Context, center string) error {
	if center != "" {
		if _, err := s.center(ctx, center); err != nil {
			return err
		}
	}
	err := s.ps.DeleteBookingRules(ctx, center)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func (s *Service) center(ctx context.Context, id string) (domain.Center, error) {
	if id == "" {
		return domain.Center{}, refuse(CodeUnknownCenter, "center_id", "a center is required")
	}
	c, err := s.st.Center(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, refuse(CodeUnknownCenter, "center_id", "no center %s", id)
	}
	if err != nil {
		return c, fmt.Errorf("center %s: %w", id, err)
	}
	return c, nil
}
