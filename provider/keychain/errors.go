package keychain

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns is a
// [*provider.Error] that wraps one of these where it applies, alongside
// [provider.ErrNotFound] or [provider.ErrUnavailable].
var (
	// ErrNoKeyring means there is no keyring service to talk to at all: on
	// Linux, no D-Bus session bus or no Secret Service on it. Retrieve
	// reports it as [provider.ErrNotFound] (see the package doc, "No
	// keyring"); after the service has answered once, its disappearance is
	// [provider.ErrUnavailable] instead.
	ErrNoKeyring = errors.New("keychain: no keyring service")
	// ErrLocked means the keyring (the Secret Service collection, the macOS
	// keychain) is locked and could not be unlocked without a prompt.
	ErrLocked = errors.New("keychain: keyring is locked")
	// ErrTimeout means a keyring call did not return before the deadline.
	// It comes with [provider.ErrUnavailable] and
	// [context.DeadlineExceeded].
	ErrTimeout = errors.New("keychain: keyring did not answer in time")
	// ErrBusy means Options.MaxInFlight keyring calls are still running
	// (stuck in the OS keyring library, which cannot be interrupted), so no
	// further call was started. It comes with [provider.ErrUnavailable].
	ErrBusy = errors.New("keychain: too many keyring calls have not returned")
	// ErrTooLarge is wrapped by [*SizeError].
	ErrTooLarge = errors.New("keychain: value too large for the keychain")
	// ErrInvalidName means a profile or field name cannot be mapped onto
	// keychain service and account names (see "Naming" in the package doc).
	ErrInvalidName = errors.New("keychain: invalid name")
	// ErrEmptyValue means Store was given an empty value; use Delete to
	// remove a field.
	ErrEmptyValue = errors.New("keychain: empty value")
	// ErrReadBack means a value read back right after it was written
	// differs from what was written.
	ErrReadBack = errors.New("keychain: value read back differs from value written")
	// ErrNotDeleted means an item was still there after Delete removed it:
	// the keychain kept answering success for a delete while the item stayed
	// readable. Delete never returns nil while an item it deleted can still
	// be read.
	ErrNotDeleted = errors.New("keychain: item still present after delete")
	// ErrBadIndex means an index item (see "Listing" in the package doc)
	// holds something that is not a valid index.
	ErrBadIndex = errors.New("keychain: invalid index item")
)

// SizeError reports a value longer than the keychain accepts. It never
// holds the value.
type SizeError struct {
	Field string // field name
	Size  int    // length of the value in bytes
	Limit int    // the limit in bytes
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("keychain: field %q is %d bytes, over the limit of %d bytes per keychain item (Windows Credential Manager keeps at most 2560)", e.Field, e.Size, e.Limit)
}

// Unwrap returns [ErrTooLarge].
func (e *SizeError) Unwrap() error { return ErrTooLarge }

// multiErr reads as msg and unwraps to every error in errs, so that a short
// message can carry both a provider sentinel and a keychain one.
type multiErr struct {
	msg  string
	errs []error
}

func (e *multiErr) Error() string   { return e.msg }
func (e *multiErr) Unwrap() []error { return e.errs }

func wrapMsg(msg string, errs ...error) error { return &multiErr{msg: msg, errs: errs} }
