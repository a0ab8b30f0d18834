package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/mcpcred/mcpcred/provider"
)

// Request is what one tool call asks for. The zero Request resolves the
// default profile through the chain.
type Request struct {
	// Profile names the profile to resolve; empty means Options.Profile.
	Profile string

	// Credentials passed in the request itself. When non-zero
	// they win over every provider, unless Options.RefuseRequestCredentials
	// is set. They are validated, used for this request only and never
	// cached.
	Credentials provider.Credentials

	// CredentialID is a credential reference (see provider.ParseRef), such
	// as "vault:secret/data/mcp/aws". It comes after Credentials and before
	// Profile, and is refused unless Options.AllowReferences allows it.
	CredentialID string
}

// Result is a resolved credential with its attribution.
type Result struct {
	// Credentials are the resolved fields; Credentials.Source names the
	// provider that supplied them ("request" for request credentials).
	Credentials provider.Credentials

	// Profile is the profile that was resolved (empty for request
	// credentials and references).
	Profile string

	// Reference is the credential reference that was resolved, in canonical
	// form, when the request passed one.
	Reference string

	// Skipped lists, in chain order, each provider that was asked before
	// the one that answered and why it was passed over. It is shared with
	// the cache and must not be modified.
	Skipped []Attempt

	// Stale is set when a refresh failed because a backend was unavailable
	// and the last good value was served under Options.MaxStale.
	Stale bool

	key string // cache key, for InvalidateResult
}

// A Resolver resolves credentials for requests through an ordered chain of
// providers with a per-profile cache. It is safe for concurrent use; create
// one per process and share it.
type Resolver struct {
	chain   []link
	opts    Options
	clock   Clock
	precise bool // an injected clock: read it on every call

	coarse  atomic.Int64 // unix nanoseconds, updated by tick; 0 when not ticking
	ticking atomic.Bool
	used    atomic.Bool

	mu      sync.Mutex // serialises writers of entries
	entries atomic.Pointer[map[string]*entry]
	def     atomic.Pointer[entry] // the default profile's entry, skipping the map

	defProfile string
	gen        atomic.Uint64 // bumped by Invalidate; fetches started earlier are not cached
	group      singleflight.Group
}

type link struct {
	name string
	p    provider.Provider
}

type entry struct {
	st         atomic.Pointer[state]
	refreshing atomic.Bool
}

// state is an immutable cached answer with its deadlines in unix nanoseconds.
type state struct {
	res        Result
	refreshAt  int64 // start a background refresh from here on
	expireAt   int64 // past this, a caller waits for a refresh
	staleUntil int64 // past this, a failed refresh is an error
}

// tick is the coarse clock's period. A hit is served from cache only while
// coarse+2*tick is before the refresh time, so the coarse clock can lag by up
// to 2*tick without a hit being served later than it would be with time.Now.
const (
	tick      = 10 * time.Millisecond
	idleTicks = 100 // stop ticking after a second without a Resolve
)

// New returns a Resolver that asks providers in order. Each provider's name
// for attribution is provider.NameOf(p). optFns adjust the [Options].
func New(providers []provider.Provider, optFns ...func(*Options)) *Resolver {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	o.setDefaults()
	o.Required = append([]string(nil), o.Required...)
	r := &Resolver{opts: o, clock: o.Clock, defProfile: o.Profile}
	if r.defProfile == "" {
		r.defProfile = provider.DefaultProfile
	}
	if r.clock == nil {
		r.clock = systemClock{}
	} else {
		r.precise = true
	}
	for _, p := range providers {
		if p != nil {
			r.chain = append(r.chain, link{name: provider.NameOf(p), p: p})
		}
	}
	empty := map[string]*entry{}
	r.entries.Store(&empty)
	return r
}

// Providers returns the names of the providers in the chain, in order.
func (r *Resolver) Providers() []string {
	names := make([]string, len(r.chain))
	for i, l := range r.chain {
		names[i] = l.name
	}
	return names
}

// DefaultProfile returns the profile resolved when a request names none.
func (r *Resolver) DefaultProfile() string { return r.defProfile }

// Resolve returns credentials for req: request credentials when present and
// allowed, else the cached value for the profile, else the first provider in
// the chain that has usable credentials.
//
// A cache hit takes no lock, makes no allocation and does not call the clock.
// Concurrent misses for one profile make one chain walk; every caller can
// still give up through its own ctx. A value inside its refresh window is
// returned at once while a background refresh runs.
func (r *Resolver) Resolve(ctx context.Context, req Request) (Result, error) {
	if !req.Credentials.IsZero() {
		return r.fromRequest(req)
	}
	if req.CredentialID != "" {
		return r.fromReference(ctx, req.CredentialID)
	}
	key := req.Profile
	var e *entry
	if key == "" || key == r.defProfile {
		key = r.defProfile
		e = r.def.Load()
	} else {
		// Checked on hits too: a profile the operator stops offering is
		// refused at once, not when its cache entry expires.
		if err := r.allowProfile(ctx, key); err != nil {
			return Result{}, err
		}
		e = (*r.entries.Load())[key]
	}
	if e != nil {
		if st := e.st.Load(); r.fastNow() < st.refreshAt {
			return st.res, nil
		}
	}
	return r.cached(ctx, key, r.chain, key)
}

func (r *Resolver) allowProfile(ctx context.Context, name string) error {
	if err := validateProfile(name); err != nil {
		return err
	}
	if r.opts.AllowProfile == nil || !r.opts.AllowProfile(name) {
		r.opts.Logger.WarnContext(ctx, "resolver: refused profile selection", "profile", provider.Describe(name))
		return fmt.Errorf("%w: the request named profile %s, which the operator does not offer (allow it with Options.AllowProfile; MCP servers list it in the profiles file)", ErrProfileRefused, provider.Describe(name))
	}
	return nil
}

// fastNow returns a time that is not before now, cheaply, or MaxInt64 when it
// cannot (so the caller takes the slow path).
func (r *Resolver) fastNow() int64 {
	if r.precise {
		return r.clock.Now().UnixNano()
	}
	if !r.used.Load() {
		r.used.Store(true)
	}
	c := r.coarse.Load()
	if c == 0 {
		return 1<<63 - 1
	}
	return c + int64(2*tick)
}

// cached serves key from the cache or from a walk of chain, asking each
// provider for profile.
func (r *Resolver) cached(ctx context.Context, key string, chain []link, profile string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("resolver: %s: %w", keyLabel(key), err)
	}
	now := r.clock.Now().UnixNano()
	r.startTicking(now)
	e := (*r.entries.Load())[key]
	if e != nil {
		st := e.st.Load()
		switch {
		case now < st.refreshAt:
			return st.res, nil
		case now < st.expireAt:
			r.refreshInBackground(ctx, key, e, chain, profile)
			return st.res, nil
		}
	}
	res, err := r.wait(ctx, key, chain, profile)
	if err == nil {
		return res, nil
	}
	var ce *ChainError
	if e != nil && errors.As(err, &ce) && ce.unavailable() {
		// Take the entry again: a concurrent Invalidate may have removed it.
		if e2 := (*r.entries.Load())[key]; e2 == e {
			if st := e.st.Load(); r.clock.Now().UnixNano() < st.staleUntil {
				r.opts.Logger.WarnContext(ctx, "resolver: refresh failed, serving last good credentials",
					"what", keyLabel(key), "source", st.res.Credentials.Source.String(), "error", err)
				res := st.res
				res.Stale = true
				return res, nil
			}
		}
	}
	return Result{}, err
}

// wait joins (or starts) the one chain walk for key and waits for it or for
// ctx, whichever comes first.
func (r *Resolver) wait(ctx context.Context, key string, chain []link, profile string) (Result, error) {
	ch := r.group.DoChan(key, func() (any, error) { return r.walk(ctx, key, chain, profile) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return Result{}, res.Err
		}
		return res.Val.(Result), nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("resolver: %s: %w", keyLabel(key), ctx.Err())
	}
}

func (r *Resolver) refreshInBackground(ctx context.Context, key string, e *entry, chain []link, profile string) {
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer e.refreshing.Store(false)
		ch := r.group.DoChan(key, func() (any, error) { return r.walk(ctx, key, chain, profile) })
		if res := <-ch; res.Err != nil {
			r.opts.Logger.Warn("resolver: background refresh failed; serving the cached value until it expires",
				"what", keyLabel(key), "error", res.Err)
		}
	}()
}

// walk asks each provider in order. It runs once per singleflight flight, on
// a context detached from the caller's cancellation (other callers may be
// waiting on it) but bounded per provider by Options.ProviderTimeout.
func (r *Resolver) walk(ctx context.Context, key string, chain []link, profile string) (Result, error) {
	ctx = context.WithoutCancel(ctx)
	gen := r.gen.Load()
	// A caller that missed just before the previous flight stored its answer
	// starts a new flight: give it that answer instead of asking again.
	if e := (*r.entries.Load())[key]; e != nil {
		if st := e.st.Load(); r.clock.Now().UnixNano() < st.refreshAt {
			return st.res, nil
		}
	}
	var tried []Attempt
	for _, l := range chain {
		c, err := r.call(ctx, l, profile)
		if err == nil {
			if exp := c.Expires; !exp.IsZero() && !r.clock.Now().Before(exp) {
				// Never served, never cached, and no shadow over a valid
				// provider later in the chain.
				err = provider.NotFound(l.name, profile, c.Source.Locator,
					"returned credentials that expired at "+exp.UTC().Format(time.RFC3339))
			} else if missing := c.Missing(r.opts.Required...); len(missing) > 0 {
				err = provider.NotFound(l.name, profile, c.Source.Locator,
					"missing required field(s) "+strings.Join(missing, ", "))
			} else if c.IsZero() {
				err = provider.NotFound(l.name, profile, c.Source.Locator, "returned no fields")
			}
		}
		if err != nil {
			tried = append(tried, Attempt{Provider: l.name, Err: err})
			if (provider.IsNotFound(err) || provider.IsUnavailable(err)) && !errors.Is(err, provider.ErrFinal) {
				continue
			}
			break // a definite failure, or one marked final, stops the walk: fail closed
		}
		now := r.clock.Now()
		if c.Source.Provider == "" {
			c.Source.Provider = l.name
		}
		if c.FetchedAt.IsZero() {
			c.FetchedAt = now
		}
		res := Result{Credentials: c, Profile: profile, Skipped: tried, key: key}
		r.store(key, res, now, gen)
		r.opts.Logger.DebugContext(ctx, "resolver: resolved", "profile", profile,
			"source", c.Source.String(), "fields", c.Names(), "skipped", len(tried))
		return res, nil
	}
	err := &ChainError{Profile: profile, Attempts: tried}
	if ref, ok := strings.CutPrefix(key, refKeyPrefix); ok {
		err.Profile, err.Reference = "", ref
	}
	r.opts.Logger.DebugContext(ctx, "resolver: no credentials", "what", keyLabel(key), "error", err)
	return Result{}, err
}

// call runs one provider with a deadline, turning a panic or a hang into an
// error instead of a crash or a stuck chain. The provider runs in its own
// goroutine so that one that ignores its context is abandoned at the deadline.
func (r *Resolver) call(ctx context.Context, l link, key string) (provider.Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.ProviderTimeout)
	defer cancel()
	type answer struct {
		c   provider.Credentials
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				ch <- answer{err: &provider.Error{Provider: l.name, Profile: key,
					Err: fmt.Errorf("%w (panic value of type %T withheld)", ErrProviderPanicked, v)}}
			}
		}()
		c, err := l.p.Retrieve(ctx, key)
		ch <- answer{c, err}
	}()
	timedOut := func() error {
		return provider.Unavailable(l.name, key, "", fmt.Errorf("no answer within %v", r.opts.ProviderTimeout))
	}
	select {
	case a := <-ch:
		if a.err == nil {
			return a.c, nil
		}
		if errors.Is(a.err, context.DeadlineExceeded) && ctx.Err() != nil {
			return provider.Credentials{}, timedOut()
		}
		var pe *provider.Error
		if !errors.As(a.err, &pe) {
			a.err = &provider.Error{Provider: l.name, Profile: key, Err: a.err}
		}
		return provider.Credentials{}, a.err
	case <-ctx.Done():
		return provider.Credentials{}, timedOut()
	}
}

func (r *Resolver) store(key string, res Result, now time.Time, gen uint64) {
	n := now.UnixNano()
	expireAt := n + int64(r.opts.TTL)
	staleUntil := expireAt
	if r.opts.MaxStale > 0 {
		staleUntil += int64(r.opts.MaxStale)
	}
	if exp := res.Credentials.Expires; !exp.IsZero() {
		x := exp.UnixNano()
		expireAt = min(expireAt, x)
		staleUntil = min(staleUntil, x)
	}
	window := min(int64(r.opts.RefreshWindow), max(expireAt-n, 0)/2)
	st := &state{res: res, refreshAt: expireAt - window, expireAt: expireAt, staleUntil: staleUntil}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen.Load() != gen {
		return // invalidated while this walk ran: answer the waiters, cache nothing
	}
	m := *r.entries.Load()
	if e := m[key]; e != nil {
		e.st.Store(st)
		return
	}
	if strings.HasPrefix(key, refKeyPrefix) && countRefs(m) >= MaxCachedReferences {
		return // answer the waiters, cache nothing: requests choose references
	}
	e := &entry{}
	e.st.Store(st)
	next := make(map[string]*entry, len(m)+1)
	for k, v := range m {
		next[k] = v
	}
	next[key] = e
	r.entries.Store(&next)
	if key == r.DefaultProfile() {
		r.def.Store(e)
	}
}

// MaxCachedReferences bounds the references (Request.CredentialID) kept in
// the cache. References come from requests, and a broad AllowReferences
// pattern admits many distinct ones; past the bound they are resolved
// without caching. Profiles need no bound: a request can name only those the
// operator offers.
const MaxCachedReferences = 256

// keyLabel names a cache key in messages and logs: `profile "p"`, or a
// reference by its scheme and length. Both may have come from a request, so
// they are described with provider.Describe, never quoted whole.
func keyLabel(key string) string {
	if ref, ok := strings.CutPrefix(key, refKeyPrefix); ok {
		return describeRef(ref)
	}
	return "profile " + provider.Describe(key)
}

// describeRef names a reference by its scheme and length.
func describeRef(ref string) string {
	scheme, _, _ := strings.Cut(ref, ":")
	return fmt.Sprintf("a %d-byte %s: reference", len(ref), provider.Describe(scheme))
}

func countRefs(m map[string]*entry) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, refKeyPrefix) {
			n++
		}
	}
	return n
}

// Invalidate drops the cached value for profile ("" means the default
// profile), so the next Resolve walks the chain again. Call it when a backend
// rejects the credential, for example after an AWS AuthFailure: the rejected
// value is not served again, not even as stale.
func (r *Resolver) Invalidate(profile string) {
	if profile == "" {
		profile = r.DefaultProfile()
	}
	r.invalidate(profile)
}

func (r *Resolver) invalidate(profile string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen.Add(1)
	r.group.Forget(profile)
	if profile == r.DefaultProfile() {
		r.def.Store(nil)
	}
	m := *r.entries.Load()
	if _, ok := m[profile]; !ok {
		return
	}
	next := make(map[string]*entry, len(m))
	for k, v := range m {
		if k != profile {
			next[k] = v
		}
	}
	r.entries.Store(&next)
}

// InvalidateResult drops the cached value that res came from, whether it was
// resolved for a profile or a reference. Request credentials are never
// cached, so for them it does nothing.
func (r *Resolver) InvalidateResult(res Result) {
	if res.key != "" {
		r.invalidate(res.key)
	}
}

// InvalidateAll drops every cached value.
func (r *Resolver) InvalidateAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen.Add(1)
	for k := range *r.entries.Load() {
		r.group.Forget(k)
	}
	empty := map[string]*entry{}
	r.entries.Store(&empty)
	r.def.Store(nil)
}

// startTicking starts the coarse clock if it is not running.
func (r *Resolver) startTicking(now int64) {
	if r.precise || !r.ticking.CompareAndSwap(false, true) {
		return
	}
	r.coarse.Store(now)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		idle := 0
		for range t.C {
			r.coarse.Store(r.clock.Now().UnixNano())
			if r.used.Swap(false) {
				idle = 0
			} else if idle++; idle >= idleTicks {
				r.coarse.Store(0)
				r.ticking.Store(false)
				return
			}
		}
	}()
}

// refKeyPrefix starts the cache keys of references. It is a control
// character, which no valid profile name holds, so the two never collide.
const refKeyPrefix = "\x00ref:"

func (r *Resolver) fromReference(ctx context.Context, ref string) (Result, error) {
	parsed, err := provider.ParseRef(ref)
	if err != nil {
		return Result{}, err
	}
	refuse := func(why string, cause error) (Result, error) {
		r.opts.Logger.WarnContext(ctx, "resolver: refused credential reference", "reference", describeRef(parsed.String()), "why", why)
		if cause != nil {
			return Result{}, fmt.Errorf("%w: %s: %s: %w", ErrReferenceRefused, describeRef(parsed.String()), why, cause)
		}
		return Result{}, fmt.Errorf("%w: %s: %s", ErrReferenceRefused, describeRef(parsed.String()), why)
	}
	if r.opts.References == nil || r.opts.AllowReferences == nil {
		return refuse("the operator allows no references (set Options.References and Options.AllowReferences)", nil)
	}
	if !r.opts.References.Has(parsed.Scheme) {
		// Refused before Open, so a request learns nothing about which
		// schemes are registered.
		return refuse("no allowed pattern covers what it reads", nil)
	}
	t, err := r.opts.References.Open(ref)
	if err != nil {
		return Result{}, err
	}
	// The one place a request's reference meets the operator's policy:
	// every resource the scheme says it reads must be covered.
	if err := r.opts.AllowReferences.Check(t); err != nil {
		return refuse("no allowed pattern covers what it reads", err)
	}
	canonical := t.Ref.String()
	chain := []link{{name: provider.NameOf(t.Provider), p: t.Provider}}
	res, err := r.cached(ctx, refKeyPrefix+canonical, chain, provider.DefaultProfile)
	res.Profile, res.Reference = "", canonical
	return res, err
}

func (r *Resolver) fromRequest(req Request) (Result, error) {
	if r.opts.RefuseRequestCredentials {
		r.opts.Logger.Warn("resolver: refused credentials passed in the request",
			"fields", req.Credentials.Names(), "allow_with", "Options.RefuseRequestCredentials=false")
		return Result{}, ErrRequestCredentialsRefused
	}
	c := req.Credentials
	if err := validateRequestCredentials(c, r.opts.Required); err != nil {
		r.opts.Logger.Warn("resolver: rejected credentials passed in the request", "error", err)
		return Result{}, err
	}
	c.Source = provider.Source{Provider: "request", Locator: "credentials in the tool call"}
	if c.FetchedAt.IsZero() {
		c.FetchedAt = r.clock.Now()
	}
	return Result{Credentials: c}, nil
}

// Limits on request credentials and profile names.
const (
	MaxFieldNameLen   = provider.MaxFieldLen
	MaxFieldValueLen  = 4096
	MaxProfileNameLen = 128
)

func validateRequestCredentials(c provider.Credentials, required []string) error {
	if missing := c.Missing(required...); len(missing) > 0 {
		return fmt.Errorf("%w: missing required field(s) %s", ErrInvalidRequestCredentials, strings.Join(missing, ", "))
	}
	for _, n := range c.Names() {
		if !provider.ValidField(n) {
			return fmt.Errorf("%w: field name %s must be 1-%d characters of a-z, 0-9 and _", ErrInvalidRequestCredentials, provider.Describe(n), MaxFieldNameLen)
		}
		v := c.Value(n)
		if len(v) > MaxFieldValueLen {
			return fmt.Errorf("%w: field %s is longer than %d bytes", ErrInvalidRequestCredentials, n, MaxFieldValueLen)
		}
		if !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
			return fmt.Errorf("%w: field %s holds control characters or invalid UTF-8", ErrInvalidRequestCredentials, n)
		}
	}
	return nil
}

// validateProfile applies provider.ValidName: no control or invisible
// formatting characters, path separators, "." or "..", surrounding space,
// or excess length, so no provider, ours or a user's, is asked for a name
// that could escape a directory or read differently than it is.
func validateProfile(p string) error {
	if err := provider.ValidName(p, MaxProfileNameLen); err != nil {
		return fmt.Errorf("%w: %s %v", ErrInvalidProfile, provider.Describe(p), err)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// LogValue describes the resolver's chain for log/slog.
func (r *Resolver) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("providers", r.Providers()), slog.Duration("ttl", r.opts.TTL))
}
