// Package invoicemail tells each member that a document issued to them (an
// invoice, an extra invoice, a credit note) is available at /my/invoices:
// one e-mail per document, in the language of the member's billing details
// (the web layer's one translation catalog, keys billing.mail.*), with the
// number, the amount, the due date and account, the structured
// communication, and the document's PDF attached.
//
// It runs after the documents' transaction committed (billing.Config.Notify)
// and only queues the messages in the store's outbox (central/mail), which
// delivers them with retries across relay outages and restarts. A message
// that cannot be queued (the store is down, the address is refused) is
// logged and counted (swc_billing_mail_failures_total) and never undoes the
// issue; queueing the period's documents again (Notifier.Notify, or
// `swc-central billing mail`) queues what is missing only: each document's
// message has the idempotency key invoice:ISSUER:NUMBER.
package invoicemail

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	netmail "net/mail"
	"strings"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/billing/invoicepdf"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// Queue is where the messages go (*mail.Outbox).
type Queue interface {
	Enqueue(ctx context.Context, key string, m mail.Message) (id string, queued bool, err error)
}

// DetailsSource gives a member's billing details (store.BillingStore).
type DetailsSource interface {
	Details(ctx context.Context, kind billing.PartyKind, id string) (billing.Details, error)
}

// Config configures a Notifier.
type Config struct {
	Queue   Queue
	Details DetailsSource
	Catalog *i18n.Catalog
	// SiteURL is where members reach the booking site, such as
	// https://central.example.org (the link is SiteURL/my/invoices); empty:
	// the message names the path only.
	SiteURL string
	Log     *slog.Logger
	Metrics *metrics.Registry
}

// Notifier queues the members' e-mails of issued documents.
type Notifier struct {
	cfg              Config
	queued, failures *metrics.Counter
}

// New returns a Notifier; it registers its counters in cfg.Metrics.
func New(cfg Config) (*Notifier, error) {
	if cfg.Queue == nil || cfg.Details == nil || cfg.Catalog == nil {
		return nil, errors.New("invoicemail: Queue, Details and Catalog are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	cfg.SiteURL = strings.TrimSuffix(cfg.SiteURL, "/")
	return &Notifier{cfg: cfg,
		queued:   cfg.Metrics.Counter("swc_billing_mail_queued_total", "Members' e-mails of issued billing documents queued in the outbox."),
		failures: cfg.Metrics.Counter("swc_billing_mail_failures_total", "Members' e-mails of issued billing documents that could not be queued (the documents stay issued; queue them again with swc-central billing mail)."),
	}, nil
}

// Result counts what Notify did.
type Result struct {
	Queued  int // new messages in the outbox
	Already int // queued before (same document)
	Skipped int // not a member's document, or no e-mail address
	Failed  int // logged and counted
}

// Key is the idempotency key of a document's message.
func Key(is *billing.Issued) string { return "invoice:" + is.Issuer + ":" + is.Number }

// Notify queues one message per member document of docs. It never fails
// as a whole: each failure is logged, counted and in Result.Failed.
func (n *Notifier) Notify(ctx context.Context, docs []billing.Issued) Result {
	var r Result
	for i := range docs {
		is := &docs[i]
		if is.MemberID == "" || is.Doc.Buyer.Email == "" {
			r.Skipped++
			continue
		}
		queued, err := n.one(ctx, is)
		switch {
		case err != nil:
			r.Failed++
			n.failures.Inc()
			n.cfg.Log.ErrorContext(ctx, "billing: member e-mail not queued; the document stays issued", "issuer", is.Issuer, "number", is.Number, "member", is.MemberID, "err", err)
		case queued:
			r.Queued++
			n.queued.Inc()
		default:
			r.Already++
		}
	}
	if len(docs) > 0 {
		n.cfg.Log.InfoContext(ctx, "billing: members' e-mails", "queued", r.Queued, "already", r.Already, "skipped", r.Skipped, "failed", r.Failed)
	}
	return r
}

// NotifyFunc is Notify as billing.Config.Notify.
func (n *Notifier) NotifyFunc() func(context.Context, []billing.Issued) {
	return func(ctx context.Context, docs []billing.Issued) { n.Notify(ctx, docs) }
}

// Message is the e-mail of one issued document, in its member's language.
func (n *Notifier) Message(ctx context.Context, is *billing.Issued) (mail.Message, error) {
	lang := ""
	d, err := n.cfg.Details.Details(ctx, billing.PartyMember, is.MemberID)
	if err == nil {
		lang = d.Lang
	} else {
		n.cfg.Log.WarnContext(ctx, "billing: member details unreadable, e-mail in French", "member", is.MemberID, "err", err)
	}
	pl, err := invoicepdf.ParseLang(cmp.Or(lang, string(invoicepdf.French)))
	if err != nil {
		return mail.Message{}, err
	}
	l := n.cfg.Catalog.Locale(billing.CatalogLang(string(pl)))
	doc := &is.Doc
	link := n.cfg.SiteURL + "/my/invoices"
	args := []any{"name", doc.Buyer.Name, "number", is.Number, "period", is.Period.String(),
		"amount", l.Money(is.PayableCents, is.Currency), "seller", doc.Seller.Name, "link", link}
	kind := "invoice"
	if doc.IsCreditNote() {
		kind = "credit"
	}
	text := l.T("billing.mail."+kind+".text", args...)
	if p := doc.Payment; p != nil && !doc.IsCreditNote() && is.PayableCents > 0 {
		text += "\n\n" + l.T("billing.mail.invoice.pay", "amount", l.Money(is.PayableCents, is.Currency), "due", l.Date(doc.DueDate, doc.DueDate.Location()), // a calendar date in its own location
			"iban", p.IBAN, "communication", p.Communication.String())
	}
	pdf, err := billing.PDF(is, string(pl))
	if err != nil {
		return mail.Message{}, err
	}
	to := (&netmail.Address{Name: doc.Buyer.Name, Address: doc.Buyer.Email}).String()
	return mail.Message{To: to, Subject: l.T("billing.mail."+kind+".subject", args...), Text: text,
		Attachments: []mail.Attachment{{Filename: invoicepdf.FileName(doc, pl), ContentType: "application/pdf", Data: pdf}}}, nil
}

func (n *Notifier) one(ctx context.Context, is *billing.Issued) (bool, error) {
	m, err := n.Message(ctx, is)
	if err != nil {
		return false, err
	}
	_, queued, err := n.cfg.Queue.Enqueue(ctx, Key(is), m)
	return queued, err
}
