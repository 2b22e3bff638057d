// Package credit turns door taps into the hours the cooperative pays each
// center for (PRODUCT.md 4.6): visits, credits per center and period,
// settlements and member statements, computed from scratch (Compute) or
// kept up to date as events arrive (Ledger over a Store).
//
// # Inputs
//
// The reference data is a Directory built from central/domain centers,
// doors, members, bookings and passes; events are domain.Event. Only taps
// matter. A granted tap at a door not marked Exit (entrance or room door) is
// an entry of its member at the door's center. A tap at a door marked Exit
// is an exit, granted or denied (a denied exit tap still shows the member
// leaving). Everything else is counted (see the Count* keys) and never
// silently dropped: invalid events, unknown doors or members, taps without a
// member, denied taps at entrance doors, other door events, duplicates, and
// taps whose clock cannot be used.
//
// # Time of a tap
//
// A tap happened at its door time (TimeMs) when the door's clock was
// trusted. A door time later than the central's receipt by more than
// Config.MaxClockAhead (default 5 min) is impossible; such taps are
// excluded and counted as clock_ahead. For a tap recorded with an untrusted
// clock, the default policy (UntrustedCorroborated) uses the door time only
// when the central received the tap within Config.UntrustedMaxDelay (default
// 15 min) after it, so that the central's clock vouches for the door's; the
// visits it shapes are flagged untrusted_clock and the tap is counted as
// untrusted_clock_used. Otherwise, and always under UntrustedExclude, the
// tap is excluded and counted as untrusted_clock_excluded. The received time
// is never used as the time of a tap: a tap delivered after days offline
// would land on the wrong day.
//
// # Visits
//
// Attended booking: a confirmed (or released, issue 15) booking is cut at its center's local
// midnights and credited day by day. A day of it is attended when an entry
// of its member at its center (any door, room doors included) falls in
// [s − Grace, e), where [s, e) is the booking's part of that day and Grace
// (default 15 min) applies before the booking's own start only; on the
// first day an earlier entry that still keeps the member inside at
// start − Grace attends too. An attended day is credited for its booked
// part clipped to the center's opening hours that day; the booked time
// outside them is recorded with why closed. Overnight stay: at a center
// open through midnight, the day after an attended day (attended by its
// own entry) is credited from midnight up to the center's first closing
// and at most 24 h after that day's last such entry, without carrying on
// further. So one tap credits at most about a day, whatever the booking's
// length (see bookingdays.go). A day not attended is a no-show day: under
// NoShowZero (default) it is recorded with why no_show and credited
// nothing; under NoShowBooked it is credited as booked (clipped to the
// opening hours) and flagged no_show.
//
// Who booked: a booking records its creator (domain.BookingCreator). The
// credited minutes that bookings made by the host center's own staff
// cover are shown per visit and per center line (OwnStaffBookingMinutes),
// since those are hours a center credits to itself.
//
// Walk-in on a pass: every entry covered by a pass of the member (valid at
// the entry, covering the center) starts a walk-in. It ends at the member's
// first exit tap at that center after the entry and before the end of that
// local day, else after Config.DefaultVisit (default 4 h); it is then capped
// at the center's closing time that day (the close of the day's last opening
// span, center local time), at local midnight, and at the member's next
// entry at another center (someone who enters elsewhere has left). Entries
// before opening count from the entry. An entry after closing or on a
// closed day is recorded with why closed and credits nothing. An entry
// without a pass that attends a booking is the booking's evidence and
// nothing more; an entry with neither is recorded, not credited, with why
// no_booking_or_pass (staff for granted_staff taps). An entry with a pass
// inside a booking starts a walk-in too: the member may stay past the
// booking, and merging keeps the overlap from counting twice.
//
// An exit tap with no entry of the member at that center earlier the same
// local day is counted as exit_without_entry; it attends no booking.
//
// Merging and rounding: the credited intervals of one member at one center
// are split at period boundaries, then overlapping or touching intervals are
// merged into one visit (sources booking, walk_in or booking_and_walk_in).
// Each visit is rounded up to the quarter hour, once: CreditedMinutes =
// ceil(exact duration / 15 min) × 15. Records that are not credited are
// merged among themselves by reason, apart from the credited ones.
//
// Who counts: a nomadic member's visit (no home center) is credited to the
// host center, class nomadic. A local member's visit at another center is
// credited to the host, class cross_center, and the member's home center is
// invoiced for it. A local member's visit at their own center is recorded,
// class home, why home_center, and credited nothing.
//
// # The bound that the property tests check
//
// Presence of a member at a center is the union of: the booked interval of
// every booking with an attended day (and, under NoShowBooked, of every
// confirmed booking), and for every entry the interval from the entry to the member's
// first exit tap at that center after it, or to the entry plus DefaultVisit
// when there is none. Credited visits of one member at one center are
// pairwise disjoint and each lies within presence, so their exact minutes
// sum to at most the minutes of the union of presence. Rounding adds less
// than 15 minutes per visit: each visit's credited minutes are its exact
// duration rounded up to the quarter hour, so the member's credited minutes
// at a center are at most the union of presence plus 15 minutes per visit
// (strictly less than, when the union is not empty). Besides, a credited
// visit made of bookings alone lies within the center's opening hours, and
// each local day it touches has an entry of the member there that day or
// the day before (unless the no-show policy credits bookings as booked).
//
// # Periods
//
// Periods are calendar months in Config.Location (Europe/Brussels by
// default); a visit belongs to the period in which it starts, and intervals
// crossing a month boundary are split at it. Durations are exact (Unix
// milliseconds), so nights of 23 or 25 hours count as they were. Counts of
// taps used (entries, exits, untrusted_clock_used, exit_without_entry)
// belong to the period of the tap's time; counts of events set aside, of
// whatever kind, to the period in which the central received them (their
// own time may be what is wrong with them).
//
// A period closes once ended, in order (the first close needs no results in
// earlier periods). Closing rebuilds the period from the stored events and
// freezes its settlement (rates included) and its members' results: they
// never change again. Events that arrive later for a closed period are
// credited to it in a recomputation whose difference with what was frozen
// (and with adjustments already booked in closed periods) becomes adjustment
// lines booked in the first open period, tagged with the period they belong
// to and priced at the rate frozen for it.
//
// # Amounts
//
// Rates are integer cents per hour: the center's RateCents, else
// Config.DefaultRateCents. Amounts follow RoundingRule: minutes × rate / 60
// rounded to the nearest cent, halves away from zero, once per settlement
// line (a center's nomadic hours; each host and home pair of cross-center
// hours; each adjustment line), never per visit. A center's cross-center
// amount is the sum of its pair lines, so what hosts are paid for
// cross-center hours equals what home centers are invoiced, to the cent.
//
// # Outputs
//
// Settlement (per center: nomadic and cross-center minutes, rate, amounts,
// adjustments, invoice to the home center, minutes from own-staff
// bookings) and Statement (a member's visits
// per center and adjustments) are plain structs with JSON tags and a
// WriteCSV method (encoding/csv); Write picks the format by name, so the
// API's GET /api/v1/settlements/{period}, GET
// /api/v1/members/{id}/statement?period= and POST
// /api/v1/periods/{period}/close, and the command swc-central settle, stay
// thin. Settlement.ForCenter filters what a center manager may see.
//
// # Incremental state
//
// A Ledger keeps results per member and period, adjustment lines and
// frozen settlements in a Store (see Store for what to persist; MemStore is
// the in-memory one; credittest checks other implementations). The central
// calls Update after committing events, Changed after committing a booking
// or pass change, Rebuild for an open period after a change of members,
// doors, centers or rates, and Close to freeze a period. A computation from
// scratch (the command line, audits) calls Compute over the events of
// EventWindow.
package credit
