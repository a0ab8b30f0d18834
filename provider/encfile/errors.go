package encfile

import (
	"errors"

	"github.com/mcpcred/mcpcred/internal/securefile"
)

// Sentinel errors. Every error the package returns is a [*provider.Error]
// (or, from [New], an error) that wraps one of these where it applies,
// alongside provider.ErrNotFound, provider.ErrUnavailable or
// provider.ErrConflict.
var (
	// ErrNoKey means no key is configured: neither Options.Key nor
	// MCPCRED_ENCFILE_KEY nor MCPCRED_ENCFILE_KEY_FILE.
	ErrNoKey = errors.New("encfile: no key")
	// ErrBadKey means the configured key is not 32 bytes (Options.Key),
	// not base64 of 32 bytes (MCPCRED_ENCFILE_KEY or the key file), or the
	// key file cannot be read or is not private.
	ErrBadKey = errors.New("encfile: invalid key")
	// ErrCannotOpen means a file did not authenticate under the key: it
	// was sealed with another key, changed after it was written, or
	// written under another name and copied or renamed to this one.
	ErrCannotOpen = errors.New("encfile: the file cannot be opened with this key")
	// ErrFormat means a file is not an encfile file of a version this
	// package reads (too short, another magic or version).
	ErrFormat = errors.New("encfile: not an encfile file")
	// ErrInvalidName means a profile or field name cannot name a file or
	// a stored field (see "Names" in the package doc). For Retrieve it
	// comes with provider.ErrNotFound: no file can hold it.
	ErrInvalidName = errors.New("encfile: invalid name")
	// ErrTooLarge means a file, or the credentials to seal, exceed
	// Options.MaxFileSize.
	ErrTooLarge = errors.New("encfile: file too large")
	// ErrNotRegular means something other than a regular file (a symbolic
	// link, a directory, a device) is where a credential file belongs.
	ErrNotRegular = errors.New("encfile: not a regular file")
	// ErrInsecurePermissions means the directory, a credential file, the
	// lock file or a directory on the way to them can be accessed by group
	// or others or belongs to another user. It is the error of
	// internal/securefile that provider/file and provider/secretfile wrap.
	ErrInsecurePermissions = securefile.ErrInsecurePermissions
)

// multiErr reads as msg and unwraps to every error in errs.
type multiErr struct {
	msg  string
	errs []error
}

func (e *multiErr) Error() string   { return e.msg }
func (e *multiErr) Unwrap() []error { return e.errs }

func wrapMsg(msg string, errs ...error) error { return &multiErr{msg: msg, errs: errs} }
