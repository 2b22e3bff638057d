// Package desfire is the host (reader) side of the AES secure messaging of NXP
// MIFARE DESFire EV2/EV3 and NTAG 424 DNA: AuthenticateEV2First/NonFirst with
// AES-128, the session keys, command counter and transaction identifier, the
// three communication modes (plain, MAC, full encryption), the ISO 7816-4
// wrapping of native commands, the card's status codes as typed errors, the
// commands a door and a personalisation station need, and the AN10922 key
// diversification the network's badges use.
//
// It speaks to a card through a Transceiver (one APDU in, one response out,
// status bytes included), which the reader's ISO 14443-4 layer provides; the
// random numbers come from an io.Reader given by the caller (crypto/rand in
// production, a fixed stream in tests that replay NXP's worked examples).
// Package desfiresim is the card side of the same protocol, for tests and the
// reader simulator.
//
// # Key custody and threat model
//
// The network has one card master key per key version. It lives in the central
// (and, for personalisation, in the technician's station while it runs); it is
// never sent to a door. Every key written to a card is diversified from it with
// AN10922 (AES-128 CMAC of 0x01 ‖ UID ‖ AID ‖ key number ‖ system identifier,
// see DiversifyAES128 and CardKey), so each card holds keys of its own:
//
//   - key 0, the application master key, changes keys and settings. Doors never
//     hold it; only the central and the personalisation station derive it.
//   - key 1, the door key, is what a door authenticates a badge with and (on
//     NTAG 424 DNA) reads the SDM read counter with. The central sends a door,
//     in its whitelist, only the door key of each badge listed at that door.
//   - keys 2 to 4 (NTAG 424 DNA) are set to diversified values too, so no
//     factory-zero key is left on a personalised card.
//
// A door therefore authenticates every badge it lists while offline, and a stolen
// SD card of one door yields the door keys of the badges listed at that door and
// nothing else: not the master key, not the door key of any other badge, not any
// badge's application master key. Whoever holds it cannot re-key, re-personalise
// or make working copies of badges that have no right at that door.
//
// Personalisation (a technician's station, from the factory state):
//
//   - NTAG 424 DNA: SelectNTAG424Application, AuthenticateEV2First with the
//     factory key 0 (zero), ChangeFileSettings of the NDEF file with
//     NTAG424SDMCounterSettings(KeyDoor), ChangeKey of keys 1 to 4 (another key:
//     the old value is needed, a wrong one is refused with ErrIntegrity and
//     changes nothing), and ChangeKey of key 0 last (it ends the session).
//   - DESFire EV2/EV3: SelectApplication(PICC), CreateApplication with two AES
//     keys, SelectApplication, AuthenticateEV2First with key 0 (zero), ChangeKey
//     of key 1, then of key 0, then ChangeKeySettings to forbid free creation.
//
// Key 0 is changed last, so a card pulled away mid-way still opens with its
// factory key 0 and the next attempt rolls forward (keys already changed are
// recognised by the ErrIntegrity of a ChangeKey that assumed the factory value);
// a card whose key 0 opens with neither the factory nor the network's key
// belongs to someone else and is refused.
//
// At the door (NTAG 424 DNA): SelectNTAG424Application, ReadData of the NDEF
// file's first bytes unauthenticated (the card increments its SDM read counter
// on the first unauthenticated read after another command, never when
// authenticated), AuthenticateEV2First(KeyDoor, the badge's door key), then
// GetFileCounters(NTAG424NDEFFile) in full mode: the counter is authenticated and
// must grow from one tap to the next. DESFire: SelectApplication and
// AuthenticateEV2First(KeyDoor, ...). IsAuthFailure tells a card that failed to
// prove the key (suspected clone) from a transport error.
//
// Key versions. The card's key version byte records the master key version its
// keys come from. A new master key version is rolled out by re-keying cards
// (ChangeKey under the old application master key, which the central or a
// technician's station derives): at a technician's station, or at the badge's next
// tap when the central instructs that door to do it (the central then sends that
// door the keys needed for that one change, not the master key). Until a cut-off
// date the whitelist may carry both versions' door keys for a badge; after it the
// old version is refused.
//
// What this does not protect against:
//   - a clone made with a door key taken from a stolen door works at every door
//     where that badge is listed (the door key is per badge, not per door) until
//     the badge is revoked or re-keyed; a replay of a recorded exchange does not
//     work (each authentication uses fresh RndA and RndB), and the NTAG 424 DNA
//     read counter lets the central spot a card whose counter goes backwards;
//   - relay attacks (a live card relayed to a distant reader) are not detected:
//     the protocol has no distance bounding;
//   - theft of the central's database or of a personalisation station while it
//     holds the master key compromises every badge of that key version: rotate;
//   - DESFire cards keep the PICC master key they shipped with (a 2K3DES key,
//     which AuthenticateEV2First cannot use): the network's application is
//     protected by its own AES keys, but whoever has the card may format it.
//   - a badge whose door key leaks for any reason works wherever it is listed:
//     revocation (removal from the whitelists) is the answer, re-keying the next.
package desfire
