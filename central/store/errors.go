package store

import (
	"errors"
	"fmt"
)

// Kinds of store errors; test with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrExists         = errors.New("already exists")
	ErrMissingRef     = errors.New("refers to a missing object")
	ErrInUse          = errors.New("still referred to")
	ErrOverlap        = errors.New("overlaps a confirmed booking of the room")
	ErrStale          = errors.New("older than the stored state")
	ErrBadCredentials = errors.New("bad credentials")
	ErrImport         = errors.New("import rejected")
	// ErrRetired refuses an id that belonged to a deleted object and is not
	// given to another one (the ids of deleted centers).
	ErrRetired = errors.New("belonged to a deleted object and is not reused")
	// ErrTokenUsed and ErrTokenExpired refuse a one-time enrollment token
	// that was already redeemed or has expired.
	ErrTokenUsed    = errors.New("enrollment token already used")
	ErrTokenExpired = errors.New("enrollment token expired")
	// ErrConflict refuses events whose (door, store, seq) is stored with
	// other content: a door whose numbering restarted within one store,
	// which only a door from before store identities does (or a forged
	// message). Such events are not duplicates and are not acknowledged.
	ErrConflict = errors.New("an event with the same door, store and seq is stored with other content")
)

// BatchError is a failure of AppendBatches caused by one batch's own
// content (an invalid event, a conflict): the same batch fails the same
// way every time, and the other batches can be stored without it. Index
// is the batch's position in the call.
type BatchError struct {
	Index int
	Door  string
	Store string
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("batch %d (door %s, store %q): %v", e.Index, e.Door, e.Store, e.Err)
}

// Unwrap returns the cause.
func (e *BatchError) Unwrap() error { return e.Err }

// Error is a store error of one Kind about one field.
type Error struct {
	Kind    error
	Field   string
	Message string
}

func (e *Error) Error() string {
	msg := e.Kind.Error()
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Errf returns an *Error.
func Errf(kind error, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)}
}

// RowError says why one row of an import was refused. Row is 1-based.
type RowError struct {
	// List names the bundle's list of the row (Store.Import; "" for
	// ImportBookings).
	List    string `json:"list,omitempty"`
	Row     int    `json:"row"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// MaxRowErrors bounds the rows an ImportError lists; Total counts them all.
const MaxRowErrors = 1000

// ImportError is returned by an import that stored nothing because rows were
// wrong.
type ImportError struct {
	Rows  []RowError
	Total int
}

func (e *ImportError) Error() string {
	if len(e.Rows) == 0 {
		return "import rejected"
	}
	r := e.Rows[0]
	return fmt.Sprintf("import rejected: %d rows wrong, first row %d: %s: %s", e.Total, r.Row, r.Field, r.Message)
}

// Is makes errors.Is(err, ErrImport) true.
func (e *ImportError) Is(target error) bool { return target == ErrImport }

// Add records a row error.
func (e *ImportError) Add(r RowError) {
	e.Total++
	if len(e.Rows) < MaxRowErrors {
		e.Rows = append(e.Rows, r)
	}
}
