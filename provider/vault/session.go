package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
)

// session owns the client's token. It logs in, renews renewable tokens with
// an api.LifetimeWatcher, and logs in again only when the token's own life
// says so:
//
//   - Vault answered a request with "invalid token" (revoked, expired or
//     exhausted): the token is dead. Such re-logins happen at most once per
//     reloginInterval.
//   - the token reaches the end of its TTL, or its renewal stops (max TTL):
//     a new token is fetched shortly before the old one ends; if that login
//     fails, the old token is used until it ends.
//   - a token file changed.
//
// A request refused with a plain "permission denied" says nothing about the
// token (its policies lack a capability on that path), so it never causes a
// login.
type session struct {
	client   *api.Client
	auth     Auth // nil: no token (Vault Agent's API proxy adds one)
	getenv   func(string) string
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration // shortest time between re-logins after a rejection

	sem chan struct{} // serialises logins; waiters honour ctx

	mu       sync.Mutex
	have     bool      // the client holds a token
	rejected bool      // Vault said the token is invalid
	due      bool      // renewal stopped: replace the token before it ends
	renewAt  time.Time // non-renewable token: when to replace it
	end      time.Time // when the token ends as far as we know; zero: unknown
	safeEnd  time.Time // a time the token surely lives to, for Expires
	gen      uint64    // bumped at every login
	rejLogin time.Time // when the last login after a rejection ran
	watcher  *api.LifetimeWatcher
	closed   bool
	logins   int // successful logins, for tests and logs
}

func newSession(client *api.Client, auth Auth, getenv func(string) string, log *slog.Logger, now func() time.Time, interval time.Duration) *session {
	return &session{client: client, auth: auth, getenv: getenv, log: log, now: now, interval: interval, sem: make(chan struct{}, 1)}
}

// state says what ensure must do.
type state int

const (
	stateGood   state = iota // use the token
	stateSoft                // replace it if possible, else keep using it
	stateHard                // no usable token: log in
	stateThrott              // rejected, and the last re-login was too recent
)

func (s *session) stateLocked() state {
	if s.auth == nil {
		return stateGood
	}
	now := s.now()
	switch {
	case !s.have:
		return stateHard
	case s.rejected:
		if !s.rejLogin.IsZero() && now.Sub(s.rejLogin) < s.interval && !s.sourceChanged() {
			return stateThrott
		}
		return stateHard
	case !s.end.IsZero() && !now.Before(s.end):
		return stateHard
	}
	if s.due || (!s.renewAt.IsZero() && !now.Before(s.renewAt)) {
		return stateSoft
	}
	if s.sourceChanged() {
		return stateSoft
	}
	return stateGood
}

// sourceChanged reports whether the auth method's source (a token file)
// changed since the last login: a new token is there to read.
func (s *session) sourceChanged() bool {
	c, ok := s.auth.(changed)
	return ok && c.changed()
}

// throttledError is the cause of a login refused by the re-login rate
// bound (Options.ReloginInterval).
type throttledError struct{}

func (throttledError) Error() string {
	return "Vault rejects the token, and the last login after a rejection was less than Options.ReloginInterval ago"
}

// Unwrap returns [ErrTokenRejected].
func (throttledError) Unwrap() error { return ErrTokenRejected }

var errThrottled error = throttledError{}

// ensure returns a login generation whose token the client holds, logging
// in if needed.
func (s *session) ensure(ctx context.Context) (uint64, error) {
	s.mu.Lock()
	st, gen := s.stateLocked(), s.gen
	s.mu.Unlock()
	switch st {
	case stateGood:
		return gen, nil
	case stateThrott:
		return 0, &unavailableLogin{LoginError{Method: describeAuth(s.auth), Err: errThrottled}}
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-s.sem }()
	s.mu.Lock()
	st, gen = s.stateLocked(), s.gen // someone else may have logged in
	rejected := s.rejected
	s.mu.Unlock()
	switch st {
	case stateGood:
		return gen, nil
	case stateThrott:
		return 0, &unavailableLogin{LoginError{Method: describeAuth(s.auth), Err: errThrottled}}
	}
	ngen, err := s.login(ctx, rejected)
	if err != nil && st == stateSoft && ctx.Err() == nil {
		// The old token still works until it ends: keep using it.
		s.log.Warn("vault: could not replace the token before it ends; using it until then", "error", err.Error())
		return gen, nil
	}
	return ngen, err
}

// reject records that Vault answered "invalid token" to a request made with
// generation gen's token. A later generation is left alone.
func (s *session) reject(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen || s.rejected || s.auth == nil {
		return
	}
	s.rejected = true
	s.log.Info("vault: Vault rejected the token (revoked, expired or out of uses); it will be replaced")
}

// current returns the generation of the token the client holds.
func (s *session) current() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// tokenEnd returns a time until which generation gen's token surely lives
// (zero: unknown), for the Expires of the leases it read. It is the past
// for a generation that was replaced or rejected.
func (s *session) tokenEnd(gen uint64) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen || s.rejected {
		return s.now()
	}
	return s.safeEnd
}

func (s *session) login(ctx context.Context, afterReject bool) (gen uint64, err error) {
	method := describeAuth(s.auth)
	lc, err := s.client.Clone()
	if err != nil {
		return 0, &LoginError{Method: method, Err: errors.New("cannot copy client")}
	}
	lc.SetNamespace(s.client.Namespace())
	lc.ClearToken()
	sent := s.now() // Vault counts the token's TTL from about now
	secret, err := s.callLogin(ctx, lc)
	if err != nil {
		return 0, s.loginError(ctx, err)
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return 0, &LoginError{Method: method, Err: errors.New("Vault returned no token")}
	}
	a := secret.Auth
	ext := false
	if e, ok := s.auth.(externalToken); ok {
		ext = e.external()
	}
	ttl := time.Duration(a.LeaseDuration) * time.Second
	now := s.now()

	s.mu.Lock()
	if s.watcher != nil {
		s.watcher.Stop()
		s.watcher = nil
	}
	s.client.SetToken(a.ClientToken)
	s.gen++
	gen = s.gen
	s.have, s.rejected, s.due = true, false, false
	s.renewAt, s.end, s.safeEnd = time.Time{}, time.Time{}, time.Time{}
	if afterReject {
		s.rejLogin = now
	}
	s.logins++
	if ttl > 0 {
		s.end = sent.Add(ttl - skew(ttl))
	}
	s.safeEnd = s.end
	var w *api.LifetimeWatcher
	switch {
	case ext:
		// Someone else renews it; it is re-read when it changes or fails.
	case a.Renewable && ttl > 0 && !s.closed:
		w, err = s.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: secret})
		if err == nil {
			s.watcher = w
		} else {
			s.renewAt = now.Add(ttl - min(ttl/10, 30*time.Second))
		}
	case ttl > 0:
		// Not renewable: replace it shortly before it expires.
		s.renewAt = now.Add(ttl - min(ttl/10, 30*time.Second))
	}
	s.mu.Unlock()

	s.log.Info("vault: logged in", "method", method, "ttl", ttl, "renewable", a.Renewable, "policies", a.Policies)
	if w != nil {
		go w.Start()
		go s.watch(w, gen)
	}
	return gen, nil
}

// callLogin runs the auth method. A panic inside it (third-party methods,
// unexpected answers) becomes a login error instead of ending the process;
// its value is not shown, since it may hold request data.
func (s *session) callLogin(ctx context.Context, lc *api.Client) (secret *api.Secret, err error) {
	defer func() {
		if r := recover(); r != nil {
			secret, err = nil, errLoginPanic
		}
	}()
	if el, ok := s.auth.(envLogin); ok {
		return el.loginEnv(ctx, lc, s.getenv)
	}
	return s.auth.Login(ctx, lc)
}

var errLoginPanic = errors.New("vault: the auth method failed unexpectedly (panic recovered)")

// watch follows a token's LifetimeWatcher: renewals move the token's end;
// when renewal stops (max TTL reached, renewal refused) the token is
// replaced before it ends.
func (s *session) watch(w *api.LifetimeWatcher, gen uint64) {
	for {
		select {
		case err := <-w.DoneCh():
			s.mu.Lock()
			if s.closed || gen != s.gen {
				s.mu.Unlock()
				return
			}
			s.due = true
			s.mu.Unlock()
			why := "token renewal stopped"
			if err != nil {
				why += ": " + classify(context.Background(), err).reason
			}
			s.log.Info("vault: token will be replaced before it ends", "reason", why)
			return
		case r := <-w.RenewCh():
			if r == nil || r.Secret == nil || r.Secret.Auth == nil {
				continue
			}
			ttl := time.Duration(r.Secret.Auth.LeaseDuration) * time.Second
			s.mu.Lock()
			if gen == s.gen && ttl > 0 {
				// RenewedAt is taken after the answer; Vault counted from
				// before it.
				s.end = r.RenewedAt.Add(ttl - skew(ttl))
				// Vault rounds a TTL cut at the token's max TTL to whole
				// seconds, up as well: what Expires may rely on is a
				// second less.
				s.safeEnd = r.RenewedAt.Add(ttl - time.Second)
			}
			s.mu.Unlock()
			s.log.Debug("vault: token renewed", "ttl", ttl)
		}
	}
}

func (s *session) loginError(ctx context.Context, err error) error {
	method := describeAuth(s.auth)
	if ctx.Err() != nil {
		return &LoginError{Method: method, Err: ctx.Err()}
	}
	if errors.Is(err, errLoginPanic) {
		return &LoginError{Method: method, Err: errors.New(stripPrefix(errLoginPanic.Error()))}
	}
	var re *api.ResponseError
	var oe *net.OpError
	var rd *redirectError
	if errors.As(err, &re) || errors.As(err, &oe) || errors.As(err, &rd) || errors.Is(err, context.DeadlineExceeded) {
		c := classify(ctx, err)
		cause := errors.New(c.reason)
		if c.kind == kindUnavailable {
			return &unavailableLogin{LoginError{Method: method, Err: cause}}
		}
		return &LoginError{Method: method, Err: cause}
	}
	c := classify(ctx, err)
	if c.kind == kindUnavailable {
		return &unavailableLogin{LoginError{Method: method, Err: errors.New(c.reason)}}
	}
	var le *loginMsg
	if errors.As(err, &le) {
		// This package's methods build their own messages (file paths,
		// variable names), never with a value.
		return &LoginError{Method: method, Err: errors.New(le.msg)}
	}
	return &LoginError{Method: method, Err: errors.New(c.reason)}
}

// loginMsg is a failure message written by this package's auth methods:
// safe to show.
type loginMsg struct{ msg string }

func (e *loginMsg) Error() string { return "vault: " + e.msg }

func loginErrorf(format string, args ...any) error {
	return &loginMsg{msg: fmt.Sprintf(format, args...)}
}

// unavailableLogin is a login that failed because Vault could not be
// reached; Retrieve reports it as provider.ErrUnavailable.
type unavailableLogin struct{ LoginError }

func (e *unavailableLogin) Unwrap() []error { return e.LoginError.Unwrap() }

func stripPrefix(s string) string {
	const p = "vault: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// skew is how much earlier than measured a token or lease is taken to end,
// for the time between Vault starting its TTL and the answer arriving.
func skew(ttl time.Duration) time.Duration { return min(time.Second, ttl/10) }

func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.watcher != nil {
		s.watcher.Stop()
		s.watcher = nil
	}
}
