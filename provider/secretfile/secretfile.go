package secretfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider name used in [provider.Source] and errors.
const Name = "secretfile"

// DefaultDir is where Docker and Kubernetes mount secrets.
const DefaultDir = "/run/secrets"

// DefaultMaxFileSize is the largest secret file read.
const DefaultMaxFileSize = 64 << 10

// EnvInsecure, set to a true value ("1", "true") when [New] runs, turns
// permission refusals into logged warnings, as Options.Insecure does.
const EnvInsecure = securefile.EnvInsecure

// ErrInsecurePermissions is wrapped when a secret file, the secrets
// directory, or a directory on the way to them can be written by group or
// others or belongs to another user (see the package documentation). It is
// the same error as file.ErrInsecurePermissions.
var ErrInsecurePermissions = securefile.ErrInsecurePermissions

// MaxNameLen is the longest profile (or file) name accepted: the limit of
// every package of this module (provider.MaxNameLen).
const MaxNameLen = provider.MaxNameLen

// maxFieldFiles bounds the entries read from a per-profile directory.
const maxFieldFiles = 256

// Sentinel errors. Errors returned by Retrieve are [*provider.Error] values
// that wrap one of these where it applies. A secret file whose content
// cannot be used gives a [*provider.SyntaxError] wrapping ErrSyntax,
// ErrNotString, ErrNoSection, ErrDuplicate, ErrBadExpiration or ErrBadKey,
// which names the file and, where known, the line and column.
var (
	// ErrInvalidProfile means the profile name cannot name a file in Dir
	// (a path separator, "..", a control character, too long, ...). It is
	// reported together with provider.ErrNotFound: no file can hold it.
	ErrInvalidProfile = errors.New("secretfile: invalid profile name")
	// ErrFileTooLarge means a secret file is over Options.MaxFileSize.
	ErrFileTooLarge = errors.New("secretfile: file too large")
	// ErrNotRegular means a secret path is a directory or device where a
	// file was expected.
	ErrNotRegular = errors.New("secretfile: not a regular file")
	// ErrOutsideDir means a symlink in Dir points outside Dir.
	ErrOutsideDir = errors.New("secretfile: symlink points outside the secrets directory")
	// ErrSyntax means a JSON or INI secret file is malformed.
	ErrSyntax = errors.New("secretfile: malformed secret file")
	// ErrNotString means a JSON secret file has a value that is not a
	// string.
	ErrNotString = errors.New("secretfile: value is not a string")
	// ErrNoSection means an INI file has neither a section for the profile
	// nor keys outside sections.
	ErrNoSection = errors.New("secretfile: no section for profile")
	// ErrDuplicate means two keys in one file give the same field.
	ErrDuplicate = errors.New("secretfile: field set twice")
	// ErrBadExpiration means an expiry key does not hold an RFC 3339 time.
	ErrBadExpiration = errors.New("secretfile: bad expiration")
	// ErrBadKey means a JSON or INI key is not a field name, or an INI line
	// is not a clean KEY = VALUE line (such as a value wrapped onto the next
	// line). The error gives the line, never the key or value.
	ErrBadKey = errors.New("secretfile: key is not a field name")
)

// DefaultFields returns the field files looked for directly in Dir for
// the default profile: mcpcred's canonical field names.
func DefaultFields() []string {
	return []string{
		provider.FieldAccessKeyID, provider.FieldSecretAccessKey, provider.FieldSessionToken,
		provider.FieldRegion, provider.FieldToken, provider.FieldUsername, provider.FieldPassword,
	}
}

// Options configures a [Provider]. The zero value reads [DefaultDir].
type Options struct {
	// Dir is the secrets directory. Default [DefaultDir].
	Dir string
	// Files maps a profile to the name of a file in Dir that holds it,
	// for secrets whose name is fixed elsewhere: {"default":
	// "aws_credentials"} reads the Docker secret aws_credentials. The
	// format comes from a .json or .ini extension, else from the content
	// (a first non-blank '{' means JSON). Several profiles may share one
	// INI file with a section each.
	Files map[string]string
	// Fields lists the per-field files looked for directly in Dir for
	// [provider.DefaultProfile]. Default [DefaultFields].
	Fields []string
	// MaxFileSize bounds every file read. Default [DefaultMaxFileSize].
	MaxFileSize int64
	// Now stamps FetchedAt. Default time.Now.
	Now func() time.Time
	// Logger receives debug records naming files and fields, never values,
	// and the insecure-mode warnings. Default discards.
	Logger *slog.Logger
	// Insecure turns permission refusals into warnings logged to Logger.
	// It is also set when MCP_INSECURE_MODE is a true value ("1", "true").
	Insecure bool
	// Getenv reads MCP_INSECURE_MODE when New runs. Default os.Getenv.
	Getenv func(string) string
}

// Provider reads credentials from a secrets directory. It holds no state
// between calls: every Retrieve re-reads the files, so rotated secrets are
// picked up (a caching resolver decides how often). It is safe for
// concurrent use.
type Provider struct {
	o Options
}

// New returns a Provider configured by optFns.
func New(optFns ...func(*Options)) *Provider {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	o.Files = maps.Clone(o.Files)
	if o.Fields == nil {
		o.Fields = DefaultFields()
	} else {
		o.Fields = slices.Clone(o.Fields)
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if securefile.InsecureFromEnv(o.Getenv) {
		o.Insecure = true
	}
	o.Getenv = nil
	return &Provider{o: o}
}

// Name returns "secretfile".
func (p *Provider) Name() string { return Name }

// ValidName reports whether name may be used as a profile or file name in
// the secrets directory: 1 to [MaxNameLen] bytes of valid UTF-8, no path
// separator, no leading '.' (which also rules out "." and ".." and
// Kubernetes' "..data"), no "..", no control characters, and local by
// [filepath.IsLocal] (on Windows that excludes names such as "NUL").
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("name longer than %d bytes", MaxNameLen)
	case !utf8.ValidString(name):
		return errors.New("name is not valid UTF-8")
	case strings.ContainsAny(name, `/\`):
		return errors.New("name contains a path separator")
	case strings.HasPrefix(name, "."):
		return errors.New("name starts with '.'")
	case strings.Contains(name, ".."):
		return errors.New(`name contains ".."`)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return errors.New("name contains a control character")
		}
	}
	if !filepath.IsLocal(name) {
		return errors.New("name is not a local file name")
	}
	return nil
}

// invalidProfile is both ErrInvalidProfile and provider.ErrNotFound.
type invalidProfile struct{ reason string }

func (e *invalidProfile) Error() string   { return "secretfile: invalid profile name: " + e.reason }
func (e *invalidProfile) Unwrap() []error { return []error{ErrInvalidProfile, provider.ErrNotFound} }

// Retrieve reads the secrets for profile. See the package documentation for
// the layouts and their precedence.
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Err: err}
	}
	if err := ValidName(profile); err != nil {
		// The profile is not echoed into the locator: it is hostile input.
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: safeProfile(profile), Err: &invalidProfile{err.Error()}}
	}
	r := &reader{p: p, ctx: ctx, profile: profile}
	c, err := r.retrieve()
	if err != nil {
		return provider.Credentials{}, err
	}
	c.FetchedAt = p.o.Now()
	source := c.Source.String()
	if d := provider.Describe(profile); d != strconv.Quote(profile) {
		// The file's name is the profile's: not repeated in a log.
		source = strings.ReplaceAll(source, profile, "P") + " for P = the requested profile"
	}
	p.o.Logger.DebugContext(ctx, "secretfile: read credentials", "profile", provider.Describe(profile), "source", source, "fields", c.Names())
	return c, nil
}

// safeProfile keeps an invalid profile name out of error text when it
// could be anything; short printable names are kept (quoted by
// provider.Error) so users can see what they asked for.
func safeProfile(profile string) string {
	if len(profile) <= MaxNameLen && utf8.ValidString(profile) && !strings.ContainsFunc(profile, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return profile
	}
	return fmt.Sprintf("(%d-byte name not shown)", len(profile))
}

// reader is the state of one Retrieve.
type reader struct {
	p       *Provider
	ctx     context.Context
	profile string
	root    string   // Dir with symlinks resolved
	fsroot  *os.Root // opened on root: opens cannot escape it
	looked  []string
}

func (r *reader) err(locator string, err error) error {
	return &provider.Error{Provider: Name, Profile: r.profile, Locator: locator, Err: err}
}

func (r *reader) display(rel string) string { return filepath.Join(r.p.o.Dir, rel) }

func (r *reader) retrieve() (provider.Credentials, error) {
	dir := r.p.o.Dir
	// Every directory on the way to Dir, and Dir itself, must be trusted.
	root, problem, err := securefile.CheckPath(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return provider.Credentials{}, provider.NotFound(Name, r.profile, dir, "secretfile: directory does not exist")
	}
	if err != nil {
		return provider.Credentials{}, r.err(dir, fmt.Errorf("secretfile: %w", unwrapPath(err)))
	}
	if err := r.trust(dir, problem); err != nil {
		return provider.Credentials{}, err
	}
	if root, err = filepath.Abs(root); err != nil {
		return provider.Credentials{}, r.err(dir, fmt.Errorf("secretfile: %w", err))
	}
	r.root = root
	fsroot, err := os.OpenRoot(root)
	if err != nil {
		return provider.Credentials{}, r.err(dir, fmt.Errorf("secretfile: %w", unwrapPath(err)))
	}
	defer fsroot.Close()
	r.fsroot = fsroot

	// 1-3: one file for the profile.
	var names []string
	if name, ok := r.p.o.Files[r.profile]; ok {
		if err := ValidName(name); err != nil {
			return provider.Credentials{}, r.err(dir, fmt.Errorf("secretfile: Options.Files[%q]: %v", r.profile, err))
		}
		names = append(names, name)
	}
	names = append(names, r.profile+".json", r.profile+".ini")
	for _, name := range names {
		c, found, err := r.readProfileFile(name)
		if found || err != nil {
			return c, err
		}
	}
	// 4: a directory of field files.
	if c, found, err := r.readFieldDir(r.profile); found || err != nil {
		return c, err
	}
	// 5: field files directly in Dir, for the default profile.
	if r.profile == provider.DefaultProfile {
		if c, found, err := r.readRootFields(); found || err != nil {
			return c, err
		}
	}
	looked := strings.Join(r.looked, ", ")
	if d := provider.Describe(r.profile); d != strconv.Quote(r.profile) {
		// Names built from a profile that does not read as a name are
		// not repeated: a model may send a secret as a profile.
		looked = strings.ReplaceAll(looked, r.profile, "P") + " for P = the requested profile, " + d
	}
	return provider.Credentials{}, provider.NotFound(Name, r.profile, dir, "secretfile: none of "+looked+" exists")
}

// readProfileFile reads and parses one JSON or INI file. found is false if
// the file does not exist.
func (r *reader) readProfileFile(name string) (provider.Credentials, bool, error) {
	r.looked = append(r.looked, name)
	data, err := r.readFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return provider.Credentials{}, false, nil
	}
	if err != nil {
		return provider.Credentials{}, true, err
	}
	var pr parsed
	if isJSON(name, data) {
		pr, err = parseJSON(data)
	} else {
		pr, err = parseINI(data, r.profile)
	}
	if se := (*provider.SyntaxError)(nil); errors.As(err, &se) {
		// A new error of this parse: it names the file and position, so
		// the provider.Error around it has no locator of its own.
		se.Path = r.display(name)
		return provider.Credentials{}, true, r.err("", err)
	}
	if err != nil {
		return provider.Credentials{}, true, r.err(r.display(name), err)
	}
	if len(pr.fields) == 0 {
		return provider.Credentials{}, true, provider.NotFound(Name, r.profile, r.display(name), "secretfile: file holds no non-empty values")
	}
	c := provider.NewCredentials(pr.fields, provider.Source{Provider: Name, Locator: r.display(name)})
	c.Expires = pr.expires
	return c, true, nil
}

// readFieldDir reads <Dir>/<dir>/<field> files. found is false if the
// directory does not exist.
func (r *reader) readFieldDir(dir string) (provider.Credentials, bool, error) {
	r.looked = append(r.looked, dir+"/")
	target, err := r.resolve(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return provider.Credentials{}, false, nil
	}
	if err != nil {
		return provider.Credentials{}, true, err
	}
	f, err := r.fsroot.OpenFile(target, openFlags, 0)
	if err != nil {
		return provider.Credentials{}, true, r.err(r.display(dir), fmt.Errorf("secretfile: %w", unwrapPath(err)))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return provider.Credentials{}, true, r.err(r.display(dir), fmt.Errorf("secretfile: %w", unwrapPath(err)))
	}
	if !st.IsDir() {
		return provider.Credentials{}, false, nil
	}
	if err := r.trust(r.display(dir), securefile.CheckInfo(r.display(dir), st, securefile.NotWritable)); err != nil {
		return provider.Credentials{}, true, err
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return provider.Credentials{}, true, r.err(r.display(dir), fmt.Errorf("secretfile: %w", unwrapPath(err)))
	}
	fields := map[string]string{}
	from := map[string]string{}
	n := 0
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if ValidName(name) != nil {
			// Hidden entries such as Kubernetes' ..data, and odd names.
			continue
		}
		if n++; n > maxFieldFiles {
			return provider.Credentials{}, true, r.err(r.display(dir), fmt.Errorf("secretfile: more than %d files", maxFieldFiles))
		}
		rel := filepath.Join(dir, name)
		data, err := r.readFile(rel)
		if errors.Is(err, ErrNotRegular) || errors.Is(err, fs.ErrNotExist) {
			r.p.o.Logger.DebugContext(r.ctx, "secretfile: skipping entry that is not a regular file", "entry", provider.Describe(name))
			continue
		}
		if err != nil {
			return provider.Credentials{}, true, err
		}
		field, ok := securefile.FieldKey(CanonicalField(name))
		if !ok {
			// Such as a Kubernetes ca.crt beside the fields: not a field.
			r.p.o.Logger.DebugContext(r.ctx, "secretfile: skipping a file whose name is not a field name", "entry", provider.Describe(name))
			continue
		}
		if prev, dup := from[field]; dup {
			return provider.Credentials{}, true, r.err(r.display(rel), fmt.Errorf("%w: field %s also set by file %s", ErrDuplicate, provider.Describe(field), provider.Describe(prev)))
		}
		from[field] = name
		if v := fileValue(data); v != "" {
			fields[field] = v
		}
	}
	if len(fields) == 0 {
		return provider.Credentials{}, true, provider.NotFound(Name, r.profile, r.display(dir), "secretfile: directory holds no non-empty field files")
	}
	return provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: r.display(dir) + string(filepath.Separator)}), true, nil
}

// readRootFields reads Options.Fields directly from Dir.
func (r *reader) readRootFields() (provider.Credentials, bool, error) {
	fields := map[string]string{}
	var used []string
	for _, name := range r.p.o.Fields {
		if ValidName(name) != nil {
			continue
		}
		r.looked = append(r.looked, name)
		data, err := r.readFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return provider.Credentials{}, true, err
		}
		if v := fileValue(data); v != "" {
			fields[CanonicalField(name)] = v
			used = append(used, name)
		}
	}
	if len(fields) == 0 {
		return provider.Credentials{}, false, nil
	}
	return provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: r.display("{" + strings.Join(used, ",") + "}")}), true, nil
}

// resolve follows symlinks in <root>/<rel> and returns the target relative
// to root, refusing targets outside it.
func (r *reader) resolve(rel string) (string, error) {
	if err := r.ctx.Err(); err != nil {
		return "", r.err(r.display(rel), err)
	}
	// Resolved name by name: every directory a name is looked up in (the
	// directory holding each symlink, at every level) must be trusted.
	target, problem, err := securefile.CheckPath(filepath.Join(r.root, rel))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fs.ErrNotExist
		}
		return "", r.err(r.display(rel), fmt.Errorf("secretfile: %w", unwrapPath(err)))
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(r.root, target)
	}
	inside, err := filepath.Rel(r.root, target)
	if err != nil || !filepath.IsLocal(inside) {
		return "", r.err(r.display(rel), ErrOutsideDir)
	}
	if err := r.trust(r.display(rel), problem); err != nil {
		return "", err
	}
	return inside, nil
}

// trust returns problem as an error for locator, or, in insecure mode, logs
// it and returns nil. A nil problem is nil.
func (r *reader) trust(locator string, problem *securefile.PermissionError) error {
	if problem == nil {
		return nil
	}
	problem.Prefix = "secretfile: "
	if !r.p.o.Insecure {
		return r.err(locator, problem)
	}
	r.p.o.Logger.WarnContext(r.ctx, "secretfile: using a secret file with insecure permissions because "+EnvInsecure+" is set",
		"path", problem.Path, "mode", securefile.Octal(problem.Mode), "problem", problem.Error())
	return nil
}

// readFile reads <Dir>/<rel>, following symlinks only within Dir, and
// refusing non-regular and oversized files. A missing file gives an error
// wrapping fs.ErrNotExist.
func (r *reader) readFile(rel string) ([]byte, error) {
	target, err := r.resolve(rel)
	if err != nil {
		return nil, err
	}
	f, err := r.fsroot.OpenFile(target, openFlags, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fs.ErrNotExist
		}
		return nil, r.err(r.display(rel), fmt.Errorf("secretfile: %w", unwrapPath(err)))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, r.err(r.display(rel), fmt.Errorf("secretfile: %w", unwrapPath(err)))
	}
	if !st.Mode().IsRegular() {
		return nil, r.err(r.display(rel), fmt.Errorf("%w (mode %s)", ErrNotRegular, st.Mode().Type()))
	}
	if err := r.trust(r.display(rel), securefile.CheckInfo(filepath.Join(r.root, target), st, securefile.NotWritable)); err != nil {
		return nil, err
	}
	max := r.p.o.MaxFileSize
	if st.Size() > max {
		return nil, r.err(r.display(rel), fmt.Errorf("%w: %d bytes, limit %d", ErrFileTooLarge, st.Size(), max))
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, r.err(r.display(rel), fmt.Errorf("secretfile: %w", unwrapPath(err)))
	}
	if int64(len(data)) > max {
		return nil, r.err(r.display(rel), fmt.Errorf("%w: more than %d bytes", ErrFileTooLarge, max))
	}
	return data, nil
}

// fileValue removes one trailing "\n" or "\r\n" from a per-field file.
func fileValue(b []byte) string {
	s := string(b)
	if strings.HasSuffix(s, "\r\n") {
		return s[:len(s)-2]
	}
	return strings.TrimSuffix(s, "\n")
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openFlags opens without blocking, so that a FIFO put where a secret file
// belongs is refused as not regular instead of hanging Retrieve.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
