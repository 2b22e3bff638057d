package store

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// HealthStore is the storage of door health (issue 16): the last known
// state of every door, alerts, webhook endpoints with their delivery log,
// and remote commands with what became of them. Store.Health returns it; it
// shares the store's database, so every replica sees the same rows.
type HealthStore interface {
	// SaveDoorHealth writes the door's last known state (all but
	// CertNotAfterMs, which SetDoorCertificate keeps). A door that does not
	// exist is ErrMissingRef (field door).
	SaveDoorHealth(ctx context.Context, h DoorHealth) error
	// SetDoorCertificate records the expiry of the certificate just issued
	// to the door (creating its row when the door never reported).
	SetDoorCertificate(ctx context.Context, door string, notAfterMs int64) error
	// DoorHealth returns the door's last known state with its center
	// (ErrNotFound when the door never reported nor got a certificate).
	DoorHealth(ctx context.Context, door string) (DoorHealth, error)
	// ListDoorHealth returns the state of every door that has one, by door.
	ListDoorHealth(ctx context.Context, centers []string) ([]DoorHealth, error)

	// RaiseAlert stores a as open unless an open alert of the same door
	// and kind exists; it reports whether a was stored (false: it was
	// already open, raised by this or another replica). a.ID is assigned.
	RaiseAlert(ctx context.Context, a Alert) (Alert, bool, error)
	// ResolveAlert closes the open alert of the door and kind at atMs and
	// returns it, with false when none was open (already resolved,
	// perhaps by another replica).
	ResolveAlert(ctx context.Context, door string, kind AlertKind, atMs int64) (Alert, bool, error)
	// Alert returns one alert.
	Alert(ctx context.Context, id string) (Alert, error)
	// ListAlerts returns alerts, newest first.
	ListAlerts(ctx context.Context, f AlertFilter) (Page[Alert], error)

	// Webhook endpoints. A center's endpoint needs the center (ErrMissingRef).
	CreateWebhook(ctx context.Context, w Webhook) error
	UpdateWebhook(ctx context.Context, w Webhook) error
	DeleteWebhook(ctx context.Context, id string) error
	Webhook(ctx context.Context, id string) (Webhook, error)
	// ListWebhooks lists endpoints of the centers (nil: all; "" in the list
	// stands for network-wide endpoints), by id.
	ListWebhooks(ctx context.Context, centers []string, p PageRequest) (Page[Webhook], error)
	// LogDelivery appends one delivery attempt (d.ID is assigned).
	LogDelivery(ctx context.Context, d Delivery) error
	// ListDeliveries returns an endpoint's delivery attempts, newest first.
	ListDeliveries(ctx context.Context, webhook string, p PageRequest) (Page[Delivery], error)

	// SaveCommand records a remote command as sent (or queued, or failed).
	SaveCommand(ctx context.Context, c CommandRecord) error
	// CommandExecuted marks the door's command executed at atMs (the door
	// reported it in an event); unknown ids are ignored.
	CommandExecuted(ctx context.Context, door, id string, atMs int64) error
	// PendingCommands returns the door's commands queued while it was
	// offline that are neither executed nor expired at nowMs, oldest first.
	PendingCommands(ctx context.Context, door string, nowMs int64) ([]CommandRecord, error)
	// MarkCommandSent records that a queued command was handed to the
	// broker once the door was back (queued_until_online becomes sent).
	MarkCommandSent(ctx context.Context, id string) error
	// Command returns one command.
	Command(ctx context.Context, id string) (CommandRecord, error)
	// ListCommands returns the door's commands, newest first.
	ListCommands(ctx context.Context, door string, p PageRequest) (Page[CommandRecord], error)
}

// Door states as DoorHealth reports them.
const (
	DoorOnline  = protocol.StateOnline
	DoorOffline = protocol.StateOffline
)

// DoorHealth is the last known state of a door: what its last status said,
// when it was last heard from, and since when it has been offline.
type DoorHealth struct {
	Door           string `json:"door"`
	Center         string `json:"center"` // filled on reads
	State          string `json:"state"`  // online, offline or "" (never reported)
	StatusTimeMs   int64  `json:"status_time_ms,omitempty"`
	Boot           string `json:"boot,omitempty"`
	Firmware       string `json:"firmware,omitempty"`
	WLVersion      uint64 `json:"wl_version"`
	WLIssuedMs     int64  `json:"wl_issued_ms,omitempty"`
	OutboxDepth    uint64 `json:"outbox_depth"`
	OutboxOldestMs int64  `json:"outbox_oldest_ms,omitempty"`
	ClockTrusted   bool   `json:"clock_trusted"`
	DoorState      string `json:"door_state,omitempty"`
	Reader         string `json:"reader,omitempty"`
	LastSeenMs     int64  `json:"last_seen_ms,omitempty"`
	OfflineSinceMs int64  `json:"offline_since_ms,omitempty"`
	CertNotAfterMs int64  `json:"cert_not_after_ms,omitempty"`
	UpdatedMs      int64  `json:"updated_ms"`
}

// FromStatus copies a door status into h.
func (h *DoorHealth) FromStatus(st protocol.Status) {
	h.Door, h.State, h.StatusTimeMs, h.Boot, h.Firmware = st.Door, st.State, st.TimeMs, st.Boot, st.Firmware
	h.WLVersion, h.WLIssuedMs, h.OutboxDepth, h.OutboxOldestMs = st.WLVersion, st.WLIssuedMs, st.OutboxDepth, st.OutboxOldestMs
	h.ClockTrusted, h.DoorState, h.Reader = st.ClockTrusted, st.DoorState, st.Reader
}

// OfflineFor is how long the door has been offline at now (0 while online).
func (h DoorHealth) OfflineFor(now time.Time) time.Duration {
	if h.State != DoorOffline || h.OfflineSinceMs == 0 {
		return 0
	}
	return max(0, now.Sub(time.UnixMilli(h.OfflineSinceMs)))
}

// Validate checks the state.
func (h *DoorHealth) Validate() error {
	if err := protocol.ValidID(h.Door); err != nil {
		return &domain.FieldError{Field: "door", Message: fmt.Sprintf("%q: %v", h.Door, err)}
	}
	if h.State != "" && h.State != DoorOnline && h.State != DoorOffline {
		return &domain.FieldError{Field: "state", Message: fmt.Sprintf("%q; want online or offline", h.State)}
	}
	for name, v := range map[string]string{"boot": h.Boot, "firmware": h.Firmware, "door_state": h.DoorState, "reader": h.Reader} {
		if len(v) > 256 {
			return &domain.FieldError{Field: name, Message: "longer than 256 bytes"}
		}
	}
	if h.WLVersion > 1<<62 || h.OutboxDepth > 1<<62 {
		return &domain.FieldError{Field: "wl_version", Message: "out of range"}
	}
	return nil
}

// AlertKind is what an alert is about.
type AlertKind string

// Alert kinds.
const (
	AlertOffline         AlertKind = "door_offline"     // offline longer than the threshold
	AlertForced          AlertKind = "door_forced"      // opened without a grant
	AlertHeldOpen        AlertKind = "door_held_open"   // open past the allowed time
	AlertReaderFault     AlertKind = "reader_fault"     // the badge reader does not answer
	AlertWhitelistBehind AlertKind = "whitelist_behind" // the door's whitelist is older than the central's
	AlertCertExpiring    AlertKind = "cert_expiring"    // the door's certificate expires soon
	AlertClockUntrusted  AlertKind = "clock_untrusted"  // the door does not trust its clock
	AlertSuspectedClone  AlertKind = "suspected_clone"  // a secure badge failed its authentication at the door
)

// AlertKinds lists every kind.
func AlertKinds() []AlertKind {
	return []AlertKind{AlertOffline, AlertForced, AlertHeldOpen, AlertReaderFault, AlertWhitelistBehind, AlertCertExpiring, AlertClockUntrusted, AlertSuspectedClone}
}

// Known reports whether k is one of AlertKinds.
func (k AlertKind) Known() bool {
	for _, x := range AlertKinds() {
		if x == k {
			return true
		}
	}
	return false
}

// Alert is one raised alert; ResolvedMs is 0 while it is open.
type Alert struct {
	ID         string            `json:"id"`
	Door       string            `json:"door"`
	Center     string            `json:"center"`
	Kind       AlertKind         `json:"kind"`
	Details    map[string]string `json:"details"`
	RaisedMs   int64             `json:"raised_ms"`
	ResolvedMs int64             `json:"resolved_ms,omitempty"`
}

// Open reports whether the alert is not resolved.
func (a Alert) Open() bool { return a.ResolvedMs == 0 }

// Validate checks a new alert.
func (a *Alert) Validate() error {
	if err := protocol.ValidID(a.Door); err != nil {
		return &domain.FieldError{Field: "door", Message: fmt.Sprintf("%q: %v", a.Door, err)}
	}
	if !a.Kind.Known() {
		return &domain.FieldError{Field: "kind", Message: fmt.Sprintf("%q is not an alert kind", a.Kind)}
	}
	if a.RaisedMs <= 0 {
		return &domain.FieldError{Field: "raised_ms", Message: "required"}
	}
	if len(a.Details) > 32 {
		return &domain.FieldError{Field: "details", Message: "at most 32 entries"}
	}
	return nil
}

// AlertFilter selects alerts. Open nil means open and resolved alike.
type AlertFilter struct {
	CenterIDs []string
	Door      string
	Kind      AlertKind
	Open      *bool
	PageRequest
}

// Webhook is an endpoint that receives alerts as signed JSON POSTs.
type Webhook struct {
	ID        string      `json:"id"`
	Center    string      `json:"center"` // "" for network-wide
	URL       string      `json:"url"`
	Secret    string      `json:"secret,omitempty"` // the HMAC-SHA256 key
	Kinds     []AlertKind `json:"kinds"`            // empty: every kind
	CreatedBy string      `json:"created_by"`
	CreatedMs int64       `json:"created_ms"`
}

// Wants reports whether the endpoint takes alerts of kind k.
func (w Webhook) Wants(k AlertKind) bool {
	if len(w.Kinds) == 0 {
		return true
	}
	for _, x := range w.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Validate checks the endpoint.
func (w *Webhook) Validate() error {
	if err := protocol.ValidID(w.ID); err != nil {
		return &domain.FieldError{Field: "id", Message: fmt.Sprintf("%q: %v", w.ID, err)}
	}
	if w.Center != "" {
		if err := protocol.ValidID(w.Center); err != nil {
			return &domain.FieldError{Field: "center", Message: fmt.Sprintf("%q: %v", w.Center, err)}
		}
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(w.URL) > 2000 {
		return &domain.FieldError{Field: "url", Message: "want an http:// or https:// URL of at most 2000 bytes"}
	}
	if len(w.Secret) < 16 || len(w.Secret) > 256 {
		return &domain.FieldError{Field: "secret", Message: "want 16 to 256 bytes"}
	}
	for _, k := range w.Kinds {
		if !k.Known() {
			return &domain.FieldError{Field: "kinds", Message: fmt.Sprintf("%q is not an alert kind", k)}
		}
	}
	if w.CreatedBy == "" || len(w.CreatedBy) > 200 {
		return &domain.FieldError{Field: "created_by", Message: "required, at most 200 bytes"}
	}
	return nil
}

// JoinKinds and SplitKinds are how the backends store Webhook.Kinds.
func JoinKinds(ks []AlertKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

// SplitKinds is the inverse of JoinKinds.
func SplitKinds(s string) []AlertKind {
	out := []AlertKind{}
	if s == "" {
		return out
	}
	for _, k := range strings.Split(s, ",") {
		out = append(out, AlertKind(k))
	}
	return out
}

// Delivery is one attempt to deliver an alert to a webhook endpoint.
type Delivery struct {
	ID         string `json:"id"`
	Webhook    string `json:"webhook"`
	Alert      string `json:"alert"`
	Event      string `json:"event"` // raised or resolved
	Attempt    int    `json:"attempt"`
	HTTPStatus int    `json:"http_status,omitempty"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
	AtMs       int64  `json:"at_ms"`
}

// Command deliveries, as CommandRecord.Delivery.
const (
	CommandSent    = "sent"                // the broker took it for a door that was online
	CommandQueued  = "queued_until_online" // the broker took it for a door that was offline
	CommandFailed  = "failed"              // it could not be handed to the broker
	CommandExpired = "expired"             // (status only) not executed before it expired
	CommandDone    = "executed"            // (status only) the door reported executing it
)

// CommandRecord is a remote command and what became of it.
type CommandRecord struct {
	ID         string `json:"id"`
	Door       string `json:"door"`
	Center     string `json:"center"`
	Action     string `json:"action"`
	Seconds    int    `json:"seconds,omitempty"`
	By         string `json:"by"`
	IssuedMs   int64  `json:"issued_ms"`
	ExpiresMs  int64  `json:"expires_ms"`
	Delivery   string `json:"delivery"` // sent, queued_until_online or failed
	Error      string `json:"error,omitempty"`
	ExecutedMs int64  `json:"executed_ms,omitempty"`
	Signed     []byte `json:"-"` // the signed command, for sending it again
}

// Status is the command's state at now: executed, failed, expired, or its
// delivery (sent, queued_until_online). Only unlocks report execution;
// a relock or resync stays "sent" until it expires.
func (c CommandRecord) Status(now time.Time) string {
	switch {
	case c.ExecutedMs != 0:
		return CommandDone
	case c.Delivery == CommandFailed:
		return CommandFailed
	case now.UnixMilli() >= c.ExpiresMs:
		return CommandExpired
	}
	return c.Delivery
}
