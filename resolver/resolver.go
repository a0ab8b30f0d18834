package resolver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpcred/mcpcred/provider"
)

// Request is what one tool call asks for. The zero Request resolves the
// default profile through the chain.
type Request struct {
	// Profile names the profile to resolve; empty means Options.Profile.
	Profile string

	// Credentials passed in the request itself. When non-zero they win over
	// every provider, if Options.AllowRequestCredentials is set. They
	// are validated, used for this request only and never cached.
	Credentials provider.Credentials

	// CredentialID is a credential reference (see provider.ParseRef), such
	// as "vault:secret/data/mcp/aws". It comes after Credentials and before
	// Profile, and is refused unless Options.AllowReferences covers what it
	// reads.
	CredentialID string

	// Caller is the verified identity of the caller: set only by the
	// server's transport from a bearer token it verified (resolver/mcptool
	// does), never from tool arguments. nil for a stdio server. Cached
	// values are kept per caller, so no caller is ever served another's
	// credential; Options.AllowProfile sees it; providers read it from the
	// context (provider.CallerFromContext), so a profile's source may be
	// bound to the caller.
	Caller *provider.Caller

	// Tool names the tool that asked, for the audit record only.
	Tool string
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

	// Stale is set when the last refresh failed because a backend was
	// unavailable and the last good value was served under Options.MaxStale.
	Stale bool

	key key // for InvalidateResult
}

// FromRequest reports whether the credentials came in the request itself
// (Request.Credentials) rather than from a provider: such credentials are
// never cached, so invalidating and resolving again cannot change them.
func (r Result) FromRequest() bool {
	return r.key.name == "" && r.Credentials.Source.Provider == "request"
}

// A Resolver resolves credentials for requests through an ordered chain of
// providers with a per-profile cache. It is safe for concurrent use; create
// one per process and share it.
type Resolver struct {
	chain   []link
	schemes sync.Map // scheme name -> *callBound, shared by its references
	opts    Options
	precise bool // an injected clock: read it on every call
	clock   coarseClock
	cache   cache
}

// New returns a Resolver that asks providers in order. Each provider's name
// for attribution is provider.NameOf(p). optFns adjust the [Options]; New
// returns an error naming the option when they are invalid (a profile name
// that provider.ValidName refuses, a required field that is not a field
// name, a negative bound).
func New(providers []provider.Provider, optFns ...func(*Options)) (*Resolver, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	r := &Resolver{opts: o, precise: o.Now != nil}
	if o.Now == nil {
		r.opts.Now = time.Now
	}
	r.clock.now = r.opts.Now
	r.cache.init()
	r.cache.defName = o.Profile
	r.cache.maxProf = int64(o.MaxEntries)
	r.cache.maxRefs = MaxCachedReferences
	for _, p := range providers {
		if p != nil {
			r.chain = append(r.chain, r.newLink(p, nil))
		}
	}
	return r, nil
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
func (r *Resolver) DefaultProfile() string { return r.opts.Profile }

// now reads the precise clock.
func (r *Resolver) now() time.Time { return r.opts.Now() }

// Resolve returns credentials for req: request credentials when present and
// allowed, else a reference's or the profile's cached value, else the first
// provider in the chain that has usable credentials.
//
// A cache hit on a value without its own expiry takes no lock, makes no
// allocation and does not call the clock; a value with an Expires is checked
// against the clock on every hit. Concurrent misses for one key make one
// chain walk; every caller can still give up through its own ctx. Past its
// refresh time a value is returned at once while one background walk
// refreshes it. A walk that failed is not repeated before its backoff ends:
// meanwhile callers get the last good value while it may be served, else
// the recorded error at once.
func (r *Resolver) Resolve(ctx context.Context, req Request) (Result, error) {
	if r.opts.Audit == nil {
		if req.Caller == nil && req.CredentialID == "" && req.Credentials.IsZero() && !r.precise &&
			(req.Profile == "" || req.Profile == r.opts.Profile) {
			// The local user's default profile, cached and fresh: the hit
			// that matters most, with no policy to ask.
			if e := r.cache.def.Load(); e != nil {
				if st := e.st.Load(); st != nil && st.ok && !st.precise && r.clock.load() < st.refreshAt {
					return st.res, nil
				}
			}
		}
		return r.dispatch(ctx, &req)
	}
	start := r.now()
	res, err := r.dispatch(ctx, &req)
	r.audit(ctx, req, res, err, start)
	return res, err
}

// dispatch serves req by its kind of selection.
func (r *Resolver) dispatch(ctx context.Context, req *Request) (Result, error) {
	if req.Caller != nil {
		if err := req.Caller.Validate(); err != nil {
			return Result{}, fmt.Errorf("%w: %v", ErrInvalidCaller, err)
		}
		ctx = provider.ContextWithCaller(ctx, req.Caller)
	}
	if !req.Credentials.IsZero() {
		return r.fromRequest(*req)
	}
	if req.CredentialID != "" {
		return r.fromReference(ctx, *req)
	}
	k := profileKey(req.Profile)
	k.caller = req.Caller.ID()
	if req.Profile == "" {
		k.name = r.opts.Profile
	}
	if k.name == r.opts.Profile && req.Caller == nil {
		// The local user (stdio) always has the default profile.
	} else if err := r.allowProfile(ctx, req.Caller, k.name); err != nil {
		// Checked on hits too: a profile the operator stops offering is
		// refused at once, not when its cache entry expires.
		return Result{}, err
	}
	if e := r.cache.load(k); e != nil && !r.precise {
		if st := e.st.Load(); st != nil && st.ok && !st.precise && r.clock.load() < st.refreshAt {
			return st.res, nil
		}
	}
	return r.resolve(ctx, k, r.chain)
}

// resolve serves k from the cache, from a walk in flight, or from a new
// walk of chain.
func (r *Resolver) resolve(ctx context.Context, k key, chain []link) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, &waitError{k: k, err: err}
	}
	now := r.now().UnixNano()
	if !r.precise {
		r.clock.start(now)
	}
	e, cached := r.cache.loadOrCreate(k)
	st := e.st.Load()
	switch {
	case st.fresh(now):
		return st.res, nil
	case st.servable(now):
		if now >= st.retryAt {
			r.refresh(ctx, k, e, chain, st)
		}
		res := st.res
		res.Stale = st.err != nil
		return res, nil
	case st != nil && st.err != nil && now < st.retryAt:
		return Result{}, st.err // remembered: no walk before the backoff ends
	}
	f, mine := r.join(k, e)
	if mine {
		if ctx.Done() == nil {
			// A caller that cannot give up gains nothing from waiting in
			// another goroutine: walk here.
			r.run(ctx, k, e, f, chain, cached)
		} else {
			go r.run(ctx, k, e, f, chain, cached)
		}
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return Result{}, &waitError{k: k, err: ctx.Err()}
	}
	if f.err != nil {
		// The walk failed; the last good value may still be served.
		if st := e.st.Load(); st.servable(r.now().UnixNano()) {
			r.opts.Logger.WarnContext(ctx, "resolver: refresh failed, serving last good credentials",
				"what", k.String(), "source", st.res.Credentials.Source.String(), "error", f.err)
			res := st.res
			res.Stale = true
			return res, nil
		}
		return Result{}, f.err
	}
	if exp := f.res.Credentials.Expires; !exp.IsZero() && !r.now().Before(exp) {
		// The answer expired while the walk ran.
		return Result{}, &ChainError{Profile: f.res.Profile, Reference: f.res.Reference, Attempts: []Attempt{{
			Provider: f.res.Credentials.Source.Provider,
			Err: provider.NotFound(f.res.Credentials.Source.Provider, k.profile(), f.res.Credentials.Source.Locator,
				"its credentials expired at "+exp.UTC().Format(time.RFC3339)+" while they were being resolved"),
		}}}
	}
	return f.res, nil
}

// join returns the walk in flight for e, or a new one that the caller must
// run (mine). The walk stores its answer into e; an entry that is not
// cached (over the bound, or removed by an invalidation meanwhile) is never
// found again.
func (r *Resolver) join(k key, e *entry) (f *flight, mine bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight != nil {
		return e.flight, false
	}
	// A walk that ended since this caller looked may already have the
	// answer (or a failure to remember): take it instead of walking again.
	now := r.now().UnixNano()
	if st := e.st.Load(); st.fresh(now) {
		return doneFlight(st.res, nil), false
	} else if st != nil && st.err != nil && now < st.retryAt && !st.servable(now) {
		return doneFlight(Result{}, st.err), false
	}
	f = &flight{done: make(chan struct{})}
	e.flight = f
	return f, true
}

func doneFlight(res Result, err error) *flight {
	f := &flight{done: make(chan struct{}), res: res, err: err}
	close(f.done)
	return f
}

// run performs f's walk and records its outcome in e.
func (r *Resolver) run(ctx context.Context, k key, e *entry, f *flight, chain []link, cached bool) {
	res, err := r.walk(ctx, k, chain)
	now := r.now()
	e.mu.Lock()
	prev := e.st.Load()
	var next *state
	if err != nil {
		next = r.opts.failedState(prev, err, now)
	} else if exp := res.Credentials.Expires; exp.IsZero() || now.Before(exp) {
		next = r.opts.newState(res, now)
	} else {
		next = prev // expired while the walk ran: the waiters are told; nothing is kept
	}
	if cached && next != nil {
		e.st.Store(next)
	}
	e.flight = nil
	e.mu.Unlock()
	f.res, f.err = res, err
	close(f.done)
}

// refresh starts a background walk for e unless one is in flight, or one
// has ended since the caller read seen (its answer is the refresh).
func (r *Resolver) refresh(ctx context.Context, k key, e *entry, chain []link, seen *state) {
	e.mu.Lock()
	if e.flight != nil || e.st.Load() != seen {
		e.mu.Unlock()
		return
	}
	f := &flight{done: make(chan struct{})}
	e.flight = f
	e.mu.Unlock()
	go func() {
		r.run(ctx, k, e, f, chain, true)
		if f.err != nil {
			r.opts.Logger.Warn("resolver: background refresh failed; serving the cached value while it may be",
				"what", k.String(), "error", f.err)
		}
	}()
}

// Invalidate drops the cached value for profile ("" means the default
// profile), so the next Resolve walks the chain again. Call it when a backend
// rejects the credential, for example after an AWS AuthFailure: the rejected
// value is not served again, not even as stale. Providers in the chain that
// keep credentials of their own (provider.Invalidator, such as an STS
// session) are told to drop theirs for profile too. For a Result of a
// reference, use InvalidateResult.
//
// After Invalidate returns, no Resolve that starts later gets a value
// fetched before it: a walk that was in flight still answers the callers
// already waiting for it, but its answer is not kept, and later callers
// start a new walk beside it.
func (r *Resolver) Invalidate(profile string) {
	if profile == "" {
		profile = r.opts.Profile
	}
	r.cache.remove(profileKey(profile))
	r.invalidateProviders(profileKey(profile))
}

// InvalidateFor is Invalidate for one verified caller's value of profile
// (a caller's own credentials, such as those of a per-subject profile,
// which that caller just added, replaced or removed), with Invalidate's
// promise. A nil caller is Invalidate(profile).
func (r *Resolver) InvalidateFor(caller *provider.Caller, profile string) {
	if caller == nil {
		r.Invalidate(profile)
		return
	}
	if profile == "" {
		profile = r.opts.Profile
	}
	k := profileKey(profile)
	k.caller = caller.ID()
	r.cache.remove(k)
	r.invalidateProviders(k)
}

// invalidateProviders passes an invalidation on to the providers that keep
// credentials of their own (provider.Invalidator), so that the next walk
// does not get the rejected value back from them.
func (r *Resolver) invalidateProviders(k key) {
	if k.ref {
		if r.opts.References == nil {
			return
		}
		if t, err := r.opts.References.Open(k.name); err == nil {
			if inv, ok := t.Provider.(provider.Invalidator); ok {
				inv.Invalidate(provider.DefaultProfile)
			}
		}
		return
	}
	for _, l := range r.chain {
		if inv, ok := l.p.(provider.Invalidator); ok {
			inv.Invalidate(k.name)
		}
	}
}

// InvalidateResult drops the cached value that res came from, whether it was
// resolved for a profile or a reference, with Invalidate's promise. Request
// credentials are never cached, so for them it does nothing.
func (r *Resolver) InvalidateResult(res Result) {
	if res.key.name != "" {
		r.cache.remove(res.key)
		r.invalidateProviders(res.key)
	}
}

// InvalidateAll drops every cached value, with Invalidate's promise for
// every key. Unlike Invalidate and InvalidateResult it does not reach into
// providers that keep credentials of their own (provider.Invalidator).
func (r *Resolver) InvalidateAll() { r.cache.clear() }

// LogValue describes the resolver's chain for log/slog.
func (r *Resolver) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("providers", r.Providers()), slog.Duration("ttl", r.opts.TTL))
}

// waitError is the error of a caller that gave up: cheap to build, since
// cancelled waiters are a hot failure path.
type waitError struct {
	k   key
	err error
}

func (e *waitError) Error() string { return fmt.Sprintf("resolver: %s: %v", e.k, e.err) }
func (e *waitError) Unwrap() error { return e.err }
