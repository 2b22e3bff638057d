package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Encode marshals a message for the wire and enforces MaxMessageSize.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode %T: %w", v, err)
	}
	if len(b) > MaxMessageSize {
		return nil, &Error{Kind: ErrTooLarge, Detail: fmt.Sprintf("%T encodes to %d bytes; at most %d", v, len(b), MaxMessageSize)}
	}
	return b, nil
}

// versioned is a message that carries the protocol version.
type versioned interface{ version() int }

func (m *EventBatch) version() int  { return m.V }
func (m *Ack) version() int         { return m.V }
func (m *SyncRequest) version() int { return m.V }
func (m *Status) version() int      { return m.V }
func (m *Whitelist) version() int   { return m.V }
func (m *Command) version() int     { return m.V }

// decodeStrict decodes exactly one JSON object into v, rejecting oversize
// input, unknown fields, trailing data and other protocol versions, and maps
// encoding/json's errors onto this package's kinds.
func decodeStrict(b []byte, v versioned) error {
	if len(b) > MaxMessageSize {
		return &Error{Kind: ErrTooLarge, Detail: fmt.Sprintf("%d bytes; at most %d", len(b), MaxMessageSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if ver, ok := peekVersion(b); ok && ver != Version {
			return &Error{Kind: ErrUnsupportedVersion, Field: "v", Detail: fmt.Sprintf("%d; this side speaks %d", ver, Version)}
		}
		return mapJSONError(err, len(b))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Kind: ErrMalformed, Detail: "data after the JSON object"}
	}
	if got := v.version(); got != Version {
		return &Error{Kind: ErrUnsupportedVersion, Field: "v", Detail: fmt.Sprintf("%d; this side speaks %d", got, Version)}
	}
	return nil
}

// peekVersion reads the "v" field of a JSON object, ignoring the rest.
func peekVersion(b []byte) (int, bool) {
	var p struct {
		V *int `json:"v"`
	}
	if json.Unmarshal(b, &p) != nil || p.V == nil {
		return 0, false
	}
	return *p.V, true
}

func mapJSONError(err error, size int) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Kind: ErrTruncated, Detail: fmt.Sprintf("input ends after %d bytes", size)}
	case errors.As(err, &syn):
		if strings.Contains(syn.Error(), "unexpected end of JSON input") {
			return &Error{Kind: ErrTruncated, Detail: fmt.Sprintf("input ends after %d bytes", size)}
		}
		return &Error{Kind: ErrMalformed, Detail: fmt.Sprintf("at byte %d", syn.Offset), Err: err}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(message)"
		}
		return &Error{Kind: ErrWrongType, Field: field, Detail: fmt.Sprintf("got JSON %s, want %s", typ.Value, typ.Type)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &Error{Kind: ErrUnknownField, Field: strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)}
	}
	return &Error{Kind: ErrMalformed, Err: err}
}

// DecodeEventBatch decodes and validates an event batch from a door.
func DecodeEventBatch(b []byte) (*EventBatch, error) {
	var m EventBatch
	if err := decodeStrict(b, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// DecodeAck decodes and validates an acknowledgement from the central.
func DecodeAck(b []byte) (*Ack, error) {
	var m Ack
	if err := decodeStrict(b, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// DecodeSyncRequest decodes and validates a whitelist sync request.
func DecodeSyncRequest(b []byte) (*SyncRequest, error) {
	var m SyncRequest
	if err := decodeStrict(b, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// DecodeStatus decodes and validates a door status.
func DecodeStatus(b []byte) (*Status, error) {
	var m Status
	if err := decodeStrict(b, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}
