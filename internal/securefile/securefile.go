// Package securefile reads small configuration files that hold, or point
// at, credentials: it resolves symlinks, refuses a file or directory that
// others can access, bounds the size, and parses a file again only when its
// contents changed.
package securefile

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInsecurePermissions is wrapped by every [*PermissionError].
var ErrInsecurePermissions = errors.New("insecure permissions")

// ErrTooLarge is wrapped when a file is larger than Options.MaxSize.
var ErrTooLarge = errors.New("file too large")

// Policy says which access by group and others is refused.
type Policy int

const (
	// Private refuses any group or other permission bit (mode & 0o077),
	// for files that hold secrets.
	Private Policy = iota
	// NotWritable refuses group or other write bits (mode & 0o022), for
	// files that only point at secrets: whoever can write them can redirect
	// a server to other credentials.
	NotWritable
)

func (p Policy) mask() fs.FileMode {
	if p == NotWritable {
		return 0o022
	}
	return 0o077
}

// PermissionError reports a file or directory that group or others can
// access beyond the policy, or that another user owns.
type PermissionError struct {
	Prefix string      // package prefix for the message, such as "file: "
	Path   string      // the offending file or directory, symlinks resolved
	Dir    bool        // Path is a directory
	Mode   fs.FileMode // its permission bits
	Policy Policy
	Owner  int // its owner's uid, when the owner is the problem; else -1
	UID    int // the uid of this process, when the owner is the problem
}

func (e *PermissionError) Error() string {
	what, fix := "file", "chmod 600 "
	if e.Dir {
		what, fix = "directory", "chmod 700 "
	}
	if e.Owner >= 0 {
		return fmt.Sprintf("%s%s %s is owned by uid %d, not by this user (uid %d) or root; recreate it as this user",
			e.Prefix, what, e.Path, e.Owner, e.UID)
	}
	rule := "group and others must have no access"
	if e.Policy == NotWritable {
		rule = "group and others must not be able to write it"
		fix = "chmod go-w "
	}
	return fmt.Sprintf("%s%s %s has mode %s: %s; fix with: %s%s",
		e.Prefix, what, e.Path, Octal(e.Mode), rule, fix, ShellQuote(e.Path))
}

// Unwrap returns [ErrInsecurePermissions].
func (e *PermissionError) Unwrap() error { return ErrInsecurePermissions }

// Octal formats permission bits as 0644.
func Octal(m fs.FileMode) string { return fmt.Sprintf("%04o", uint32(m.Perm())) }

// ShellQuote quotes p for a copy-pasted shell command when it needs it.
func ShellQuote(p string) string {
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '.' || r == '_' || r == '-' || r == '~') {
			return strconv.Quote(p)
		}
	}
	return p
}

// statKey identifies one version of a file's contents as far as stat can
// tell.
type statKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // Unix nanoseconds
}

func (k statKey) changed() time.Time { return time.Unix(0, max(k.mtime, k.ctime)) }

// racyWindow is how long after a file's last change its stat data is not
// trusted to reveal a further write (timestamps have coarse ticks on some
// file systems); within it, contents are hashed on every load.
const racyWindow = 3 * time.Second

// Options configure a [File].
type Options struct {
	Path     string
	MaxSize  int64 // default 1 MiB
	Policy   Policy
	Insecure bool         // log refusals as warnings instead of failing
	Logger   *slog.Logger // default discard
	Prefix   string       // error prefix, such as "profile: "
	What     string       // "profiles file", used in messages
	Now      func() time.Time
}

// File loads and parses one file, caching the parsed value until the file
// changes. It is safe for concurrent use.
type File[T any] struct {
	o     Options
	parse func([]byte) (T, error)
	uid   int

	mu       sync.Mutex
	cache    *entry[T]
	lastWarn atomic.Pointer[string]
	reads    atomic.Int64
}

type entry[T any] struct {
	real    string
	key     statKey
	sum     [32]byte
	settled bool
	val     T
	err     error
}

// New returns a File for o.Path parsed by parse.
func New[T any](o Options, parse func([]byte) (T, error)) *File[T] {
	if o.MaxSize <= 0 {
		o.MaxSize = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.What == "" {
		o.What = "file"
	}
	return &File[T]{o: o, parse: parse, uid: currentUID()}
}

// Path returns the configured path.
func (f *File[T]) Path() string { return f.o.Path }

// Reads returns how many times the contents were read, for tests.
func (f *File[T]) Reads() int64 { return f.reads.Load() }

// Load checks the file and returns its parsed value. A missing file is an
// error wrapping fs.ErrNotExist. The parse error, if any, is returned as
// parse returned it, and cached with the contents that caused it.
func (f *File[T]) Load() (T, error) {
	var zero T
	path := f.o.Path
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return zero, fmt.Errorf("%sno %s at %s: %w", f.o.Prefix, f.o.What, path, fs.ErrNotExist)
		}
		return zero, fmt.Errorf("%s%w", f.o.Prefix, err)
	}
	file, err := os.OpenFile(real, openFlags, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return zero, fmt.Errorf("%sno %s at %s: %w", f.o.Prefix, f.o.What, path, fs.ErrNotExist)
		}
		return zero, fmt.Errorf("%s%w", f.o.Prefix, err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return zero, fmt.Errorf("%s%w", f.o.Prefix, err)
	}
	if !fi.Mode().IsRegular() {
		return zero, fmt.Errorf("%s%s is not a regular file (mode %s)", f.o.Prefix, real, fi.Mode().Type())
	}
	if err := f.checkPerms(path, real, fi, f.o.Policy); err != nil {
		return zero, err
	}
	if fi.Size() > f.o.MaxSize {
		return zero, f.tooLarge(real, fi.Size())
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	key := keyOf(fi)
	old := f.cache
	if old != nil && old.real == real && old.key == key && old.settled {
		return old.val, old.err
	}
	settled := f.o.Now().Sub(key.changed()) > racyWindow
	f.reads.Add(1)
	data, err := io.ReadAll(io.LimitReader(file, f.o.MaxSize+1))
	if err != nil {
		return zero, fmt.Errorf("%sreading %s: %w", f.o.Prefix, real, err)
	}
	defer clear(data)
	if int64(len(data)) > f.o.MaxSize {
		return zero, f.tooLarge(real, int64(len(data)))
	}
	e := &entry[T]{real: real, key: key, sum: sha256.Sum256(data), settled: settled}
	if old != nil && old.sum == e.sum {
		e.val, e.err = old.val, old.err
	} else {
		e.val, e.err = f.parse(data)
	}
	f.cache = e
	return e.val, e.err
}

func (f *File[T]) tooLarge(path string, size int64) error {
	return fmt.Errorf("%w: %s%s is %d bytes, over the %d-byte limit", ErrTooLarge, f.o.Prefix, path, size, f.o.MaxSize)
}

// CheckPrivate applies the Private policy to the file, for callers that
// learn only from its contents that it holds secrets. With Options.Insecure
// a violation is logged instead.
func (f *File[T]) CheckPrivate() error {
	if !permChecks || f.o.Policy == Private {
		return nil // Load already applied it
	}
	real, err := filepath.EvalSymlinks(f.o.Path)
	if err != nil {
		return fmt.Errorf("%s%w", f.o.Prefix, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("%s%w", f.o.Prefix, err)
	}
	return f.checkPerms(f.o.Path, real, fi, Private)
}

// checkPerms checks the file, the directory it really is in and, when the
// configured path is a symlink from elsewhere, the directory holding the
// link (whoever can write there can repoint the link).
func (f *File[T]) checkPerms(path, real string, fi fs.FileInfo, policy Policy) error {
	if !permChecks {
		return nil
	}
	perr := f.checkOne(real, fi, policy)
	if perr == nil {
		dir := filepath.Dir(real)
		di, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("%s%w", f.o.Prefix, err)
		}
		perr = f.checkOne(dir, di, policy)
		if linkDir := filepath.Dir(path); perr == nil && filepath.Clean(path) != real {
			li, err := os.Stat(linkDir)
			if err != nil {
				return fmt.Errorf("%s%w", f.o.Prefix, err)
			}
			if !os.SameFile(li, di) {
				perr = f.checkOne(linkDir, li, policy)
			}
		}
	}
	if perr == nil {
		return nil
	}
	if !f.o.Insecure {
		return perr
	}
	f.warn(perr)
	return nil
}

func (f *File[T]) checkOne(path string, fi fs.FileInfo, policy Policy) *PermissionError {
	perr := checkPerm(path, fi, f.uid, policy.mask())
	if perr != nil {
		perr.Prefix, perr.Policy = f.o.Prefix, policy
	}
	return perr
}

// warn logs a permission problem once per distinct message.
func (f *File[T]) warn(err error) {
	msg := err.Error()
	if last := f.lastWarn.Load(); last == nil || *last != msg {
		f.lastWarn.Store(&msg)
		f.o.Logger.Warn(f.o.Prefix+"using a "+f.o.What+" with insecure permissions because MCP_INSECURE_MODE is set",
			"path", f.o.Path, "problem", msg)
	}
}
