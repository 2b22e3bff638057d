// Package agent is the door agent: it runs the reader loop (one tap per
// presentation), decides and records each tap in one store transaction,
// drives the relay and the feedback, records door and reader events, keeps
// the door's clock trust (PRODUCT.md 4.4), and serves /healthz, /metrics and
// a small local API on a loopback HTTP listener.
//
// The agent is also the host of one more component started from the
// configuration (the MQTT sync, from an [mqtt] section): see Component and
// Host, which give that component everything it needs: the outbox in seq
// order and the cumulative ack, verified whitelist intake, the trusted
// clock, remote commands executed at most once through the door controller,
// and the door's status.
//
// Where signatures are checked: whitelist and command messages are verified
// with protocol.KeyRing (the pinned central keys of [whitelist] keys) before
// anything reaches the store, by ReceiveWhitelist and ReceiveCommand here
// (which the sync and `swc-edge whitelist load` both use), with expiry
// judged against the door's trusted time. The store validates the body again
// and re-checks door, version order and delta base inside the transaction
// that applies it.
//
// The agent never opens hardware: cmd/swc-edge's wiring passes it the door
// controller, the reader and, for simulated hardware, the SimControls.
package agent
