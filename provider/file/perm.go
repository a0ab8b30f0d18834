package file

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"
)

// ErrInsecurePermissions is wrapped by every [*PermissionError]: the
// credentials file or its directory can be read or written by someone other
// than its owner, or belongs to another user.
var ErrInsecurePermissions = errors.New("file: insecure permissions")

// ErrTooLarge is wrapped by the error for a credentials file larger than
// [Options.MaxSize].
var ErrTooLarge = errors.New("file: credentials file too large")

// PermissionError reports a credentials file or directory that group or
// others can access, or that another user owns. It unwraps to
// [ErrInsecurePermissions] and names the path, its mode and the fix.
type PermissionError struct {
	Path  string      // the offending file or directory, symlinks resolved
	Dir   bool        // Path is a directory
	Mode  fs.FileMode // its permission bits
	Owner int         // its owner's uid, when the owner is the problem; else -1
	UID   int         // the uid of this process, when the owner is the problem
}

func (e *PermissionError) Error() string {
	what, fix := "file", "chmod 600 "
	if e.Dir {
		what, fix = "directory", "chmod 700 "
	}
	if e.Owner >= 0 {
		return fmt.Sprintf("file: %s %s is owned by uid %d, not by this user (uid %d) or root; recreate it as this user",
			what, e.Path, e.Owner, e.UID)
	}
	return fmt.Sprintf("file: %s %s has mode %s: group and others must have no access; fix with: %s%s",
		what, e.Path, octal(e.Mode), fix, shellQuote(e.Path))
}

// Unwrap returns [ErrInsecurePermissions].
func (e *PermissionError) Unwrap() error { return ErrInsecurePermissions }

func octal(m fs.FileMode) string { return fmt.Sprintf("%04o", uint32(m.Perm())) }

// shellQuote quotes p for a copy-pasted shell command when it needs it.
func shellQuote(p string) string {
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '.' || r == '_' || r == '-' || r == '~') {
			return strconv.Quote(p)
		}
	}
	return p
}

// statKey identifies one version of a file's contents as far as stat can
// tell: any write changes the size, the modification time or the change
// time, unless it lands in the same timestamp tick (see [Provider.load]).
type statKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // Unix nanoseconds
}

// changed returns the later of the modification and change times.
func (k statKey) changed() time.Time { return time.Unix(0, max(k.mtime, k.ctime)) }
