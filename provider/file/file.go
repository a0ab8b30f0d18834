package file

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider's name in errors and in [provider.Source].
const Name = "file"

// Environment variables read, through [Options.Getenv], when [New] runs.
const (
	// EnvFile names the credentials file when [Options.Path] is empty.
	EnvFile = "MCP_CREDENTIALS_FILE"
	// EnvProfile names the section used for [provider.DefaultProfile].
	EnvProfile = "MCP_CREDENTIAL_PROFILE"
	// EnvInsecure, set to a true value ("1", "true"), turns permission
	// refusals into logged warnings.
	EnvInsecure = "MCP_INSECURE_MODE"
)

// DefaultMaxSize is the default for [Options.MaxSize]: 1 MiB.
const DefaultMaxSize = 1 << 20

// racyWindow is how long after a file's last change its stat data is not
// trusted on its own to tell a later write apart: longer than the coarsest
// timestamp tick of common file systems (FAT's 2 s).
const racyWindow = 3 * time.Second

// Options configures a [Provider]. The zero value means the defaults.
type Options struct {
	// Path is the credentials file. Default: $MCP_CREDENTIALS_FILE if set,
	// else $HOME/.mcp/credentials.
	Path string

	// Getenv reads environment variables (HOME, MCP_CREDENTIALS_FILE,
	// MCP_CREDENTIAL_PROFILE, MCP_INSECURE_MODE). Default os.Getenv.
	Getenv func(string) string

	// UserHomeDir returns the home directory for the default path. Default:
	// Getenv("HOME"), or Getenv("USERPROFILE") on Windows.
	UserHomeDir func() (string, error)

	// Logger receives the insecure-mode warnings and debug messages; never
	// a value. Default: discard.
	Logger *slog.Logger

	// MaxSize is the largest file accepted, in bytes. Default DefaultMaxSize.
	MaxSize int64

	// Required lists fields that must be present and non-empty, such as
	// provider.FieldAccessKeyID; a section lacking one is reported as not
	// found, naming what is missing or empty. Default: none, any non-empty
	// field will do.
	Required []string

	// Now stamps Credentials.FetchedAt. Default time.Now.
	Now func() time.Time
}

// Provider reads credentials from an INI credentials file. It is safe for
// concurrent use. Create one with [New].
type Provider struct {
	path     string // as configured; "" if it could not be worked out
	pathErr  string // why path is empty
	defSect  string // section for provider.DefaultProfile
	insecure bool
	maxSize  int64
	required []string
	log      *slog.Logger
	now      func() time.Time
	uid      int

	cache    atomic.Pointer[entry]
	lastWarn atomic.Pointer[string]

	// Hooks for tests.
	wallNow func() time.Time          // compared with file timestamps; time.Now
	keyOf   func(fs.FileInfo) statKey // keyOf
	reads   atomic.Int64              // file contents read
	parses  atomic.Int64              // contents parsed
}

// entry is one cached reading of the file. It is immutable.
type entry struct {
	real    string // the path read, symlinks resolved
	key     statKey
	sum     [sha256.Size]byte
	settled bool // key was seen long enough after the file's last change
	parsed  *parsed
	err     error // a *SyntaxError, if the file did not parse
}

// New returns a Provider for the credentials file described by optFns.
// Environment variables are read here, not on every Retrieve.
func New(optFns ...func(*Options)) *Provider {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.UserHomeDir == nil {
		getenv := o.Getenv
		o.UserHomeDir = func() (string, error) {
			if h := getenv("HOME"); h != "" {
				return h, nil
			}
			if runtime.GOOS == "windows" {
				if h := getenv("USERPROFILE"); h != "" {
					return h, nil
				}
			}
			return "", errors.New("HOME is not set")
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Provider{
		path:     o.Path,
		defSect:  provider.DefaultProfile,
		maxSize:  o.MaxSize,
		required: append([]string(nil), o.Required...),
		log:      o.Logger,
		now:      o.Now,
		uid:      currentUID(),
		wallNow:  time.Now,
		keyOf:    keyOf,
	}
	if p.path == "" {
		p.path = o.Getenv(EnvFile)
	}
	if p.path == "" {
		if home, err := o.UserHomeDir(); err != nil || home == "" {
			p.pathErr = "cannot locate the default credentials file: no home directory (set " + EnvFile + " or HOME)"
		} else {
			p.path = filepath.Join(home, ".mcp", "credentials")
		}
	}
	if s := strings.TrimSpace(o.Getenv(EnvProfile)); s != "" {
		p.defSect = s
	}
	p.insecure, _ = strconv.ParseBool(o.Getenv(EnvInsecure))
	return p
}

// Name returns "file".
func (p *Provider) Name() string { return Name }

// Path returns the credentials file the provider reads, or "" if it could
// not be worked out (no home directory).
func (p *Provider) Path() string { return p.path }

// Section returns the section the provider reads for profile.
func (p *Provider) Section(profile string) string {
	if profile == "" || profile == provider.DefaultProfile {
		return p.defSect
	}
	return profile
}

// Retrieve returns the fields of profile's section. A missing file, section
// or value is an error wrapping [provider.ErrNotFound]; an insecure file one
// wrapping [ErrInsecurePermissions]; a malformed file one wrapping
// [ErrMalformed] that names the line.
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, p.fail(profile, p.path, err)
	}
	if p.path == "" {
		return provider.Credentials{}, provider.NotFound(Name, profile, "", "file: "+p.pathErr)
	}
	name := p.Section(profile)
	e, err := p.load(profile)
	if err != nil {
		return provider.Credentials{}, err
	}
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, p.fail(profile, p.path, err)
	}
	if e.err != nil {
		var se *SyntaxError
		loc := p.path
		if errors.As(e.err, &se) && se.Line > 0 {
			loc += ":" + strconv.Itoa(se.Line)
		}
		return provider.Credentials{}, p.fail(profile, loc, e.err)
	}
	return p.credentials(e.parsed, profile, name)
}

// credentials returns the fields of section name in f.
func (p *Provider) credentials(f *parsed, profile, name string) (provider.Credentials, error) {
	sec, err := p.find(f, profile, name)
	if err != nil {
		return provider.Credentials{}, err
	}
	src := provider.Source{Provider: Name, Locator: p.path + " [" + sec.name + "]"}
	if sec.conflict[0] != "" {
		return provider.Credentials{}, p.fail(profile, src.Locator,
			fmt.Errorf("file: section [%s] sets %s twice, as %s and as %s; keep one", sec.name, canonical(sec.conflict[0]), sec.conflict[0], sec.conflict[1]))
	}
	if len(sec.fields) == 0 {
		reason := "file: section [" + sec.name + "] has no keys"
		if len(sec.empty) > 0 {
			reason = "file: section [" + sec.name + "] has no values; empty: " + strings.Join(sec.empty, ", ")
		}
		return provider.Credentials{}, provider.NotFound(Name, profile, src.Locator, reason)
	}
	c := provider.NewCredentialsFromSecrets(sec.fields, src)
	if missing := c.Missing(p.required...); len(missing) > 0 {
		reason := "file: section [" + sec.name + "] lacks " + strings.Join(missing, ", ")
		if len(sec.empty) > 0 {
			reason += " (empty: " + strings.Join(sec.empty, ", ") + ")"
		}
		return provider.Credentials{}, provider.NotFound(Name, profile, src.Locator, reason)
	}
	c.FetchedAt = p.now()
	return c, nil
}

// find returns the section named name, or else the AWS-config-style
// section "profile NAME".
func (p *Provider) find(f *parsed, profile, name string) (*section, error) {
	bare, aliased := f.sections[name], f.profiles[name]
	switch {
	case bare != nil && aliased != nil && bare != aliased:
		return nil, p.fail(profile, p.path+" ["+name+"]",
			fmt.Errorf("file: both [%s] and [%s] exist; keep one", bare.name, aliased.name))
	case bare != nil:
		return bare, nil
	case aliased != nil:
		return aliased, nil
	}
	reason := "file: no section [" + name + "]"
	if len(f.names) == 0 {
		reason += "; the file has no sections"
	} else {
		reason += "; sections present: [" + strings.Join(f.names, "], [") + "]"
	}
	return nil, provider.NotFound(Name, profile, p.path+" ["+name+"]", reason)
}

func (p *Provider) fail(profile, locator string, err error) error {
	return &provider.Error{Provider: Name, Profile: profile, Locator: locator, Err: err}
}

// load checks the file's permissions and returns its parsed contents,
// reading and parsing only what changed since the last call.
//
// Every call resolves symlinks, opens the file and checks the file and its
// directories. The contents are read again unless the stat data (device,
// inode, size, mtime, ctime) matches the cached entry and that entry is
// settled: it was read more than racyWindow after the file's last change,
// so any later write has a later timestamp. Otherwise the contents are read
// and hashed, and parsed only if the hash differs. This catches a same-size
// rewrite within one timestamp tick, on any file system.
func (p *Provider) load(profile string) (*entry, error) {
	real, err := filepath.EvalSymlinks(p.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			reason := "file: no credentials file at " + p.path
			if fi, lerr := os.Lstat(p.path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				reason = "file: " + p.path + " is a symlink to a missing file"
			}
			return nil, provider.NotFound(Name, profile, p.path, reason)
		}
		return nil, p.fail(profile, p.path, fmt.Errorf("file: %w", err))
	}
	f, err := os.OpenFile(real, openFlags, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, provider.NotFound(Name, profile, p.path, "file: no credentials file at "+p.path)
		}
		return nil, p.fail(profile, p.path, fmt.Errorf("file: %w", err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, p.fail(profile, p.path, fmt.Errorf("file: %w", err))
	}
	if !fi.Mode().IsRegular() {
		return nil, p.fail(profile, p.path, fmt.Errorf("file: %s is not a regular file (mode %s)", real, fi.Mode().Type()))
	}
	if err := p.checkPerms(real, fi); err != nil {
		return nil, p.fail(profile, p.path, err)
	}
	if fi.Size() > p.maxSize {
		return nil, p.fail(profile, p.path, p.tooLarge(real, fi.Size()))
	}

	key := p.keyOf(fi)
	old := p.cache.Load()
	if old != nil && old.real == real && old.key == key && old.settled {
		return old, nil
	}
	settled := p.wallNow().Sub(key.changed()) > racyWindow
	p.reads.Add(1)
	data, err := io.ReadAll(io.LimitReader(f, p.maxSize+1))
	if err != nil {
		return nil, p.fail(profile, p.path, fmt.Errorf("file: reading %s: %w", real, err))
	}
	defer clear(data)
	if int64(len(data)) > p.maxSize {
		return nil, p.fail(profile, p.path, p.tooLarge(real, int64(len(data))))
	}
	e := &entry{real: real, key: key, sum: sha256.Sum256(data), settled: settled}
	if old != nil && old.sum == e.sum {
		e.parsed, e.err = old.parsed, old.err
	} else {
		p.parses.Add(1)
		e.parsed, e.err = parse(data)
		if e.err == nil {
			p.log.Debug("file: read credentials file", "path", real, "sections", len(e.parsed.names))
		}
	}
	p.cache.Store(e)
	return e, nil
}

func (p *Provider) tooLarge(path string, size int64) error {
	return fmt.Errorf("%w: %s is %d bytes, over the %d-byte limit; a credentials file this big is not one", ErrTooLarge, path, size, p.maxSize)
}

// checkPerms checks the file, the directory it really is in and, when the
// configured path is a symlink from elsewhere, the directory holding the
// link (whoever can write there can repoint the link).
func (p *Provider) checkPerms(real string, fi fs.FileInfo) error {
	if !permChecks {
		return nil
	}
	perr := checkPerm(real, fi, p.uid)
	if perr == nil {
		dir := filepath.Dir(real)
		di, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("file: %w", err)
		}
		perr = checkPerm(dir, di, p.uid)
		if linkDir := filepath.Dir(p.path); perr == nil && filepath.Clean(p.path) != real {
			li, err := os.Stat(linkDir)
			if err != nil {
				return fmt.Errorf("file: %w", err)
			}
			if !os.SameFile(li, di) {
				perr = checkPerm(linkDir, li, p.uid)
			}
		}
	}
	if perr == nil {
		return nil
	}
	if !p.insecure {
		return perr
	}
	msg := perr.Error()
	if last := p.lastWarn.Load(); last == nil || *last != msg {
		p.lastWarn.Store(&msg)
		p.log.Warn("file: using a credentials file with insecure permissions because "+EnvInsecure+" is set",
			"path", perr.Path, "mode", octal(perr.Mode), "problem", msg)
	}
	return nil
}
