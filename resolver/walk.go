package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mcpcred/mcpcred/provider"
)

// link is one provider of a chain, with the bound on its calls.
type link struct {
	name  string
	p     provider.Provider
	calls *callBound
}

// callBound bounds the calls to one provider (for references, to one
// scheme): at most cap(slots) run at once, and a call holds its slot until
// the provider returns, even after its caller gave up on it at the
// deadline. So at most cap(slots) calls are ever stuck; once they all are,
// a call fails at once.
type callBound struct {
	slots chan struct{}
	stuck atomic.Int32 // calls past their deadline that have not returned
}

func newCallBound(n int) *callBound { return &callBound{slots: make(chan struct{}, n)} }

func (r *Resolver) newLink(p provider.Provider, b *callBound) link {
	if b == nil {
		b = newCallBound(r.opts.MaxAbandoned)
	}
	return link{name: provider.NameOf(p), p: p, calls: b}
}

// walk asks each provider of chain in order, for k's profile. It runs on a
// context detached from any caller's cancellation (other callers may be
// waiting on it) but bounded per provider by Options.ProviderTimeout.
func (r *Resolver) walk(ctx context.Context, k key, chain []link) (Result, error) {
	ctx = context.WithoutCancel(ctx)
	profile := k.profile()
	var scrub *scrubber
	if k.ref {
		scrub = newScrubber(k.name)
	}
	var tried []Attempt
	for _, l := range chain {
		c, err := r.call(ctx, l, profile)
		if err == nil {
			if exp := c.Expires; !exp.IsZero() && !r.now().Before(exp) {
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
			tried = append(tried, Attempt{Provider: l.name, Err: scrub.error(err)})
			if (errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable)) && !errors.Is(err, provider.ErrFinal) {
				continue
			}
			break // a definite failure, or one marked final, stops the walk: fail closed
		}
		if c.Source.Provider == "" {
			c.Source.Provider = l.name
		}
		c.Source.Locator = scrub.apply(c.Source.Locator)
		if c.FetchedAt.IsZero() {
			c.FetchedAt = r.now()
		}
		res := Result{Credentials: c, Skipped: tried, key: k}
		if k.ref {
			res.Reference = k.name
		} else {
			res.Profile = k.name
		}
		if r.opts.Logger.Enabled(ctx, slog.LevelDebug) {
			r.opts.Logger.DebugContext(ctx, "resolver: resolved", "what", k.String(),
				"source", c.Source.String(), "fields", c.Names(), "skipped", len(tried))
		}
		return res, nil
	}
	err := &ChainError{Profile: profile, Attempts: tried}
	if k.ref {
		err.Profile, err.Reference = "", k.name
	}
	if r.opts.Logger.Enabled(ctx, slog.LevelDebug) {
		r.opts.Logger.DebugContext(ctx, "resolver: no credentials", "what", k.String(), "error", err)
	}
	return Result{}, err
}

// Call states, for the abandonment count.
const (
	callRunning int32 = iota
	callDone
	callAbandoned
)

// call runs one provider with a deadline, turning a panic or a hang into an
// error instead of a crash or a stuck chain. The provider runs in its own
// goroutine, so one that ignores its context is abandoned at the deadline.
// At most Options.MaxAbandoned calls to one provider run at once (a call
// waits for a slot within its deadline), and an abandoned call keeps its
// slot until the provider returns: while every slot is held by a stuck call
// the provider is reported unavailable without being called.
func (r *Resolver) call(ctx context.Context, l link, profile string) (provider.Credentials, error) {
	b := l.calls
	if n := b.stuck.Load(); int(n) >= cap(b.slots) {
		return provider.Credentials{}, provider.Unavailable(l.name, profile, "",
			fmt.Errorf("%d earlier calls are still stuck past their deadline; not starting another", n))
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.ProviderTimeout)
	defer cancel()
	timedOut := func() error {
		return provider.Unavailable(l.name, profile, "", fmt.Errorf("no answer within %v", r.opts.ProviderTimeout))
	}
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return provider.Credentials{}, timedOut()
	}
	type answer struct {
		c   provider.Credentials
		err error
	}
	ch := make(chan answer, 1)
	var state atomic.Int32
	go func() {
		defer func() {
			if !state.CompareAndSwap(callRunning, callDone) {
				b.stuck.Add(-1) // abandoned earlier; it has returned now
			}
			<-b.slots
		}()
		defer func() {
			if v := recover(); v != nil {
				ch <- answer{err: &provider.Error{Provider: l.name, Profile: profile,
					Err: fmt.Errorf("%w (panic value of type %T withheld)", ErrProviderPanicked, v)}}
			}
		}()
		c, err := l.p.Retrieve(ctx, profile)
		ch <- answer{c, err}
	}()
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
			a.err = &provider.Error{Provider: l.name, Profile: profile, Err: a.err}
		}
		return provider.Credentials{}, a.err
	case <-ctx.Done():
		if state.CompareAndSwap(callRunning, callAbandoned) {
			b.stuck.Add(1)
		}
		return provider.Credentials{}, timedOut()
	}
}
