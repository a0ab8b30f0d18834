package profile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider name used in attribution and errors.
const Name = "profile"

// Environment variables read by this package.
const (
	EnvProfilesPath  = "MCP_PROFILES_PATH"    // the profiles file; default ~/.mcp/profiles.json
	EnvActiveProfile = "MCP_ACTIVE_PROFILE"   // the profile used when a request names none; default "default"
	EnvInsecure      = securefile.EnvInsecure // a true value ("1", "true"): log permission problems instead of refusing
)

var (
	// ErrInsecurePermissions is wrapped when the profiles file or its
	// directory can be written by group or others, or, when the file holds
	// inline credentials, accessed by them at all.
	ErrInsecurePermissions = securefile.ErrInsecurePermissions

	// ErrSourceEmpty is wrapped when a profile's source has no credentials.
	// It does not wrap provider.ErrNotFound: a profile the operator defined
	// is a definite answer, and the resolver must not fall through to an
	// unrelated provider that happens to know the same name.
	ErrSourceEmpty = errors.New("profile: the profile's source has no credentials")

	// ErrIncomplete is wrapped when a profile's credentials lack a field of
	// Options.Required; the error names the missing fields.
	ErrIncomplete = errors.New("profile: the profile's credentials lack required fields")

	// ErrNotOffered is wrapped when the profile is defined but not offered
	// to the request's caller (its "allow" does not name the caller, or,
	// without "allow", the request has a verified caller). The error also
	// wraps provider.ErrNotFound and provider.ErrFinal: a definite "not for
	// you", which never falls through to another provider.
	ErrNotOffered = errors.New("profile: the profile is not offered to this caller")

	// ErrExpired is wrapped when a profile's source answers with
	// credentials that have already expired.
	ErrExpired = errors.New("profile: the profile's credentials have expired")
)

// ActiveProfile returns MCP_ACTIVE_PROFILE, or provider.DefaultProfile.
// Pass it to resolver.Options.Profile. getenv nil means os.Getenv. A value
// that is not a valid profile name (provider.ValidName) is an error naming
// the variable, so a typo or a path never reaches a provider.
func ActiveProfile(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := getenv(EnvActiveProfile)
	if p == "" {
		return provider.DefaultProfile, nil
	}
	if err := provider.ValidName(p, MaxNameLen); err != nil {
		return "", fmt.Errorf("profile: %s=%s is not a profile name: %v", EnvActiveProfile, provider.Describe(p), err)
	}
	return p, nil
}

// Options configure a [Provider].
type Options struct {
	// Path of the profiles file. Default: MCP_PROFILES_PATH, else
	// ~/.mcp/profiles.json. A leading "~/" means the home directory.
	Path string
	// Getenv reads the environment; default os.Getenv.
	Getenv func(string) string
	// Insecure turns permission refusals into logged warnings. It is also
	// set when MCP_INSECURE_MODE is a true value ("1", "true"), as
	// strconv.ParseBool reads it.
	Insecure bool
	// Logger; default discard.
	Logger *slog.Logger
	// MaxSize of the file; default 1 MiB.
	MaxSize int64
	// Required lists fields a profile's credentials must have, such as
	// provider.FieldAccessKeyID. A defined profile whose credentials lack
	// one fails with an error wrapping [ErrIncomplete] and provider.ErrFinal
	// that names the missing fields, so that no later provider answers the
	// same name. Set it to resolver.Options.Required: the resolver's own
	// check reports a miss as not found and moves on to the next provider.
	Required []string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Provider serves the profiles of a profiles file: for a profile the file
// defines, it resolves the profile's source reference through the Schemes
// it was given, or returns its inline credentials, and adds the profile's
// region and settings. It is also the operator's policy of which profiles a
// request may name, and for which callers: pass [Provider.Allows] as
// resolver.Options.AllowProfile.
//
// The file is checked (permissions, size) on every Retrieve and parsed again
// only when it changed, so edits apply without a restart.
type Provider struct {
	file     *securefile.File[*File]
	schemes  *provider.Schemes
	now      func() time.Time
	required []string
	last     atomic.Pointer[snapshot]
}

type snapshot struct {
	f  *File
	at time.Time
}

// New returns a Provider for the profiles file. schemes resolves the
// profiles' source references; nil allows only inline credentials.
func New(schemes *provider.Schemes, optFns ...func(*Options)) (*Provider, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if securefile.InsecureFromEnv(o.Getenv) {
		o.Insecure = true
	}
	if o.Path == "" {
		o.Path = o.Getenv(EnvProfilesPath)
	}
	if o.Path == "" {
		o.Path = "~/.mcp/profiles.json"
	}
	if rest, ok := strings.CutPrefix(o.Path, "~/"); ok {
		home := o.Getenv("HOME")
		if home == "" {
			var err error
			if home, err = os.UserHomeDir(); err != nil {
				return nil, fmt.Errorf("profile: cannot expand %s: %w", o.Path, err)
			}
		}
		o.Path = filepath.Join(home, rest)
	}
	if schemes == nil {
		schemes = &provider.Schemes{}
	}
	return &Provider{
		file: securefile.New(securefile.Options{
			Path: o.Path, MaxSize: o.MaxSize, Policy: securefile.NotWritable, Insecure: o.Insecure,
			Logger: o.Logger, Prefix: "profile: ", What: "profiles file", Now: o.Now,
		}, parseAt(o.Path)),
		schemes:  schemes,
		now:      o.Now,
		required: slices.Clone(o.Required),
	}, nil
}

// Name returns "profile".
func (p *Provider) Name() string { return Name }

// Path returns the profiles file's path.
func (p *Provider) Path() string { return p.file.Path() }

// Load checks and returns the profiles file. A missing file is an error
// wrapping fs.ErrNotExist; a malformed one a [*provider.SyntaxError]
// wrapping [ErrMalformed] that names the file.
func (p *Provider) Load() (*File, error) { return p.load() }

// parseAt returns Parse with the errors it returns naming path.
func parseAt(path string) func([]byte) (*File, error) {
	return func(data []byte) (*File, error) {
		f, err := Parse(data)
		if se := (*provider.SyntaxError)(nil); errors.As(err, &se) {
			se.Path = path // a new error of this parse, not yet shared
		}
		return f, err
	}
}

func (p *Provider) load() (*File, error) {
	f, err := p.file.Load()
	if err != nil {
		return nil, err
	}
	if f.HasSecrets() {
		if err := p.file.CheckPrivate(); err != nil {
			return nil, fmt.Errorf("%w (it holds inline credentials)", err)
		}
	}
	p.last.Store(&snapshot{f: f, at: p.now()})
	return f, nil
}

// hasInterval is how long Has and Allows trust the file as last loaded.
const hasInterval = time.Second

// current returns the profiles file as loaded at most hasInterval ago; a
// missing or broken file is an empty one.
func (p *Provider) current() *File {
	s := p.last.Load()
	if s == nil || p.now().Sub(s.at) > hasInterval {
		f, err := p.load()
		if err != nil {
			p.last.Store(&snapshot{f: &File{}, at: p.now()})
			return &File{}
		}
		return f
	}
	return s.f
}

// Has reports whether the profiles file defines name, for whoever asks. It
// reads the file at most once a second; a missing or broken file offers
// nothing. As a resolver's policy use [Provider.Allows], which also applies
// each profile's "allow".
func (p *Provider) Has(name string) bool { return p.current().Has(name) }

// Allows reports whether caller (nil on stdio) may select profile name:
// pass it as resolver.Options.AllowProfile. The profiles file must define
// the profile, and offer it to caller ([Profile.Allows]): a profile without
// "allow" is offered only where there is no verified caller, one with
// "allow" only to the verified callers it names. It reads the file at most
// once a second; a missing or broken file offers nothing.
//
// A refusal is the same whether the profile is not defined or not offered
// to this caller, so a caller learns nothing of the profiles it may not use.
func (p *Provider) Allows(caller *provider.Caller, name string) bool {
	return p.current().Allows(caller, name)
}

// Retrieve returns the named profile's credentials for the caller ctx
// carries (provider.CallerFromContext; none on stdio). A profile the file
// does not define, or a missing file, is provider.ErrNotFound. A defined
// profile is a definite answer: every failure to produce its credentials
// (not offered to the caller, an empty, unavailable or unknown source, a
// per-subject source that cannot be bound to the caller, credentials lacking
// an Options.Required field, or already expired) wraps provider.ErrFinal, so
// a resolver never falls through to a later provider that happens to know
// the same name.
func (p *Provider) Retrieve(ctx context.Context, name string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: name, Err: err}
	}
	path := p.file.Path()
	f, err := p.load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return provider.Credentials{}, provider.NotFound(Name, name, path, "no profiles file")
	case errors.As(err, new(*provider.SyntaxError)): // it names the file and position
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: name, Err: err}
	case err != nil:
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: name, Locator: path, Err: err}
	}
	caller := provider.CallerFromContext(ctx)
	prof, ok := f.Get(name)
	if !ok {
		// Only the profiles this caller may use are listed.
		var names []string
		for _, n := range f.Names() {
			if f.Allows(caller, n) {
				names = append(names, provider.Label(n))
			}
		}
		offered := "profiles: " + strings.Join(names, ", ")
		if len(names) == 0 {
			offered = "no profile is offered to this caller"
		}
		return provider.Credentials{}, provider.NotFound(Name, name, path, "not defined ("+offered+")")
	}
	locator := fmt.Sprintf("%s [%s]", path, provider.Label(name))
	final := func(err error) error {
		return &provider.Error{Provider: Name, Profile: name, Locator: locator, Err: provider.Final(err)}
	}
	if !prof.Allows(caller) {
		// The default profile is not checked by the resolver's
		// AllowProfile: the answer is a definite refusal here, never a
		// fall-through to a provider that knows the same name.
		why := "its \"allow\" does not name this caller"
		switch {
		case prof.Allow == nil:
			why = "it has no \"allow\", so it is offered only where there is no verified caller (stdio)"
		case caller == nil:
			why = "it is offered only to the verified callers its \"allow\" names, and this request has none (stdio)"
		}
		return provider.Credentials{}, final(&notOffered{why: why})
	}
	var c provider.Credentials
	source := "inline credentials"
	if len(prof.Credentials) > 0 {
		c = provider.NewCredentialsFromSecrets(prof.Credentials, provider.Source{Provider: Name, Locator: locator + " inline"})
		c.FetchedAt = p.now()
	} else {
		// The reference itself is not repeated (file text is shown only
		// as provider.Describe allows, and a reference never reads as a
		// name); its scheme is a-z, and the source's own error says where.
		source = "its source"
		if ref, err := provider.ParseRef(prof.Source); err == nil {
			source = "its " + ref.Scheme + ": source"
		}
		var src provider.Provider
		if prof.PerSubject() {
			t, _ := parseTemplate(prof.Source) // valid: Parse checked it
			if caller == nil {                 // a per-subject profile has an "allow" list, which nil never matches
				return provider.Credentials{}, final(fmt.Errorf("%w: the request has no verified caller", ErrSubjectSource))
			}
			target, err := openForSubject(p.schemes, t, caller.Subject)
			if err != nil {
				return provider.Credentials{}, final(err)
			}
			src = target.Provider
		} else {
			if src, _, err = p.schemes.Provider(prof.Source); err != nil {
				return provider.Credentials{}, final(err)
			}
		}
		c, err = src.Retrieve(ctx, provider.DefaultProfile)
		switch {
		case err == nil:
		case errors.Is(err, provider.ErrNotFound):
			return provider.Credentials{}, final(fmt.Errorf("%w: %s: %s", ErrSourceEmpty, source, err))
		default:
			// While the source is unavailable, no later provider may
			// answer this profile with other credentials.
			return provider.Credentials{}, final(fmt.Errorf("%s: %w", source, err))
		}
		if c.IsZero() {
			return provider.Credentials{}, final(fmt.Errorf("%w: %s returned no fields", ErrSourceEmpty, source))
		}
		c.Source = provider.Source{Provider: Name, Locator: locator + " via " + c.Source.String()}
	}
	extra := map[string]string{}
	if prof.Region != "" && !c.Has(provider.FieldRegion) {
		extra[provider.FieldRegion] = prof.Region
	}
	for k, v := range prof.Settings {
		if !c.Has(k) {
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		c = c.Merge(provider.NewCredentials(extra, provider.Source{}))
	}
	if missing := c.Missing(p.required...); len(missing) > 0 {
		have := "no field"
		if c.Len() > 0 {
			have = strings.Join(c.Names(), ", ")
		}
		return provider.Credentials{}, final(fmt.Errorf("%w: %s gave %s, but not %s", ErrIncomplete, source, have, strings.Join(missing, ", ")))
	}
	if now := p.now(); c.Expired(now) {
		return provider.Credentials{}, final(fmt.Errorf("%w: %s gave credentials that expired at %s", ErrExpired, source, c.Expires.UTC().Format(time.RFC3339)))
	}
	return c, nil
}

// notOffered is the refusal of a defined profile to a caller it is not
// offered to: both ErrNotOffered and provider.ErrNotFound, and always
// wrapped in provider.Final.
type notOffered struct{ why string }

func (e *notOffered) Error() string   { return ErrNotOffered.Error() + ": " + e.why }
func (e *notOffered) Unwrap() []error { return []error{ErrNotOffered, provider.ErrNotFound} }
