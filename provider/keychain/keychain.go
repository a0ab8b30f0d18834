package keychain

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider name used in [provider.Source] and errors.
const Name = "keychain"

const (
	// DefaultTimeout bounds each keyring call when the caller's context has
	// no deadline.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxInFlight is the default number of keyring calls that may be
	// running at once (see "Deadlines" in the package doc).
	DefaultMaxInFlight = 4
	// MaxValueBytes is the default limit on one value: Windows Credential
	// Manager's 2,560 bytes, the smallest of the three OS keychains (macOS's
	// `security` path allows about 3,000 after go-keyring's base64; the
	// Secret Service has no hard limit). One limit everywhere means a profile
	// stored on Linux can be stored the same way on a Mac or a PC.
	MaxValueBytes = 2560
)

// DefaultFields returns the field names probed for a profile that has no
// index item, such as one whose items were created with secret-tool or
// security.
func DefaultFields() []string {
	return []string{
		provider.FieldAccessKeyID,
		provider.FieldSecretAccessKey,
		provider.FieldSessionToken,
		provider.FieldRegion,
		provider.FieldToken,
		provider.FieldUsername,
		provider.FieldPassword,
	}
}

// Options configures a [Provider]. The zero value is ready to use.
type Options struct {
	// Service is the prefix of service names: profile P lives under service
	// Service+":"+P. Default [DefaultService] ("mcpcred"). It must not
	// contain ":".
	Service string
	// Fields are the names probed for a profile without an index item
	// (items created with secret-tool, security or cmdkey). Default
	// [DefaultFields]; an empty non-nil slice probes nothing.
	Fields []string
	// Timeout bounds each keyring call when ctx has no deadline, and how long
	// a call waits for a free slot. Default [DefaultTimeout].
	Timeout time.Duration
	// MaxInFlight is how many keyring calls may run at once, including calls
	// stuck in the OS library after their caller gave up, when Limiter is
	// nil. Default [DefaultMaxInFlight].
	MaxInFlight int
	// Limiter bounds the keyring calls in flight. Providers given the same
	// Limiter share its bound (a [Scheme] shares one among every Provider
	// it builds). Default: a new Limiter of MaxInFlight calls for this
	// Provider alone.
	Limiter *Limiter
	// MaxValueBytes is the longest value Store accepts. Default
	// [MaxValueBytes].
	MaxValueBytes int
	// Keyring is the keyring to use. Default: the OS keychain through
	// github.com/zalando/go-keyring.
	Keyring Keyring
	// Logger receives debug and warning lines; they never hold values.
	// Default: discard.
	Logger *slog.Logger
	// Now stamps FetchedAt. Default time.Now.
	Now func() time.Time
}

// Provider reads profiles from, and stores them in, the OS keychain. It is
// safe for concurrent use.
type Provider struct {
	opts    Options
	kr      Keyring
	log     *slog.Logger
	lim     *Limiter
	writeMu chan struct{}
	flights singleflight.Group
	seen    atomic.Bool // the keyring service has answered at least once
}

// New returns a Provider for the OS keychain.
func New(optFns ...func(*Options)) *Provider {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	if o.Service == "" {
		o.Service = DefaultService
	}
	if o.Fields == nil {
		o.Fields = DefaultFields()
	}
	o.Fields = normalize(o.Fields)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Limiter == nil {
		o.Limiter = NewLimiter(o.MaxInFlight)
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = MaxValueBytes
	}
	if o.Keyring == nil {
		o.Keyring = osKeyring{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Provider{
		opts:    o,
		kr:      o.Keyring,
		log:     o.Logger,
		lim:     o.Limiter,
		writeMu: writeLock(o.Service),
	}
}

// Name returns "keychain".
func (p *Provider) Name() string { return Name }

// ServiceName returns the keychain service name that holds profile's items,
// "mcpcred:PROFILE" by default.
func (p *Provider) ServiceName(profile string) string {
	return serviceName(p.opts.Service, profile)
}

func (p *Provider) get(ctx context.Context, service, account string) (string, error) {
	return p.run(ctx, getKey(service, account), true, func() (string, error) {
		return p.kr.Get(service, account)
	})
}

func (p *Provider) set(ctx context.Context, service, account, value string) error {
	_, err := p.run(ctx, "", false, func() (string, error) {
		defer p.flights.Forget(getKey(service, account)) // a read after the write never joins one from before it
		return "", p.kr.Set(service, account, value)
	})
	return err
}

func (p *Provider) del(ctx context.Context, service, account string) error {
	_, err := p.run(ctx, "", false, func() (string, error) {
		defer p.flights.Forget(getKey(service, account))
		return "", p.kr.Delete(service, account)
	})
	return err
}

// getKey is the singleflight key of reads of (service, account).
func getKey(service, account string) string { return "get\x00" + service + "\x00" + account }

func locator(service, account string) string { return service + "/" + account }

func (p *Provider) ctxErr(ctx context.Context, profile string) error {
	if err := ctx.Err(); err != nil {
		return &provider.Error{Provider: Name, Profile: profile, Err: fmt.Errorf("keychain: %w", err)}
	}
	return nil
}

func invalid(profile, locator, reason string) error {
	return &provider.Error{Provider: Name, Profile: profile, Locator: locator, Err: wrapMsg("keychain: "+reason, ErrInvalidName)}
}

// Retrieve returns the fields of profile: those listed in its index item,
// or, for a profile without one, those of Options.Fields that exist.
//
// A profile with no items is [provider.ErrNotFound], and so is a machine
// without a keyring service. A keyring that does not answer before the
// deadline, is locked, or went away is [provider.ErrUnavailable].
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := p.ctxErr(ctx, profile); err != nil {
		return provider.Credentials{}, err
	}
	service := p.ServiceName(profile)
	if r := validProfile(profile); r != "" {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile,
			Err: wrapMsg("keychain: "+r+"; no keychain item can hold it", provider.ErrNotFound, ErrInvalidName)}
	}
	fields, _, err := p.lookup(ctx, profile, service, true)
	if err != nil {
		return provider.Credentials{}, err
	}
	if len(fields) == 0 {
		return provider.Credentials{}, provider.NotFound(Name, profile, service,
			fmt.Sprintf("keychain: no items under service %q (no %s index item, none of %d probed field names)", service, FieldsAccount, len(p.opts.Fields)))
	}
	c := provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: service})
	c.FetchedAt = p.opts.Now()
	return c, nil
}

// lookup reads profile's items. It returns the values found (when
// withValues; otherwise the values are "x") and whether an index item
// exists.
func (p *Provider) lookup(ctx context.Context, profile, service string, withValues bool) (map[string]string, bool, error) {
	names, indexed, err := p.fieldNames(ctx, profile, service)
	if err != nil {
		return nil, false, err
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		v, err := p.get(ctx, service, n)
		k, rerr := p.classify(err, profile, locator(service, n))
		switch k {
		case kindOK:
			if !withValues {
				v = "x"
			}
			out[n] = v
		case kindNotFound:
			if indexed {
				p.log.Warn("keychain: item listed in the index is missing", "service", service, "field", n)
			}
		default:
			return nil, false, rerr
		}
	}
	return out, indexed, nil
}

// fieldNames returns the names listed in profile's index item, or
// Options.Fields when it has none.
func (p *Provider) fieldNames(ctx context.Context, profile, service string) ([]string, bool, error) {
	raw, err := p.get(ctx, service, FieldsAccount)
	k, rerr := p.classify(err, profile, locator(service, FieldsAccount))
	switch k {
	case kindOK:
		names, perr := parseFieldIndex(raw)
		if perr != nil {
			return nil, false, &provider.Error{Provider: Name, Profile: profile, Locator: locator(service, FieldsAccount),
				Err: fmt.Errorf("%w; rewrite it with credctl set, or delete it to fall back to probing", perr)}
		}
		return names, true, nil
	case kindNotFound:
		p.log.Debug("keychain: no index item, probing field names", "service", service, "fields", len(p.opts.Fields))
		return p.opts.Fields, false, nil
	}
	return nil, false, rerr
}

// Fields returns the names of the fields stored for profile.
func (p *Provider) Fields(ctx context.Context, profile string) ([]string, error) {
	if err := p.ctxErr(ctx, profile); err != nil {
		return nil, err
	}
	if r := validProfile(profile); r != "" {
		return nil, invalid(profile, "", r)
	}
	service := p.ServiceName(profile)
	found, _, err := p.lookup(ctx, profile, service, false)
	if err != nil {
		return nil, err
	}
	var names []string
	for n := range found {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// Profiles returns the profiles stored through this package (listed in the
// item with account [ProfilesAccount]), sorted. Profiles whose items were
// created by other tools are not listed until Store touches them.
func (p *Provider) Profiles(ctx context.Context) ([]string, error) {
	if err := p.ctxErr(ctx, ""); err != nil {
		return nil, err
	}
	names, err := p.profileList(ctx)
	return names, err
}

func (p *Provider) profileList(ctx context.Context) ([]string, error) {
	raw, err := p.get(ctx, p.opts.Service, ProfilesAccount)
	k, rerr := p.classify(err, "", locator(p.opts.Service, ProfilesAccount))
	switch k {
	case kindOK:
		names, perr := parseProfileIndex(raw)
		if perr != nil {
			return nil, &provider.Error{Provider: Name, Locator: locator(p.opts.Service, ProfilesAccount), Err: perr}
		}
		return names, nil
	case kindNotFound:
		return nil, nil
	}
	return nil, rerr
}
