// Package whitelist compiles, for every door, the signed and versioned list of
// badges that may open it (PRODUCT.md 4.1 and 4.5), keeps it up to date
// incrementally as domain objects change, and answers the doors' sync requests
// with signed deltas or snapshot parts ready to publish.
//
// # Who is listed at a door
//
// A member has a right at a door of center C when, at the compiler's current
// time now and within the horizon [now, now+Horizon] (default 14 days):
//
//   - the member is staff of C or of the whole network: a staff grant
//     (unbounded), at every door of C, entrance or room;
//   - the door is an entrance (Door.RoomID empty) and a pass of the member
//     covers C and is valid at some time in the horizon: a pass grant
//     [ValidFrom, ValidUntil). Passes do not open room doors: PRODUCT.md 4.1
//     asks a booking of that room at a room door, and staff always;
//   - a confirmed booking of the member at C (a desk or any room of C) overlaps
//     the horizon: a booking grant [Start, End) carrying the booking's Room.
//     Room doors get the bookings of every room of C (and desk bookings, with
//     an empty Room) so that the door can tell denied_wrong_room from
//     denied_unknown_badge; the door grants only a booking whose Room equals
//     the whitelist's Room. The door applies its own grace before Start.
//
// Every badge of a member with at least one right at the door is listed, with
// the member's grants. A badge of a member without any right at the door is
// not listed, so that door answers denied_unknown_badge for it: listing every
// badge of the network at every door would cost size at every door for the
// sake of a nicer reason code. A member with a right that is not open now
// (a booking tomorrow) gets denied_no_booking or denied_outside_window.
//
// A revoked badge, and every badge of a suspended member, is listed with
// Revoked set and no grants, at every door where the member would otherwise
// have a right, so that the door answers denied_revoked and cannot grant it
// even with a bug in its decision. Once the member's rights at that door end,
// the revoked badge leaves the list like any other. A badge whose member is
// not known (deleted) is not listed.
//
// At most protocol.MaxGrantsPerEntry grants travel per badge: staff first,
// then passes, then the bookings of the door's own room, then other bookings,
// each by start time. Grants cut off this way (a member with more than 64
// bookings in 14 days at one center) are logged and counted, and come in as
// the earlier ones expire.
//
// # Audiences
//
// Doors that list the same entries share one compiled list, their audience:
// the entrances of a center (Door.RoomID empty; an exit door is an entrance:
// its name and exit flag are nothing a whitelist carries), and the doors of
// one room. The compiler computes each audience once, at start and on every
// change, and an audience holds its own in-memory version line with a log
// of its steps. An entry equal in several audiences (a network staff member
// or a network pass at every entrance) is one shared value.
//
// A door holds no entries: a reference to its audience, the audience
// version it publishes, and runs that map its recent door versions to
// audience versions (a few hundred bytes). A change touches the members it
// concerns in the audiences it concerns; each audience whose content
// changed makes one step, and then each of its doors gets its next version.
// A delta for a door from version v is the audience's merged steps from the
// audience version of v to the door's, under the door's own header (door,
// base, version, center, room), so what a door receives is exactly what a
// door with its own copy of the list would receive. A door moved to another
// center or room joins that audience with a new version and a snapshot (its
// header changed).
//
// # Door settings in the header
//
// Besides door, versions, center and room, every message of a door (deltas
// included) carries two settings, and a change of either is a new version
// of each door it concerns (a heartbeat: no entry changes): its center's
// require_secure_credentials policy (a center change), and the network's
// held-open threshold (held_open_s, settings alerts.held_open_seconds of
// the settings version in force, read through Config.NetworkSettings at
// start, after a settings change and when a new settings period begins),
// which reaches every door. Both are part of the saved hash only when set.
//
// # Versions, hashes and persistence
//
// Each door has a version that increases by one with every change of its
// content. The version, a hash of the content and the issue time are saved
// through the States interface before anything of that version can be
// published, so a version number is never reused for other content. The hash
// is order independent (a sum of per-entry SHA-256 digests plus the door's
// center and room), so a one-entry change updates it in constant time; it
// is computed once per audience version. On start, a door whose saved hash
// equals its audience's keeps its version; any other door gets the saved
// version plus one. When States is a BatchStates (the store is), the doors
// one change reaches and those a start moves on are saved in batches, one
// transaction each, rather than one transaction per door. At start the
// audiences are compiled on every CPU but one (left to the ingest, which
// stores events meanwhile), a run of whole centers each.
// A door whose save fails keeps publishing the audience
// version it last saved (rebuilt from the audience's log, which keeps the
// steps such a door needs) and is retried on the next Apply, Tick or
// ForSync.
//
// Snapshots carry the door's id and version, so they are signed per door,
// when asked for (ForSync), and not kept: a door keeps only the issue time
// of its last snapshot, and a request for the same version within
// SnapshotMaxAge is signed again with it (Ed25519 is deterministic: the
// same bytes).
//
// # Time
//
// The compiler has its own notion of now: the time given to New, moved
// forward by Tick. The central calls Tick about once a minute; bookings and
// passes then enter the horizon or leave the lists as they end, and the
// compiler issues an empty delta (a heartbeat) for every door whose last
// version is older than Refresh (default 24 h), so a door that sees no change
// still holds a whitelist younger than its max_whitelist_age (7 days by
// default). Messages are issued at now and expire Expiry later (default
// 7 days, the edge's default max_whitelist_age: an older message could not
// be used anyway).
//
// # Distribution
//
// ForSync answers a door that holds version from: nothing when it is up to
// date, a single signed delta merged from the in-memory log when the log
// reaches back to from, otherwise (from 0, too old, unknown after a restart,
// or a merged delta that does not fit one message) the snapshot parts of the
// current version. A door that reports a version above the central's (the
// central's database was restored from a backup) moves the central's version
// past it, so the door accepts what follows.
//
// Watch gives the publisher a Watcher that coalesces new versions per door
// ("door X has version N since base B"); Apply never waits for it.
package whitelist
