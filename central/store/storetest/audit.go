package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The audit log's conformance (package audit; sqlstore/audit.go).

// storeReads are the methods of store.Store that change nothing. Every
// other method is a write and must have a row in testAuditEveryWrite's
// table: adding a method to store.Store without either fails
// testAuditVerbsCovered.
var storeReads = []string{
	"Center", "ListCenters", "Room", "ListRooms", "Door", "ListDoors", "VerifyDoorSecret", "AuthenticateDoor",
	"Member", "ListMembers", "Badge", "ListBadges", "CountBadgeCredentials", "Booking", "ListBookings", "Pass", "ListPasses", "ListStaff",
	"EventSeq", "EventGaps", "ListEvents", "WhitelistStates", "AuthenticateToken", "ListTokens", "CountTokens",
	"Credit", "CheckEnrollment", "DoorKey", "ListAudit", "Close",
	// Accessors of sub-stores: their writes have cases named "Health.Verb"
	// below, or are exempt in their own code (the e-mail outbox, derived
	// door health and alerts, the booking site's places).
	"Health", "Outbox", "SettingsHistory", "Places", "Sessions", "Token",
	"Site", // the booking site's feeds and revisions: cases "Site.Verb" below
	"CheckIns",
	"MemberAuth", // its codes, counters and ceremonies are exempt; passkeys are audited below
	"StaffAccounts",
	"DoorCerts", // issued door certificates: cases "DoorCerts.Verb" below
	"Billing",   // prices, details and documents: cases "Billing.Verb" below
}

// wantRow is an audit row a verb must leave.
type wantRow struct {
	action  audit.Action
	kind    string
	id      string
	centers []string
	before  string // a fragment of the before JSON ("": must be null)
	after   string // a fragment of the after JSON ("": must be null)
}

// auditCase is one write verb: run it as the actor named verb, then the
// rows that actor has must be want, newest first. exempt (with want nil)
// is a write that records no audit row, and why.
type auditCase struct {
	verb   string
	run    func(ctx context.Context, s store.Store) error
	want   []wantRow
	exempt string
}

func auditCases() []auditCase {
	now := base().UnixMilli()
	c3 := center("c3")
	c3b := c3
	c3b.Name = "Renamed"
	pass := domain.Pass{ID: "pa1", MemberID: "m1", ValidFrom: base(), ValidUntil: base().Add(time.Hour), CenterIDs: []string{"c1"}}
	pass2 := pass
	pass2.CenterIDs = []string{"c2"}
	const doorSecretCase = "RotateDoorSecret"
	return []auditCase{
		{verb: "CreateCenter", run: func(ctx context.Context, s store.Store) error { return s.CreateCenter(ctx, c3) },
			want: []wantRow{{audit.Create, audit.ObjectCenter, "c3", []string{"c3"}, "", `"name":"Center c3"`}}},
		{verb: "UpdateCenter", run: func(ctx context.Context, s store.Store) error { return s.UpdateCenter(ctx, c3b) },
			want: []wantRow{{audit.Update, audit.ObjectCenter, "c3", []string{"c3"}, `"name":"Center c3"`, `"name":"Renamed"`}}},
		{verb: "CreateRoom", run: func(ctx context.Context, s store.Store) error {
			return s.CreateRoom(ctx, domain.Room{ID: "r3", CenterID: "c3", Name: "Room 3"})
		}, want: []wantRow{{audit.Create, audit.ObjectRoom, "r3", []string{"c3"}, "", `"name":"Room 3"`}}},
		{verb: "Health.CreateWebhook", run: func(ctx context.Context, s store.Store) error {
			return s.Health().CreateWebhook(ctx, store.Webhook{ID: "wh3", Center: "c3", URL: "https://hooks.example/c3", Secret: "0123456789abcdef", CreatedBy: "tk1", CreatedMs: now})
		}, want: []wantRow{{audit.Create, "webhook", "wh3", []string{"c3"}, "", `"url":"https://hooks.example/c3"`}}},
		{verb: "Health.UpdateWebhook", run: func(ctx context.Context, s store.Store) error {
			return s.Health().UpdateWebhook(ctx, store.Webhook{ID: "wh3", URL: "https://hooks.example/c3b"})
		}, want: []wantRow{{audit.Update, "webhook", "wh3", []string{"c3"}, `"url":"https://hooks.example/c3"`, `"url":"https://hooks.example/c3b"`}}},
		{verb: "Health.DeleteWebhook", run: func(ctx context.Context, s store.Store) error { return s.Health().DeleteWebhook(ctx, "wh3") },
			want: []wantRow{{audit.Delete, "webhook", "wh3", []string{"c3"}, `"url":"https://hooks.example/c3b"`, ""}}},
		{verb: "Health.SaveCommand", run: func(ctx context.Context, s store.Store) error {
			return s.Health().SaveCommand(ctx, store.CommandRecord{ID: "cmd3", Door: "d3", Center: "c3", Action: "unlock", Seconds: 5, By: "tk1",
				IssuedMs: now, ExpiresMs: now + 120_000, Delivery: store.CommandQueued, Signed: []byte("signed")})
		}, want: []wantRow{{audit.Create, "door_command", "cmd3", []string{"c3"}, "", `"action":"unlock"`}}},
		{verb: "Places.PutDeskPool", run: func(ctx context.Context, s store.Store) error {
			return s.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: "c3", Capacity: 4})
		}, want: []wantRow{{audit.Create, "desk_pool", "c3", []string{"c3"}, "", `"capacity":4`}}},
		{verb: "Places.PutDeskPool2", run: func(ctx context.Context, s store.Store) error {
			return s.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: "c3", Capacity: 6})
		}, want: []wantRow{{audit.Update, "desk_pool", "c3", []string{"c3"}, `"capacity":4`, `"capacity":6`}}},
		{verb: "Places.DeleteDeskPool", run: func(ctx context.Context, s store.Store) error { return s.Places().DeleteDeskPool(ctx, "c3") },
			want: []wantRow{{audit.Delete, "desk_pool", "c3", []string{"c3"}, `"capacity":6`, ""}}},
		{verb: "Places.PutBookingRules", run: func(ctx context.Context, s store.Store) error {
			r := domain.DefaultBookingRules()
			r.MaxOpenBookings = 7
			return s.Places().PutBookingRules(ctx, "c3", r)
		}, want: []wantRow{{audit.Create, "booking_rules", "c3", []string{"c3"}, "", `"max_open_bookings":7`}}},
		{verb: "Places.DeleteBookingRules", run: func(ctx context.Context, s store.Store) error { return s.Places().DeleteBookingRules(ctx, "c3") },
			want: []wantRow{{audit.Delete, "booking_rules", "c3", []string{"c3"}, `"max_open_bookings":7`, ""}}},
		{verb: "StaffAccounts.CreateAccount", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().CreateAccount(ctx, store.StaffAccount{ID: "sa1", Email: "ann@example.org", Name: "Ann", Role: store.RoleManager,
				Centers: []string{"c1"}, Status: store.AccountInvited, CreatedMs: now, UpdatedMs: now})
		}, want: []wantRow{{audit.Create, "staff_account", "sa1", []string{"c1"}, "", `"email":"ann@example.org"`}}},
		{verb: "StaffAccounts.SetTOTPPending", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().SetTOTP(ctx, "sa1", auditTOTPSecret, false, nil)
		}, exempt: "an enrolment under way"},
		{verb: "StaffAccounts.SetPassword", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().SetPassword(ctx, "sa1", auditPasswordHash)
		}, want: []wantRow{{audit.RotateSecret, "staff_account", "sa1", []string{"c1"}, "", `"changed":"password"`}}},
		{verb: "StaffAccounts.SetTOTP", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().SetTOTP(ctx, "sa1", auditTOTPSecret, true, []string{auditRecoveryHash})
		}, want: []wantRow{
			{audit.Update, "staff_account", "sa1", []string{"c1"}, `"status":"invited"`, `"status":"active"`},
			{audit.RotateSecret, "staff_account", "sa1", []string{"c1"}, "", `"changed":"second_factor"`},
		}},
		{verb: "StaffAccounts.UseTOTPStep", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().UseTOTPStep(ctx, "sa1", 100)
		}, exempt: "the replay guard"},
		{verb: "StaffAccounts.UseRecoveryCode", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().UseRecoveryCode(ctx, "sa1", auditRecoveryHash)
		}, want: []wantRow{{audit.Redeem, "staff_account", "sa1", []string{"c1"}, "", `"changed":"recovery_code_used"`}}},
		{verb: "StaffAccounts.SetRecoveryCodes", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().SetRecoveryCodes(ctx, "sa1", []string{auditRecoveryHash})
		}, want: []wantRow{{audit.RotateSecret, "staff_account", "sa1", []string{"c1"}, "", `"changed":"recovery_codes"`}}},
		{verb: "StaffAccounts.CreateAccountToken", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().CreateAccountToken(ctx, store.StaffAccountToken{AccountID: "sa1", Purpose: store.PurposeReset, CreatedMs: now, ExpiresMs: now + 3_600_000}, auditAccountSecret)
		}, exempt: "a one-time link"},
		{verb: "StaffAccounts.SpendAccountToken", run: func(ctx context.Context, s store.Store) error {
			_, err := s.StaffAccounts().SpendAccountToken(ctx, store.PurposeReset, auditAccountSecret, now+1)
			return err
		}, exempt: "a one-time link used"},
		{verb: "StaffAccounts.RecordSignInFailure", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().RecordSignInFailure(ctx, []string{"account:sa1", "ip:127.0.0.1"}, now)
		}, exempt: "failure counters"},
		{verb: "StaffAccounts.ClearSignInFailures", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().ClearSignInFailures(ctx, "account:sa1")
		}, exempt: "failure counters"},
		{verb: "StaffAccounts.UpdateAccount", run: func(ctx context.Context, s store.Store) error {
			return s.StaffAccounts().UpdateAccount(ctx, store.StaffAccount{ID: "sa1", Name: "Ann", Role: store.RoleManager, Centers: []string{"c1"}, Status: store.AccountDisabled})
		}, want: []wantRow{{audit.Update, "staff_account", "sa1", []string{"c1"}, `"status":"active"`, `"status":"disabled"`}}},
		{verb: "SaveSettings", run: func(ctx context.Context, s store.Store) error {
			_, err := s.SaveSettings(ctx, settings.Version{EffectiveFrom: period(2026, 3), Settings: settings.Defaults(), CreatedBy: "tk1", Note: "audited"})
			return err
		}, want: []wantRow{{audit.Create, "settings", "1", []string{""}, "", `"note":"audited"`}}},
		{verb: "UpdateRoom", run: func(ctx context.Context, s store.Store) error {
			return s.UpdateRoom(ctx, domain.Room{ID: "r3", CenterID: "c3", Name: "Room three"})
		}, want: []wantRow{{audit.Update, audit.ObjectRoom, "r3", []string{"c3"}, `"name":"Room 3"`, `"name":"Room three"`}}},
		{verb: "CreateDoor", run: func(ctx context.Context, s store.Store) error {
			return s.CreateDoor(ctx, domain.Door{ID: "d3", CenterID: "c3", Name: "Side"})
		}, want: []wantRow{{audit.Create, audit.ObjectDoor, "d3", []string{"c3"}, "", `"name":"Side"`}}},
		{verb: "UpdateDoor", run: func(ctx context.Context, s store.Store) error {
			return s.UpdateDoor(ctx, domain.Door{ID: "d3", CenterID: "c3", Name: "Side door", RoomID: "r3"})
		}, want: []wantRow{{audit.Update, audit.ObjectDoor, "d3", []string{"c3"}, `"name":"Side"`, `"room_id":"r3"`}}},
		{verb: doorSecretCase, run: func(ctx context.Context, s store.Store) error {
			_, err := s.RotateDoorSecret(ctx, "d3")
			return err
		}, want: []wantRow{{audit.RotateSecret, audit.ObjectDoor, "d3", []string{"c3"}, "", `"secret":"[redacted]"`}}},
		{verb: "CreateEnrollmentToken", run: func(ctx context.Context, s store.Store) error {
			return s.CreateEnrollmentToken(ctx, store.EnrollmentToken{ID: "e3", Door: "d3", CreatedBy: "t1", CreatedMs: now, ExpiresMs: now + 60_000}, auditEnrollSecret)
		}, want: []wantRow{{audit.Create, audit.ObjectEnrollmentToken, "e3", []string{"c3"}, "", `"door":"d3"`}}},
		{verb: "RedeemEnrollment", run: func(ctx context.Context, s store.Store) error {
			_, err := s.RedeemEnrollment(ctx, auditEnrollSecret, store.DoorKey{KeySHA256: keyHash("k3"), EnrolledMs: now + 1})
			return err
		}, want: []wantRow{{audit.Redeem, audit.ObjectEnrollmentToken, "e3", []string{"c3"}, `"id":"e3"`, `"key_sha256":"` + keyHash("k3") + `"`}}},
		{verb: "DoorCerts.RecordDoorCert", run: func(ctx context.Context, s store.Store) error {
			_, err := s.DoorCerts().RecordDoorCert(ctx, doorCert("a3", "d3", "k3", now), false)
			return err
		}, want: []wantRow{{audit.Create, "door_certificate", "a3", []string{"c3"}, "", `"key_sha256":"` + keyHash("k3") + `"`}}},
		{verb: "DoorCerts.RevokeDoorCert", run: func(ctx context.Context, s store.Store) error {
			return s.DoorCerts().RevokeDoorCert(ctx, "a3", now+5)
		}, want: []wantRow{{audit.Revoke, "door_certificate", "a3", []string{"c3"}, `"serial":"a3"`, `"reason":"revoked"`}}},
		{verb: "DoorCerts.ImportDoorCerts", run: func(ctx context.Context, s store.Store) error {
			_, err := s.DoorCerts().ImportDoorCerts(ctx, []store.DoorCert{doorCert("a3", "d3", "k3", now), doorCert("b3", "d3", "k3", now)}, now)
			return err
		}, want: []wantRow{{audit.Import, "door_certificate", "b3", []string{"c3"}, "", `"serial":"b3"`}}},
		{verb: "DeleteDoor", run: func(ctx context.Context, s store.Store) error { return s.DeleteDoor(ctx, "d3") },
			want: []wantRow{{audit.Delete, audit.ObjectDoor, "d3", []string{"c3"}, `"name":"Side door"`, ""}}},
		{verb: "DeleteRoom", run: func(ctx context.Context, s store.Store) error { return s.DeleteRoom(ctx, "r3") },
			want: []wantRow{{audit.Delete, audit.ObjectRoom, "r3", []string{"c3"}, `"name":"Room three"`, ""}}},
		{verb: "CreateToken", run: func(ctx context.Context, s store.Store) error {
			return s.CreateToken(ctx, store.Token{ID: "tk3", Name: "Manager 3", Role: store.RoleManager, Centers: []string{"c3"}, CreatedMs: now}, auditTokenSecret)
		}, want: []wantRow{{audit.Create, audit.ObjectAPIToken, "tk3", []string{"c3"}, "", `"role":"manager"`}}},
		{verb: "DeleteCenter", run: func(ctx context.Context, s store.Store) error { return s.DeleteCenter(ctx, "c3") },
			// deleting a center revokes its tokens in the same transaction
			want: []wantRow{
				{audit.Delete, audit.ObjectCenter, "c3", []string{"c3"}, `"name":"Renamed"`, ""},
				{audit.Revoke, audit.ObjectAPIToken, "tk3", []string{"c3"}, `"id":"tk3"`, ""},
			}},
		{verb: "CreateMember", run: func(ctx context.Context, s store.Store) error {
			return s.CreateMember(ctx, domain.Member{ID: "m3", Name: "Cleo", Email: "cleo@example.org", HomeCenterID: "c1", Status: domain.MemberActive})
		}, want: []wantRow{{audit.Create, audit.ObjectMember, "m3", []string{"c1"}, "", `"email":"cleo@example.org"`}}},
		{verb: "UpdateMember", run: func(ctx context.Context, s store.Store) error {
			// moves from c1 to c2: the row concerns both
			return s.UpdateMember(ctx, domain.Member{ID: "m3", Name: "Cleo", HomeCenterID: "c2", Status: domain.MemberSuspended})
		}, want: []wantRow{{audit.Update, audit.ObjectMember, "m3", []string{"c1", "c2"}, `"home_center_id":"c1"`, `"status":"suspended"`}}},
		{verb: "CreateBadge", run: func(ctx context.Context, s store.Store) error {
			return s.CreateBadge(ctx, domain.Badge{UID: "0A0B0C01", MemberID: "m3", AddedBy: "tech1"})
		}, want: []wantRow{{audit.Create, audit.ObjectBadge, "0A0B0C01", []string{"c2"}, "", `"member_id":"m3"`}}},
		{verb: "UpdateBadge", run: func(ctx context.Context, s store.Store) error {
			return s.UpdateBadge(ctx, domain.Badge{UID: "0A0B0C01", MemberID: "m1", Revoked: true})
		}, want: []wantRow{{audit.Revoke, audit.ObjectBadge, "0A0B0C01", []string{"c1", "c2"}, `"member_id":"m3"`, `"added_by":"tech1"`}}},
		{verb: "SetBadgeCredential", run: func(ctx context.Context, s store.Store) error {
			return s.SetBadgeCredential(ctx, "0A0B0C01", protocol.CardNTAG424DNA, 1)
		}, want: []wantRow{{audit.Update, audit.ObjectBadge, "0A0B0C01", []string{"c1"}, `"revoked":true`, `"card_type":"ntag424dna"`}}},
		{verb: "DeleteBadge", run: func(ctx context.Context, s store.Store) error { return s.DeleteBadge(ctx, "0A0B0C01") },
			want: []wantRow{{audit.Delete, audit.ObjectBadge, "0A0B0C01", []string{"c1"}, `"revoked":true`, ""}}},
		{verb: "CreateBooking", run: func(ctx context.Context, s store.Store) error {
			return s.CreateBooking(ctx, booking("k3", "m1", "c1", "r1", 1, 2))
		}, want: []wantRow{{audit.Create, audit.ObjectBooking, "k3", []string{"c1"}, "", `"room_id":"r1"`}}},
		{verb: "UpdateBooking", run: func(ctx context.Context, s store.Store) error {
			return s.UpdateBooking(ctx, booking("k3", "m1", "c2", "r2", 1, 3))
		}, want: []wantRow{{audit.Update, audit.ObjectBooking, "k3", []string{"c1", "c2"}, `"room_id":"r1"`, `"room_id":"r2"`}}},
		{verb: "Site.BumpBookingRevision", exempt: "a booking's revision counts its changes, each audited on the booking itself",
			run: func(ctx context.Context, s store.Store) error {
				_, err := s.Site().BumpBookingRevision(ctx, "k3")
				return err
			}},
		{verb: "Site.ResetFeedToken", run: func(ctx context.Context, s store.Store) error {
			return s.Site().ResetFeedToken(ctx, "m1", auditFeedSecret, now)
		}, want: []wantRow{{audit.Create, "member_feed", "m1", []string{"c1"}, "", `"member_id":"m1"`}}},
		{verb: "DeleteBooking", run: func(ctx context.Context, s store.Store) error { return s.DeleteBooking(ctx, "k3") },
			want: []wantRow{{audit.Delete, audit.ObjectBooking, "k3", []string{"c2"}, `"id":"k3"`, ""}}},
		{verb: "ImportBookings", run: func(ctx context.Context, s store.Store) error {
			_, err := s.ImportBookings(ctx, []domain.Booking{booking("k4", "m1", "c1", "", 1, 2), booking("k5", "m2", "c2", "", 1, 2)})
			return err
		}, want: []wantRow{
			{audit.Import, audit.ObjectBooking, "k5", []string{"c2"}, "", `"member_id":"m2"`},
			{audit.Import, audit.ObjectBooking, "k4", []string{"c1"}, "", `"member_id":"m1"`},
		}},
		{verb: "Import", run: func(ctx context.Context, s store.Store) error {
			_, err := s.Import(ctx, store.Bundle{Centers: []domain.Center{center("ci1")},
				Doors: []domain.Door{{ID: "di1", CenterID: "ci1", Name: "Imported"}}}, store.ImportOptions{})
			return err
		}, want: []wantRow{
			{audit.Import, audit.ObjectDoor, "di1", []string{"ci1"}, "", `"name":"Imported"`},
			{audit.Import, audit.ObjectCenter, "ci1", []string{"ci1"}, "", `"name":"Center ci1"`},
		}},
		{verb: "CreatePass", run: func(ctx context.Context, s store.Store) error { return s.CreatePass(ctx, pass) },
			want: []wantRow{{audit.Create, audit.ObjectPass, "pa1", []string{"c1"}, "", `"center_ids":["c1"]`}}},
		{verb: "UpdatePass", run: func(ctx context.Context, s store.Store) error { return s.UpdatePass(ctx, pass2) },
			want: []wantRow{{audit.Update, audit.ObjectPass, "pa1", []string{"c1", "c2"}, `"center_ids":["c1"]`, `"center_ids":["c2"]`}}},
		{verb: "DeletePass", run: func(ctx context.Context, s store.Store) error { return s.DeletePass(ctx, "pa1") },
			want: []wantRow{{audit.Delete, audit.ObjectPass, "pa1", []string{"c1", "c2"}, `"center_ids":["c2"]`, ""}}},
		{verb: "AddStaff", run: func(ctx context.Context, s store.Store) error {
			return s.AddStaff(ctx, domain.Staff{MemberID: "m3", CenterID: "c2"})
		}, want: []wantRow{{audit.Create, audit.ObjectStaff, "m3@c2", []string{"c2"}, "", `"member_id":"m3"`}}},
		{verb: "RemoveStaff", run: func(ctx context.Context, s store.Store) error {
			return s.RemoveStaff(ctx, domain.Staff{MemberID: "m3", CenterID: "c2"})
		}, want: []wantRow{{audit.Delete, audit.ObjectStaff, "m3@c2", []string{"c2"}, `"member_id":"m3"`, ""}}},
		{verb: "MemberAuth.CreatePasskey", run: func(ctx context.Context, s store.Store) error {
			return s.MemberAuth().CreatePasskey(ctx, store.Passkey{ID: "cred3", MemberID: "m3", Name: "Phone", CreatedMs: now, Data: []byte(`{"k":1}`)})
		}, want: []wantRow{{audit.Create, "passkey", "cred3", []string{"c2"}, "", `"name":"Phone"`}}},
		{verb: "MemberAuth.DeletePasskey", run: func(ctx context.Context, s store.Store) error {
			return s.MemberAuth().DeletePasskey(ctx, "m3", "cred3")
		}, want: []wantRow{{audit.Delete, "passkey", "cred3", []string{"c2"}, `"member_id":"m3"`, ""}}},
		{verb: "DeleteMember", run: func(ctx context.Context, s store.Store) error { return s.DeleteMember(ctx, "m3") },
			want: []wantRow{{audit.Delete, audit.ObjectMember, "m3", []string{"c2"}, `"status":"suspended"`, ""}}},
		{verb: "DeleteToken", run: func(ctx context.Context, s store.Store) error { return s.DeleteToken(ctx, "tk1") },
			want: []wantRow{{audit.Revoke, audit.ObjectAPIToken, "tk1", []string{""}, `"role":"admin"`, ""}}},
		{verb: "AppendEvents", exempt: "a door's events are its own record, not a change by a person or token",
			run: func(ctx context.Context, s store.Store) error {
				_, err := s.AppendEvents(ctx, "d1", now, []protocol.Event{tap("d1", 1, "m1", base(), base()).Event})
				return err
			}},
		{verb: "AppendBatches", exempt: "as AppendEvents",
			run: func(ctx context.Context, s store.Store) error {
				_, err := s.AppendBatches(ctx, now, []store.DoorEvents{{Door: "d1", Events: []protocol.Event{tap("d1", 2, "m1", base(), base()).Event}}})
				return err
			}},
		{verb: "SaveWhitelistState", exempt: "derived from the audited domain on every publish",
			run: func(ctx context.Context, s store.Store) error {
				return s.SaveWhitelistState(ctx, domain.WhitelistState{Door: "d1", Version: 1, Hash: "h1", IssuedMs: now})
			}},
		{verb: "SaveWhitelistStates", exempt: "as SaveWhitelistState",
			run: func(ctx context.Context, s store.Store) error {
				return s.SaveWhitelistStates(ctx, []domain.WhitelistState{{Door: "d1", Version: 2, Hash: "h2", IssuedMs: now}})
			}},
		{verb: "Credit().Close", run: func(ctx context.Context, s store.Store) error {
			p := credit.Period{Year: 2026, Month: time.February}
			return s.Credit().Close(ctx, credit.Period{}, &credit.Settlement{Period: p, TimeZone: "Europe/Brussels", Closed: true,
				Centers: []credit.CenterLine{{CenterID: "c1"}}, TotalCents: 1234})
		}, want: []wantRow{{audit.Close, audit.ObjectPeriod, "2026-02", []string{"", "c1"}, `"closed":false`, `"total_cents":1234`}}},
		{verb: "Credit.ApproveSettlement", run: func(ctx context.Context, s store.Store) error {
			_, err := s.Credit().ApproveSettlement(ctx, store.SettlementApproval{Period: credit.Period{Year: 2026, Month: time.February}, ApprovedBy: "tk1"})
			return err
		}, want: []wantRow{{audit.Approve, audit.ObjectPeriod, "2026-02", []string{"", "c1"}, `"approved":false`, `"approved_by":"tk1"`}}},
		// Billing (billing.go).
		{verb: "Billing.AddPrice", run: auditAddPrice,
			want: []wantRow{{audit.Create, billing.ObjectPrice, "nomadic_hour//@2026-01", []string{""}, "", `"cents":800`}}},
		{verb: "Billing.SetDetails", run: auditSetDetails,
			want: []wantRow{{audit.Create, billing.ObjectDetails, "member/m1", []string{"c1"}, "", `"name":"Ann Example"`}}},
		{verb: "Billing.IssueDocuments", run: auditIssueDocuments,
			want: []wantRow{{audit.Create, billing.ObjectDocument, "swc/SWC-2026-000001", []string{""}, "", `"number":"SWC-2026-000001"`}}},
		{verb: "Billing.AddPack", run: auditAddPack,
			want: []wantRow{{audit.Create, billing.ObjectPack, "pk1", []string{"c1"}, "", `"issuer":"c1"`}}},
	}
}

// Secrets the audit cases use; they must never be found in an audit row.
var (
	auditTokenSecret  = store.NewSecret("swct_")
	auditEnrollSecret = store.NewSecret("swce_")
	auditFeedSecret   = store.NewSecret("swcf_")
	// Staff account secrets (never in an audit row).
	auditPasswordHash  = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
	auditTOTPSecret    = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	auditRecoveryHash  = store.HashSecret("recovery-code-1")
	auditAccountSecret = store.NewSecret("swcs_")
)

// actorOf is the actor a case runs as.
func actorOf(verb string) audit.Actor {
	return audit.Actor{Kind: audit.KindAPIToken, ID: "tok-" + strings.NewReplacer("(", "", ")", "", ".", "-").Replace(verb), Name: "Token for " + verb,
		Role: string(store.RoleAdmin), IP: "192.0.2.7", UserAgent: "storetest/1"}
}

// auditSeed seeds e and an admin token tk1, as actor "seed".
func auditSeed(e *env) context.Context {
	e.t.Helper()
	ctx := audit.WithActor(e.ctx, audit.Actor{Kind: audit.KindAPIToken, ID: "seed"})
	e.ctx = ctx
	e.seed()
	require.NoError(e.t, e.s.CreateToken(ctx, store.Token{ID: "tk1", Name: "Admin", Role: store.RoleAdmin, CreatedMs: base().UnixMilli()}, store.NewSecret("swct_")))
	return ctx
}

// testAuditVerbsCovered: every method of store.Store is a known read or
// has a row in the audit table.
func testAuditVerbsCovered(e *env) {
	covered := map[string]bool{}
	for _, c := range auditCases() {
		covered[c.verb] = true
	}
	typ := reflect.TypeOf((*store.Store)(nil)).Elem()
	for i := range typ.NumMethod() {
		m := typ.Method(i).Name
		require.True(e.t, covered[m] || slices.Contains(storeReads, m),
			"store.Store.%s is neither listed as a read (storeReads) nor audited in auditCases: a write must audit (sqlstore/audit.go) and have a case", m)
	}
}

// testAuditEveryWrite: every write verb leaves exactly the audit rows it
// should, with the actor of its context and before/after; the exempt
// ones leave none.
func testAuditEveryWrite(e *env) {
	t, s := e.t, e.s
	auditSeed(e)
	for _, c := range auditCases() {
		actor := actorOf(c.verb)
		ctx := audit.WithActor(context.Background(), actor)
		require.NoError(t, c.run(ctx, s), c.verb)
		page, err := s.ListAudit(ctx, store.AuditFilter{ActorKind: actor.Kind, ActorID: actor.ID})
		require.NoError(t, err)
		if c.exempt != "" {
			require.Empty(t, page.Items, "%s is exempt (%s) and records nothing", c.verb, c.exempt)
			continue
		}
		require.Len(t, page.Items, len(c.want), "%s: audit rows %+v", c.verb, page.Items)
		for i, w := range c.want {
			got := page.Items[i]
			require.Equal(t, actor, got.Actor, c.verb)
			require.Equal(t, w.action, got.Action, c.verb)
			require.Equal(t, w.kind, got.ObjectKind, c.verb)
			require.Equal(t, w.id, got.ObjectID, c.verb)
			require.Equal(t, w.centers, got.Centers, c.verb)
			requireJSON(t, c.verb+" before", w.before, got.Before)
			requireJSON(t, c.verb+" after", w.after, got.After)
			require.False(t, got.At.IsZero(), c.verb)
		}
	}
}

func requireJSON(t require.TestingT, what, fragment string, got json.RawMessage) {
	if fragment == "" {
		require.Nil(t, got, "%s must be null", what)
		return
	}
	require.True(t, json.Valid(got), "%s: %s", what, got)
	require.Contains(t, string(got), fragment, what)
}

// testAuditSecrets: no secret, nor the hash the store keeps of it, is in
// any audit row, after every write verb ran.
func testAuditSecrets(e *env) {
	t, s := e.t, e.s
	auditSeed(e)
	ctx := audit.WithActor(context.Background(), actorOf("secrets"))
	for _, c := range auditCases() {
		require.NoError(t, c.run(ctx, s), c.verb)
	}
	doorSecret, err := s.RotateDoorSecret(ctx, "d1")
	require.NoError(t, err)
	all, err := store.All(ctx, func(p store.PageRequest) (store.Page[audit.Entry], error) {
		return s.ListAudit(ctx, store.AuditFilter{PageRequest: p})
	})
	require.NoError(t, err)
	require.Greater(t, len(all), len(auditCases()))
	b, err := json.Marshal(all)
	require.NoError(t, err)
	for _, secret := range []string{auditTokenSecret, auditEnrollSecret, auditFeedSecret, doorSecret, auditPasswordHash, auditTOTPSecret, auditRecoveryHash, auditAccountSecret} {
		require.NotContains(t, string(b), secret)
		require.NotContains(t, string(b), store.HashSecret(secret))
	}
}

// testAuditAtomic: a write that fails leaves no audit row, and a write
// without an actor is recorded as the system, never skipped.
func testAuditAtomic(e *env) {
	t, s := e.t, e.s
	auditSeed(e)
	ctx := audit.WithActor(context.Background(), actorOf("failing"))
	requireKind(t, s.CreateCenter(ctx, center("c1")), store.ErrExists, "")
	requireKind(t, s.UpdateMember(ctx, domain.Member{ID: "nobody", Name: "X", Status: domain.MemberActive}), store.ErrNotFound, "")
	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "0A0B0C09", MemberID: "m1"}))
	requireKind(t, s.DeleteMember(ctx, "m1"), store.ErrInUse, "")
	page, err := s.ListAudit(ctx, store.AuditFilter{ActorID: actorOf("failing").ID})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, "only the successful write: %+v", page.Items)
	require.Equal(t, audit.Create, page.Items[0].Action)
	require.Equal(t, "0A0B0C09", page.Items[0].ObjectID)

	require.NoError(t, s.CreateCenter(context.Background(), center("c7")))
	require.NoError(t, s.UpdateCenter(audit.WithSystem(context.Background(), "crediting"), center("c7")))
	page, err = s.ListAudit(ctx, store.AuditFilter{ObjectKind: audit.ObjectCenter, ObjectID: "c7"})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, audit.System("crediting"), page.Items[0].Actor)
	require.Equal(t, audit.System(audit.Unattributed), page.Items[1].Actor)
}

// testAuditFilters: a center's rows are exactly those that concern it
// (another center's are invisible); filters by actor, object, action and
// time; pages newest first.
func testAuditFilters(e *env) {
	t, s := e.t, e.s
	auditSeed(e)
	ctx := audit.WithActor(context.Background(), actorOf("filters"))
	// m1 moves from c1 to c2: both centers see it.
	require.NoError(t, s.UpdateMember(ctx, domain.Member{ID: "m1", Name: "Ann", HomeCenterID: "c2", Status: domain.MemberActive}))
	all, err := store.All(ctx, func(p store.PageRequest) (store.Page[audit.Entry], error) {
		return s.ListAudit(ctx, store.AuditFilter{PageRequest: p})
	})
	require.NoError(t, err)
	for _, tc := range []struct {
		centers []string
		want    func(audit.Entry) bool
	}{
		{[]string{"c1"}, func(x audit.Entry) bool { return slices.Contains(x.Centers, "c1") }},
		{[]string{"c2"}, func(x audit.Entry) bool { return slices.Contains(x.Centers, "c2") }},
		{[]string{""}, func(x audit.Entry) bool { return slices.Contains(x.Centers, "") }},
		{[]string{"c1", "c2"}, func(x audit.Entry) bool { return slices.Contains(x.Centers, "c1") || slices.Contains(x.Centers, "c2") }},
		{[]string{}, func(audit.Entry) bool { return false }},
	} {
		got, err := store.All(ctx, func(p store.PageRequest) (store.Page[audit.Entry], error) {
			return s.ListAudit(ctx, store.AuditFilter{CenterIDs: tc.centers, PageRequest: p})
		})
		require.NoError(t, err)
		want := []audit.Entry{}
		for _, x := range all {
			if tc.want(x) {
				want = append(want, x)
			}
		}
		require.Equal(t, len(want), len(got), "centers %q", tc.centers)
		if len(want) > 0 {
			require.Equal(t, want, got, "centers %q", tc.centers)
		}
	}
	c1, err := s.ListAudit(ctx, store.AuditFilter{CenterIDs: []string{"c1"}, ObjectKind: audit.ObjectMember})
	require.NoError(t, err)
	ids := []string{}
	for _, x := range c1.Items {
		ids = append(ids, x.ObjectID)
	}
	require.Equal(t, []string{"m1", "m1"}, ids, "c1 sees m1's creation and its move away, not m2 (of c2) nor n1 (nomadic)")

	page, err := s.ListAudit(ctx, store.AuditFilter{Action: audit.Update})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, "m1", page.Items[0].ObjectID)

	// Paging: newest first, every row once.
	var paged []audit.Entry
	p := store.PageRequest{Limit: 3}
	for {
		page, err := s.ListAudit(ctx, store.AuditFilter{PageRequest: p})
		require.NoError(t, err)
		paged = append(paged, page.Items...)
		if page.Next == "" {
			break
		}
		p.After = page.Next
	}
	require.Equal(t, all, paged)
	for i := 1; i < len(paged); i++ {
		require.Greater(t, paged[i-1].ID, paged[i].ID)
	}
	_, err = s.ListAudit(ctx, store.AuditFilter{PageRequest: store.PageRequest{After: "x"}})
	requireKind(t, err, domain.ErrValidation, "after")

	// Time: every row is at or after the seed's start; none before.
	at := all[0].At
	page, err = s.ListAudit(ctx, store.AuditFilter{To: at.Add(-time.Hour)})
	require.NoError(t, err)
	require.Empty(t, page.Items)
	page, err = s.ListAudit(ctx, store.AuditFilter{From: at, To: at.Add(time.Millisecond), ActorID: actorOf("filters").ID})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
}
