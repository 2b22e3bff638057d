// Package billing is the network's billing domain on top of the formats
// (invoice, bank, ubl, sepa, invoicepdf): prices with validity, the
// parties' billing details, a period's member invoices, their corrections,
// the cooperative's self-billed invoices to the centers and the payouts
// file, and the cross-center invoices between centers. It computes; the store (store.BillingStore) keeps, numbers and
// audits; the API and console call Service.
//
// # Who invoices whom
//
// One invoice per member and period for the whole network, from the party
// that owns the client (PRODUCT.md 4.6): the cooperative for a nomadic
// member, the home center for a local member, whose hours in other
// centers (cross_center) are on the same invoice. A line per center where
// hours were spent: the ledger's credited minutes (credit.Visit) for
// nomadic and cross-center hours; for a local member at home, which the
// ledger records without crediting, the visit's length rounded up to the
// quarter hour as the ledger rounds (QuarterMinutes). The hour is priced
// at the issuer's price valid in the period: PriceNomadicHour for the
// cooperative, PriceCenterHour of the home center. Optional lines: a
// no-show fee per booking day not attended (PriceNoShow of the issuer)
// and, for members on PlanMonthlyPass, the pass (PriceMonthlyPass), which
// then covers the hours with the issuer.
//
// # Hour packs
//
// A Pack is Hours bought at a price from the party that owns the client
// (sold by the home center's manager to a local member, by the
// cooperative to a nomadic member; the store sets Issuer from the
// member's home), usable from the month ValidFrom to ValidUntil. Its
// purchase is a line (C62, its price, its VAT rate) of the member's
// invoice of ValidFrom, the month it starts — the invoice an accountant
// books it with, alone if the member used no hour that month; the VAT on
// a prepayment is due on that invoice, so the hours it covers later carry
// none. The hours the issuer bills at the hourly price (not those a
// monthly pass covers) are taken from the member's packs usable in the
// period in order of time (visit by visit, by start), from the pack that
// expires first (then the oldest, then by id), carried over month to
// month until ValidUntil (what is left then is lost). On the invoice,
// per center and class, the hours billed are a line at the hour price and
// the hours covered a line per pack at price 0; the draft carries the
// minutes taken (Draft.PackUses), which the store records with the
// invoice in the same transaction, audited, refusing a use beyond what a
// pack holds. What a pack holds still is Pack.RemainingMinutes (the API's
// GET /billing/members/{id}/packs). An invoice whose hours are all
// covered has nothing to pay and no payment instructions. Corrections of
// a closed period (below) are priced by the hour: packs are not consumed
// again.
//
// # Room bookings
//
// Booked meeting-room time is billed by booking, not by door taps: every
// room booking that starts in the period (the network's time zone) and is
// confirmed or released (nobody checked in: booked and not attended,
// payable all the same) is billed for its length (a started minute
// counts whole) at the room's PriceRoomHour valid in the period, one line
// per room, on the member's invoice by the issuer that owns the client,
// beside the member's hours (the room price is the room's hire; the hours
// are the member's time in the network, credited and settled as before).
// A cancelled booking is not billed: the booking site refuses a member's
// cancellation after the center's deadline (BookingRules.
// CancelDeadlineMinutes), so a cancelled booking was cancelled before the
// cut-off, or by the staff (the API's booking update or delete has no
// deadline), who waive it. A booked room without a price
// blocks the member's invoice and is reported on its center (Missing).
// A booking changed after its period was invoiced is not corrected.
//
// # VAT
//
// A member's line's VAT is, in this order: the customer's exemption
// (Details.VATExemption, category E: VATEX-EU-151-1A a diplomatic or
// consular mission, VATEX-EU-151-1B an international organisation; Belgian
// VAT Code art. 42 §3) on every line; the price's exemption
// (Price.VATExemption, category E: VATEX-EU-135-1 the letting of a room
// let bare, art. 44 §3 2°; VATEX-EU-132 activities in the public interest,
// art. 44 §2) on that price's lines; reverse charge (AE) for a buyer with a
// VAT number of another EU member state (VATFor); else the price's rate
// (category S). Lines exempt for two reasons cannot share one invoice
// (EN 16931: one breakdown, one reason, per category): the member is
// reported, not invoiced. VATExemptions lists the codes and the legal
// texts printed on the invoice.
//
// # Language
//
// The words the billing writes on a document (its lines, the note of its
// period, the payment terms, the exemption texts, a void's note) come
// from the one translation catalog (central/web/i18n, keys billing.doc.*;
// Input.Catalog, Config.Catalog) in the language of the document's buyer:
// a member's Details.Lang (fr, nl or en; empty: fr, as the PDF and the
// e-mail, CatalogLang), the center's for the self-billed invoices written
// in its name, the home center's for a cross-center invoice. Months are
// written in words as on the billing pages ("novembre 2026"); the PDF
// prints the period's dates. The words are part of the document: an issued
// document keeps the words it was issued with, whatever language its PDF
// is later rendered in (documents issued before this were written in
// English). A VAT exemption keeps its VATEX code (BT-121) beside its text
// (BT-120). Missing says why a party is blocked in English (Reason) and
// by code (Code, Args), which the billing page translates.
//
// # Amounts
//
// A line of hours or of room time is minutes (unit MIN) at a price per
// 60 minutes: its net is minutes × price ÷ 60 rounded to the cent once per
// line, halves away from zero (invoice.RoundingRule, the same as
// credit.RoundingRule); VAT is rounded once per category and rate (see VAT
// above; the self-billed and cross-center invoices use VATFor: 21 % or
// reverse charge).
//
// # Numbers, immutability, corrections
//
// Documents are numbered per issuer and year (ISSUER-2026-000001) without
// gaps: the store increments a counter row of (issuer, year) in the
// transaction that inserts the documents, so numbers taken by a failed
// issue are rolled back with it, and concurrent issues wait on the row.
// The self-billed invoices have their own series (SelfBillingSeries).
// Every payable document gets the structured communication of its number
// (Communication). An issued document is kept as its model (JSON) and UBL
// bytes with their SHA-256 and never changes. Late events of a closed
// period reach the ledger as adjustments booked in the first open period
// (credit package); issuing that period makes, per member and corrected
// period, an extra invoice for hours added and a credit note (381)
// referring to the corrected invoice for hours taken back, priced at the
// prices of the corrected period. A document is voided by a credit note of
// all its lines (Void).
//
// # Self-billing and payouts
//
// Per period, the cooperative issues a self-billed invoice (389) in each
// center's name for the nomadic hours it hosted and the nomadic
// adjustments booked in the period, at the settlement's rates, one line
// each, so that the net equals the settlement's nomadic amounts to the
// cent. The payouts file (Payouts) is a SEPA pain.001 paying each center
// the amount due of its self-billed invoices of the period. Each host
// center invoices each home center for the home's members' hours it
// hosted (the settlement's cross-center lines, at its rates, one line
// each): the nets equal the settlement's cross-center amounts and the
// home centers' invoice amounts to the cent; those are paid between the
// centers, not through the payouts file.
//
// # Prices
//
// A price applies from a month (ValidFrom) until the next version of the
// same kind, center and room. The store refuses a version starting in or
// before a period already invoiced, so an invoiced period keeps its
// prices; likewise an hour pack. Not implemented: room hire collected by
// the cooperative or a home center for a room of another center is not
// passed on to that center (the self-billed and cross-center invoices
// carry the settlement's hours only); a pack cannot be refunded or
// cancelled (a credit note by hand), and voiding an invoice gives back
// neither the pack it sold nor the pack hours it took; a period issued
// before an earlier one takes pack hours before it.
package billing
