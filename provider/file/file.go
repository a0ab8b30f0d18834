package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mcpcred/mcpcred/internal/securefile"
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
	EnvInsecure = securefile.EnvInsecure
)

// DefaultMaxSize is the default for [Options.MaxSize]: 1 MiB.
const DefaultMaxSize = securefile.DefaultMaxSize

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
	required []string
	now      func() time.Time
	file     *securefile.File[*parsed] // nil if path is ""

	// Hooks for tests.
	wallNow func() time.Time // the clock compared with file timestamps; time.Now
	parses  counter          // how often the file was parsed: parses.Load()
}

// counter reads a count kept elsewhere, in the manner of atomic.Int64.
type counter func() int64

// Load returns the count.
func (c counter) Load() int64 { return c() }

// homeDir returns $HOME, or %USERPROFILE% on Windows, read through getenv.
func homeDir(getenv func(string) string) (string, error) {
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
		o.UserHomeDir = func() (string, error) { return homeDir(getenv) }
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
		required: append([]string(nil), o.Required...),
		now:      o.Now,
		wallNow:  time.Now,
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
	if p.path != "" {
		p.file = securefile.New(securefile.Options{
			Path:     p.path,
			MaxSize:  o.MaxSize,
			Policy:   securefile.Private,
			Insecure: securefile.InsecureFromEnv(o.Getenv),
			Logger:   o.Logger,
			Prefix:   "file: ",
			What:     "credentials file",
			Now:      func() time.Time { return p.wallNow() },
		}, parseAt(p.path))
		p.parses = p.file.Parses
	} else {
		p.parses = func() int64 { return 0 }
	}
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
// wrapping [ErrInsecurePermissions]; a malformed file a
// [*provider.SyntaxError] wrapping [ErrMalformed] that names the file and
// line.
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, p.fail(profile, p.path, err)
	}
	if p.path == "" {
		return provider.Credentials{}, provider.NotFound(Name, profile, "", "file: "+p.pathErr)
	}
	name := p.Section(profile)
	// The file is checked (symlinks, permissions, owner, size) on every
	// call and read and parsed again only when it changed; see
	// internal/securefile.
	f, err := p.file.Load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return provider.Credentials{}, provider.NotFound(Name, profile, p.path, err.Error())
	case err != nil && !errors.Is(err, ErrMalformed):
		return provider.Credentials{}, p.fail(profile, p.path, err)
	}
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, p.fail(profile, p.path, err)
	}
	if err != nil { // the file did not parse: a *provider.SyntaxError, which names the file and line
		return provider.Credentials{}, p.fail(profile, "", err)
	}
	return p.credentials(f, profile, name)
}

// credentials returns the fields of section name in f.
func (p *Provider) credentials(f *parsed, profile, name string) (provider.Credentials, error) {
	sec, err := p.find(f, profile, name)
	if err != nil {
		return provider.Credentials{}, err
	}
	label := sectionLabel(sec.name)
	src := provider.Source{Provider: Name, Locator: p.path + " [" + label + "]"}
	if sec.conflict[0] != "" {
		return provider.Credentials{}, p.fail(profile, src.Locator,
			fmt.Errorf("file: section [%s] sets %s twice, as %s and as %s; keep one", label, canonical(sec.conflict[0]), sec.conflict[0], sec.conflict[1]))
	}
	if len(sec.fields) == 0 {
		reason := "file: section [" + label + "] has no keys"
		if len(sec.empty) > 0 {
			reason = "file: section [" + label + "] has no values; empty: " + strings.Join(sec.empty, ", ")
		}
		return provider.Credentials{}, provider.NotFound(Name, profile, src.Locator, reason)
	}
	c := provider.NewCredentialsFromSecrets(sec.fields, src)
	if missing := c.Missing(p.required...); len(missing) > 0 {
		reason := "file: section [" + label + "] lacks " + strings.Join(missing, ", ")
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
		return nil, p.fail(profile, p.path+" ["+sectionLabel(name)+"]",
			fmt.Errorf("file: both [%s] and [%s] exist; keep one", sectionLabel(bare.name), sectionLabel(aliased.name)))
	case bare != nil:
		return bare, nil
	case aliased != nil:
		return aliased, nil
	}
	reason := "file: no section [" + sectionLabel(name) + "]"
	if len(f.names) == 0 {
		reason += "; the file has no sections"
	} else {
		labels := make([]string, len(f.names))
		for i, n := range f.names {
			labels[i] = sectionLabel(n)
		}
		reason += "; sections present: [" + strings.Join(labels, "], [") + "]"
	}
	return nil, provider.NotFound(Name, profile, p.path+" ["+sectionLabel(name)+"]", reason)
}

// sectionLabel renders a section name (from the file, or a profile name
// from a request) for an error, a log or a locator: as it is when
// [provider.Describe] finds that it reads as a name ("profile NAME" when
// NAME does), else as Describe's description, since a model may send a
// secret as a profile and a file may hold one where a header belongs.
func sectionLabel(name string) string {
	if alias, ok := profileAlias(name); ok && alias == strings.TrimSpace(name[len("profile"):]) {
		if !provider.IsName(alias) {
			return "profile " + provider.Describe(alias)
		}
		return name
	}
	return provider.Label(name)
}

func (p *Provider) fail(profile, locator string, err error) error {
	return &provider.Error{Provider: Name, Profile: profile, Locator: locator, Err: err}
}
