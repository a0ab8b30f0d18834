package encfile

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider name used in [provider.Source] and errors.
const Name = "encfile"

const (
	// KeySize is the size of the key in bytes: AES-256.
	KeySize = 32
	// EnvKey names the variable holding the key in base64, read when
	// Options.Key is nil.
	EnvKey = "MCPCRED_ENCFILE_KEY"
	// EnvKeyFile names the variable holding the path of a file that holds
	// the key in base64, read when Options.Key is nil and EnvKey is unset.
	// The file must be private (mode 0600 or 0400) and belong to this user.
	EnvKeyFile = "MCPCRED_ENCFILE_KEY_FILE"
	// LockFile is the name of the lock file in the directory: every write
	// holds flock(2) on it.
	LockFile = ".encfile.lock"
	// DefaultMaxFileSize is the default Options.MaxFileSize.
	DefaultMaxFileSize = 64 << 10
	// DefaultLockTimeout is the default Options.LockTimeout.
	DefaultLockTimeout = 10 * time.Second
	// MaxNameLen is the longest profile (file) name, in bytes: the limit of
	// every package of this module.
	MaxNameLen = provider.MaxNameLen
	// MaxFieldLen is the longest field name, in bytes.
	MaxFieldLen = provider.MaxFieldLen
)

// Options configures a [Provider] or a [Scheme].
type Options struct {
	// Dir is the directory holding one file per profile, for [New]. It
	// must be private (mode 0700) and belong to this user. A relative path
	// is made absolute when New runs. A [Scheme] takes the directory from
	// each reference instead.
	Dir string
	// Key is the 32-byte AES-256 key. Default: MCPCRED_ENCFILE_KEY
	// (base64), else the file MCPCRED_ENCFILE_KEY_FILE names (base64).
	Key []byte
	// Getenv reads the environment; default os.Getenv.
	Getenv func(string) string
	// MaxFileSize bounds a file read and the credentials written, in
	// bytes. Default [DefaultMaxFileSize].
	MaxFileSize int64
	// LockTimeout bounds the wait for the directory's lock when ctx has no
	// deadline. Default [DefaultLockTimeout].
	LockTimeout time.Duration
	// Logger receives debug lines: names and byte counts, never values.
	// Default: discard.
	Logger *slog.Logger
	// Now stamps FetchedAt. Default time.Now.
	Now func() time.Time
}

func options(optFns []func(*Options)) Options {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Key != nil {
		o.Key = slices.Clone(o.Key)
	}
	return o
}

// Provider reads and writes the credential files of one directory: the
// file of profile P is DIR/P. It is a [provider.Store], safe for concurrent
// use, and keeps nothing between calls (every Retrieve reads the file).
type Provider struct {
	dir    string      // absolute and cleaned
	aead   cipher.AEAD // nil when keyErr is set
	keyErr error
	o      *Options
}

// New returns the Provider of Options.Dir. It fails if Dir is empty or no
// valid key is configured (see [Options].Key); the directory itself is
// checked on every call, so it may be created later.
func New(optFns ...func(*Options)) (*Provider, error) {
	o := options(optFns)
	if o.Dir == "" {
		return nil, errors.New("encfile: Options.Dir is empty; name the directory that holds the credential files")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("encfile: cannot make the directory absolute: %w", err)
	}
	aead, err := loadKey(&o)
	if err != nil {
		return nil, err
	}
	o.Key = nil
	return &Provider{dir: filepath.Clean(dir), aead: aead, o: &o}, nil
}

// Name returns "encfile".
func (p *Provider) Name() string { return Name }

// Dir returns the directory, absolute and cleaned.
func (p *Provider) Dir() string { return p.dir }

// Path returns the file that holds profile: Dir/profile.
func (p *Provider) Path(profile string) string { return filepath.Join(p.dir, profile) }

// ValidName reports why name cannot name a credential file, or nil: it
// must be 1 to [MaxNameLen] bytes of A-Z, a-z, 0-9, '.', '_' and '-',
// not start with '.' and not hold "..". (Files whose names start with '.'
// are the package's own: the lock file and files being written.)
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("the name is empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("the name is longer than %d bytes", MaxNameLen)
	case name[0] == '.':
		return errors.New("the name starts with '.'")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errors.New("the name holds a character other than A-Z, a-z, 0-9, '.', '_' and '-'")
		}
		if c == '.' && i+1 < len(name) && name[i+1] == '.' {
			return errors.New(`the name holds ".."`)
		}
	}
	return nil
}

// validField reports why name cannot be a stored field name, or "".
func validField(name string) string {
	if name == "" || len(name) > MaxFieldLen {
		return fmt.Sprintf("a field name is empty or longer than %d bytes", MaxFieldLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return "a field name is not letters, digits, '_', '.' and '-' starting with a letter or digit"
		}
	}
	return ""
}

// shown renders the file of name for an error: the directory, and the name
// as provider.Label shows it.
func (p *Provider) shown(name string) string {
	if name == LockFile {
		return filepath.Join(p.dir, LockFile)
	}
	return p.dir + string(filepath.Separator) + provider.Label(name)
}

func (p *Provider) fail(profile, name string, err error) error {
	loc := p.dir
	if name != "" {
		loc = p.shown(name)
	}
	return &provider.Error{Provider: Name, Profile: profile, Locator: loc, Err: err}
}

// ctxErr reports a done ctx, and a key that could not be loaded.
func (p *Provider) ctxErr(ctx context.Context, profile string) error {
	if err := ctx.Err(); err != nil {
		return p.fail(profile, "", fmt.Errorf("encfile: %w", err))
	}
	if p.keyErr != nil {
		return p.fail(profile, "", p.keyErr)
	}
	return nil
}

// Retrieve returns the fields stored for profile. A profile with no file
// (or no directory) is [provider.ErrNotFound], and so is a name no file
// can have ([ErrInvalidName]). A file that does not open under the key is
// [ErrCannotOpen], naming the file and what fixes it.
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := p.ctxErr(ctx, profile); err != nil {
		return provider.Credentials{}, err
	}
	if err := ValidName(profile); err != nil {
		return provider.Credentials{}, p.fail(profile, "", wrapMsg("encfile: "+err.Error()+"; no credential file can hold it", provider.ErrNotFound, ErrInvalidName))
	}
	return p.retrieve(profile, profile)
}

func (p *Provider) retrieve(profile, name string) (provider.Credentials, error) {
	if err := p.checkDir(profile, false); err != nil {
		return provider.Credentials{}, err
	}
	fields, ok, err := p.read(profile, name)
	if err != nil {
		return provider.Credentials{}, err
	}
	if !ok {
		return provider.Credentials{}, provider.NotFound(Name, profile, p.shown(name), "encfile: no credential file")
	}
	c := provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: p.Path(name)})
	clear(fields)
	c.FetchedAt = p.o.Now()
	return c, nil
}

// errNoDir is returned by checkDir for a missing directory.
var errNoDir = errors.New("encfile: no such directory")

// checkDir checks the directory: every directory on the way not writable
// by others, the directory itself private and this user's. A missing
// directory is made (mode 0700) when create is set, and is otherwise
// provider.ErrNotFound.
func (p *Provider) checkDir(profile string, create bool) error {
	_, problem, err := securefile.CheckPath(p.dir)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err = os.Mkdir(p.dir, 0o700); err == nil || errors.Is(err, fs.ErrExist) {
			_, problem, err = securefile.CheckPath(p.dir)
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return p.fail(profile, "", wrapMsg("encfile: no such directory (it is made, mode 0700, on the first write if its parent exists)", provider.ErrNotFound, errNoDir))
	case err != nil:
		return p.fail(profile, "", wrapMsg("encfile: cannot reach the directory: "+pathErr(err), provider.ErrUnavailable))
	case problem != nil:
		problem.Prefix = "encfile: "
		return p.fail(profile, "", problem)
	}
	fi, err := os.Stat(p.dir)
	switch {
	case err != nil:
		return p.fail(profile, "", wrapMsg("encfile: cannot stat the directory: "+pathErr(err), provider.ErrUnavailable))
	case !fi.IsDir():
		return p.fail(profile, "", wrapMsg("encfile: not a directory", ErrNotRegular))
	}
	if perr := securefile.CheckInfo(p.dir, fi, securefile.Private); perr != nil {
		perr.Prefix = "encfile: "
		return p.fail(profile, "", perr)
	}
	return nil
}

// pathErr is err's reason without the path it names (the caller names
// the file as it should be shown).
func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Op + ": " + le.Err.Error()
	}
	return err.Error()
}

// read reads and opens the file of name. ok is false when there is none.
func (p *Provider) read(profile, name string) (fields map[string]string, ok bool, err error) {
	path := p.Path(name)
	f, err := os.OpenFile(path, openFlags, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case isLoop(err):
		return nil, false, p.fail(profile, name, wrapMsg("encfile: the credential file is a symbolic link; credential files are regular files, written by this package", ErrNotRegular))
	case err != nil:
		return nil, false, p.fail(profile, name, wrapMsg("encfile: cannot open the credential file: "+pathErr(err), provider.ErrUnavailable))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, p.fail(profile, name, wrapMsg("encfile: cannot stat the credential file: "+pathErr(err), provider.ErrUnavailable))
	}
	if !fi.Mode().IsRegular() {
		return nil, false, p.fail(profile, name, wrapMsg("encfile: the credential file is not a regular file; remove it", ErrNotRegular))
	}
	if perr := securefile.CheckInfo(p.shown(name), fi, securefile.Private); perr != nil {
		perr.Prefix = "encfile: "
		return nil, false, p.fail(profile, name, perr)
	}
	if fi.Size() > p.o.MaxFileSize {
		return nil, false, p.fail(profile, name, wrapMsg(fmt.Sprintf("encfile: the credential file is %d bytes, over the limit of %d (Options.MaxFileSize)", fi.Size(), p.o.MaxFileSize), ErrTooLarge))
	}
	data, err := io.ReadAll(io.LimitReader(f, p.o.MaxFileSize+1))
	if err != nil {
		return nil, false, p.fail(profile, name, wrapMsg("encfile: cannot read the credential file: "+pathErr(err), provider.ErrUnavailable))
	}
	defer clear(data)
	if int64(len(data)) > p.o.MaxFileSize {
		return nil, false, p.fail(profile, name, wrapMsg(fmt.Sprintf("encfile: the credential file is over the limit of %d bytes (Options.MaxFileSize)", p.o.MaxFileSize), ErrTooLarge))
	}
	fields, err = unseal(p.aead, path, data)
	switch {
	case errors.Is(err, ErrCannotOpen):
		return nil, false, p.fail(profile, name, wrapMsg("encfile: the credential file does not open with this key: it was sealed with another key, "+
			"changed after it was written, or written under another name and copied or renamed here (a file opens only under the path it was written to); "+
			"set the key it was written with, move it back to the path it was written to, or delete it and store the credential again", ErrCannotOpen))
	case err != nil:
		return nil, false, p.fail(profile, name, wrapMsg(err.Error()+"; delete it and store the credential again", ErrFormat))
	}
	for n := range fields {
		if validField(n) != "" {
			clear(fields)
			return nil, false, p.fail(profile, name, wrapMsg("encfile: the credential file holds an invalid field name; delete it and store the credential again", ErrFormat))
		}
	}
	p.o.Logger.Debug("encfile: read", "file", p.shown(name), "fields", len(fields))
	return fields, true, nil
}

// Put replaces what profile's file holds with c's fields (c's Source,
// FetchedAt and Expires are not stored). The file is written whole and
// atomically: sealed into a new file (mode 0600) in the directory, synced,
// renamed over the old one, and the directory synced; a reader sees the
// old file or the new one, never a mix. The directory is made (mode 0700)
// if it is missing and its parent exists. c must hold at least one field,
// with valid names ([ErrInvalidName]); the sealed file must fit
// Options.MaxFileSize ([ErrTooLarge]). Put is part of [provider.Store].
func (p *Provider) Put(ctx context.Context, profile string, c provider.Credentials) error {
	if err := p.checkWrite(ctx, profile, c); err != nil {
		return err
	}
	return p.update(ctx, profile, profile, "", nil, fieldsOf(c))
}

// Delete removes profile's file. A missing file or directory is not an
// error. Delete is part of [provider.Store].
func (p *Provider) Delete(ctx context.Context, profile string) error {
	if err := p.ctxErr(ctx, profile); err != nil {
		return err
	}
	if err := ValidName(profile); err != nil {
		return p.fail(profile, "", wrapMsg("encfile: "+err.Error(), ErrInvalidName))
	}
	return p.update(ctx, profile, profile, "", nil, nil)
}

// CompareAndSwap stores next as Put does only if the file now holds
// exactly old's fields ([provider.Credentials.Equal]; a zero old means no
// file), and otherwise stores nothing and returns an error wrapping
// [provider.ErrConflict]. The read, compare and write hold flock(2) on the
// directory's [LockFile], as every write does, so CompareAndSwap is atomic
// across the processes of one host (and across goroutines). A file that
// does not open under the key is an error, not a conflict. next must hold
// at least one field; use Delete to remove. CompareAndSwap is part of
// [provider.Store].
func (p *Provider) CompareAndSwap(ctx context.Context, profile string, old, next provider.Credentials) error {
	if err := p.checkWrite(ctx, profile, next); err != nil {
		return err
	}
	return p.update(ctx, profile, profile, "", &old, fieldsOf(next))
}

// checkWrite checks the profile name and the credentials to store.
func (p *Provider) checkWrite(ctx context.Context, profile string, c provider.Credentials) error {
	if err := p.ctxErr(ctx, profile); err != nil {
		return err
	}
	if err := ValidName(profile); err != nil {
		return p.fail(profile, "", wrapMsg("encfile: "+err.Error(), ErrInvalidName))
	}
	return p.checkFields(profile, profile, c)
}

func (p *Provider) checkFields(profile, name string, c provider.Credentials) error {
	if c.IsZero() {
		return p.fail(profile, name, wrapMsg("encfile: no fields to store; use Delete to remove a credential", ErrInvalidName))
	}
	size := Overhead + 2
	for _, n := range c.Names() {
		if r := validField(n); r != "" {
			// Not quoted: a mistyped value may have landed in a name.
			return p.fail(profile, name, wrapMsg("encfile: "+r, ErrInvalidName))
		}
		size += len(n) + len(c.Value(n)) + 6 // at least; the sealed file is checked again
	}
	if int64(size) > p.o.MaxFileSize {
		return p.fail(profile, name, wrapMsg(fmt.Sprintf("encfile: the credentials need about %d bytes, over the limit of %d (Options.MaxFileSize)", size, p.o.MaxFileSize), ErrTooLarge))
	}
	return nil
}

func fieldsOf(c provider.Credentials) map[string]string {
	m := make(map[string]string, c.Len())
	for _, n := range c.Names() {
		m[n] = c.Value(n)
	}
	return m
}

// update runs one write of the file of name, holding the directory's
// lock. With field "", next replaces the whole file (nil: the file is
// removed); otherwise only next[field] is set (nil: the field is removed,
// and the file with it when it was the last). When old is non-nil, what is
// stored (the whole file, or only field) must equal it first.
func (p *Provider) update(ctx context.Context, profile, name, field string, old *provider.Credentials, next map[string]string) error {
	defer clear(next)
	if err := p.checkDir(profile, next != nil); err != nil {
		if next == nil && errors.Is(err, errNoDir) {
			return nil // nothing to delete
		}
		return err
	}
	unlock, err := p.lock(ctx, profile)
	if err != nil {
		return err
	}
	defer unlock()

	var cur map[string]string
	if old != nil || field != "" {
		if cur, _, err = p.read(profile, name); err != nil {
			return err
		}
		defer clear(cur)
	}
	if old != nil {
		view := cur
		if field != "" {
			view = map[string]string{field: cur[field]}
		}
		if !provider.NewCredentials(view, provider.Source{}).Equal(*old) {
			return p.fail(profile, name, wrapMsg("encfile: the stored credentials changed since they were read; read them again", provider.ErrConflict))
		}
	}
	final := next
	if field != "" {
		final = maps.Clone(cur)
		if final == nil {
			final = map[string]string{}
		}
		if next == nil {
			delete(final, field)
		} else {
			final[field] = next[field]
		}
		if len(final) == 0 {
			final = nil
		}
		defer clear(final)
	}
	if final == nil {
		return p.remove(profile, name)
	}
	return p.write(profile, name, final)
}

// write seals fields into the file of name, atomically.
func (p *Provider) write(profile, name string, fields map[string]string) error {
	path := p.Path(name)
	data, err := seal(p.aead, path, fields)
	if err != nil {
		return p.fail(profile, name, err)
	}
	if int64(len(data)) > p.o.MaxFileSize {
		return p.fail(profile, name, wrapMsg(fmt.Sprintf("encfile: the sealed credentials are %d bytes, over the limit of %d (Options.MaxFileSize)", len(data), p.o.MaxFileSize), ErrTooLarge))
	}
	tmp, err := os.CreateTemp(p.dir, "."+name+".tmp-*") // mode 0600
	if err != nil {
		return p.fail(profile, name, wrapMsg("encfile: cannot create a file in the directory: "+pathErr(err), provider.ErrUnavailable))
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return p.fail(profile, name, wrapMsg("encfile: cannot write: "+pathErr(err), provider.ErrUnavailable))
	}
	if err := tmp.Sync(); err != nil {
		return p.fail(profile, name, wrapMsg("encfile: cannot sync: "+pathErr(err), provider.ErrUnavailable))
	}
	if err := tmp.Close(); err != nil {
		return p.fail(profile, name, wrapMsg("encfile: cannot close: "+pathErr(err), provider.ErrUnavailable))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return p.fail(profile, name, wrapMsg("encfile: cannot rename the new file into place: "+pathErr(err), provider.ErrUnavailable))
	}
	done = true
	if err := syncDir(p.dir); err != nil {
		return p.fail(profile, name, wrapMsg("encfile: cannot sync the directory: "+pathErr(err), provider.ErrUnavailable))
	}
	p.o.Logger.Debug("encfile: wrote", "file", p.shown(name), "fields", len(fields), "bytes", len(data))
	return nil
}

// remove deletes the file of name; a missing one is not an error.
func (p *Provider) remove(profile, name string) error {
	err := os.Remove(p.Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return p.fail(profile, name, wrapMsg("encfile: cannot delete the credential file: "+pathErr(err), provider.ErrUnavailable))
	}
	if err := syncDir(p.dir); err != nil {
		return p.fail(profile, name, wrapMsg("encfile: cannot sync the directory: "+pathErr(err), provider.ErrUnavailable))
	}
	p.o.Logger.Debug("encfile: deleted", "file", p.shown(name))
	return nil
}

// lock takes flock(2) on the directory's lock file, waiting at most until
// ctx's deadline, else Options.LockTimeout.
func (p *Provider) lock(ctx context.Context, profile string) (func(), error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.o.LockTimeout)
		defer cancel()
	}
	path := filepath.Join(p.dir, LockFile)
	f, err := os.OpenFile(path, lockFlags, 0o600)
	if err != nil {
		return nil, p.fail(profile, LockFile, wrapMsg("encfile: cannot open the lock file: "+pathErr(err), provider.ErrUnavailable))
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		f.Close()
		return nil, p.fail(profile, LockFile, wrapMsg("encfile: cannot use the lock file: "+pathErr(err), provider.ErrUnavailable))
	}
	if perr := securefile.CheckInfo(path, fi, securefile.Private); perr != nil {
		f.Close()
		perr.Prefix = "encfile: "
		return nil, p.fail(profile, LockFile, perr)
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, p.fail(profile, LockFile, wrapMsg("encfile: cannot lock: "+pathErr(err), provider.ErrUnavailable))
		}
		if ok {
			return func() { unlock(f); f.Close() }, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, p.fail(profile, LockFile, wrapMsg("encfile: another writer held the directory's lock until the deadline", provider.ErrUnavailable, ctx.Err()))
		}
	}
}
