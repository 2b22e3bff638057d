package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Outbox mail statuses.
const (
	MailQueued = "queued" // waiting for (another) delivery attempt
	MailSent   = "sent"   // accepted by the relay
	MailFailed = "failed" // given up: refused for good, or too old
)

// Limits of outbox mail.
const (
	MaxMailBytes    = 4 << 20 // a whole message as sent
	MaxMailKeyBytes = 200
	MaxMailErrBytes = 1000 // last_error is cut to this
)

// OutboxMail is one e-mail in the durable outbox (central/mail composes and
// delivers it). Message is the complete RFC 5322 message, with the
// Message-ID it keeps on every attempt; the store empties it once the mail is
// sent or given up.
type OutboxMail struct {
	ID        string `json:"id"`
	Key       string `json:"key"` // idempotency key: one mail per key, ever
	To        string `json:"to"`  // the SMTP recipient (addr-spec)
	Subject   string `json:"subject"`
	Message   []byte `json:"-"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	CreatedMs int64  `json:"created_ms"`
	NextMs    int64  `json:"next_ms"` // earliest next attempt
	DoneMs    int64  `json:"done_ms,omitempty"`
}

// Validate checks a mail to enqueue.
func (m *OutboxMail) Validate() error {
	if err := protocol.ValidID(m.ID); err != nil {
		return &domain.FieldError{Field: "id", Message: fmt.Sprintf("%q: %v", m.ID, err)}
	}
	if m.Key == "" || len(m.Key) > MaxMailKeyBytes {
		return &domain.FieldError{Field: "key", Message: fmt.Sprintf("required, at most %d bytes", MaxMailKeyBytes)}
	}
	if m.To == "" || len(m.To) > 320 || strings.ContainsAny(m.To, "\r\n <>") {
		return &domain.FieldError{Field: "to", Message: "an addr-spec of at most 320 bytes"}
	}
	if len(m.Subject) > 1000 || strings.ContainsAny(m.Subject, "\r\n") {
		return &domain.FieldError{Field: "subject", Message: "at most 1000 bytes, one line"}
	}
	if len(m.Message) == 0 || len(m.Message) > MaxMailBytes {
		return &domain.FieldError{Field: "message", Message: fmt.Sprintf("required, at most %d bytes", MaxMailBytes)}
	}
	if m.CreatedMs <= 0 {
		return &domain.FieldError{Field: "created_ms", Message: "required"}
	}
	return nil
}

// OutboxFilter selects outbox mail (Status "" for any), newest id last.
type OutboxFilter struct {
	Status string
	PageRequest
}

// OutboxStore is the durable e-mail outbox. Several central replicas may
// run senders over it: Claim leases rows to one owner (FOR UPDATE SKIP
// LOCKED on PostgreSQL; SQLite serializes writers), so a mail is attempted by
// one replica at a time, and a replica that dies mid-attempt loses its
// lease when it runs out (delivery is at least once, with a stable
// Message-ID).
type OutboxStore interface {
	// Enqueue stores a queued mail (Status, Attempts, NextMs set by the
	// store: due at CreatedMs). When a mail with the same Key exists it
	// stores nothing and returns the stored one (without its message) and
	// an error of kind ErrExists naming the field "key".
	Enqueue(ctx context.Context, m OutboxMail) (OutboxMail, error)
	// Claim leases up to limit queued mails due at nowMs and not leased
	// to anyone else until leaseUntilMs, oldest due first, with their
	// messages.
	Claim(ctx context.Context, owner string, nowMs, leaseUntilMs int64, limit int) ([]OutboxMail, error)
	// Sent records the delivery of a queued mail (whoever holds the lease:
	// the relay has it) and empties its message.
	Sent(ctx context.Context, id string, nowMs int64) error
	// Retry records a failed attempt by the lease's owner and makes the
	// mail due again at nextMs; ErrStale when owner lost the lease.
	Retry(ctx context.Context, id, owner string, nextMs int64, lastErr string) error
	// Fail records a last failed attempt by the lease's owner: the mail is
	// given up and its message emptied; ErrStale when owner lost the lease.
	Fail(ctx context.Context, id, owner string, nowMs int64, lastErr string) error
	// Get returns a mail without its message (ErrNotFound).
	Get(ctx context.Context, id string) (OutboxMail, error)
	// List returns mails without their messages, by id.
	List(ctx context.Context, f OutboxFilter) (Page[OutboxMail], error)
	// Depth counts the queued mails.
	Depth(ctx context.Context) (int, error)
}
