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
// # Amounts
//
// A line is minutes (unit MIN) at a price per 60 minutes: its net is
// minutes × price ÷ 60 rounded to the cent once per line, halves away from
// zero (invoice.RoundingRule, the same as credit.RoundingRule); VAT is
// rounded once per category and rate. VAT is the price's rate (21 % by
// default, category S), or reverse charge (AE, VATEX-EU-AE) for a buyer
// with a VAT number of another EU member state than the seller's (VATFor).
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
// prices. Not implemented: hour packs, room bookings on invoices (room
// prices are stored, not yet billed), VAT exemptions per line category.
package billing
