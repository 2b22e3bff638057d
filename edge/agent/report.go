package agent

import (
	"context"
	"math"
	"time"
)

// Report is the door's full status: the local API's /v1/status and what
// `swc-edge status` prints.
type Report struct {
	DoorID        string          `json:"door_id"`
	Boot          string          `json:"boot"`
	Firmware      string          `json:"firmware,omitempty"`
	Driver        string          `json:"driver"`
	UptimeSeconds float64         `json:"uptime_seconds"`
	Clock         ClockReport     `json:"clock"`
	Whitelist     WhitelistReport `json:"whitelist"`
	Outbox        OutboxReport    `json:"outbox"`
	Door          DoorReport      `json:"door"`
	Reader        ReaderReport    `json:"reader"`
}

// ClockReport is the clock part of a Report.
type ClockReport struct {
	Time        time.Time `json:"time"`
	Trusted     bool      `json:"trusted"`
	Source      string    `json:"source"`
	LastTrusted time.Time `json:"last_trusted,omitzero"`
}

// WhitelistReport is the whitelist part of a Report.
type WhitelistReport struct {
	Version     uint64    `json:"version"`
	Issued      time.Time `json:"issued,omitzero"`
	AgeSeconds  float64   `json:"age_seconds,omitempty"`
	Expires     time.Time `json:"expires,omitzero"`
	Stale       bool      `json:"stale"` // older than policy.max_whitelist_age: only staff enter
	Badges      uint64    `json:"badges"`
	Center      string    `json:"center,omitempty"`
	Room        string    `json:"room,omitempty"`
	Staging     uint64    `json:"staging,omitempty"`
	StagedParts int       `json:"staged_parts,omitempty"`
	StagingOf   int       `json:"staging_of,omitempty"`
}

// OutboxReport is the outbox part of a Report.
type OutboxReport struct {
	Depth            uint64    `json:"depth"`
	FirstSeq         uint64    `json:"first_seq,omitempty"`
	LastSeq          uint64    `json:"last_seq"`
	Oldest           time.Time `json:"oldest,omitzero"`
	OldestAgeSeconds float64   `json:"oldest_age_seconds,omitempty"`
	Alarm            bool      `json:"alarm"`
	AlarmAt          uint64    `json:"alarm_at"`
}

// DoorReport is the door part of a Report.
type DoorReport struct {
	State         string    `json:"state"` // locked, unlocked, open, held_open, forced
	Relay         string    `json:"relay"` // locked or unlocked
	Open          bool      `json:"open"`
	HasContact    bool      `json:"has_contact"`
	UnlockedUntil time.Time `json:"unlocked_until,omitzero"`
	// HeldOpenSeconds is the held-open threshold in force; HeldOpenSource
	// says whose it is: "whitelist" (the network's settings) or "config"
	// (door.held_open_time).
	HeldOpenSeconds float64 `json:"held_open_seconds"`
	HeldOpenSource  string  `json:"held_open_source"`
}

// ReaderReport is the reader part of a Report.
type ReaderReport struct {
	State string `json:"state"` // ok or fault
	Error string `json:"error,omitempty"`
}

// Report gathers the door's status.
func (a *Agent) Report(ctx context.Context) (Report, error) {
	r := a.clock.Now()
	rep := Report{DoorID: a.cfg.DoorID, Boot: a.boot, Firmware: a.firmware, Driver: a.cfg.Reader.Driver,
		UptimeSeconds: r.Uptime.Seconds(),
		Clock:         ClockReport{Time: r.Time, Trusted: r.Trusted, Source: r.Source, LastTrusted: r.Floor}}
	wi, err := a.store.Whitelist(ctx)
	if err != nil {
		return Report{}, err
	}
	rep.Whitelist = WhitelistReport{Version: wi.Version, Issued: wi.Issued, Expires: wi.Expires, Badges: wi.Badges,
		Center: wi.Center, Room: wi.Room, Staging: wi.Staging, StagedParts: wi.StagedParts, StagingOf: wi.StagingOf}
	if wi.Version != 0 {
		age := r.Time.Sub(wi.Issued)
		rep.Whitelist.AgeSeconds = math.Round(age.Seconds())
		rep.Whitelist.Stale = age > a.policy.MaxWhitelistAge
	}
	ob, err := a.store.OutboxStats(ctx)
	if err != nil {
		return Report{}, err
	}
	rep.Outbox = OutboxReport{Depth: ob.Depth, FirstSeq: ob.FirstSeq, LastSeq: ob.LastSeq, Oldest: ob.Oldest, Alarm: ob.Alarm, AlarmAt: ob.AlarmAt}
	if !ob.Oldest.IsZero() {
		rep.Outbox.OldestAgeSeconds = math.Round(r.Time.Sub(ob.Oldest).Seconds())
	}
	ds := a.door.Status()
	rep.Door = DoorReport{State: string(ds.State), Relay: "locked", Open: ds.DoorOpen, HasContact: ds.HasContact, UnlockedUntil: ds.UnlockedUntil,
		HeldOpenSeconds: a.door.HeldOpen().Seconds(), HeldOpenSource: "config"}
	if a.heldFromWL.Load() {
		rep.Door.HeldOpenSource = "whitelist"
	}
	if ds.RelayUnlocked {
		rep.Door.Relay = "unlocked"
	}
	rep.Reader = ReaderReport{State: "ok"}
	if !a.readerOK.Load() {
		rep.Reader = ReaderReport{State: "fault", Error: a.readerErr.Load().(string)}
	}
	return rep, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// registerGauges registers the gauges read at scrape time.
func (a *Agent) registerGauges() {
	ctx := context.Background()
	outbox := func(f func(st OutboxReport) float64) func() float64 {
		return func() float64 {
			st, err := a.store.OutboxStats(ctx)
			if err != nil {
				return math.NaN()
			}
			rep := OutboxReport{Depth: st.Depth, Alarm: st.Alarm}
			if !st.Oldest.IsZero() {
				rep.OldestAgeSeconds = a.clock.Now().Time.Sub(st.Oldest).Seconds()
			}
			return f(rep)
		}
	}
	a.reg.GaugeFunc("swc_edge_outbox_events", "Events waiting in the outbox for the central's acknowledgement.", outbox(func(r OutboxReport) float64 { return float64(r.Depth) }))
	a.reg.GaugeFunc("swc_edge_outbox_oldest_age_seconds", "Age of the oldest unacknowledged event (0 when the outbox is empty).", outbox(func(r OutboxReport) float64 { return r.OldestAgeSeconds }))
	a.reg.GaugeFunc("swc_edge_outbox_alarm", "1 when the outbox depth reached store.outbox_alarm.", outbox(func(r OutboxReport) float64 { return b2f(r.Alarm) }))
	a.reg.GaugeFunc("swc_edge_whitelist_version", "Version of the whitelist held (0: none).", func() float64 { return float64(a.wlVersion.Load()) })
	a.reg.GaugeFunc("swc_edge_whitelist_age_seconds", "Time since the whitelist held was issued (0 when none).", func() float64 {
		wi, err := a.store.Whitelist(ctx)
		if err != nil || wi.Version == 0 {
			return 0
		}
		return a.clock.Now().Time.Sub(wi.Issued).Seconds()
	})
	a.reg.GaugeFunc("swc_edge_whitelist_badges", "Badges in the whitelist held.", func() float64 {
		wi, err := a.store.Whitelist(ctx)
		if err != nil {
			return math.NaN()
		}
		return float64(wi.Badges)
	})
	a.reg.GaugeFunc("swc_edge_clock_trusted", "1 when the door's clock is trusted (NTP synchronised or learnt from the central).", func() float64 { return b2f(a.clock.Now().Trusted) })
	a.reg.GaugeFunc("swc_edge_reader_up", "1 when the badge reader answers.", func() float64 { return b2f(a.readerOK.Load()) })
	a.reg.GaugeFunc("swc_edge_relay_unlocked", "1 while the lock relay is in the unlocked state.", func() float64 { return b2f(a.door.Status().RelayUnlocked) })
	a.reg.GaugeFunc("swc_edge_door_open", "1 while the door contact reports the door open.", func() float64 { return b2f(a.door.Status().DoorOpen) })
}
