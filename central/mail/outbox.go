package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// ErrQueueOnly is returned by Flush and Run of a queue-only outbox.
var ErrQueueOnly = errors.New("mail: this outbox only queues (OutboxConfig.QueueOnly): serve's sender delivers")

// Sender delivers one composed message; *Relay is the real one.
type Sender interface {
	Send(ctx context.Context, rcpt string, msg []byte) error
}

// Defaults of OutboxConfig.
const (
	DefaultPoll        = 10 * time.Second
	DefaultMinBackoff  = 30 * time.Second
	DefaultMaxBackoff  = time.Hour
	DefaultGiveUpAfter = 72 * time.Hour
	DefaultLease       = 5 * time.Minute
	DefaultBatch       = 20
	relayTimeout       = time.Minute // below DefaultLease: an attempt ends before its lease
)

// OutboxConfig configures an Outbox. Zero durations take the defaults.
type OutboxConfig struct {
	Mail    Config            // the relay; Validate is called by NewOutbox
	Store   store.OutboxStore // where mail waits
	Sender  Sender            // default: a Relay for Mail
	Metrics *metrics.Registry // default: a private registry
	Logger  *slog.Logger      // default: slog.Default()
	Owner   string            // lease owner, unique per replica (default: host, pid and a random part)
	Now     func() time.Time  // default time.Now (tests move it)

	Poll        time.Duration // how often the loop looks for due mail (Enqueue in this process wakes it at once)
	MinBackoff  time.Duration // wait after the first failed attempt, doubled after each next one
	MaxBackoff  time.Duration // longest wait between attempts
	GiveUpAfter time.Duration // a mail still undelivered this long after it was queued is given up
	Lease       time.Duration // how long a claimed mail is this replica's (longer than an attempt)
	Batch       int           // mails claimed at once

	// QueueOnly makes an outbox that only queues, for a command-line tool
	// beside a running serve whose sender delivers what is queued: Mail
	// needs only From (the relay's fields are ignored), and Flush and Run
	// refuse to deliver.
	QueueOnly bool
}

// Outbox queues mail in the store and delivers it.
type Outbox struct {
	cfg  OutboxConfig
	log  *slog.Logger
	wake chan struct{}

	enqueued, duplicates, sent, attemptFailures, givenUp *metrics.Counter
	depth                                                *metrics.Gauge
}

// NewOutbox validates cfg.Mail (which must be enabled) and returns an
// Outbox. It registers the mail_* metrics in cfg.Metrics.
func NewOutbox(cfg OutboxConfig) (*Outbox, error) {
	if cfg.QueueOnly {
		from, err := parseFrom(cfg.Mail.From)
		if err != nil {
			return nil, err
		}
		cfg.Mail = Config{From: cfg.Mail.From, from: from}
	} else if err := cfg.Mail.Validate(); err != nil {
		return nil, err
	} else if !cfg.Mail.Enabled() {
		return nil, ErrDisabled
	}
	if cfg.Store == nil {
		return nil, errors.New("mail: OutboxConfig.Store is required")
	}
	if cfg.Sender == nil && !cfg.QueueOnly {
		r, err := NewRelay(cfg.Mail, relayTimeout)
		if err != nil {
			return nil, err
		}
		cfg.Sender = r
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, DefaultPoll)
	def(&cfg.MinBackoff, DefaultMinBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.GiveUpAfter, DefaultGiveUpAfter)
	def(&cfg.Lease, DefaultLease)
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	m := cfg.Metrics
	return &Outbox{
		cfg:             cfg,
		log:             cfg.Logger,
		wake:            make(chan struct{}, 1),
		enqueued:        m.Counter("swc_mail_enqueued_total", "E-mails queued in the outbox."),
		duplicates:      m.Counter("swc_mail_duplicates_total", "E-mails not queued because their idempotency key was queued before."),
		sent:            m.Counter("swc_mail_sent_total", "E-mails accepted by the SMTP relay."),
		attemptFailures: m.Counter("swc_mail_attempt_failures_total", "Delivery attempts that failed (each is retried with backoff until given up)."),
		givenUp:         m.Counter("swc_mail_failed_total", "E-mails given up: refused for good by the relay, or undelivered for too long."),
		depth:           m.Gauge("swc_mail_queue_depth", "E-mails waiting in the outbox, as the sender last counted them."),
	}, nil
}

// Enqueue composes m and stores it in the outbox under key, the
// idempotency key of the notice (such as "booking:b42:confirmed:3"): a key
// already queued, sent or given up is not queued again, and Enqueue returns
// the first mail's id with queued false. A message that is not valid is
// refused with a *FieldError naming the field. On a nil Outbox (mail not
// configured) it returns ErrDisabled.
func (o *Outbox) Enqueue(ctx context.Context, key string, m Message) (id string, queued bool, err error) {
	if o == nil {
		return "", false, ErrDisabled
	}
	om, err := o.Prepare(key, m)
	if err != nil {
		return "", false, err
	}
	got, err := o.cfg.Store.Enqueue(ctx, om)
	if errors.Is(err, store.ErrExists) && got.ID != "" {
		o.duplicates.Inc()
		return got.ID, false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("mail: enqueue %s: %w", key, err)
	}
	o.enqueued.Inc()
	o.Wake()
	return om.ID, true, nil
}

// Prepare composes m as the outbox row Enqueue would store, for a store
// verb that queues its notice in the transaction of the change it tells
// about (the store's sqlstore has the helper); call Wake after its commit.
func (o *Outbox) Prepare(key string, m Message) (store.OutboxMail, error) {
	if o == nil {
		return store.OutboxMail{}, ErrDisabled
	}
	now := o.cfg.Now()
	id := NewID()
	msg, rcpt, err := Compose(o.cfg.Mail.from, id, now, m)
	if err != nil {
		return store.OutboxMail{}, err
	}
	return store.OutboxMail{ID: id, Key: key, To: rcpt, Subject: m.Subject, Message: msg, CreatedMs: now.UnixMilli()}, nil
}

// Wake makes the sender loop look for due mail now (Enqueue does it).
func (o *Outbox) Wake() {
	if o == nil {
		return
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// FlushResult counts what one Flush did.
type FlushResult struct {
	Sent, Retried, Failed int
}

// Flush makes one delivery attempt of every mail due now and returns what
// came of them, then counts the queue (the mail_queue_depth gauge). The loop
// calls it; tests call it to deliver at once.
func (o *Outbox) Flush(ctx context.Context) (FlushResult, error) {
	if o.cfg.QueueOnly {
		return FlushResult{}, ErrQueueOnly
	}
	res, err := o.flush(ctx)
	if n, derr := o.cfg.Store.Depth(ctx); derr == nil {
		o.depth.Set(float64(n))
	}
	return res, err
}

func (o *Outbox) flush(ctx context.Context) (FlushResult, error) {
	var res FlushResult
	seen := map[string]bool{}
	for {
		now := o.cfg.Now()
		batch, err := o.cfg.Store.Claim(ctx, o.cfg.Owner, now.UnixMilli(), now.Add(o.cfg.Lease).UnixMilli(), o.cfg.Batch)
		if err != nil {
			return res, fmt.Errorf("mail: claim: %w", err)
		}
		fresh := 0
		for _, m := range batch {
			if seen[m.ID] { // due again already (a clock moved back): next Flush
				continue
			}
			seen[m.ID] = true
			fresh++
			if err := o.attempt(ctx, m, &res); err != nil {
				return res, err
			}
		}
		if len(batch) < o.cfg.Batch || fresh == 0 {
			return res, nil
		}
	}
}

// attempt delivers one claimed mail and records the outcome.
func (o *Outbox) attempt(ctx context.Context, m store.OutboxMail, res *FlushResult) error {
	sendErr := o.cfg.Sender.Send(ctx, m.To, m.Message)
	if sendErr != nil && ctx.Err() != nil {
		return ctx.Err() // shutting down: the lease runs out and another attempt follows
	}
	now := o.cfg.Now()
	if sendErr == nil {
		// Recorded even when shutting down: the relay has the mail.
		if err := o.cfg.Store.Sent(context.WithoutCancel(ctx), m.ID, now.UnixMilli()); err != nil {
			// Delivered, but not recorded: it will be sent again (at least
			// once), with the same Message-ID.
			return fmt.Errorf("mail: record delivery of %s: %w", m.ID, err)
		}
		o.sent.Inc()
		res.Sent++
		o.log.Info("mail: sent", "id", m.ID, "key", m.Key, "attempts", m.Attempts+1)
		return nil
	}
	o.attemptFailures.Inc()
	attempts := m.Attempts + 1
	var perm *PermanentError
	if errors.As(sendErr, &perm) || now.Sub(time.UnixMilli(m.CreatedMs)) >= o.cfg.GiveUpAfter {
		if err := o.cfg.Store.Fail(ctx, m.ID, o.cfg.Owner, now.UnixMilli(), sendErr.Error()); err != nil && !errors.Is(err, store.ErrStale) {
			return fmt.Errorf("mail: record failure of %s: %w", m.ID, err)
		}
		o.givenUp.Inc()
		res.Failed++
		o.log.Error("mail: given up", "id", m.ID, "key", m.Key, "attempts", attempts, "err", sendErr)
		return nil
	}
	next := now.Add(o.Backoff(attempts))
	if err := o.cfg.Store.Retry(ctx, m.ID, o.cfg.Owner, next.UnixMilli(), sendErr.Error()); err != nil && !errors.Is(err, store.ErrStale) {
		return fmt.Errorf("mail: record failed attempt of %s: %w", m.ID, err)
	}
	res.Retried++
	o.log.Warn("mail: attempt failed, will retry", "id", m.ID, "key", m.Key, "attempts", attempts, "next", next.UTC().Format(time.RFC3339), "err", sendErr)
	return nil
}

// Backoff is the wait after the given number of failed attempts:
// MinBackoff doubled after each, at most MaxBackoff.
func (o *Outbox) Backoff(attempts int) time.Duration {
	d := o.cfg.MinBackoff
	for i := 1; i < attempts && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.cfg.MaxBackoff)
}

// Run delivers mail until ctx ends: at once after an Enqueue in this
// process, and every Poll for mail queued by other replicas or due again.
// A store or relay outage is logged and retried; Run returns nil when ctx
// ends.
func (o *Outbox) Run(ctx context.Context) error {
	if o.cfg.QueueOnly {
		return ErrQueueOnly
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-o.wake:
		case <-t.C:
		}
		if _, err := o.Flush(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("mail: delivery pass failed", "err", err)
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(o.cfg.Poll)
	}
}
