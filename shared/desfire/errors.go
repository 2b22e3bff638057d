package desfire

import (
	"errors"
	"fmt"
)

// The card's status codes (SW1 0x91 for native commands, ISO 7816-4 words for
// ISO commands), as sentinels for errors.Is. A StatusError carries the exact code.
var (
	ErrNoChanges           = errors.New("desfire: no changes (0C)")
	ErrOutOfMemory         = errors.New("desfire: out of EEPROM (0E)")
	ErrIllegalCommand      = errors.New("desfire: illegal command code")
	ErrIntegrity           = errors.New("desfire: integrity error (1E): CRC or MAC does not match, or bad padding")
	ErrNoSuchKey           = errors.New("desfire: no such key (40)")
	ErrLength              = errors.New("desfire: length error")
	ErrPermissionDenied    = errors.New("desfire: permission denied")
	ErrParameter           = errors.New("desfire: parameter error")
	ErrApplicationNotFound = errors.New("desfire: application not found")
	ErrAuthenticationDelay = errors.New("desfire: authentication delay (AD): too many failed attempts")
	ErrAuthenticationError = errors.New("desfire: authentication error (AE)")
	ErrBoundary            = errors.New("desfire: boundary error (BE)")
	ErrCommandAborted      = errors.New("desfire: command aborted (CA)")
	ErrCount               = errors.New("desfire: count error (CE)")
	ErrDuplicate           = errors.New("desfire: duplicate (DE)")
	ErrMemory              = errors.New("desfire: memory error")
	ErrFileNotFound        = errors.New("desfire: file not found")
	ErrUnknownStatus       = errors.New("desfire: unknown status")
)

// Errors the host detects itself.
var (
	// ErrResponseMAC: the response's MAC is wrong (a forged or corrupted answer).
	ErrResponseMAC = errors.New("desfire: response MAC does not match")
	// ErrCardCryptogram: the card's last authentication message does not hold
	// our RndA rotated, so the card does not know the key.
	ErrCardCryptogram = errors.New("desfire: card cryptogram does not match: the card does not know the key")
	// ErrNotAuthenticated: the command needs an authenticated session.
	ErrNotAuthenticated = errors.New("desfire: not authenticated")
	// ErrMalformed: a response (or, on the card side, a command) has the wrong shape.
	ErrMalformed = errors.New("desfire: malformed message")
	// ErrCounterExhausted: the command counter reached 0xFFFF; authenticate again.
	ErrCounterExhausted = errors.New("desfire: command counter exhausted")
)

// Status words the package and the simulator use by name.
const (
	SWOK             uint16 = 0x9100
	SWAdditional     uint16 = 0x91AF
	SWISOOK          uint16 = 0x9000
	SWIntegrity      uint16 = 0x911E
	SWLength         uint16 = 0x917E
	SWPermission     uint16 = 0x919D
	SWParameter      uint16 = 0x919E
	SWAppNotFound    uint16 = 0x91A0
	SWAuthentication uint16 = 0x91AE
	SWBoundary       uint16 = 0x91BE
	SWNoSuchKey      uint16 = 0x9140
	SWIllegalCommand uint16 = 0x911C
	SWDuplicate      uint16 = 0x91DE
	SWFileNotFound   uint16 = 0x91F0
	SWCommandAborted uint16 = 0x91CA
	SWISOWrongLength uint16 = 0x6700
	SWISONotFound    uint16 = 0x6A82
	SWISOWrongP1P2   uint16 = 0x6A86
	SWISOINS         uint16 = 0x6D00
	SWISOCLA         uint16 = 0x6E00
	SWISOSecurity    uint16 = 0x6982
)

// StatusError is a card's answer other than success: the command and the status word.
type StatusError struct {
	Cmd byte   // the native command code (or the ISO INS)
	SW  uint16 // SW1‖SW2
}

func (e *StatusError) Error() string {
	if s := statusSentinel(e.SW); s != ErrUnknownStatus {
		return fmt.Sprintf("command %02X: status %04X: %v", e.Cmd, e.SW, s)
	}
	return fmt.Sprintf("command %02X: unknown status %04X", e.Cmd, e.SW)
}

// Is makes errors.Is(err, ErrAuthenticationError) and the like true.
func (e *StatusError) Is(target error) bool { return statusSentinel(e.SW) == target }

func statusSentinel(sw uint16) error {
	switch sw {
	case 0x910C:
		return ErrNoChanges
	case 0x910E:
		return ErrOutOfMemory
	case SWIllegalCommand, SWISOINS, SWISOCLA:
		return ErrIllegalCommand
	case SWIntegrity:
		return ErrIntegrity
	case SWNoSuchKey:
		return ErrNoSuchKey
	case SWLength, SWISOWrongLength:
		return ErrLength
	case SWPermission, SWISOSecurity, 0x6985:
		return ErrPermissionDenied
	case SWParameter, SWISOWrongP1P2, 0x6A80:
		return ErrParameter
	case SWAppNotFound:
		return ErrApplicationNotFound
	case 0x91AD:
		return ErrAuthenticationDelay
	case SWAuthentication:
		return ErrAuthenticationError
	case SWBoundary:
		return ErrBoundary
	case SWCommandAborted:
		return ErrCommandAborted
	case 0x91CE:
		return ErrCount
	case SWDuplicate:
		return ErrDuplicate
	case 0x91EE, 0x6581:
		return ErrMemory
	case SWFileNotFound, SWISONotFound:
		return ErrFileNotFound
	}
	return ErrUnknownStatus
}

// IsAuthFailure reports whether err means the card failed to prove it holds the
// key (a suspected clone at a door), as opposed to a transport or usage error:
// the card refused our cryptogram, returned a wrong one, or answered with a
// wrong MAC, or does not have the application at all.
func IsAuthFailure(err error) bool {
	for _, target := range []error{ErrAuthenticationError, ErrCardCryptogram, ErrResponseMAC,
		ErrIntegrity, ErrApplicationNotFound, ErrFileNotFound, ErrNoSuchKey, ErrIllegalCommand} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
