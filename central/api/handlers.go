package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// list is the body of every list response.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func sendPage[T any](w http.ResponseWriter, p store.Page[T], err error) error {
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[T]{Items: p.Items, Next: p.Next})
}

// query reads list parameters, refusing unknown ones.
type query struct {
	v   url.Values
	err error
}

func newQuery(r *http.Request, known ...string) *query {
	q := &query{v: r.URL.Query()}
	allowed := map[string]bool{"limit": true, "after": true}
	for _, k := range known {
		allowed[k] = true
	}
	for k := range q.v {
		if !allowed[k] {
			q.err = &Error{Status: http.StatusBadRequest, Code: "unknown_parameter", Field: k, Message: "unknown query parameter " + k}
		}
	}
	return q
}

// id reads an identifier parameter.
func (q *query) id(name string) string {
	v := q.v.Get(name)
	if v != "" && q.err == nil {
		if err := protocol.ValidID(v); err != nil {
			q.err = errInvalid(name, "%q: %v", v, err)
		}
	}
	return v
}

// oneOf reads a parameter that takes one of the values.
func (q *query) oneOf(name string, values ...string) string {
	v := q.v.Get(name)
	if v != "" && q.err == nil && !slices.Contains(values, v) {
		q.err = errInvalid(name, "%q; want one of %v", v, values)
	}
	return v
}

func (q *query) page() store.PageRequest {
	p := store.PageRequest{After: q.v.Get("after")}
	if l := q.v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxLimit {
			if q.err == nil {
				q.err = errInvalid("limit", "%q; want 1 to %d", l, store.MaxLimit)
			}
		}
		p.Limit = n
	}
	return p
}

// pageAlone reads the paging of a list that takes no other query
// parameter.
func pageAlone(r *http.Request) (store.PageRequest, error) {
	q := newQuery(r)
	pr := q.page()
	return pr, q.err
}

func (q *query) time(name string) time.Time {
	v := q.v.Get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil && q.err == nil {
		q.err = errInvalid(name, "%q is not an RFC 3339 time such as 2026-03-02T09:00:00Z", v)
	}
	return t
}

func (q *query) boolean(name string) *bool {
	v := q.v.Get(name)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil && q.err == nil {
		q.err = errInvalid(name, "%q; want true or false", v)
	}
	return &b
}

// narrow intersects a requested center filter with the caller's scope.
func narrow(p *principal, requested string) []string {
	if requested != "" {
		if !p.in(requested) {
			return []string{} // matches nothing
		}
		return []string{requested}
	}
	return p.scope()
}

// pathID reads a path value and checks it is an identifier.
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if err := protocol.ValidID(v); err != nil {
		return "", errInvalid(name, "%q: %v", v, err)
	}
	return v, nil
}

// sameID fills the body's id from the path or refuses a different one.
func sameID(body *string, path, field string) error {
	if *body == "" {
		*body = path
	}
	if *body != path {
		return errInvalid(field, "%q differs from %q in the path", *body, path)
	}
	return nil
}

func created(w http.ResponseWriter, v any) error { return writeJSON(w, http.StatusCreated, v) }

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- centers

func (s *Server) listCenters(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r)
	f := store.CenterFilter{IDs: p.scope(), PageRequest: q.page()}
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.ListCenters(r.Context(), f)
	return sendPage(w, pg, err)
}

func (s *Server) createCenter(w http.ResponseWriter, r *http.Request, _ *principal) error {
	var c domain.Center
	if err := s.decode(w, r, &c); err != nil {
		return err
	}
	if err := s.st.CreateCenter(r.Context(), c); err != nil {
		return err
	}
	return created(w, c)
}

func (s *Server) getCenter(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if !p.in(id) {
		return hidden("center", id)
	}
	c, err := s.st.Center(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) updateCenter(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var c domain.Center
	if err := s.decode(w, r, &c); err != nil {
		return err
	}
	if err := sameID(&c.ID, id, "id"); err != nil {
		return err
	}
	if err := s.st.UpdateCenter(r.Context(), c); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) deleteCenter(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.st.DeleteCenter(r.Context(), id); err != nil {
		return err
	}
	return noContent(w)
}

// ---- rooms

func (s *Server) listRooms(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "center_id")
	f := store.RoomFilter{CenterIDs: narrow(p, q.id("center_id")), PageRequest: q.page()}
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.ListRooms(r.Context(), f)
	return sendPage(w, pg, err)
}

func (s *Server) createRoom(w http.ResponseWriter, r *http.Request, p *principal) error {
	var x domain.Room
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if !p.in(x.CenterID) {
		return outside("center " + x.CenterID)
	}
	if err := s.st.CreateRoom(r.Context(), x); err != nil {
		return err
	}
	return created(w, x)
}

// room loads a room the caller may see.
func (s *Server) room(r *http.Request, p *principal) (domain.Room, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return domain.Room{}, err
	}
	x, err := s.st.Room(r.Context(), id)
	if err != nil {
		return x, err
	}
	if !p.in(x.CenterID) {
		return x, hidden("room", id)
	}
	return x, nil
}

func (s *Server) getRoom(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.room(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) updateRoom(w http.ResponseWriter, r *http.Request, p *principal) error {
	old, err := s.room(r, p)
	if err != nil {
		return err
	}
	var x domain.Room
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := sameID(&x.ID, old.ID, "id"); err != nil {
		return err
	}
	if err := s.st.UpdateRoom(r.Context(), x); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) deleteRoom(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.room(r, p)
	if err != nil {
		return err
	}
	if err := s.st.DeleteRoom(r.Context(), x.ID); err != nil {
		return err
	}
	return noContent(w)
}

// ---- doors

func (s *Server) listDoors(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "center_id", "room_id")
	f := store.DoorFilter{CenterIDs: narrow(p, q.id("center_id")), RoomID: q.id("room_id"), PageRequest: q.page()}
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.ListDoors(r.Context(), f)
	return sendPage(w, pg, err)
}

func (s *Server) createDoor(w http.ResponseWriter, r *http.Request, p *principal) error {
	var x domain.Door
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if !p.in(x.CenterID) {
		return outside("center " + x.CenterID)
	}
	if err := s.reservedID(x.ID); err != nil {
		return err
	}
	if err := s.st.CreateDoor(r.Context(), x); err != nil {
		return err
	}
	return created(w, x)
}

func (s *Server) door(r *http.Request, p *principal) (domain.Door, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return domain.Door{}, err
	}
	x, err := s.st.Door(r.Context(), id)
	if err != nil {
		return x, err
	}
	if !p.in(x.CenterID) {
		return x, hidden("door", id)
	}
	return x, nil
}

func (s *Server) getDoor(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.door(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) updateDoor(w http.ResponseWriter, r *http.Request, p *principal) error {
	old, err := s.door(r, p)
	if err != nil {
		return err
	}
	var x domain.Door
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := sameID(&x.ID, old.ID, "id"); err != nil {
		return err
	}
	if err := s.st.UpdateDoor(r.Context(), x); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) deleteDoor(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.door(r, p)
	if err != nil {
		return err
	}
	if err := s.st.DeleteDoor(r.Context(), x.ID); err != nil {
		return err
	}
	return noContent(w)
}

// doorSecret is the answer to a rotation: the only time the secret is sent.
type doorSecret struct {
	Door   string `json:"door"`
	Secret string `json:"secret"`
}

func (s *Server) rotateDoorSecret(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.door(r, p)
	if err != nil {
		return err
	}
	secret, err := s.st.RotateDoorSecret(r.Context(), x.ID)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "api: door secret rotated", "door", x.ID, "token", p.ID)
	return writeJSON(w, http.StatusOK, doorSecret{Door: x.ID, Secret: secret})
}

// sequence is a door's event sequence state.
type sequence struct {
	Door string `json:"door"`
	store.SeqState
	Gaps []store.SeqRange `json:"gaps"`
}

func (s *Server) doorSequence(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.door(r, p)
	if err != nil {
		return err
	}
	st, err := s.st.EventSeq(r.Context(), x.ID)
	if err != nil {
		return err
	}
	gaps, err := s.st.EventGaps(r.Context(), x.ID, 100)
	if err != nil {
		return err
	}
	if gaps == nil {
		gaps = []store.SeqRange{}
	}
	return writeJSON(w, http.StatusOK, sequence{Door: x.ID, SeqState: st, Gaps: gaps})
}

// ---- members: a manager handles the local members of their center.

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "home_center_id", "nomadic", "status")
	f := store.MemberFilter{HomeCenterIDs: narrow(p, q.id("home_center_id")), Status: q.oneOf("status", domain.MemberActive, domain.MemberSuspended), PageRequest: q.page()}
	if n := q.boolean("nomadic"); n != nil && *n {
		if !p.admin() {
			f.HomeCenterIDs = []string{} // nomadic members belong to the cooperative
		}
		f.Nomadic = true
	}
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.ListMembers(r.Context(), f)
	return sendPage(w, pg, err)
}

func (s *Server) createMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	var x domain.Member
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if !p.in(x.HomeCenterID) && !(p.admin() && x.HomeCenterID == "") {
		return errForbidden("a manager creates local members of their own center only")
	}
	if err := s.st.CreateMember(r.Context(), x); err != nil {
		return err
	}
	return created(w, x)
}

func (s *Server) memberOf(r *http.Request, p *principal, id string) (domain.Member, error) {
	x, err := s.st.Member(r.Context(), id)
	if err != nil {
		return x, err
	}
	if !p.admin() && !p.in(x.HomeCenterID) {
		return x, hidden("member", id)
	}
	return x, nil
}

func (s *Server) member(r *http.Request, p *principal) (domain.Member, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return domain.Member{}, err
	}
	return s.memberOf(r, p, id)
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.member(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	old, err := s.member(r, p)
	if err != nil {
		return err
	}
	var x domain.Member
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := sameID(&x.ID, old.ID, "id"); err != nil {
		return err
	}
	if !p.admin() && !p.in(x.HomeCenterID) {
		return errForbidden("a manager cannot move a member out of their center")
	}
	if err := s.st.UpdateMember(r.Context(), x); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.member(r, p)
	if err != nil {
		return err
	}
	if err := s.st.DeleteMember(r.Context(), x.ID); err != nil {
		return err
	}
	return noContent(w)
}

// ---- badges: who may enroll, see and revoke which badges is in badges.go.

func (s *Server) listBadges(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "member_id", "revoked", "added_by")
	f := store.BadgeFilter{MemberID: q.id("member_id"), Revoked: q.boolean("revoked"), AddedBy: q.id("added_by"), PageRequest: q.page()}
	if q.err != nil {
		return q.err
	}
	if badgeFilter(p, &f) {
		return sendPage(w, store.Page[domain.Badge]{Items: []domain.Badge{}}, nil)
	}
	pg, err := s.st.ListBadges(r.Context(), f)
	return sendPage(w, pg, err)
}

// badgeMember checks the caller may handle badges of the member. A member
// outside the caller's centers is answered exactly like a missing one (the
// store's missing_ref on member_id).
func (s *Server) badgeMember(r *http.Request, p *principal, member string) error {
	if p.admin() {
		return nil
	}
	x, err := s.st.Member(r.Context(), member)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !p.in(x.HomeCenterID)) {
		return hiddenRef("member_id", "member", member)
	}
	return err
}

func (s *Server) createBadge(w http.ResponseWriter, r *http.Request, p *principal) error {
	var x domain.Badge
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := s.mayEnroll(r, p, x.MemberID); err != nil {
		return err
	}
	x.AddedBy = p.ID
	if err := s.st.CreateBadge(r.Context(), x); err != nil {
		return badgeErr(err)
	}
	return created(w, x)
}

// badgeErr gives a taken UID its own stable code.
func badgeErr(err error) error {
	ae, _ := toError(err)
	if ae.Code == "exists" {
		ae.Code, ae.Field = "duplicate_badge_uid", "uid"
		ae.Message = "this badge UID already belongs to a badge"
		return ae
	}
	return err
}

func (s *Server) badge(r *http.Request, p *principal) (domain.Badge, error) {
	uid, err := protocol.ParseUID(r.PathValue("uid"))
	if err != nil {
		return domain.Badge{}, errInvalid("uid", "%v", err)
	}
	x, err := s.st.Badge(r.Context(), uid)
	if err != nil {
		return x, err
	}
	return x, s.seesBadge(r, p, x)
}

func (s *Server) getBadge(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.badge(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) updateBadge(w http.ResponseWriter, r *http.Request, p *principal) error {
	old, err := s.badge(r, p)
	if err != nil {
		return err
	}
	var x domain.Badge
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	uid := string(x.UID)
	if err := sameID(&uid, string(old.UID), "uid"); err != nil {
		return err
	}
	x.UID, x.AddedBy = protocol.UID(uid), old.AddedBy
	if grants(old, x) {
		if err := s.mayEnroll(r, p, x.MemberID); err != nil {
			return err
		}
	}
	if err := s.st.UpdateBadge(r.Context(), x); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) deleteBadge(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.badge(r, p)
	if err != nil {
		return err
	}
	if err := s.st.DeleteBadge(r.Context(), x.UID); err != nil {
		return err
	}
	return noContent(w)
}

// ---- bookings: a manager handles the bookings at their center.

func (s *Server) listBookings(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "center_id", "member_id", "room_id", "status", "from", "to")
	f := store.BookingFilter{CenterIDs: narrow(p, q.id("center_id")), MemberID: q.id("member_id"), RoomID: q.id("room_id"),
		Status: q.oneOf("status", domain.BookingConfirmed, domain.BookingCancelled, domain.BookingReleased), From: q.time("from"), To: q.time("to"), PageRequest: q.page()}
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.ListBookings(r.Context(), f)
	return sendPage(w, pg, err)
}

func (s *Server) createBooking(w http.ResponseWriter, r *http.Request, p *principal) error {
	var x domain.Booking
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if !p.in(x.CenterID) {
		return outside("center " + x.CenterID)
	}
	if err := setCreator(&x, p); err != nil {
		return err
	}
	if err := s.st.CreateBooking(r.Context(), x); err != nil {
		return err
	}
	return created(w, x)
}

func (s *Server) booking(r *http.Request, p *principal) (domain.Booking, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return domain.Booking{}, err
	}
	x, err := s.st.Booking(r.Context(), id)
	if err != nil {
		return x, err
	}
	if !p.in(x.CenterID) {
		return x, hidden("booking", id)
	}
	return x, nil
}

func (s *Server) getBooking(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.booking(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) updateBooking(w http.ResponseWriter, r *http.Request, p *principal) error {
	old, err := s.booking(r, p)
	if err != nil {
		return err
	}
	var x domain.Booking
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := sameID(&x.ID, old.ID, "id"); err != nil {
		return err
	}
	if !p.in(x.CenterID) {
		return outside("center " + x.CenterID)
	}
	if err := keepCreator(&x, &old); err != nil {
		return err
	}
	if err := s.st.UpdateBooking(r.Context(), x); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) deleteBooking(w http.ResponseWriter, r *http.Request, p *principal) error {
	x, err := s.booking(r, p)
	if err != nil {
		return err
	}
	if err := s.st.DeleteBooking(r.Context(), x.ID); err != nil {
		return err
	}
	return noContent(w)
}

// ---- passes: the cooperative's; a manager reads those valid at their center.

func (s *Server) listPasses(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "member_id", "center_id", "valid_at")
	f := store.PassFilter{MemberID: q.id("member_id"), CoversCenter: q.id("center_id"), ValidAt: q.time("valid_at"), PageRequest: q.page()}
	if q.err != nil {
		return q.err
	}
	if !p.admin() {
		if f.CoversCenter != "" && !p.in(f.CoversCenter) {
			return outside("center " + f.CoversCenter)
		}
		f.CoversCenter = p.Centers[0]
	}
	pg, err := s.st.ListPasses(r.Context(), f)
	return sendPage(w, pg, err)
}

func (s *Server) createPass(w http.ResponseWriter, r *http.Request, _ *principal) error {
	var x domain.Pass
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := s.st.CreatePass(r.Context(), x); err != nil {
		return err
	}
	return created(w, x)
}

func (s *Server) getPass(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	x, err := s.st.Pass(r.Context(), id)
	if err != nil {
		return err
	}
	if !p.admin() && !x.Covers(p.Centers[0]) {
		return hidden("pass", id)
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) updatePass(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var x domain.Pass
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := sameID(&x.ID, id, "id"); err != nil {
		return err
	}
	if err := s.st.UpdatePass(r.Context(), x); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) deletePass(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.st.DeletePass(r.Context(), id); err != nil {
		return err
	}
	return noContent(w)
}

// ---- staff: a manager assigns staff of their center; network staff is the admin's.

func (s *Server) listStaff(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "member_id", "center_id")
	f := store.StaffFilter{MemberID: q.id("member_id"), PageRequest: q.page()}
	if c := q.id("center_id"); c != "" || !p.admin() {
		f.CenterIDs = narrow(p, c)
	}
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.ListStaff(r.Context(), f)
	return sendPage(w, pg, err)
}

func (s *Server) addStaff(w http.ResponseWriter, r *http.Request, p *principal) error {
	var x domain.Staff
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if !p.in(x.CenterID) {
		return errForbidden("a manager assigns staff of their own center only")
	}
	if err := s.st.AddStaff(r.Context(), x); err != nil {
		return err
	}
	return created(w, x)
}

func (s *Server) removeStaff(w http.ResponseWriter, r *http.Request, p *principal) error {
	member, err := pathID(r, "member_id")
	if err != nil {
		return err
	}
	q := newQuery(r, "center_id")
	x := domain.Staff{MemberID: member, CenterID: q.id("center_id")}
	if q.err != nil {
		return q.err
	}
	if !p.in(x.CenterID) {
		return errForbidden("a manager removes staff of their own center only")
	}
	if err := s.st.RemoveStaff(r.Context(), x); err != nil {
		return err
	}
	return noContent(w)
}

// ---- events

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "door", "center_id", "member_id", "kind", "from", "to")
	f := store.EventFilter{Door: q.id("door"), CenterIDs: narrow(p, q.id("center_id")), MemberID: q.id("member_id"),
		Kind: protocol.EventKind(q.oneOf("kind", eventKinds()...)), From: q.time("from"), To: q.time("to"), PageRequest: q.page()}
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.ListEvents(r.Context(), f)
	for i := range pg.Items {
		pg.Items[i] = pg.Items[i].WithDoorSeq()
	}
	return sendPage(w, pg, err)
}

// ---- tokens

// newToken is the body of a token creation.
type newToken struct {
	ID      string     `json:"id,omitempty"`
	Name    string     `json:"name"`
	Role    store.Role `json:"role"`
	Centers []string   `json:"centers,omitempty"`
}

// tokenSecret is the answer to a creation: the only time the secret is sent.
type tokenSecret struct {
	Token  store.Token `json:"token"`
	Secret string      `json:"secret"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	var in newToken
	if err := s.decode(w, r, &in); err != nil {
		return err
	}
	tk := store.Token{ID: in.ID, Name: in.Name, Role: in.Role, Centers: in.Centers, CreatedMs: s.now().UnixMilli()}
	if tk.ID == "" {
		tk.ID = NewTokenID()
	}
	secret := store.NewSecret(TokenPrefix)
	if err := s.st.CreateToken(r.Context(), tk, secret); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "api: token created", "id", tk.ID, "role", tk.Role, "by", p.ID)
	return created(w, tokenSecret{Token: tk, Secret: secret})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ *principal) error {
	q := newQuery(r)
	f := store.TokenFilter{PageRequest: q.page()}
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.ListTokens(r.Context(), f)
	return sendPage(w, pg, err)
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.st.DeleteToken(r.Context(), id); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "api: token deleted", "id", id, "by", p.ID)
	return noContent(w)
}

// eventKinds are the kinds an events query may ask for.
func eventKinds() []string {
	return []string{
		string(protocol.EventTap), string(protocol.EventRexExit), string(protocol.EventDoorForced), string(protocol.EventDoorHeldOpen),
		string(protocol.EventDoorClosed), string(protocol.EventRemoteUnlock), string(protocol.EventReaderFault), string(protocol.EventReaderOK),
		string(protocol.EventSuspectedClone),
	}
}

// TokenPrefix starts every API token secret.
const TokenPrefix = "swct_"

// NewTokenID returns a random token id.
func NewTokenID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "tok-" + hex.EncodeToString(b)
}
