// Package sepa writes SEPA payment data: the ISO 20022 credit-transfer
// initiation file (pain.001.001.09) that pays several payees in one upload
// to the payer's bank, and the EPC069-12 "SEPA QR" payload printed on an
// invoice for the payer's banking app. No state, no I/O.
//
// # Why pain.001.001.09
//
// The EPC's SEPA Credit Transfer implementation guidelines moved to the
// 2019 version of ISO 20022 in November 2023 (EPC132-08, 2023 version
// 1.0), which is pain.001.001.09, and Belgian banks (Febelfin's standard)
// follow it; pain.001.001.03 is the 2009 version, still accepted during
// the migration but on its way out. The tests validate the file against
// the EPC's restricted pain.001.001.09 schema.
//
// # The file
//
// One group header (message id, creation time, number of transactions,
// control sum, initiating party), one payment information block (credit
// transfer, service level SEPA, requested execution date, debtor, its
// account and bank, charges SLEV) and one transaction per payee (end-to-end
// id, amount in EUR, creditor, its account, its bank when a BIC is known,
// remittance information). A Belgian structured communication travels as
// structured remittance (creditor reference type SCOR, issuer BBA, the
// twelve digits); other remittance as unstructured text. Control sums are
// exact sums of cents. Names and texts are written in the SEPA basic Latin
// character set (accents removed, other characters replaced by a space),
// which every SEPA bank accepts.
//
// # The QR payload
//
// EPC069-12 version 002: BCD, 002, 1 (UTF-8), SCT, BIC (optional), name,
// IBAN, amount (EUR with two decimals), purpose, structured reference or
// unstructured text, lines separated by LF and trailing empty lines
// dropped; at most 331 bytes. A Belgian structured communication goes in the
// structured reference field as its twelve digits, where Belgian banking
// apps look for it. InvoiceQR builds the payload of an invoice.Document.
package sepa
