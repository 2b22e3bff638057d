package main

import "math"

// Module is the import path the package paths of the checks are relative to.
const Module = "github.com/smartworkcenters/swc"

// cmp is how a measured value is judged against its limit.
type cmp int

const (
	info cmp = iota // shown beside the target, not judged (an anchor re-measured, a part of the figure)
	atMost
	atLeast
)

// check is one line of a figure's table: a value one benchmark reports,
// judged against the figure's target, or a reason why nothing measures it.
type check struct {
	Label  string
	Pkg    string // relative to Module
	Bench  string // full name without the -GOMAXPROCS suffix
	Unit   string // the unit the benchmark reports the value in
	Cmp    cmp
	Limit  float64 // in Unit, after Scale
	Scale  float64 // multiplies the value before it is judged and shown; 0 means 1
	Shown  string  // the unit shown after Scale; "" means Unit
	Target string  // the line's target in words; "" for context lines
	Anchor string  // the part of the figure's anchor this line sits beside

	// NotMeasured, when set, says why no benchmark measures this line.
	NotMeasured string
}

// figure is one row of PRODUCT.md section 5 ("Targets"): its three
// columns copied as written, and the lines that measure it. The fleet row
// is judged from the fleet scenario instead of checks.
type figure struct {
	Name   string
	Target string
	Anchor string
	Checks []check
	Fleet  bool
}

// mibToMB turns MiB into MB (PRODUCT.md states the edge's memory in MB).
const mibToMB = 1 << 20 / 1e6

// samePowerOfTen is the lowest rate that is "the same order" as the
// 100,000 events/s of SQLite: half a decade below it, the lowest value that
// still rounds to 10^5 on a logarithmic scale.
var samePowerOfTen = math.Round(100_000 / math.Sqrt(10))

// Figures are PRODUCT.md section 5, copied (the report's targets and
// anchors come from here, never from the run).
var Figures = []figure{
	{
		Name:   "SPI transactions to read a 4-byte / 7-byte UID (MFRC522)",
		Target: "≤ 24 / ≤ 40",
		Anchor: "periph devices/v3 mfrc522: 113 and 136 (7-byte left unselected); Arduino MFRC522 library: 66 / 112",
		Checks: []check{
			{Label: "4-byte UID, this driver", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkReadUID/4byte/swc/at-once", Unit: "spi-tx/op", Cmp: atMost, Limit: 24, Target: "≤ 24", Anchor: "periph 113; Arduino 66"},
			{Label: "7-byte UID, this driver", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkReadUID/7byte/swc/at-once", Unit: "spi-tx/op", Cmp: atMost, Limit: 40, Target: "≤ 40", Anchor: "periph 136; Arduino 112"},
			{Label: "4-byte UID, periph devices/v3 mfrc522 on the same simulator", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkReadUID/4byte/periph/at-once", Unit: "spi-tx/op", Anchor: "periph 113"},
			{Label: "7-byte UID, periph devices/v3 mfrc522 on the same simulator (card left unselected)", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkReadUID/7byte/periph/at-once", Unit: "spi-tx/op", Anchor: "periph 136"},
			{Label: "10-byte UID, this driver (periph cannot read it)", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkReadUID/10byte/swc/at-once", Unit: "spi-tx/op"},
			{Label: "Arduino MFRC522 library", Anchor: "66 / 112", NotMeasured: "no benchmark runs the Arduino library (C++ for microcontrollers); its counts are quoted from PRODUCT.md"},
		},
	},
	{
		Name:   "whitelist lookup + decision, 100k badges",
		Target: "≤ 5 µs mean",
		Anchor: "bbolt get ≈ 1.3 µs p50 here",
		Checks: []check{
			{Label: "lookup and decision on a whitelist of 100k badges (read transaction, get, decode, rules), UID-only badge", Pkg: "edge/store", Bench: "BenchmarkDecide/uid_only", Unit: "µs/decision", Cmp: atMost, Limit: 5, Target: "≤ 5 µs mean"},
			{Label: "the same for a secure badge (entry with card type and door keys; the card's authentication is not in this figure)", Pkg: "edge/store", Bench: "BenchmarkDecide/secure", Unit: "µs/decision", Cmp: atMost, Limit: 5, Target: "≤ 5 µs mean"},
			{Label: "the rules alone, one badge with three grants", Pkg: "edge/decide", Bench: "BenchmarkPolicyDecide", Unit: "ns/op"},
			{Label: "bare bbolt get", Anchor: "≈ 1.3 µs p50", NotMeasured: "no benchmark times a bare bbolt get"},
		},
	},
	{
		Name:   "tap recorded durably (decision + fsynced append)",
		Target: "≤ 2× one bare bbolt fsynced put",
		Anchor: "bare put ≈ 0.85 ms p50 here",
		Checks: []check{
			{Label: "tap mean / bare put mean, alternated in the same run", Pkg: "edge/store", Bench: "BenchmarkTap", Unit: "tap/put", Cmp: atMost, Limit: 2, Shown: "×", Target: "≤ 2×"},
			{Label: "tap, mean", Pkg: "edge/store", Bench: "BenchmarkTap", Unit: "tap-µs", Shown: "µs"},
			{Label: "tap, p50", Pkg: "edge/store", Bench: "BenchmarkTap", Unit: "tap-p50-µs", Shown: "µs"},
			{Label: "bare fsynced bbolt put, mean", Pkg: "edge/store", Bench: "BenchmarkTap", Unit: "bare-put-µs", Shown: "µs"},
			{Label: "bare fsynced bbolt put, p50", Pkg: "edge/store", Bench: "BenchmarkTap", Unit: "bare-put-p50-µs", Shown: "µs", Anchor: "≈ 850 µs p50"},
		},
	},
	{
		Name:   "full whitelist snapshot of 100k badges applied",
		Target: "≤ 2 s",
		Anchor: "naive bbolt insert of 100k ≈ 0.9 s here",
		Checks: []check{
			{Label: "signed snapshot received: verified, decoded, staged, applied (edge agent)", Pkg: "edge/agent", Bench: "BenchmarkReceiveSnapshot", Unit: "s/snapshot", Cmp: atMost, Limit: 2, Shown: "s", Target: "≤ 2 s"},
			{Label: "verified parts staged and applied (edge store, one fsynced transaction per part)", Pkg: "edge/store", Bench: "BenchmarkApplySnapshot", Unit: "s/snapshot", Cmp: atMost, Limit: 2, Shown: "s", Target: "≤ 2 s"},
			{Label: "naive bbolt insert of 100k", Anchor: "≈ 0.9 s", NotMeasured: "no benchmark times a naive bbolt insert of 100k"},
		},
	},
	{
		Name:   "central ingest, events persisted and acknowledged end to end",
		Target: "≥ 100,000 events/s through the embedded broker into SQLite, batched; the same order into PostgreSQL",
		Anchor: "one paho QoS 1 publisher to one subscriber moves ≈ 12k msg/s through Mosquitto and ≈ 15k through mochi here; modernc SQLite takes ≈ 350k rows/s in 100-row inserts here, ≈ 20k/s one row at a time",
		Checks: []check{
			{Label: "doors' backlogs through the embedded broker into SQLite, first publish to last ack", Pkg: "central/server", Bench: "BenchmarkIngestEndToEnd/sqlite", Unit: "events/s", Cmp: atLeast, Limit: 100_000, Target: "≥ 100,000 events/s"},
			{Label: "the same into PostgreSQL", Pkg: "central/server", Bench: "BenchmarkIngestEndToEnd/postgres", Unit: "events/s", Cmp: atLeast, Limit: samePowerOfTen,
				Target: "the same order: ≥ 31,623 events/s (read as: rounds to 10^5 on a log scale, i.e. within √10 of 100,000)"},
			{Label: "one QoS 1 publisher to one subscriber through the embedded broker (mochi), in the same run, with one event batch as payload (its size: batch-bytes in the appendix)", Pkg: "central/server", Bench: "BenchmarkIngestEndToEnd/sqlite", Unit: "raw-broker-msgs/s", Shown: "msg/s", Anchor: "≈ 15k msg/s through mochi"},
			{Label: "one QoS 1 publisher through Mosquitto", Anchor: "≈ 12k msg/s through Mosquitto", NotMeasured: "no benchmark publishes through Mosquitto"},
			{Label: "SQLite store alone: several doors' batches per transaction, taps spread over many members", Pkg: "central/store/sqlite", Bench: "BenchmarkAppendBatchesMembers", Unit: "events/s", Anchor: "≈ 350k rows/s in 100-row inserts"},
			{Label: "SQLite store alone: one batch per transaction (batch=100), synchronous FULL", Pkg: "central/store/sqlite", Bench: "BenchmarkAppendEvents/sync=FULL/batch=100", Unit: "events/s", Anchor: "≈ 350k rows/s in 100-row inserts"},
			{Label: "PostgreSQL store alone: several doors' batches per transaction, taps spread over many members", Pkg: "central/store/postgres", Bench: "BenchmarkAppendBatchesMembers", Unit: "events/s"},
			{Label: "SQLite commits of the month network's taps with the hours crediting hooked in", Pkg: "central/posting", Bench: "BenchmarkIngestWithCrediting/hook=on", Unit: "events/s"},
			{Label: "… and credited, until the crediting caught up", Pkg: "central/posting", Bench: "BenchmarkIngestWithCrediting/hook=on", Unit: "credited-events/s", Shown: "events/s"},
		},
	},
	{
		Name:   "fleet, 10,000 doors, 100,000 badges, one machine",
		Target: "central ≤ 1 GB RSS; start-up compile ≤ 3 s; after a broker restart every event credited exactly once within 20 s",
		Anchor: "esp-rfid: QoS 0, dropped offline",
		Fleet:  true,
	},
	{
		Name:   "offline",
		Target: "30 days of events kept and replayed; whitelist ≥ 100k badges",
		Anchor: "Kisi: 1,000 rights, 36 h; esp-rfid: about 1,000 users",
		Checks: []check{
			{Label: "30 days of events kept and replayed: a real swc-edge's outbox holds a tap every 86 s over 30 days across the agent's restart, then replays them; the span between the first and the last as the central stored them (SQLite)",
				Pkg: "scripts/e2e", Bench: "BenchmarkOfflineCatchUp/store=sqlite", Unit: "days-replayed", Cmp: atLeast, Limit: 30, Shown: "days",
				Target: "30 days", Anchor: "Kisi: 36 h"},
			{Label: "badges in the snapshot the central compiles and signs for one door", Pkg: "central/whitelist", Bench: "BenchmarkSnapshot100k", Unit: "entries/op", Shown: "badges", Cmp: atLeast, Limit: 100_000, Target: "≥ 100k badges", Anchor: "Kisi: 1,000 rights; esp-rfid: about 1,000 users"},
			{Label: "the door's bbolt file holding them (edge store)", Pkg: "edge/store", Bench: "BenchmarkApplySnapshot", Unit: "file-MiB", Shown: "MiB"},
		},
	},
	{
		Name:   "availability query, whole network for one day (30 centers, 800 desks, 80 rooms, 100k bookings in the month)",
		Target: "≤ 20 ms; ≤ 50 ms for a week view of one center",
		Anchor: "",
		Checks: []check{
			{Label: "where one can work on a Tuesday 09:00–17:00, every center (SQLite)", Pkg: "central/booking", Bench: "BenchmarkAvailability/network-day", Unit: "ms/query", Cmp: atMost, Limit: 20, Shown: "ms", Target: "≤ 20 ms"},
			{Label: "one center's week view (SQLite)", Pkg: "central/booking", Bench: "BenchmarkAvailability/center-week", Unit: "ms/query", Cmp: atMost, Limit: 50, Shown: "ms", Target: "≤ 50 ms"},
			{Label: "1,000 members book the same Monday at once, 100 desks (SQLite): p99 response", Pkg: "central/booking", Bench: "BenchmarkBookingContention", Unit: "p99-ms", Cmp: atMost, Limit: 500, Shown: "ms", Target: "≤ 500 ms (issue 15)"},
		},
	},
	{
		Name:   "booking made on the site → granted at the door",
		Target: "p99 ≤ 2 s on loopback",
		Anchor: "",
		Checks: []check{
			{Label: "desk booked through the member endpoint → signed delta applied by a real swc-edge (embedded broker, SQLite): median", Pkg: "scripts/e2e", Bench: "BenchmarkBookToDoor", Unit: "p50-s", Cmp: atMost, Limit: 2, Shown: "s", Target: "≤ 2 s (issue 15)"},
			{Label: "… p99", Pkg: "scripts/e2e", Bench: "BenchmarkBookToDoor", Unit: "p99-s", Cmp: atMost, Limit: 2, Shown: "s", Target: "≤ 2 s"},
		},
	},
	{
		Name:   "a door offline for 30 days catches up",
		Target: "30,000 events acknowledged ≤ 10 s, credited ≤ 20 s",
		Anchor: "",
		Checks: []check{
			{Label: "30,000 events in a real swc-edge's outbox → all stored and acknowledged (embedded broker, SQLite)", Pkg: "scripts/e2e", Bench: "BenchmarkOfflineCatchUp/store=sqlite", Unit: "s/acked", Cmp: atMost, Limit: 10, Shown: "s", Target: "≤ 10 s (issue 18)"},
			{Label: "… all credited in the hours ledger", Pkg: "scripts/e2e", Bench: "BenchmarkOfflineCatchUp/store=sqlite", Unit: "s/credited", Cmp: atMost, Limit: 20, Shown: "s", Target: "≤ 20 s (issue 18)"},
			{Label: "… acknowledged, PostgreSQL (the crediting leader posts through the store's cursor)", Pkg: "scripts/e2e", Bench: "BenchmarkOfflineCatchUp/store=postgres", Unit: "s/acked", Cmp: atMost, Limit: 10, Shown: "s", Target: "≤ 10 s"},
			{Label: "… credited, PostgreSQL", Pkg: "scripts/e2e", Bench: "BenchmarkOfflineCatchUp/store=postgres", Unit: "s/credited", Cmp: atMost, Limit: 20, Shown: "s", Target: "≤ 20 s"},
		},
	},
	{
		Name:   "a secure tap: anticollision, RATS, AES authentication, counter read (issue 17)",
		Target: "≤ 150 ms from card in the field to relay command (modelled Pi Zero)",
		Anchor: "UID-only taps keep 20/30 SPI transactions",
		Checks: []check{
			{Label: "NTAG 424 DNA, 7-byte UID, typical card times (assumed: no public per-command timing)", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkSecureTap/ntag424dna/uid7/typical", Unit: "decision-modelled-ms/op", Cmp: atMost, Limit: 150, Shown: "ms", Target: "≤ 150 ms"},
			{Label: "DESFire EV2, 7-byte UID, typical card times (assumed)", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkSecureTap/desfire_ev2/uid7/typical", Unit: "decision-modelled-ms/op", Cmp: atMost, Limit: 150, Shown: "ms", Target: "≤ 150 ms"},
			{Label: "NTAG 424 DNA, 7-byte UID, every command at the card's full frame waiting time (a bound)", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkSecureTap/ntag424dna/uid7/worst", Unit: "decision-modelled-ms/op", Shown: "ms"},
			{Label: "DESFire EV2, 7-byte UID, the same bound", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkSecureTap/desfire_ev2/uid7/worst", Unit: "decision-modelled-ms/op", Shown: "ms"},
			{Label: "SPI transactions of the typical NTAG 424 DNA tap", Pkg: "edge/reader/mfrc522", Bench: "BenchmarkSecureTap/ntag424dna/uid7/typical", Unit: "spi-tx/op"},
		},
	},
	{
		Name:   "whitelists compiled in memory, shared per audience (issue 18)",
		Target: "10,000 doors ≤ 3 s; 100,000 doors over 10,000 centers ≤ 4 GB, ≤ 30 s",
		Anchor: "per-door compile before: 10,000 doors 927 MiB, 6.1 s",
		Checks: []check{
			{Label: "10,000 doors: start-up compile", Pkg: "central/whitelist", Bench: "BenchmarkCompileNetwork/doors=10000", Unit: "s/compile", Cmp: atMost, Limit: 3, Shown: "s", Target: "≤ 3 s"},
			{Label: "… heap in use after it", Pkg: "central/whitelist", Bench: "BenchmarkCompileNetwork/doors=10000", Unit: "MiB"},
			{Label: "100,000 doors: compile", Pkg: "central/whitelist", Bench: "BenchmarkCompileNetwork/doors=100000", Unit: "s/compile", Cmp: atMost, Limit: 30, Shown: "s", Target: "≤ 30 s"},
			{Label: "… heap in use after it", Pkg: "central/whitelist", Bench: "BenchmarkCompileNetwork/doors=100000", Unit: "MiB", Cmp: atMost, Limit: 4096, Target: "≤ 4 GB"},
			{Label: "… CPU time of the compile (one CPU is left to the ingest)", Pkg: "central/whitelist", Bench: "BenchmarkCompileNetwork/doors=100000", Unit: "cpu-s/compile", Shown: "s"},
		},
	},
	{
		Name:   "a region onboarded by bulk import (issue 18)",
		Target: "10,000 doors (1,000 centers, members, badges, passes) ≤ 5 s",
		Anchor: "through the API one object at a time: 32–35 s",
		Checks: []check{
			{Label: "SQLite, one transaction", Pkg: "central/store/sqlite", Bench: "BenchmarkImport/doors=10000", Unit: "s/import", Cmp: atMost, Limit: 5, Shown: "s", Target: "≤ 5 s"},
			{Label: "PostgreSQL, one transaction", Pkg: "central/store/postgres", Bench: "BenchmarkImport/doors=10000", Unit: "s/import", Cmp: atMost, Limit: 5, Shown: "s", Target: "≤ 5 s"},
		},
	},
	{
		Name:   "edge memory",
		Target: "≤ 30 MB resident with 100k badges",
		Anchor: "",
		Checks: []check{
			{Label: "swc-edge run, right after applying the snapshot of 100k badges", Pkg: "edge/cmd/swc-edge", Bench: "BenchmarkAgentRSS", Unit: "MiB-rss-after-applying-100k", Cmp: atMost, Limit: 30, Scale: mibToMB, Shown: "MB", Target: "≤ 30 MB"},
			{Label: "… after taps spread over the whole whitelist", Pkg: "edge/cmd/swc-edge", Bench: "BenchmarkAgentRSS", Unit: "MiB-rss-after-1000-taps", Cmp: atMost, Limit: 30, Scale: mibToMB, Shown: "MB", Target: "≤ 30 MB"},
			{Label: "… restarted, after the same taps", Pkg: "edge/cmd/swc-edge", Bench: "BenchmarkAgentRSS", Unit: "MiB-rss-restarted", Cmp: atMost, Limit: 30, Scale: mibToMB, Shown: "MB", Target: "≤ 30 MB"},
			{Label: "… of which anonymous (heap, stacks)", Pkg: "edge/cmd/swc-edge", Bench: "BenchmarkAgentRSS", Unit: "MiB-anon-restarted", Scale: mibToMB, Shown: "MB"},
			{Label: "… of which file-backed (binary, mapped bbolt file)", Pkg: "edge/cmd/swc-edge", Bench: "BenchmarkAgentRSS", Unit: "MiB-file-restarted", Scale: mibToMB, Shown: "MB"},
		},
	},
}
