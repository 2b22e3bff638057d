package agent

import (
	"github.com/smartworkcenters/swc/shared/metrics"
)

// agentMetrics are the agent's own series; gauges read at scrape time are
// registered in New.
type agentMetrics struct {
	taps           *metrics.CounterVec
	events         *metrics.CounterVec
	tapSeconds     *metrics.Histogram
	storeErrors    *metrics.CounterVec
	badCards       *metrics.Counter
	readerFaults   *metrics.Counter
	cardErrors     *metrics.Counter
	rejected       *metrics.CounterVec
	whitelist      *metrics.CounterVec
	commands       *metrics.CounterVec
	componentFails *metrics.CounterVec
	secureAuth     *metrics.CounterVec
}

func newAgentMetrics(r *metrics.Registry) *agentMetrics {
	return &agentMetrics{
		taps:        r.CounterVec("swc_edge_taps_total", "Badge presentations decided and recorded, by reason code.", "reason"),
		events:      r.CounterVec("swc_edge_events_recorded_total", "Events appended to the outbox, by kind.", "kind"),
		tapSeconds:  r.Histogram("swc_edge_tap_duration_seconds", "Time to decide a tap and append it durably (one fsynced bbolt transaction).", []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5}),
		storeErrors: r.CounterVec("swc_edge_store_errors_total", "Store operations that failed, by operation; a failed tap leaves the door locked.", "op"),
		badCards:    r.Counter("swc_edge_bad_cards_total", "Cards refused before any decision because their UID is malformed."),
		readerFaults: r.Counter("swc_edge_reader_faults_total",
			"Times the badge reader stopped answering (each followed by retries with backoff)."),
		cardErrors: r.Counter("swc_edge_card_errors_total",
			"Card reads that failed with a working reader: a card taken away too early, a garbled or colliding answer (the card is read again at the next poll)."),
		rejected:       r.CounterVec("swc_edge_http_rejected_total", "Local API requests refused as invalid, by reason.", "reason"),
		whitelist:      r.CounterVec("swc_edge_whitelist_messages_total", "Signed whitelist messages received, by result (applied, staged, or the protocol error code).", "result"),
		commands:       r.CounterVec("swc_edge_commands_total", "Remote commands, by action and result.", "action", "result"),
		componentFails: r.CounterVec("swc_edge_component_failures_total", "Times an extra component (such as the MQTT sync) stopped with an error and was restarted.", "component"),
		secureAuth: r.CounterVec("swc_edge_secure_auth_total",
			"Authentications of badges listed as secure, by result: ok, failed (a suspected clone: denied_auth_failed), no_apdu (the reader gave no ISO 14443-4 channel: denied_auth_failed), card_error (the card left mid-exchange: no decision).", "result"),
	}
}
