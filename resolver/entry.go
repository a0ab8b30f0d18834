package resolver

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// entry is one key's cached answer and the walk in flight for it, if any.
type entry struct {
	st atomic.Pointer[state] // nil until the first walk ends

	mu     sync.Mutex
	flight *flight // the walk in flight, or nil
}

// state is an immutable snapshot of what an entry knows, with its
// deadlines in unix nanoseconds.
type state struct {
	res Result
	ok  bool // res holds a good value

	refreshAt  int64 // from here on a read refreshes in the background
	expireAt   int64 // the value's own Expires: never served at or past it; 0 for none
	staleUntil int64 // past this the value is not served, whatever happens
	precise    bool  // the value has a hard deadline: hits read the precise clock

	err      error // the last walk's failure, if it failed
	retryAt  int64 // no walk before this, after a failure
	failures int   // failed walks in a row
}

// flight is one chain walk, shared by every caller that joins it.
type flight struct {
	done chan struct{}
	res  Result
	err  error
}

// servable reports whether st's value may be served at now without a walk.
func (st *state) servable(now int64) bool {
	return st != nil && st.ok && now < st.staleUntil && (st.expireAt == 0 || now < st.expireAt)
}

// fresh reports whether st's value is served as is at now, with no refresh.
func (st *state) fresh(now int64) bool {
	return st.servable(now) && now < st.refreshAt
}

// newState is the state after a successful walk at now.
func (o *Options) newState(res Result, now time.Time) *state {
	n := now.UnixNano()
	ttl := int64(o.TTL)
	st := &state{res: res, ok: true}
	if exp := res.Credentials.Expires; !exp.IsZero() {
		// A value with its own expiry refreshes ahead of it and is never
		// served past it.
		x := exp.UnixNano()
		st.expireAt, st.precise = x, true
		end := min(n+ttl, x)
		window := min(int64(o.RefreshWindow), max(end-n, 0)/2)
		st.refreshAt = end - window
		st.staleUntil = x
		if o.MaxStale >= 0 {
			st.staleUntil = min(x, n+ttl+int64(o.MaxStale))
		} else {
			st.staleUntil = min(x, n+ttl)
		}
		return st
	}
	if o.MaxStale < 0 {
		// No stale serving: refresh ahead, and stop serving at the TTL.
		window := min(int64(o.RefreshWindow), ttl/2)
		st.refreshAt, st.staleUntil = n+ttl-window, n+ttl
		return st
	}
	// Stale-while-revalidate: the TTL is the refresh interval; past it the
	// value is served at once while one background walk refreshes it, and
	// for at most MaxStale more while the backend cannot answer.
	st.refreshAt = n + ttl
	st.staleUntil = n + ttl + int64(o.MaxStale)
	return st
}

// failedState is the state after a walk that failed at now with err. A
// failure that only means "unavailable" keeps the last good value (served
// while servable); any other drops it. Either way the failure is
// remembered, and no walk starts before retryAt.
func (o *Options) failedState(prev *state, err error, now time.Time) *state {
	st := &state{err: err}
	if prev != nil {
		st.failures = prev.failures
		var ce *ChainError
		if prev.ok && errors.As(err, &ce) && ce.unavailable() {
			st.res, st.ok = prev.res, true
			st.refreshAt, st.expireAt, st.staleUntil, st.precise = prev.refreshAt, prev.expireAt, prev.staleUntil, prev.precise
		}
	}
	st.failures++
	st.retryAt = now.UnixNano() + int64(o.backoff(st.failures))
	return st
}

// backoff is the wait before the next walk after failures failed walks in a
// row: MinRetry doubling up to MaxRetry, with jitter over its upper half.
func (o *Options) backoff(failures int) time.Duration {
	d := o.MinRetry
	for i := 1; i < failures && d < o.MaxRetry; i++ {
		d *= 2
	}
	d = min(d, o.MaxRetry)
	return d/2 + rand.N(d/2+1)
}
