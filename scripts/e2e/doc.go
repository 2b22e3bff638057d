// Package e2e holds the end-to-end tests of the door network: real
// swc-central and swc-edge processes (built once per run), real brokers (the
// embedded mochi broker and a Mosquitto the tests start), SQLite and
// PostgreSQL, and TCP proxies that cut and stall the doors' links. They prove
// the delivery contract of shared/protocol under faults: every event stored
// exactly once, every whitelist change delivered, every event credited once
// in the hours ledger (also when the crediting leader dies).
package e2e
