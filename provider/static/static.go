package static

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider name used in [provider.Source] and errors.
const Name = "static"

// Options configures a [Provider]. The zero value is ready to use.
type Options struct {
	// Profiles lists the profiles that [New]'s fields answer. Empty means
	// only [provider.DefaultProfile]. NewProfiles ignores it.
	Profiles []string
	// AllProfiles makes [New]'s fields answer every profile. NewProfiles
	// ignores it.
	AllProfiles bool
	// Locator is reported in [provider.Source.Locator], for example
	// "test fixture". It must not hold a secret. Default empty.
	Locator string
	// Expires is set as the expiry of every result. The zero time means the
	// credentials do not expire.
	Expires time.Time
	// Now stamps FetchedAt. Default time.Now.
	Now func() time.Time
}

// Provider returns fixed credentials. It is immutable and safe for
// concurrent use.
type Provider struct {
	profiles    map[string]provider.Credentials
	all         *provider.Credentials
	expires     time.Time
	now         func() time.Time
	answerNames []string
}

// New returns a Provider answering with a copy of fields. By default only
// [provider.DefaultProfile] is answered; see [Options].
func New(fields map[string]string, optFns ...func(*Options)) *Provider {
	o := options(optFns)
	p := newProvider(o)
	c := provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: o.Locator})
	if o.AllProfiles {
		p.all = &c
		return p
	}
	names := o.Profiles
	if len(names) == 0 {
		names = []string{provider.DefaultProfile}
	}
	for _, n := range names {
		p.profiles[n] = c
	}
	p.answerNames = slices.Sorted(maps.Keys(p.profiles))
	return p
}

// NewProfiles returns a Provider answering each profile in profiles with a
// copy of its fields, and no other profile.
func NewProfiles(profiles map[string]map[string]string, optFns ...func(*Options)) *Provider {
	o := options(optFns)
	p := newProvider(o)
	for name, fields := range profiles {
		p.profiles[name] = provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: o.Locator})
	}
	p.answerNames = slices.Sorted(maps.Keys(p.profiles))
	return p
}

func options(optFns []func(*Options)) Options {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	o.Profiles = slices.Clone(o.Profiles)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func newProvider(o Options) *Provider {
	return &Provider{profiles: map[string]provider.Credentials{}, expires: o.Expires, now: o.Now}
}

// Name returns "static".
func (p *Provider) Name() string { return Name }

// Retrieve returns the fixed credentials for profile, or an error wrapping
// [provider.ErrNotFound] if the provider does not answer profile or holds no
// non-empty field for it.
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Err: err}
	}
	var c provider.Credentials
	if p.all != nil {
		c = *p.all
	} else {
		var ok bool
		c, ok = p.profiles[profile]
		if !ok {
			return provider.Credentials{}, provider.NotFound(Name, profile, "", p.notAnswered())
		}
	}
	if c.IsZero() {
		return provider.Credentials{}, provider.NotFound(Name, profile, "", "static: no non-empty fields configured")
	}
	c.FetchedAt = p.now()
	c.Expires = p.expires
	return c, nil
}

func (p *Provider) notAnswered() string {
	switch len(p.answerNames) {
	case 0:
		return "static: no profiles configured"
	case 1:
		return "static: only profile " + quote(p.answerNames[0]) + " is configured"
	}
	if len(p.answerNames) > 8 {
		return "static: profile is not configured"
	}
	s := "static: profile is not configured (have "
	for i, n := range p.answerNames {
		if i > 0 {
			s += ", "
		}
		s += quote(n)
	}
	return s + ")"
}

func quote(s string) string { return strconv.Quote(s) }
