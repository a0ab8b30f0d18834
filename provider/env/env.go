package env

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider name used in [provider.Source] and errors.
const Name = "env"

// FileSuffix is appended to a variable name to name its file form:
// AWS_SECRET_ACCESS_KEY_FILE holds the path of a file whose content is the
// value of AWS_SECRET_ACCESS_KEY.
const FileSuffix = "_FILE"

// DefaultMaxFileSize is the largest file a NAME_FILE variable may name.
const DefaultMaxFileSize = 64 << 10

// Sentinel errors, wrapped by the [*provider.Error] that Retrieve returns.
var (
	// ErrConflict means both NAME and NAME_FILE are set.
	ErrConflict = errors.New("env: both variable and its _FILE form are set")
	// ErrFileTooLarge means a NAME_FILE names a file over Options.MaxFileSize.
	ErrFileTooLarge = errors.New("env: file too large")
	// ErrNotRegular means a NAME_FILE names a directory or other non-file.
	ErrNotRegular = errors.New("env: not a regular file")
	// ErrIncomplete means some but not all Options.Required fields are set.
	ErrIncomplete = errors.New("env: required fields missing")
	// ErrBadName means a variable under Options.Prefix has a name that gives
	// no field name (see [PrefixField]). The error does not show the name
	// unless it reads as one.
	ErrBadName = errors.New("env: variable name gives no field name")
)

// DefaultVars returns the default mapping from field to variables, AWS's
// names: the first variable that is set wins.
func DefaultVars() map[string][]string {
	return map[string][]string{
		provider.FieldAccessKeyID:     {"AWS_ACCESS_KEY_ID"},
		provider.FieldSecretAccessKey: {"AWS_SECRET_ACCESS_KEY"},
		provider.FieldSessionToken:    {"AWS_SESSION_TOKEN"},
		provider.FieldRegion:          {"AWS_REGION", "AWS_DEFAULT_REGION"},
	}
}

// DefaultRequired returns the fields required with [DefaultVars]: an AWS
// key pair. AWS_REGION alone is not credentials.
func DefaultRequired() []string {
	return []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
}

// Options configures a [Provider]. The zero value reads AWS's variables.
type Options struct {
	// Vars maps each field to the variables that may hold it, in order;
	// the first one set wins. Nil means [DefaultVars], unless Prefix is
	// set, in which case nil means no extra variables.
	Vars map[string][]string
	// Prefix, if set, maps every variable PREFIX+NAME to the field
	// strings.ToLower(NAME): with Prefix "MCP_CI_", MCP_CI_API_TOKEN is the
	// field "api_token" and MCP_CI_API_TOKEN_FILE its file form. NAME must
	// be ASCII letters, digits and underscores. Vars given alongside are
	// read too and win for the same field.
	Prefix string
	// Required lists fields that must all be present. If none of them is
	// set Retrieve reports [provider.ErrNotFound]; if only some are, it
	// reports [ErrIncomplete]. Nil means [DefaultRequired] when Vars and
	// Prefix are both unset, and no requirement otherwise (any non-empty
	// field will do). Use an empty non-nil slice to require nothing.
	Required []string
	// Profiles lists the profiles this provider answers. Empty means only
	// [provider.DefaultProfile]: the environment is one set of values, and
	// answering a request for "prod" with it would be wrong.
	Profiles []string
	// AllProfiles makes the provider answer every profile with the
	// environment's values.
	AllProfiles bool
	// DisableFiles turns off NAME_FILE indirection.
	DisableFiles bool
	// MaxFileSize bounds files named by NAME_FILE. Default
	// [DefaultMaxFileSize].
	MaxFileSize int64
	// Getenv reads one variable. Default os.Getenv.
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE strings, for Prefix mode.
	// Default os.Environ.
	Environ func() []string
	// OpenFile opens files named by NAME_FILE. Default os.Open on the
	// host file system; tests may pass an fs.FS's Open.
	OpenFile func(name string) (fs.File, error)
	// Now stamps FetchedAt. Default time.Now.
	Now func() time.Time
	// Logger receives debug records naming variables, never values.
	// Default discards.
	Logger *slog.Logger
}

// Provider reads credentials from environment variables. It re-reads the
// environment on every Retrieve and is safe for concurrent use.
type Provider struct {
	o        Options
	vars     map[string][]string
	fields   []string // sorted keys of vars
	profiles map[string]bool
}

// New returns a Provider configured by optFns.
func New(optFns ...func(*Options)) *Provider {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	if o.Vars == nil && o.Prefix == "" {
		o.Vars = DefaultVars()
		if o.Required == nil {
			o.Required = DefaultRequired()
		}
	}
	vars := make(map[string][]string, len(o.Vars))
	for f, vs := range o.Vars {
		vars[f] = slices.Clone(vs)
	}
	o.Vars = nil
	o.Required = slices.Clone(o.Required)
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Environ == nil {
		o.Environ = os.Environ
	}
	if o.OpenFile == nil {
		// O_NONBLOCK: a FIFO named by NAME_FILE is refused as not regular
		// instead of hanging Retrieve.
		o.OpenFile = func(name string) (fs.File, error) { return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	profiles := map[string]bool{}
	for _, p := range o.Profiles {
		profiles[p] = true
	}
	if len(profiles) == 0 {
		profiles[provider.DefaultProfile] = true
	}
	o.Profiles = nil
	return &Provider{o: o, vars: vars, fields: slices.Sorted(maps.Keys(vars)), profiles: profiles}
}

// Name returns "env".
func (p *Provider) Name() string { return Name }

// Retrieve reads the configured variables. See the package documentation
// for the rules.
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Err: err}
	}
	if !p.o.AllProfiles && !p.profiles[profile] {
		return provider.Credentials{}, provider.NotFound(Name, profile, "",
			"env: environment variables answer only profile "+p.profileList()+"; set Options.AllProfiles to answer every profile")
	}

	values := map[string]string{}
	used := map[string]string{} // field -> variable that supplied it
	var looked []string

	if p.o.Prefix != "" {
		looked = append(looked, p.o.Prefix+"*")
		var names []string
		for _, kv := range p.o.Environ() {
			if name, _, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, p.o.Prefix) {
				names = append(names, name)
			}
		}
		slices.Sort(names) // deterministic when two names map to one field
		for _, name := range names {
			field, isFile, ok := PrefixField(p.o.Prefix, name)
			if !ok {
				// Not skipped: a variable under the prefix is meant to be a
				// field, and its name, which may be anything, is not shown.
				return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Locator: p.o.Prefix + "*",
					Err: fmt.Errorf("%w: a variable named %s%s gives no field name; a field name is letters, digits and _ in words, such as %sAPI_TOKEN; rename or unset it",
						ErrBadName, p.o.Prefix, describeRest(p.o.Prefix, name), p.o.Prefix)}
			}
			base := name
			if isFile {
				if p.o.DisableFiles {
					field += strings.ToLower(FileSuffix)
				} else {
					base = strings.TrimSuffix(name, FileSuffix)
				}
			}
			if _, done := values[field]; done {
				continue
			}
			v, src, err := p.lookup(ctx, profile, base)
			if err != nil {
				return provider.Credentials{}, err
			}
			if v != "" {
				values[field], used[field] = v, src
			}
		}
	}
	for _, field := range p.fields {
		for _, name := range p.vars[field] {
			looked = append(looked, name)
			v, src, err := p.lookup(ctx, profile, name)
			if err != nil {
				return provider.Credentials{}, err
			}
			if v != "" {
				values[field], used[field] = v, src
				break
			}
		}
	}

	if len(values) == 0 {
		return provider.Credentials{}, provider.NotFound(Name, profile, "", "env: "+p.notSetReason(looked))
	}
	if len(p.o.Required) > 0 {
		var missing, have []string
		for _, f := range p.o.Required {
			if _, ok := values[f]; ok {
				have = append(have, f)
			} else {
				missing = append(missing, f)
			}
		}
		if len(have) == 0 {
			return provider.Credentials{}, provider.NotFound(Name, profile, "", "env: "+p.notSetReason(p.requiredVars()))
		}
		if len(missing) > 0 {
			return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Locator: locator(used),
				Err: fmt.Errorf("%w: %s set but %s not (looked at %s)", ErrIncomplete,
					strings.Join(have, ", "), strings.Join(missing, ", "), p.varsFor(missing))}
		}
	}

	c := provider.NewCredentials(values, provider.Source{Provider: Name, Locator: locator(used)})
	c.FetchedAt = p.o.Now()
	p.o.Logger.DebugContext(ctx, "env: read credentials", "profile", profile, "source", c.Source.String(), "fields", c.Names())
	return c, nil
}

// lookup reads the variable name or, failing that, the file named by
// name_FILE. It returns the value ("" if neither is set) and the variable
// that supplied it.
func (p *Provider) lookup(ctx context.Context, profile, name string) (string, string, error) {
	v := p.o.Getenv(name)
	if p.o.DisableFiles {
		return v, name, nil
	}
	fileVar := name + FileSuffix
	path := p.o.Getenv(fileVar)
	if v != "" && path != "" {
		return "", "", &provider.Error{Provider: Name, Profile: profile, Locator: name + ", " + fileVar,
			Err: fmt.Errorf("%w: set only one of %s and %s", ErrConflict, name, fileVar)}
	}
	if v != "" || path == "" {
		return v, name, nil
	}
	if err := ctx.Err(); err != nil {
		return "", "", &provider.Error{Provider: Name, Profile: profile, Locator: fileVar, Err: err}
	}
	v, err := p.readFile(path)
	if err != nil {
		return "", "", &provider.Error{Provider: Name, Profile: profile, Locator: fileVar, Err: err}
	}
	if v == "" {
		p.o.Logger.DebugContext(ctx, "env: file is empty; treating the variable as unset", "variable", fileVar, "path", path)
	}
	return v, fileVar, nil
}

// readFile returns the normalised content of path. Errors name the path,
// never the content.
func (p *Provider) readFile(path string) (string, error) {
	f, err := p.o.OpenFile(path)
	if err != nil {
		return "", fmt.Errorf("env: file %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("env: file %s: %w", path, unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("env: file %s: %w (mode %s)", path, ErrNotRegular, st.Mode().Type())
	}
	if st.Size() > p.o.MaxFileSize {
		return "", fmt.Errorf("env: file %s: %w: %d bytes, limit %d", path, ErrFileTooLarge, st.Size(), p.o.MaxFileSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, p.o.MaxFileSize+1))
	if err != nil {
		return "", fmt.Errorf("env: file %s: %w", path, unwrapPath(err))
	}
	v, err := FileValue(b, p.o.MaxFileSize)
	if err != nil {
		return "", fmt.Errorf("env: file %s: %w", path, err)
	}
	return v, nil
}

// FileValue turns the content of a NAME_FILE file into a value: one
// trailing "\n" or "\r\n" is removed, as echo and most editors add one, and
// nothing else is changed. Content longer than max bytes is refused with
// [ErrFileTooLarge]; max <= 0 means [DefaultMaxFileSize].
func FileValue(b []byte, max int64) (string, error) {
	if max <= 0 {
		max = DefaultMaxFileSize
	}
	if int64(len(b)) > max {
		return "", fmt.Errorf("%w: more than %d bytes", ErrFileTooLarge, max)
	}
	s := string(b)
	if strings.HasSuffix(s, "\r\n") {
		s = s[:len(s)-2]
	} else if strings.HasSuffix(s, "\n") {
		s = s[:len(s)-1]
	}
	return s, nil
}

// PrefixField maps the variable name to a field under prefix: with prefix
// "MCP_CI_", "MCP_CI_API_TOKEN" is field "api_token" and
// "MCP_CI_API_TOKEN_FILE" is field "api_token" read from a file (isFile).
// ok is false if name does not start with prefix or the rest does not give
// a field name: letters, digits and underscores that lower-case to a
// provider.ValidField name, in words that read as names (each in one case
// or capitalized), so that a token pasted into a variable's name never
// becomes a field.
func PrefixField(prefix, name string) (field string, isFile, ok bool) {
	rest, found := strings.CutPrefix(name, prefix)
	if !found || prefix == "" {
		return "", false, false
	}
	if base, cut := strings.CutSuffix(rest, FileSuffix); cut {
		rest, isFile = base, true
	}
	if rest == "" {
		return "", false, false
	}
	field, ok = securefile.FieldKey(rest)
	if !ok {
		return "", false, false
	}
	return field, isFile, true
}

// describeRest renders what follows prefix in a variable's name with
// provider.Describe.
func describeRest(prefix, name string) string {
	return "<" + provider.Describe(strings.TrimPrefix(name, prefix)) + ">"
}

func (p *Provider) profileList() string {
	names := slices.Sorted(maps.Keys(p.profiles))
	for i, n := range names {
		names[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(names, ", ")
}

func (p *Provider) notSetReason(vars []string) string {
	vars = slices.Compact(slices.Sorted(slices.Values(vars)))
	if p.o.DisableFiles {
		return "none of " + strings.Join(vars, ", ") + " is set"
	}
	return "none of " + strings.Join(vars, ", ") + " (or its " + FileSuffix + " form) is set"
}

func (p *Provider) requiredVars() []string {
	var out []string
	for _, f := range p.o.Required {
		out = append(out, p.varNames(f)...)
	}
	return out
}

func (p *Provider) varNames(field string) []string {
	out := slices.Clone(p.vars[field])
	if p.o.Prefix != "" {
		out = append(out, p.o.Prefix+strings.ToUpper(field))
	}
	return out
}

func (p *Provider) varsFor(fields []string) string {
	var out []string
	for _, f := range fields {
		out = append(out, p.varNames(f)...)
	}
	if len(out) == 0 {
		return "no variables (add the field to Options.Vars)"
	}
	return strings.Join(out, ", ")
}

func locator(used map[string]string) string {
	return strings.Join(slices.Sorted(maps.Values(used)), ", ")
}

// unwrapPath drops an *fs.PathError's own rendering (which repeats the path
// we already name) and keeps its cause, so errors.Is(err, fs.ErrNotExist)
// still works.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
