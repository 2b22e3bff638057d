package alerts

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/store"
)

// Mailer queues an e-mail for delivery (central/mail's outbox; the lead
// wires it). Enqueue must be durable and quick: sending is the mailer's job.
type Mailer interface {
	Enqueue(ctx context.Context, to, subject, body string) error
}

// Recipients returns who receives the alerts of a center by e-mail (the
// center's managers and technicians, the network's admins: the lead wires
// it from the staff accounts or the settings).
type Recipients func(ctx context.Context, center string) ([]string, error)

// Mail is the Notifier that e-mails each alert to the center's recipients.
type Mail struct {
	m    Mailer
	to   Recipients
	zone func(center string) *time.Location // nil: UTC
}

// NewMail returns the e-mail notifier. zone, when not nil, gives a center's
// time zone for the times in the message.
func NewMail(m Mailer, to Recipients, zone func(center string) *time.Location) *Mail {
	return &Mail{m: m, to: to, zone: zone}
}

// Notify implements Notifier: one message per recipient.
func (m *Mail) Notify(ctx context.Context, n Notification) error {
	to, err := m.to(ctx, n.Alert.Center)
	if err != nil {
		return fmt.Errorf("alerts: recipients of %q: %w", n.Alert.Center, err)
	}
	subject, body := m.Message(n)
	var errs []error
	for _, addr := range to {
		if err := m.m.Enqueue(ctx, addr, subject, body); err != nil {
			errs = append(errs, fmt.Errorf("alerts: mail to %s: %w", addr, err))
		}
	}
	return errors.Join(errs...)
}

// Message returns the subject and plain-text body of a notification.
func (m *Mail) Message(n Notification) (subject, body string) {
	a := n.Alert
	loc := time.UTC
	if m.zone != nil {
		if z := m.zone(a.Center); z != nil {
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
	}
	return string(k)
}
