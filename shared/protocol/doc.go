// Package protocol is the wire protocol between door agents (swc-edge) and the
// central service (swc-central): MQTT topic names, JSON messages, their strict
// validation, and Ed25519 signing of whitelists and commands.
//
// The full specification, including the delivery contract, is README.md in
// this folder. In short:
//
//   - Topics are <prefix>/door/<door>/<kind> (default prefix "swc/v1"). Doors
//     publish events, sync and status (retained, with an "offline" last will);
//     the central publishes ack, whitelist and commands. A door may touch only
//     its own topics (DoorMayPublish, DoorMaySubscribe).
//   - Every message is one JSON object with "v":1, at most MaxMessageSize bytes,
//     decoded strictly: unknown fields, wrong types, trailing data and
//     out-of-range values are errors of type *Error naming the field.
//   - Whitelists and commands travel in a signed envelope
//     {"v":1,"type":…,"key":…,"sig":…,"body":{…}} whose Ed25519 signature covers
//     the body's exact bytes (never a re-encoding) together with the type. A
//     door verifies before it parses the body, then checks expiry, the door id,
//     and that the version is newer (and, for a delta, that it starts at the
//     door's current version).
package protocol
