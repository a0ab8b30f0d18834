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
	"strings"
	"sync/atomic"
	"time"
)

// EnvInsecure, set to a true value ("1", "true"), turns permission refusals
// into logged warnings. See [InsecureFromEnv].
const EnvInsecure = "MCP_INSECURE_MODE"

// InsecureFromEnv reports whether getenv(EnvInsecure) is a true value as
// strconv.ParseBool reads it ("1", "t", "true", ...). getenv nil means
// os.Getenv.
func InsecureFromEnv(getenv func(string) string) bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	on, _ := strconv.ParseBool(getenv(EnvInsecure))
	return on
}

// PermChecks says whether this platform checks permissions and owners:
// Windows and other non-Unix systems express access with ACLs, not mode
// bits, so there the checks are skipped.
const PermChecks = permChecks

// DefaultMaxSize is the default for Options.MaxSize: 1 MiB.
const DefaultMaxSize = 1 << 20

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
// access beyond the policy, or that another user owns, or a directory on the
// way to the file that others could use to replace it. It unwraps to
// [ErrInsecurePermissions] and names the path, its mode and the fix.
type PermissionError struct {
	Prefix string      // package prefix for the message, such as "file: "
	Path   string      // the offending file or directory, symlinks resolved
	Dir    bool        // Path is a directory
	Mode   fs.FileMode // its permission bits, with the sticky, setuid and setgid bits
	Policy Policy
	Owner  int // its owner's uid, when the owner is the problem; else -1
	UID    int // the uid of this process, when an owner is the problem

	// InPath says that Path is a directory on the way to the file (an
	// ancestor of it, or the directory holding a symlink met while
	// resolving it) rather than the file or the directory it is in.
	InPath bool
	// Entry, when set, is the name looked up in the sticky directory Path
	// (such as /tmp) that belongs to EntryOwner, not to this user or root:
	// anyone may have created it there.
	Entry      string
	EntryOwner int
}

func (e *PermissionError) Error() string {
	what, fix := "file", "chmod 600 "
	if e.Dir {
		what, fix = "directory", "chmod 700 "
	}
	on := ""
	if e.InPath {
		on = " (it is on the way to the file: whoever can write to it can replace or repoint what it holds)"
	}
	switch {
	case e.Entry != "":
		return fmt.Sprintf("%sdirectory %s has mode %s: others can write to it, and %s in it belongs to uid %d, not to this user (uid %d) or root, so someone else may have put it there; fix with: chown -h %d %s, or keep the file out of %s",
			e.Prefix, e.Path, Octal(e.Mode), e.Entry, e.EntryOwner, e.UID, e.UID, ShellQuote(e.Entry), ShellQuote(e.Path))
	case e.Owner >= 0:
		return fmt.Sprintf("%s%s %s is owned by uid %d, not by this user (uid %d) or root%s; fix with: chown %d %s",
			e.Prefix, what, e.Path, e.Owner, e.UID, on, e.UID, ShellQuote(e.Path))
	}
	rule := "group and others must have no access"
	if e.Policy == NotWritable {
		rule = "group and others must not be able to write it"
		fix = "chmod go-w "
	}
	return fmt.Sprintf("%s%s %s has mode %s: %s%s; fix with: %s%s",
		e.Prefix, what, e.Path, Octal(e.Mode), rule, on, fix, ShellQuote(e.Path))
}

// Unwrap returns [ErrInsecurePermissions].
func (e *PermissionError) Unwrap() error { return ErrInsecurePermissions }

// Octal formats permission bits as 0644, or 1777 for a sticky directory
// (the setuid and setgid bits count too).
func Octal(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

// modeBits returns fi's permission bits with the sticky, setuid and setgid
// bits.
func modeBits(fi fs.FileInfo) fs.FileMode {
	return fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetuid | fs.ModeSetgid)
}

// CheckPath resolves path as the kernel does and checks every directory it
// looks a name up in (see the package documentation): each ancestor of the
// real path up to /, and the directory holding each symlink met on the way.
// It returns the real path and the first problem found, or nil; err is set
// when path cannot be resolved, wrapping fs.ErrNotExist when a component is
// missing. The problem has no Prefix: the caller sets it. On platforms
// without permission checks it only resolves symlinks.
func CheckPath(path string) (real string, problem *PermissionError, err error) {
	return walkPath(path, currentUID())
}

// CheckInfo applies policy to the file or directory at path, described by
// fi: no group or other bits beyond the policy, owned by this user or root.
// It returns nil if fi passes, and always on platforms without permission
// checks. The problem has no Prefix: the caller sets it.
func CheckInfo(path string, fi fs.FileInfo, policy Policy) *PermissionError {
	perr := checkPerm(path, fi, currentUID(), policy.mask())
	if perr != nil {
		perr.Policy = policy
	}
	return perr
}

// ShellQuote quotes p for a copy-pasted shell command when it needs it.
func ShellQuote(p string) string {
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '.' || r == '_' || r == '-' || r == '~') {
			// Single quotes: nothing inside is expanded when the fix is
			// pasted into a shell; a ' itself becomes '\''.
			return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
	}
	return p
}

// notExistError is a missing file: its message is the whole reason, and it
// unwraps to fs.ErrNotExist.
type notExistError struct{ msg string }

func (e *notExistError) Error() string { return e.msg }
func (e *notExistError) Unwrap() error { return fs.ErrNotExist }

// tooLargeError is a file over Options.MaxSize; it unwraps to ErrTooLarge.
type tooLargeError struct {
	prefix, what, path string
	size, max          int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s%s too large: %s is %d bytes, over the %d-byte limit; a %s this big is not one",
		e.prefix, e.what, e.path, e.size, e.max, e.what)
}
func (e *tooLargeError) Unwrap() error { return ErrTooLarge }

// statKey identifies one version of a file's contents as far as stat can
// tell: any write changes the size, the modification time or the change
// time, unless it lands in the same timestamp tick (see [File.Load]).
type statKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // Unix nanoseconds
}

// changed returns the later of the modification and change times.
func (k statKey) changed() time.Time { return time.Unix(0, max(k.mtime, k.ctime)) }

// racyWindow is how long after a file's last change its stat data is not
// trusted on its own to tell a later write apart: longer than the coarsest
// timestamp tick of common file systems (FAT's 2 s).
const racyWindow = 3 * time.Second

// Options configure a [File].
type Options struct {
	Path     string
	MaxSize  int64 // default DefaultMaxSize
	Policy   Policy
	Insecure bool         // log refusals as warnings instead of failing; see InsecureFromEnv
	Logger   *slog.Logger // warnings and a debug line per parse; default discard
	Prefix   string       // error prefix, such as "profile: "
	What     string       // "profiles file", used in messages; default "file"
	// Now is the clock compared with file timestamps. Default time.Now.
	Now func() time.Time
}

// File loads and parses one file, caching the parsed value until the file
// changes. It is safe for concurrent use.
type File[T any] struct {
	o     Options
	parse func([]byte) (T, error)

	cache    atomic.Pointer[entry[T]]
	lastWarn atomic.Pointer[string]
	reads    atomic.Int64 // file contents read
	parses   atomic.Int64 // contents parsed

	// Hooks for tests.
	uid   int
	keyOf func(fs.FileInfo) statKey
}

// entry is one cached reading of the file. It is immutable.
type entry[T any] struct {
	real    string // the path read, symlinks resolved
	key     statKey
	sum     [sha256.Size]byte
	settled bool // key was seen long enough after the file's last change
	val     T
	err     error // what parse returned
}

// New returns a File for o.Path parsed by parse. If the value parse
// returns has a method DebugAttrs() []any, its attributes are added to the
// debug line logged after each successful parse.
func New[T any](o Options, parse func([]byte) (T, error)) *File[T] {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
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
	return &File[T]{o: o, parse: parse, uid: currentUID(), keyOf: keyOf}
}

// Path returns the configured path.
func (f *File[T]) Path() string { return f.o.Path }

// Reads returns how many times the contents were read, for tests.
func (f *File[T]) Reads() int64 { return f.reads.Load() }

// Parses returns how many times the contents were parsed, for tests.
func (f *File[T]) Parses() int64 { return f.parses.Load() }

// Load checks the file and returns its parsed value, reading and parsing
// only what changed since the last call (see the package documentation).
// A missing file is an error wrapping fs.ErrNotExist whose message is the
// whole reason, such as "file: no credentials file at PATH". The parse
// error, if any, is returned as parse returned it, and cached with the
// contents that caused it.
func (f *File[T]) Load() (T, error) {
	var zero T
	path := f.o.Path
	real, walkProblem, err := walkPath(path, f.uid)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			msg := f.o.Prefix + "no " + f.o.What + " at " + path
			if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				msg = f.o.Prefix + path + " is a symlink to a missing file"
			}
			return zero, &notExistError{msg}
		}
		return zero, fmt.Errorf("%s%w", f.o.Prefix, err)
	}
	file, err := os.OpenFile(real, openFlags, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return zero, &notExistError{f.o.Prefix + "no " + f.o.What + " at " + path}
		}
		return zero, fmt.Errorf("%s%w", f.o.Prefix, err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return zero, fmt.Errorf("%s%w", f.o.Prefix, err)
	}
	if !fi.Mode().IsRegular() {
		// Named by the configured path: where a link leads is not shown.
		return zero, fmt.Errorf("%s%s is not a regular file (mode %s)", f.o.Prefix, path, fi.Mode().Type())
	}
	if err := f.checkPerms(path, real, fi, f.o.Policy, walkProblem); err != nil {
		return zero, err
	}
	if fi.Size() > f.o.MaxSize {
		return zero, f.tooLarge(real, fi.Size())
	}

	key := f.keyOf(fi)
	old := f.cache.Load()
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
		f.parses.Add(1)
		e.val, e.err = f.parse(data)
		if e.err == nil {
			args := []any{"path", real}
			if d, ok := any(e.val).(interface{ DebugAttrs() []any }); ok {
				args = append(args, d.DebugAttrs()...)
			}
			f.o.Logger.Debug(f.o.Prefix+"read "+f.o.What, args...)
		}
	}
	f.cache.Store(e)
	return e.val, e.err
}

func (f *File[T]) tooLarge(path string, size int64) error {
	return &tooLargeError{prefix: f.o.Prefix, what: f.o.What, path: path, size: size, max: f.o.MaxSize}
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
	return f.checkPerms(f.o.Path, real, fi, Private, nil)
}

// checkPerms checks the file, the directory it really is in and, when the
// configured path is a symlink from elsewhere, the directory holding the
// link against policy; then reports walkProblem, what [walkPath] found on
// the directories on the way.
func (f *File[T]) checkPerms(path, real string, fi fs.FileInfo, policy Policy, walkProblem *PermissionError) error {
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
			// A sticky directory such as /tmp is left to the path check,
			// which accepts it when the link in it is this user's or root's.
			if !os.SameFile(li, di) && li.Mode()&fs.ModeSticky == 0 {
				if perr = f.checkOne(linkDir, li, policy); perr != nil {
					perr.InPath = true
				}
			}
		}
	}
	if perr == nil && walkProblem != nil {
		perr = walkProblem
		perr.Prefix = f.o.Prefix
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

// warn logs a permission problem once per distinct message, naming the
// offending path and its mode, never content.
func (f *File[T]) warn(perr *PermissionError) {
	msg := perr.Error()
	if last := f.lastWarn.Load(); last == nil || *last != msg {
		f.lastWarn.Store(&msg)
		f.o.Logger.Warn(f.o.Prefix+"using a "+f.o.What+" with insecure permissions because "+EnvInsecure+" is set",
			"path", perr.Path, "mode", Octal(perr.Mode), "problem", msg)
	}
}
