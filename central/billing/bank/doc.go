// Package bank checks and formats the identifiers a Belgian invoice and a
// SEPA payment carry: the Belgian structured communication
// (+++123/4567/89002+++, "OGM/VCS"), IBANs (ISO 13616) and BICs
// (ISO 9362). It has no state and no I/O.
//
// # Structured communication
//
// Twelve digits: ten of reference, then a check of two digits, the ten
// taken as a number modulo 97, written 97 when the remainder is 0. It is
// shown as +++ddd/dddd/ddddd+++ and travels in bank files as the twelve
// digits alone (ISO 20022 structured remittance, issuer BBA).
//
// # IBAN
//
// An IBAN is a country code, two check digits and a national account
// number (BBAN). It is valid when its length is the one registered for its
// country (the table covers the SEPA countries and the other IBAN
// countries of the SWIFT registry) and when the number formed by moving the
// first four characters to the end, letters read as 10–35, is 1 modulo 97.
// Spaces are accepted on input and removed; letters are upper-cased.
package bank
