package protocol

import (
	"errors"
	"fmt"
)

// Sentinel kinds of protocol errors. Every error returned by a decoder or a
// verifier in this package is an *Error whose Kind is one of these, so callers
// test with errors.Is(err, protocol.ErrExpired) and count by Kind.
var (
	ErrTooLarge           = errors.New("message too large")
	ErrTruncated          = errors.New("message truncated")
	ErrMalformed          = errors.New("malformed message")
	ErrWrongType          = errors.New("field has the wrong type")
	ErrUnknownField       = errors.New("unknown field")
	ErrUnsupportedVersion = errors.New("unsupported protocol version")
	ErrInvalid            = errors.New("invalid field value")
	ErrUnsigned           = errors.New("message is not signed")
	ErrUnknownKey         = errors.New("signed by an unknown key")
	ErrBadSignature       = errors.New("signature does not verify")
	ErrExpired            = errors.New("message expired")
	ErrReplay             = errors.New("version is not newer than the current one")
	ErrGap                = errors.New("delta does not follow the current version")
	ErrWrongDoor          = errors.New("message is for another door")
	// ErrSeqRange is a sequence number above MaxSeq: no door numbers that
	// far, so it is a forged or corrupt message, refused before storage.
	ErrSeqRange = errors.New("sequence number out of range")
)

// Error is a protocol error: a Kind (one of the sentinels above), the field it
// concerns when there is one (a JSON path such as "events[3].uid"), and a
// human-readable detail.
type Error struct {
	Kind   error
	Field  string
	Detail string
	Err    error
}

func (e *Error) Error() string {
	msg := e.Kind.Error()
	if e.Field != "" {
		msg = fmt.Sprintf("%s: %s", e.Field, msg)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Code is a short stable identifier of the error kind, for counters and logs.
func Code(err error) string {
	var pe *Error
	if !errors.As(err, &pe) {
		return "other"
	}
	switch pe.Kind {
	case ErrTooLarge:
		return "too_large"
	case ErrTruncated:
		return "truncated"
	case ErrMalformed:
		return "malformed"
	case ErrWrongType:
		return "wrong_type"
	case ErrUnknownField:
		return "unknown_field"
	case ErrUnsupportedVersion:
		return "unsupported_version"
	case ErrInvalid:
		return "invalid"
	case ErrUnsigned:
		return "unsigned"
	case ErrUnknownKey:
		return "unknown_key"
	case ErrBadSignature:
		return "bad_signature"
	case ErrExpired:
		return "expired"
	case ErrReplay:
		return "replay"
	case ErrGap:
		return "gap"
	case ErrWrongDoor:
		return "wrong_door"
	case ErrSeqRange:
		return "seq_range"
	}
	return "other"
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Field: field, Detail: fmt.Sprintf(format, args...)}
}
