package web

import "github.com/smartworkcenters/swc/central/booking"

// siteErrorCodes are the booking service's refusal codes the booking site
// shows (site.error.<code>).
func siteErrorCodes() []string {
	return []string{booking.CodeInvalid, booking.CodeUnknownCenter, booking.CodeUnknownRoom, booking.CodeUnknownMember,
		booking.CodeUnknownBooking, booking.CodeMemberSuspended, booking.CodeInPast, booking.CodeTooFarAhead, booking.CodeTooShort,
		booking.CodeTooLong, booking.CodeClosed, booking.CodeTooManyOpen, booking.CodeNomadsNoRooms, booking.CodeRoomTooSmall,
		booking.CodeNoDesks, booking.CodeRoomTaken, booking.CodeNoDeskPool, booking.CodeDeadlinePassed, booking.CodeAlreadyCancelled,
		booking.CodeStarted}
}

// siteFields are the fields a refusal names (site.field.<field>).
func siteFields() []string {
	return []string{"date", "start", "end", "from", "to", "people", "kind", "center_id", "room_id", "member_id", "id", "count", "every_weeks"}
}
