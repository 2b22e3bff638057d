// Package fleetreport is what the fleet simulator (scripts/fleet) reports
// of a run, as one JSON object with --json, and what the benchmark report
// (scripts/bench) reads: the contract between the two programs.
package fleetreport

// Report is the figures of one fleet run. Times after the restart are 0
// when the run had no restart or did not get that far; Error is set when a
// check failed.
type Report struct {
	Doors int `json:"doors"`
	// Members is how many members hold a booking (some a pass too): the
	// fleet's --members, whose badges the taps present. Badges is how many
	// badges the central holds, one per member: those, and above Members
	// the badges of members with neither booking nor pass, on no door's
	// list (the fleet's --badges). Both are 0 in the reports of fleets
	// older than them.
	Members               int      `json:"members"`
	Badges                int      `json:"badges"`
	Broker                string   `json:"broker"`
	Profile               string   `json:"profile"`
	Faults                []string `json:"faults"`
	EventsRecorded        uint64   `json:"events_recorded"`
	EventsStored          uint64   `json:"events_stored"`
	Duplicates            uint64   `json:"duplicates"`
	Missing               uint64   `json:"missing"`
	ExactlyOnce           bool     `json:"exactly_once"`
	Credited              bool     `json:"credited"`
	CreditDetail          string   `json:"credit_detail"`
	StoredAfterRestartS   float64  `json:"stored_after_restart_s"`
	CreditedAfterRestartS float64  `json:"credited_after_restart_s"`
	EventsPerS            float64  `json:"events_per_s"`
	CentralRSSMiB         float64  `json:"central_rss_mib"`
	CentralPeakRSSMiB     float64  `json:"central_peak_rss_mib"`
	CentralCPUCores       float64  `json:"central_cpu_cores"`
	FleetRSSMiB           float64  `json:"fleet_rss_mib"`
	DurationS             float64  `json:"duration_s"`
	Error                 string   `json:"error"`
	// SeedS is how long seeding the network into the central took (by
	// bulk import unless the fleet ran with --seed-via api).
	SeedS float64 `json:"seed_s"`
	// StartupCompileS is how long the central's last start took to load
	// the network and compile its whitelists (the took= of its last
	// "serve: whitelists loaded and compiled" log line), in seconds. After
	// a fault that restarts the central, it is the start-up compile
	// PRODUCT.md sets a target for; when the central did not restart, its
	// one start compiled before the network was seeded. It is 0 when the
	// log has no such line, and in the reports of fleets older than it.
	StartupCompileS float64 `json:"startup_compile_s"`
}
