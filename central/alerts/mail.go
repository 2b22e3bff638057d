package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// Mailer queues an e-mail for delivery under an idempotency key:
// *mail.Outbox is the real one. Enqueue must be durable and quick: sending
// is the mailer's job.
type Mailer interface {
	Enqueue(ctx context.Context, key string, m mail.Message) (id string, queued bool, err error)
}

// Recipients returns the addresses that receive the alerts of a center by
// e-mail ("" for a door of no center: the network's). StaffRecipients is
// the central's.
type Recipients func(ctx context.Context, center string) ([]string, error)

// StaffRecipients is who receives a center's alerts: the active members
// who are staff of that center or of the whole network (domain.Staff) and
// have an e-mail address; for alerts of no center, the network's staff.
func StaffRecipients(st store.Store) Recipients {
	return func(ctx context.Context, center string) ([]string, error) {
		centers := []string{""}
		if center != "" {
			centers = append(centers, center)
		}
		staff, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Staff], error) {
			return st.ListStaff(ctx, store.StaffFilter{CenterIDs: centers, PageRequest: p})
		})
		if err != nil {
			return nil, fmt.Errorf("staff: %w", err)
		}
		var out []string
		for _, s := range staff {
			m, err := st.Member(ctx, s.MemberID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("staff member %s: %w", s.MemberID, err)
			}
			if m.Email == "" || m.Status != domain.MemberActive || slices.Contains(out, m.Email) {
				continue
			}
			out = append(out, m.Email)
		}
		slices.Sort(out)
		return out, nil
	}
}

// CenterZones gives a center's time zone from the store (nil when the
// center or its zone is unknown: the message shows UTC).
func CenterZones(st store.Store) func(ctx context.Context, center string) *time.Location {
	return func(ctx context.Context, center string) *time.Location {
		if center == "" {
			return nil
		}
		c, err := st.Center(ctx, center)
		if err != nil || c.TimeZone == "" {
			return nil
		}
		loc, err := time.LoadLocation(c.TimeZone)
		if err != nil {
			return nil
		}
		return loc
	}
}

// MailConfig configures the e-mail notifier.
type MailConfig struct {
	Mailer     Mailer     // required
	Recipients Recipients // required
	// Zone, when set, gives a center's time zone for the times in the
	// message (CenterZones); UTC otherwise.
	Zone    func(ctx context.Context, center string) *time.Location
	Logger  *slog.Logger      // default slog.Default()
	Metrics *metrics.Registry // default: a registry of its own
}

// Mail is the Notifier that e-mails each alert, raised and resolved, to the
// recipients of its center: one message per recipient, enqueued under the
// key alert:ID:EVENT:ADDRESS, so that a notification handed over twice is
// sent once.
type Mail struct {
	cfg MailConfig
	log *slog.Logger

	mu       sync.Mutex
	unheard  map[string]bool // centers whose last alert had no recipient (logged once)
	noRcpt   *metrics.Counter
	enqueued *metrics.Counter
}

// NewMail returns the e-mail notifier.
func NewMail(cfg MailConfig) *Mail {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	return &Mail{cfg: cfg, log: cfg.Logger.With("component", "alerts-mail"), unheard: map[string]bool{},
		noRcpt: cfg.Metrics.Counter("swc_alert_mail_unaddressed_total",
			"Alert notifications not e-mailed: their center has no staff member with an e-mail address."),
		enqueued: cfg.Metrics.Counter("swc_alert_mail_enqueued_total", "Alert e-mails handed to the outbox."),
	}
}

// Notify implements Notifier: one message per recipient. A center without
// recipients is logged once (a warning), until it has some again; each
// such notification is counted.
func (m *Mail) Notify(ctx context.Context, n Notification) error {
	to, err := m.cfg.Recipients(ctx, n.Alert.Center)
	if err != nil {
		return fmt.Errorf("alerts: recipients of %q: %w", n.Alert.Center, err)
	}
	m.mu.Lock()
	first := len(to) == 0 && !m.unheard[n.Alert.Center]
	m.unheard[n.Alert.Center] = len(to) == 0
	m.mu.Unlock()
	if len(to) == 0 {
		m.noRcpt.Inc()
		if first {
			m.log.Warn("alerts: no one to e-mail the alerts of this center to (no staff member with an e-mail address); "+
				"said once until it has one", "center", n.Alert.Center, "alert", n.Alert.ID, "kind", n.Alert.Kind)
		}
		return nil
	}
	subject, body := m.Message(ctx, n)
	var errs []error
	for _, addr := range to {
		key := "alert:" + n.Alert.ID + ":" + n.Event + ":" + addr
		if _, queued, err := m.cfg.Mailer.Enqueue(ctx, key, mail.Message{To: addr, Subject: subject, Text: body}); err != nil {
			errs = append(errs, fmt.Errorf("alerts: mail to %s: %w", addr, err))
		} else if queued {
			m.enqueued.Inc()
		}
	}
	return errors.Join(errs...)
}

// Message returns the subject and plain-text body of a notification.
func (m *Mail) Message(ctx context.Context, n Notification) (subject, body string) {
	a := n.Alert
	loc := time.UTC
	if m.cfg.Zone != nil {
		if z := m.cfg.Zone(ctx, a.Center); z != nil {
			loc = z
		}
	}
	verb := "raised"
	if n.Event == Resolved {
		verb = "resolved"
	}
	subject = fmt.Sprintf("[SWC] %s: %s at door %s (%s)", verb, Describe(a.Kind), a.Door, a.Center)
	var b strings.Builder
	fmt.Fprintf(&b, "Alert %s %s.\n\n", a.ID, verb)
	fmt.Fprintf(&b, "What:    %s\nDoor:    %s\nCenter:  %s\n", Describe(a.Kind), a.Door, a.Center)
	fmt.Fprintf(&b, "Raised:  %s\n", time.UnixMilli(a.RaisedMs).In(loc).Format("2006-01-02 15:04:05 MST"))
	if a.ResolvedMs != 0 {
		fmt.Fprintf(&b, "Resolved: %s\n", time.UnixMilli(a.ResolvedMs).In(loc).Format("2006-01-02 15:04:05 MST"))
	}
	keys := make([]string, 0, len(a.Details))
	for k := range a.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, a.Details[k])
	}
	return subject, b.String()
}

// Describe is an alert kind in English words (the web layer translates the
// kind itself).
func Describe(k store.AlertKind) string {
	switch k {
	case store.AlertOffline:
		return "door offline"
	case store.AlertForced:
		return "door forced open"
	case store.AlertHeldOpen:
		return "door held open"
	case store.AlertReaderFault:
		return "badge reader fault"
	case store.AlertWhitelistBehind:
		return "door whitelist behind"
	case store.AlertCertExpiring:
		return "door certificate expiring"
	case store.AlertClockUntrusted:
		return "door clock not trusted"
	case store.AlertSuspectedClone:
		return "suspected badge clone"
	}
	return string(k)
}
