package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run: rolled back")

// bundleCheck collects the errors of an import and the ids the bundle
// defines.
type bundleCheck struct {
	rep *store.ImportError
	// ids the bundle defines, by list: the row (1-based) of their first
	// occurrence. For rooms, roomCenter has the room's center.
	ids        map[string]map[string]int
	roomCenter map[string]string
	memberHome map[string]string
}

func (c *bundleCheck) add(list string, row int, code, field, format string, args ...any) {
	c.rep.Add(store.RowError{List: list, Row: row, Code: code, Field: field, Message: fmt.Sprintf(format, args...)})
}

// valid records a validation error of the object, if any, and reports
// whether it is valid.
func (c *bundleCheck) valid(list string, row int, err error) bool {
	if err == nil {
		return true
	}
	field := ""
	var fe *domain.FieldError
	if errors.As(err, &fe) {
		field = fe.Field
	}
	c.add(list, row, "invalid", field, "%v", err)
	return false
}

// define records id in list, or a duplicate error on field.
func (c *bundleCheck) define(list string, row int, field, id string) {
	m := c.ids[list]
	if m == nil {
		m = map[string]int{}
		c.ids[list] = m
	}
	if first, dup := m[id]; dup {
		c.add(list, row, "duplicate_id", field, "%s is also row %d of %s", id, first, list)
		return
	}
	m[id] = row
}

// ids of a list in the bundle, sorted.
func (c *bundleCheck) sorted(list string) []string {
	out := make([]string, 0, len(c.ids[list]))
	for id := range c.ids[list] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Import implements store.Store.
func (s *DB) Import(ctx context.Context, b store.Bundle, o store.ImportOptions) (store.ImportResult, error) {
	res := store.ImportResult{DryRun: o.DryRun}
	if n := b.Len(); n > store.MaxBundleObjects {
		return res, &domain.FieldError{Field: "bundle", Message: fmt.Sprintf("%d objects; at most %d in one import", n, store.MaxBundleObjects)}
	}
	b = cloneBundle(b)
	c := &bundleCheck{rep: &store.ImportError{}, ids: map[string]map[string]int{}, roomCenter: map[string]string{}, memberHome: map[string]string{}}
	c.checkOwn(&b)
	chunk := max(1, s.d.MaxParams/8)
	err := s.write(ctx, func(t *wtx) error {
		t.bulk = true
		if err := t.checkStored(ctx, &b, c, chunk); err != nil {
			return err
		}
		if c.rep.Total > 0 {
			return c.rep
		}
		if o.DoorSecrets && !o.DryRun {
			res.DoorSecrets = make(map[string]string, len(b.Doors))
			for _, d := range b.Doors {
				res.DoorSecrets[d.ID] = store.NewSecret("swcd_")
			}
		}
		if err := t.insertBundle(ctx, &b, res.DoorSecrets); err != nil {
			return err
		}
		if err := t.auditBundle(ctx, &b, c, res.DoorSecrets != nil); err != nil {
			return err
		}
		if o.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return store.ImportResult{DryRun: o.DryRun}, err
	}
	res.Centers, res.Rooms, res.DeskPools, res.Doors = len(b.Centers), len(b.Rooms), len(b.DeskPools), len(b.Doors)
	res.Members, res.Badges, res.Passes = len(b.Members), len(b.Badges), len(b.Passes)
	return res, nil
}

// cloneBundle copies the lists (the changes notified point into them; the
// caller's stay as given) and normalizes the passes' times.
func cloneBundle(b store.Bundle) store.Bundle {
	b.Centers, b.Rooms, b.DeskPools, b.Doors = slices.Clone(b.Centers), slices.Clone(b.Rooms), slices.Clone(b.DeskPools), slices.Clone(b.Doors)
	b.Members, b.Badges, b.Passes = slices.Clone(b.Members), slices.Clone(b.Badges), slices.Clone(b.Passes)
	for i := range b.Passes {
		normPass(&b.Passes[i])
	}
	return b
}

// checkOwn validates every object and finds the duplicates within the
// bundle.
func (c *bundleCheck) checkOwn(b *store.Bundle) {
	for i := range b.Centers {
		if c.valid(store.ListCenters, i+1, b.Centers[i].Validate()) {
			c.define(store.ListCenters, i+1, "id", b.Centers[i].ID)
		}
	}
	for i := range b.Rooms {
		r := &b.Rooms[i]
		if c.valid(store.ListRooms, i+1, r.Validate()) {
			c.define(store.ListRooms, i+1, "id", r.ID)
			if _, ok := c.roomCenter[r.ID]; !ok {
				c.roomCenter[r.ID] = r.CenterID
			}
		}
	}
	for i := range b.DeskPools {
		if c.valid(store.ListDeskPools, i+1, b.DeskPools[i].Validate()) {
			c.define(store.ListDeskPools, i+1, "center_id", b.DeskPools[i].CenterID)
		}
	}
	for i := range b.Doors {
		if c.valid(store.ListDoors, i+1, b.Doors[i].Validate()) {
			c.define(store.ListDoors, i+1, "id", b.Doors[i].ID)
		}
	}
	for i := range b.Members {
		m := &b.Members[i]
		if c.valid(store.ListMembers, i+1, m.Validate()) {
			c.define(store.ListMembers, i+1, "id", m.ID)
			if _, ok := c.memberHome[m.ID]; !ok {
				c.memberHome[m.ID] = m.HomeCenterID
			}
		}
	}
	for i := range b.Badges {
		if c.valid(store.ListBadges, i+1, b.Badges[i].Validate()) {
			c.define(store.ListBadges, i+1, "uid", string(b.Badges[i].UID))
		}
	}
	for i := range b.Passes {
		p := &b.Passes[i]
		if !c.valid(store.ListPasses, i+1, p.Validate()) {
			continue
		}
		c.define(store.ListPasses, i+1, "id", p.ID)
		seen := map[string]bool{}
		for j, cid := range p.CenterIDs {
			if seen[cid] {
				c.add(store.ListPasses, i+1, "invalid", fmt.Sprintf("center_ids[%d]", j), "center %s listed twice", cid)
			}
			seen[cid] = true
		}
	}
}

// checkStored checks the bundle against the stored objects: ids taken,
// retired center ids, references to objects neither in the bundle nor
// stored.
func (t *wtx) checkStored(ctx context.Context, b *store.Bundle, c *bundleCheck, chunk int) error {
	taken := func(list, table, col, field, what string) error {
		ids := c.sorted(list)
		found, err := t.lookup(ctx, table, col, "''", ids, chunk)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, ok := found[id]; ok {
				c.add(list, c.ids[list][id], "exists", field, "%s %s already exists", what, id)
			}
		}
		return nil
	}
	for _, x := range []struct{ list, table, col, field, what string }{
		{store.ListCenters, "centers", "id", "id", "center"},
		{store.ListRooms, "rooms", "id", "id", "room"},
		{store.ListDeskPools, "desk_pools", "center_id", "center_id", "the desk pool of center"},
		{store.ListDoors, "doors", "id", "id", "door"},
		{store.ListMembers, "members", "id", "id", "member"},
		{store.ListBadges, "badges", "uid", "uid", "badge"},
		{store.ListPasses, "passes", "id", "id", "pass"},
	} {
		if err := taken(x.list, x.table, x.col, x.field, x.what); err != nil {
			return err
		}
	}
	centerIDs := c.sorted(store.ListCenters)
	retired, err := t.lookup(ctx, "deleted_centers", "id", "''", centerIDs, chunk)
	if err != nil {
		return err
	}
	for _, id := range centerIDs {
		if _, ok := retired[id]; ok {
			c.add(store.ListCenters, c.ids[store.ListCenters][id], "retired", "id",
				"center id %s belonged to a deleted center; the ids of deleted centers are not reused", id)
		}
	}

	// References: what the bundle does not define is looked up.
	var centerRefs, roomRefs, memberRefs []string
	needCenter := func(id string) {
		if _, ok := c.ids[store.ListCenters][id]; !ok && id != "" {
			centerRefs = append(centerRefs, id)
		}
	}
	for i := range b.Rooms {
		needCenter(b.Rooms[i].CenterID)
	}
	for i := range b.DeskPools {
		needCenter(b.DeskPools[i].CenterID)
	}
	for i := range b.Doors {
		needCenter(b.Doors[i].CenterID)
		if r := b.Doors[i].RoomID; r != "" {
			if _, ok := c.roomCenter[r]; !ok {
				roomRefs = append(roomRefs, r)
			}
		}
	}
	for i := range b.Members {
		needCenter(b.Members[i].HomeCenterID)
	}
	for i := range b.Passes {
		for _, cid := range b.Passes[i].CenterIDs {
			needCenter(cid)
		}
	}
	needMember := func(id string) {
		if _, ok := c.memberHome[id]; !ok && id != "" {
			memberRefs = append(memberRefs, id)
		}
	}
	for i := range b.Badges {
		needMember(b.Badges[i].MemberID)
	}
	for i := range b.Passes {
		needMember(b.Passes[i].MemberID)
	}
	centers, err := t.lookup(ctx, "centers", "id", "''", uniq(centerRefs), chunk)
	if err != nil {
		return err
	}
	rooms, err := t.lookup(ctx, "rooms", "id", "center_id", uniq(roomRefs), chunk)
	if err != nil {
		return err
	}
	homes, err := t.lookup(ctx, "members", "id", "COALESCE(home_center_id, '')", uniq(memberRefs), chunk)
	if err != nil {
		return err
	}
	for id, h := range homes {
		c.memberHome[id] = h
	}
	for id, center := range rooms {
		c.roomCenter[id] = center
	}
	hasCenter := func(id string) bool {
		if _, ok := c.ids[store.ListCenters][id]; ok {
			return true
		}
		_, ok := centers[id]
		return ok
	}
	missingCenter := func(list string, row int, field, id string) {
		if !hasCenter(id) {
			c.add(list, row, "missing_ref", field, "center %s is neither in the bundle nor stored", id)
		}
	}
	for i := range b.Rooms {
		missingCenter(store.ListRooms, i+1, "center_id", b.Rooms[i].CenterID)
	}
	for i := range b.DeskPools {
		missingCenter(store.ListDeskPools, i+1, "center_id", b.DeskPools[i].CenterID)
	}
	for i := range b.Doors {
		d := &b.Doors[i]
		missingCenter(store.ListDoors, i+1, "center_id", d.CenterID)
		if d.RoomID != "" {
			// A room of another center reads as a missing one (needRoomOf).
			if rc, ok := c.roomCenter[d.RoomID]; !ok || rc != d.CenterID {
				c.add(store.ListDoors, i+1, "missing_ref", "room_id", "center %s has no room %s in the bundle or stored", d.CenterID, d.RoomID)
			}
		}
	}
	for i := range b.Members {
		if h := b.Members[i].HomeCenterID; h != "" {
			missingCenter(store.ListMembers, i+1, "home_center_id", h)
		}
	}
	for i := range b.Badges {
		if _, ok := c.memberHome[b.Badges[i].MemberID]; !ok {
			c.add(store.ListBadges, i+1, "missing_ref", "member_id", "member %s is neither in the bundle nor stored", b.Badges[i].MemberID)
		}
	}
	for i := range b.Passes {
		p := &b.Passes[i]
		if _, ok := c.memberHome[p.MemberID]; !ok {
			c.add(store.ListPasses, i+1, "missing_ref", "member_id", "member %s is neither in the bundle nor stored", p.MemberID)
		}
		for j, cid := range p.CenterIDs {
			missingCenter(store.ListPasses, i+1, fmt.Sprintf("center_ids[%d]", j), cid)
		}
	}
	return nil
}

func uniq(ids []string) []string {
	sort.Strings(ids)
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}

// insertRows inserts n rows of len(cols) values into table, as many rows a
// statement as the dialect's parameters allow.
func (t *wtx) insertRows(ctx context.Context, table string, cols []string, n int, row func(i int) []any) error {
	per := max(1, t.d.MaxParams/len(cols))
	one := "(" + placeholders(len(cols)) + ")"
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, (end-start)*len(cols))
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString(one)
			args = append(args, row(i)...)
		}
		if _, err := t.exec(ctx, q.String(), args...); err != nil {
			// The checks ran in this transaction; a concurrent writer can
			// still have created an id or deleted a referenced object
			// (PostgreSQL's READ COMMITTED).
			switch {
			case t.d.IsUnique(err):
				return store.Errf(store.ErrExists, "", "import %s: an object of the bundle was created meanwhile; nothing imported: %v", table, err)
			case t.d.IsForeignKey(err):
				return store.Errf(store.ErrMissingRef, "", "import %s: an object the bundle refers to was deleted meanwhile; nothing imported: %v", table, err)
			}
			return fmt.Errorf("import %s: %w", table, err)
		}
	}
	return nil
}

// insertBundle inserts every object, parents first, and records the
// changes. secrets (nil: none) are the doors' broker secrets; their hashes
// are stored.
func (t *wtx) insertBundle(ctx context.Context, b *store.Bundle, secrets map[string]string) error {
	err := t.insertRows(ctx, "centers", []string{"id", "name", "time_zone", "hours", "rate_cents"}, len(b.Centers), func(i int) []any {
		x := &b.Centers[i]
		return []any{x.ID, x.Name, x.TimeZone, hoursJSON(x.Hours), x.RateCents}
	})
	if err != nil {
		return err
	}
	err = t.insertRows(ctx, "rooms", []string{"id", "center_id", "name", "capacity", "equipment"}, len(b.Rooms), func(i int) []any {
		x := &b.Rooms[i]
		return []any{x.ID, x.CenterID, x.Name, x.Capacity, equipmentJSON(x.Equipment)}
	})
	if err != nil {
		return err
	}
	err = t.insertRows(ctx, "desk_pools", []string{"center_id", "capacity", "desks"}, len(b.DeskPools), func(i int) []any {
		x := &b.DeskPools[i]
		desks := "[]"
		if len(x.Desks) > 0 {
			j, _ := json.Marshal(x.Desks) // ids and names always marshal
			desks = string(j)
		}
		return []any{x.CenterID, x.Capacity, desks}
	})
	if err != nil {
		return err
	}
	err = t.insertRows(ctx, "doors", []string{"id", "center_id", "name", "room_id", "is_exit", "secret_hash"}, len(b.Doors), func(i int) []any {
		x := &b.Doors[i]
		hash := ""
		if secret, ok := secrets[x.ID]; ok {
			hash = store.HashSecret(secret)
		}
		return []any{x.ID, x.CenterID, x.Name, nullStr(x.RoomID), x.Exit, nullStr(hash)}
	})
	if err != nil {
		return err
	}
	err = t.insertRows(ctx, "members", []string{"id", "name", "email", "home_center_id", "status"}, len(b.Members), func(i int) []any {
		x := &b.Members[i]
		return []any{x.ID, x.Name, x.Email, nullStr(x.HomeCenterID), x.Status}
	})
	if err != nil {
		return err
	}
	err = t.insertRows(ctx, "badges", []string{"uid", "member_id", "revoked", "added_by"}, len(b.Badges), func(i int) []any {
		x := &b.Badges[i]
		return []any{string(x.UID), x.MemberID, x.Revoked, x.AddedBy}
	})
	if err != nil {
		return err
	}
	err = t.insertRows(ctx, "passes", []string{"id", "member_id", "valid_from_ms", "valid_until_ms", "all_centers"}, len(b.Passes), func(i int) []any {
		x := &b.Passes[i]
		return []any{x.ID, x.MemberID, ms(x.ValidFrom), ms(x.ValidUntil), len(x.CenterIDs) == 0}
	})
	if err != nil {
		return err
	}
	var links [][2]string
	for i := range b.Passes {
		for _, c := range b.Passes[i].CenterIDs {
			links = append(links, [2]string{b.Passes[i].ID, c})
		}
	}
	err = t.insertRows(ctx, "pass_centers", []string{"pass_id", "center_id"}, len(links), func(i int) []any {
		return []any{links[i][0], links[i][1]}
	})
	if err != nil {
		return err
	}
	for i := range b.Centers {
		t.changed(domain.Change{Kind: domain.KindCenter, Center: &b.Centers[i]})
	}
	for i := range b.Rooms {
		t.changed(domain.Change{Kind: domain.KindRoom, Room: &b.Rooms[i]})
	}
	for i := range b.Doors {
		t.changed(domain.Change{Kind: domain.KindDoor, Door: &b.Doors[i]})
	}
	for i := range b.Members {
		t.changed(domain.Change{Kind: domain.KindMember, Member: &b.Members[i]})
	}
	for i := range b.Badges {
		t.changed(domain.Change{Kind: domain.KindBadge, Badge: &b.Badges[i]})
	}
	for i := range b.Passes {
		t.changed(domain.Change{Kind: domain.KindPass, Pass: &b.Passes[i]})
	}
	return nil
}

// auditBundle records one audit.Import row per object, as the single
// writes would record their creation. A door given a secret says so in
// its row (redacted, as RotateDoorSecret's row).
func (t *wtx) auditBundle(ctx context.Context, b *store.Bundle, c *bundleCheck, secrets bool) error {
	if b.Len() == 0 {
		t.noAudit("an empty import changes nothing")
		return nil
	}
	rows := make([]auditRow, 0, b.Len())
	for _, x := range b.Centers {
		rows = append(rows, auditRow{audit.Import, audit.ObjectCenter, x.ID, []string{x.ID}, nil, x})
	}
	for _, x := range b.Rooms {
		rows = append(rows, auditRow{audit.Import, audit.ObjectRoom, x.ID, []string{x.CenterID}, nil, x})
	}
	for _, x := range b.DeskPools {
		rows = append(rows, auditRow{audit.Import, "desk_pool", x.CenterID, []string{x.CenterID}, nil, x})
	}
	for _, x := range b.Doors {
		var after any = x
		if secrets {
			after = struct {
				domain.Door
				Secret string `json:"secret"`
			}{x, audit.Redacted}
		}
		rows = append(rows, auditRow{audit.Import, audit.ObjectDoor, x.ID, []string{x.CenterID}, nil, after})
	}
	for _, x := range b.Members {
		rows = append(rows, auditRow{audit.Import, audit.ObjectMember, x.ID, []string{x.HomeCenterID}, nil, x})
	}
	for _, x := range b.Badges {
		rows = append(rows, auditRow{audit.Import, audit.ObjectBadge, string(x.UID), []string{c.memberHome[x.MemberID]}, nil, x})
	}
	for _, x := range b.Passes {
		cs := append(slices.Clone(orNetwork(x.CenterIDs)), c.memberHome[x.MemberID])
		rows = append(rows, auditRow{audit.Import, audit.ObjectPass, x.ID, cs, nil, x})
	}
	return t.auditAll(ctx, rows)
}
