package sepa

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/billing/bank"
)

// ErrInvalid is matched (errors.Is) by every error of Transfer.Validate.
var ErrInvalid = errors.New("invalid credit transfer")

// Namespace is the pain.001.001.09 namespace.
const Namespace = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"

const (
	maxPayments    = 100_000
	maxAmountCents = 99_999_999_999 // 999,999,999.99 EUR, the EPC maximum
	maxIDLen       = 35
)

// Transfer is one credit-transfer initiation: one debtor account paying
// every payee, on one execution date.
type Transfer struct {
	// MessageID identifies the file for the bank (unique per debtor,
	// at most 35 characters); it is also the payment information id.
	MessageID string
	// CreatedAt is the file's creation time.
	CreatedAt time.Time
	// ExecutionDate is the date the bank should pay (its calendar date).
	ExecutionDate time.Time
	Debtor        Account
	Payments      []Payment
}

// Account is a party with its bank account. BIC is optional for SEPA
// payments within the EEA.
type Account struct {
	Name string
	IBAN string
	BIC  string
}

// Payment is one transaction to one payee.
type Payment struct {
	// EndToEndID is the payer's reference of this payment, returned to it
	// by the bank (at most 35 characters, unique within the file).
	EndToEndID  string
	Creditor    Account
	AmountCents int64
	// Communication is the structured communication to send; Text is the
	// free remittance text used when there is none (at most 140).
	Communication bank.Communication
	Text          string
}

// ControlSumCents is the sum of the payments, in cents.
func (t *Transfer) ControlSumCents() int64 {
	var s int64
	for _, p := range t.Payments {
		s += p.AmountCents
	}
	return s
}

// Validate checks the transfer and returns an error matching ErrInvalid
// that names every field at fault ("payments[2].creditor.iban: ...").
func (t *Transfer) Validate() error {
	var problems []string
	add := func(field, format string, args ...any) {
		problems = append(problems, field+": "+fmt.Sprintf(format, args...))
	}
	id := func(field, s string) {
		switch {
		case s == "":
			add(field, "required")
		case len(s) > maxIDLen:
			add(field, "%d characters; at most %d", len(s), maxIDLen)
		case latin(s, maxIDLen) != s || strings.HasPrefix(s, "/") || strings.Contains(s, "//"):
			add(field, "%q: use letters, digits and - ? : ( ) . , ' + only, without leading or double slash", s)
		}
	}
	account := func(field string, a Account, bicRequired bool) {
		if strings.TrimSpace(a.Name) == "" || latin(a.Name, 70) == "" {
			add(field+".name", "required")
		}
		if iban, err := bank.ParseIBAN(a.IBAN); err != nil {
			add(field+".iban", "%v", err)
		} else if !iban.SEPA() {
			add(field+".iban", "%s is not in a SEPA country", iban.Country())
		}
		if a.BIC == "" && bicRequired {
			add(field+".bic", "required")
		} else if a.BIC != "" {
			if _, err := bank.ParseBIC(a.BIC); err != nil {
				add(field+".bic", "%v", err)
			}
		}
	}
	id("message_id", t.MessageID)
	if t.CreatedAt.IsZero() {
		add("created_at", "required")
	}
	if t.ExecutionDate.IsZero() {
		add("execution_date", "required")
	}
	account("debtor", t.Debtor, false)
	switch {
	case len(t.Payments) == 0:
		add("payments", "at least one payment")
	case len(t.Payments) > maxPayments:
		add("payments", "%d payments; at most %d", len(t.Payments), maxPayments)
	}
	seen := map[string]bool{}
	for i, p := range t.Payments {
		f := fmt.Sprintf("payments[%d]", i)
		id(f+".end_to_end_id", p.EndToEndID)
		if seen[p.EndToEndID] {
			add(f+".end_to_end_id", "%q repeats an earlier payment's", p.EndToEndID)
		}
		seen[p.EndToEndID] = true
		account(f+".creditor", p.Creditor, false)
		if p.AmountCents < 1 || p.AmountCents > maxAmountCents {
			add(f+".amount", "%d cents; want 1 to %d", p.AmountCents, int64(maxAmountCents))
		}
		if !p.Communication.IsZero() && p.Text != "" {
			add(f+".text", "give a structured communication or a text, not both")
		}
		if len([]rune(p.Text)) > 140 {
			add(f+".text", "%d characters; at most 140", len([]rune(p.Text)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// Marshal validates t and writes it as a pain.001.001.09 document.
func Marshal(t *Transfer) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("sepa: %w", err)
	}
	n := fmt.Sprint(len(t.Payments))
	sum := formatCents(t.ControlSumCents())
	doc := document{NS: Namespace, Initiation: initiation{
		Header: groupHeader{MsgID: t.MessageID, CreDtTm: t.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"),
			NbOfTxs: n, CtrlSum: sum, InitgPty: partyName{Nm: latin(t.Debtor.Name, 70)}},
		Payment: paymentInfo{PmtInfID: t.MessageID, PmtMtd: "TRF", NbOfTxs: n, CtrlSum: sum,
			SvcLvl: "SEPA", ReqdExctnDt: t.ExecutionDate.Format(time.DateOnly),
			Dbtr: partyName{Nm: latin(t.Debtor.Name, 70)}, DbtrAcct: ibanAccount{IBAN: upper(t.Debtor.IBAN)},
			DbtrAgt: agent(t.Debtor.BIC), ChrgBr: "SLEV"}}}
	for _, p := range t.Payments {
		tx := transaction{EndToEndID: p.EndToEndID, Amount: instructed{Ccy: "EUR", Value: formatCents(p.AmountCents)},
			Cdtr: partyName{Nm: latin(p.Creditor.Name, 70)}, CdtrAcct: ibanAccount{IBAN: upper(p.Creditor.IBAN)}}
		if p.Creditor.BIC != "" {
			a := agent(p.Creditor.BIC)
			tx.CdtrAgt = &a
		}
		switch {
		case !p.Communication.IsZero():
			tx.RmtInf = &remittance{Strd: &structured{Cd: "SCOR", Issr: "BBA", Ref: p.Communication.Digits()}}
		case p.Text != "":
			tx.RmtInf = &remittance{Ustrd: latin(p.Text, 140)}
		}
		doc.Initiation.Payment.Transactions = append(doc.Initiation.Payment.Transactions, tx)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("sepa: encode %s: %w", t.MessageID, err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func upper(iban string) string { return strings.ToUpper(strings.ReplaceAll(iban, " ", "")) }

// agent names a bank by BIC, or NOTPROVIDED as the EPC guidelines allow.
func agent(bic string) finAgent {
	if bic == "" {
		return finAgent{Othr: &other{ID: "NOTPROVIDED"}}
	}
	b, _ := bank.ParseBIC(bic)
	return finAgent{BICFI: b}
}

// formatCents writes cents as an ISO 20022 amount: 12345 is "123.45".
func formatCents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

type document struct {
	XMLName    xml.Name   `xml:"Document"`
	NS         string     `xml:"xmlns,attr"`
	Initiation initiation `xml:"CstmrCdtTrfInitn"`
}

type initiation struct {
	Header  groupHeader `xml:"GrpHdr"`
	Payment paymentInfo `xml:"PmtInf"`
}

type groupHeader struct {
	MsgID    string    `xml:"MsgId"`
	CreDtTm  string    `xml:"CreDtTm"`
	NbOfTxs  string    `xml:"NbOfTxs"`
	CtrlSum  string    `xml:"CtrlSum"`
	InitgPty partyName `xml:"InitgPty"`
}

type partyName struct {
	Nm string `xml:"Nm"`
}

type paymentInfo struct {
	PmtInfID     string        `xml:"PmtInfId"`
	PmtMtd       string        `xml:"PmtMtd"`
	NbOfTxs      string        `xml:"NbOfTxs"`
	CtrlSum      string        `xml:"CtrlSum"`
	SvcLvl       string        `xml:"PmtTpInf>SvcLvl>Cd"`
	ReqdExctnDt  string        `xml:"ReqdExctnDt>Dt"`
	Dbtr         partyName     `xml:"Dbtr"`
	DbtrAcct     ibanAccount   `xml:"DbtrAcct"`
	DbtrAgt      finAgent      `xml:"DbtrAgt"`
	ChrgBr       string        `xml:"ChrgBr"`
	Transactions []transaction `xml:"CdtTrfTxInf"`
}

type ibanAccount struct {
	IBAN string `xml:"Id>IBAN"`
}

type finAgent struct {
	BICFI string `xml:"FinInstnId>BICFI,omitempty"`
	Othr  *other `xml:"FinInstnId>Othr"`
}

type other struct {
	ID string `xml:"Id"`
}

type instructed struct {
	Ccy   string `xml:"Ccy,attr"`
	Value string `xml:",chardata"`
}

type transaction struct {
	EndToEndID string      `xml:"PmtId>EndToEndId"`
	Amount     instructed  `xml:"Amt>InstdAmt"`
	CdtrAgt    *finAgent   `xml:"CdtrAgt"`
	Cdtr       partyName   `xml:"Cdtr"`
	CdtrAcct   ibanAccount `xml:"CdtrAcct"`
	RmtInf     *remittance `xml:"RmtInf"`
}

type remittance struct {
	Ustrd string      `xml:"Ustrd,omitempty"`
	Strd  *structured `xml:"Strd"`
}

type structured struct {
	Cd   string `xml:"CdtrRefInf>Tp>CdOrPrtry>Cd"`
	Issr string `xml:"CdtrRefInf>Tp>Issr"`
	Ref  string `xml:"CdtrRefInf>Ref"`
}
