package doctor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// Defaults for [Config].
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxKeyAge     = 90 * 24 * time.Hour
	DefaultExpiryWarning = time.Hour
)

// Config is what the doctor checks: the pieces a server builds its resolver
// from. Pass the same values the server passes to resolver.New.
type Config struct {
	// Chain is the resolver's chain, in order (nil entries are ignored, as
	// resolver.New ignores them).
	Chain []provider.Provider

	// Profiles is the profiles file, when the server has one: its profiles
	// are checked besides the default one, and its policy
	// (profile.Provider.Allows, the server's resolver.Options.AllowProfile)
	// is described. It is usually also in Chain.
	Profiles *profile.Provider

	// Schemes opens references (resolver.Options.References), for
	// [ExplainReference].
	Schemes *provider.Schemes

	// AllowReferences is resolver.Options.AllowReferences: nil refuses
	// every reference.
	AllowReferences *provider.RefPolicy

	// Required is resolver.Options.Required.
	Required []string

	// DefaultProfile is resolver.Options.Profile; default
	// provider.DefaultProfile.
	DefaultProfile string

	// Skip names providers of Chain (by provider.NameOf) that are not
	// called: each answers "not checked" and the walk moves past it, as past
	// a source with nothing. A server checking itself at start-up skips the
	// keychain, whose unlock prompt would hold the start; a profile whose
	// source is a skipped backend is still resolved through it.
	Skip []string

	// Timeout bounds each provider call; default DefaultTimeout.
	Timeout time.Duration

	// Fingerprint, when set, fingerprints every value the report mentions
	// (see [Fingerprinter]); nil gives no fingerprints.
	Fingerprint *Fingerprinter

	// MaxKeyAge is the age past which a credentials file's keys are
	// reported for rotation; default DefaultMaxKeyAge (90 days), negative
	// never.
	MaxKeyAge time.Duration

	// ExpiryWarning is how close to its expiry a resolved credential is
	// reported; default DefaultExpiryWarning (an hour).
	ExpiryWarning time.Duration

	// Getenv reads MCP_INSECURE_MODE; default os.Getenv.
	Getenv func(string) string

	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.DefaultProfile == "" {
		c.DefaultProfile = provider.DefaultProfile
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxKeyAge == 0 {
		c.MaxKeyAge = DefaultMaxKeyAge
	}
	if c.ExpiryWarning <= 0 {
		c.ExpiryWarning = DefaultExpiryWarning
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Chain = slices.DeleteFunc(slices.Clone(c.Chain), func(p provider.Provider) bool { return p == nil })
}

// Severity ranks a [Finding].
type Severity int

const (
	// SeverityInfo is worth knowing and needs no action.
	SeverityInfo Severity = iota
	// SeverityWarning will not stop a request today: a source that is
	// unavailable, a shadowed source that is broken, keys due for rotation.
	SeverityWarning
	// SeverityError is a profile that cannot resolve or a source that is
	// insecure.
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return "info"
}

// MarshalText renders the severity as its name, for JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Level is the slog level [Log] logs the severity at.
func (s Severity) Level() slog.Level {
	switch s {
	case SeverityWarning:
		return slog.LevelWarn
	case SeverityError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// A Finding is one problem, with the fix. It never holds a value.
type Finding struct {
	// Profiles lists the profiles it affects, rendered with
	// provider.Describe; empty when it is about the configuration as a
	// whole (a file, a variable).
	Profiles []string `json:"profiles,omitempty"`
	// Source is the provider, file or variable at fault.
	Source   string   `json:"source"`
	Severity Severity `json:"severity"`
	// Problem says what is wrong.
	Problem string `json:"problem"`
	// Fix says how to fix it: a command to run, a line to correct.
	Fix string `json:"fix,omitempty"`
}

// String renders the finding on one line.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Severity.String())
	b.WriteString(": ")
	if len(f.Profiles) > 0 {
		b.WriteString("profile ")
		b.WriteString(strings.Join(f.Profiles, ", "))
		b.WriteString(": ")
	}
	b.WriteString(f.Source)
	b.WriteString(": ")
	b.WriteString(f.Problem)
	if f.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(f.Fix)
	}
	return b.String()
}

// Failed reports whether any finding is an error: a profile that cannot
// resolve, or an insecure source.
func Failed(findings []Finding) bool {
	return slices.ContainsFunc(findings, func(f Finding) bool { return f.Severity >= SeverityError })
}

// Log logs each finding once, at its severity's level, with its fix:
// what a server calls at start-up with [Check]'s findings.
func Log(ctx context.Context, log *slog.Logger, findings []Finding) {
	for _, f := range findings {
		attrs := []slog.Attr{slog.String("source", f.Source), slog.String("problem", f.Problem)}
		if len(f.Profiles) > 0 {
			attrs = append(attrs, slog.Any("profiles", f.Profiles))
		}
		if f.Fix != "" {
			attrs = append(attrs, slog.String("fix", f.Fix))
		}
		log.LogAttrs(ctx, f.Severity.Level(), "credential configuration: "+f.Severity.String(), attrs...)
	}
}

// Report is everything [Inspect] found.
type Report struct {
	DefaultProfile string          `json:"default_profile"`
	Chain          []string        `json:"chain"`
	Files          []FileReport    `json:"files,omitempty"`
	Profiles       []ProfileReport `json:"profiles"`
	Findings       []Finding       `json:"findings"`
}

// Failed reports whether any finding is an error.
func (r *Report) Failed() bool { return Failed(r.Findings) }

// FileReport describes a file a provider of the chain reads.
type FileReport struct {
	Path    string    `json:"path"`
	What    string    `json:"what"` // "credentials file", "profiles file"
	Exists  bool      `json:"exists"`
	Mode    string    `json:"mode,omitempty"` // "0600"
	Changed time.Time `json:"changed,omitzero"`
	Age     Duration  `json:"age,omitzero"`
	Problem string    `json:"problem,omitempty"`
	Fix     string    `json:"fix,omitempty"`
}

// ProfileReport is the walk for one profile.
type ProfileReport struct {
	// Profile is the profile's name, as provider.Describe renders it.
	Profile string `json:"profile"`
	// Default says it is resolved when a request names no profile.
	Default bool `json:"default"`
	// Defined says the profiles file defines it.
	Defined bool `json:"defined"`
	// Policy says who may select it.
	Policy Policy `json:"policy"`
	// WalkedAs says which caller the walk was made as: "" for a request
	// without a verified caller (stdio).
	WalkedAs string `json:"walked_as,omitempty"`
	// Steps are the chain's providers, in order, and what each did.
	Steps []Step `json:"steps"`
	// Answer is the resolved credential, nil when none.
	Answer *Answer `json:"answer,omitempty"`
	// Error says why the profile cannot resolve, "" when it can.
	Error string `json:"error,omitempty"`
}

// Policy says who may select a profile. It describes profile.Provider.Allows
// (the servers' resolver.Options.AllowProfile) for a profile of the
// profiles file, and the resolver's rule for the default profile.
type Policy struct {
	// Stdio says a request without a verified caller (a stdio server's) is
	// served the profile.
	Stdio bool `json:"stdio"`
	// Callers says verified callers (a remote server's) are served the
	// profile: those its "allow" names.
	Callers bool `json:"callers"`
	// Summary says it in words; names from the file are rendered with
	// provider.Describe.
	Summary string `json:"summary"`
}

// Outcome is what one provider did in a walk.
type Outcome string

// Outcomes of a [Step].
const (
	Answered Outcome = "answered" // its credentials are the result
	Skipped  Outcome = "skipped"  // asked, had nothing usable or could not be reached; the walk went on
	Stopped  Outcome = "stopped"  // asked, failed definitely; the walk stopped there (never bypassed)
	NotAsked Outcome = "not asked"
)

// Step is one provider of a walk.
type Step struct {
	Provider string  `json:"provider"`
	Outcome  Outcome `json:"outcome"`
	// Reason is the provider's account: why it was skipped or stopped the
	// walk, or where its answer came from.
	Reason string `json:"reason,omitempty"`
	// Probe, for a provider the walk did not reach, says what it would
	// answer if asked: "" when it has nothing.
	Probe string `json:"probe,omitempty"`
	// Fingerprints of what it would answer, when it has something.
	Fingerprints map[string]string `json:"fingerprints,omitempty"`
}

// Answer describes a resolved credential, without its values.
type Answer struct {
	Source       string            `json:"source"`
	Fields       []string          `json:"fields"`
	Fingerprints map[string]string `json:"fingerprints,omitempty"`
	Expires      time.Time         `json:"expires,omitzero"`
	ExpiresIn    Duration          `json:"expires_in,omitzero"`
	Stale        bool              `json:"stale,omitempty"`
}

// Duration is a time.Duration that encodes as text such as "97d3h" in JSON.
type Duration time.Duration

// String renders d in days and hours past a day, else as time.Duration does.
func (d Duration) String() string {
	t := time.Duration(d)
	if t < 0 {
		return "-" + Duration(-t).String()
	}
	if t >= 24*time.Hour {
		days := t / (24 * time.Hour)
		if h := (t % (24 * time.Hour)) / time.Hour; h > 0 {
			return fmt.Sprintf("%dd%dh", days, h)
		}
		return fmt.Sprintf("%dd", days)
	}
	return t.Round(time.Second).String()
}

// MarshalText renders d as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Check returns the findings of [Inspect]: what a server logs at start-up
// with [Log].
func Check(ctx context.Context, cfg Config) []Finding {
	return Inspect(ctx, cfg).Findings
}

// Inspect checks the files the chain reads, then walks the default profile
// and every profile of the profiles file as the resolver would (see the
// package documentation).
func Inspect(ctx context.Context, cfg Config) *Report {
	d := newRun(cfg)
	rep := &Report{DefaultProfile: d.cfg.DefaultProfile, Chain: d.names}
	rep.Files = d.files()
	var defined []string
	var file *profile.File
	if d.cfg.Profiles != nil {
		f, err := d.cfg.Profiles.Load()
		switch {
		case err == nil:
			file = f
			defined = f.Names()
		case errors.Is(err, os.ErrNotExist):
			d.add(Finding{Source: "profiles file", Severity: SeverityInfo,
				Problem: "no profiles file at " + d.cfg.Profiles.Path() + ": requests may select only the default profile",
				Fix:     "define profiles in " + d.cfg.Profiles.Path() + " to offer them (see package profile)"})
		default:
			// Permission problems are the file check's; a malformed file
			// is reported here, once.
			if !d.knownFileProblem(err) {
				sev, fix := classify(profile.Name, err, "")
				d.add(Finding{Source: "profiles file", Severity: max(sev, SeverityError), Problem: err.Error(), Fix: fix})
			}
		}
	}
	rep.Profiles = append(rep.Profiles, d.profile(ctx, d.cfg.DefaultProfile, file))
	for _, n := range defined {
		if n != d.cfg.DefaultProfile {
			rep.Profiles = append(rep.Profiles, d.profile(ctx, n, file))
		}
	}
	rep.Findings = d.findings
	return rep
}

// Explain walks one profile, as a request naming it would be resolved, with
// the findings about it. A profile the profiles file does not define (and
// not the default) is walked too, and its Policy says a request could not
// select it.
func Explain(ctx context.Context, cfg Config, name string) (*ProfileReport, []Finding) {
	d := newRun(cfg)
	var file *profile.File
	if d.cfg.Profiles != nil {
		if f, err := d.cfg.Profiles.Load(); err == nil {
			file = f
		}
	}
	pr := d.profile(ctx, name, file)
	return &pr, d.findings
}

// describeAll renders names with provider.Describe.
func describeAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = provider.Describe(n)
	}
	return out
}

// resolverFor builds a resolver over chain with the configuration's
// options, serving any profile: the doctor asks, not a request.
func (d *run) resolverFor(chain []provider.Provider, refs bool) *resolver.Resolver {
	r, err := resolver.New(chain, func(o *resolver.Options) {
		o.Required = d.cfg.Required
		o.Profile = d.cfg.DefaultProfile
		o.AllowProfile = resolver.AnyProfile
		o.ProviderTimeout = d.cfg.Timeout
		o.MaxStale = -1
		if refs {
			o.References = d.cfg.Schemes
			o.AllowReferences = d.cfg.AllowReferences
		}
	})
	if err != nil {
		// Invalid options (a bad default profile or required field) are
		// the server's start-up error; report it and walk without them.
		d.add(Finding{Source: "configuration", Severity: SeverityError, Problem: err.Error(),
			Fix: "correct the option named; the server refuses to start with it"})
		r, _ = resolver.New(chain, func(o *resolver.Options) {
			o.AllowProfile = resolver.AnyProfile
			o.ProviderTimeout = d.cfg.Timeout
			o.MaxStale = -1
		})
	}
	return r
}
