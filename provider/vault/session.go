package vault

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
)

// session owns the client's token: it logs in, renews renewable tokens with
// an api.LifetimeWatcher, and logs in again when renewal stops, the token
// file changes, or Vault rejects the token.
type session struct {
	client *api.Client
	auth   Auth // nil: no token (Vault Agent's API proxy adds one)
	getenv func(string) string
	log    *slog.Logger
	now    func() time.Time

	sem chan struct{} // serialises logins; waiters honour ctx

	mu      sync.Mutex
	valid   bool      // the client holds a token believed good
	expires time.Time // non-renewable token: when to log in again
	gen     uint64    // bumped at every login
	watcher *api.LifetimeWatcher
	closed  bool
}

func newSession(client *api.Client, auth Auth, getenv func(string) string, log *slog.Logger, now func() time.Time) *session {
	return &session{client: client, auth: auth, getenv: getenv, log: log, now: now, sem: make(chan struct{}, 1)}
}

// current returns the login generation if the token is believed good.
func (s *session) current() (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auth == nil {
		return s.gen, true
	}
	if !s.valid {
		return 0, false
	}
	if !s.expires.IsZero() && !s.now().Before(s.expires) {
		return 0, false
	}
	if c, ok := s.auth.(changed); ok && c.changed() {
		return 0, false
	}
	return s.gen, true
}

// ensure returns a login generation whose token the client holds, logging
// in if needed.
func (s *session) ensure(ctx context.Context) (uint64, error) {
	if gen, ok := s.current(); ok {
		return gen, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-s.sem }()
	if gen, ok := s.current(); ok { // someone else logged in meanwhile
		return gen, nil
	}
	return s.login(ctx)
}

// invalidate marks the token of generation gen as bad, so the next ensure
// logs in again. A later generation is left alone.
func (s *session) invalidate(gen uint64, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen || !s.valid {
		return
	}
	s.valid = false
	s.log.Info("vault: token will be replaced at next request", "reason", why)
}

func (s *session) login(ctx context.Context) (uint64, error) {
	lc, err := s.client.Clone()
	if err != nil {
		return 0, &LoginError{Method: describeAuth(s.auth), Err: errors.New("cannot copy client")}
	}
	lc.SetNamespace(s.client.Namespace())
	lc.ClearToken()
	var secret *api.Secret
	if el, ok := s.auth.(envLogin); ok {
		secret, err = el.loginEnv(ctx, lc, s.getenv)
	} else {
		secret, err = s.auth.Login(ctx, lc)
	}
	if err != nil {
		return 0, s.loginError(ctx, err)
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return 0, &LoginError{Method: describeAuth(s.auth), Err: errors.New("Vault returned no token")}
	}
	a := secret.Auth
	ext := false
	if e, ok := s.auth.(externalToken); ok {
		ext = e.external()
	}

	s.mu.Lock()
	if s.watcher != nil {
		s.watcher.Stop()
		s.watcher = nil
	}
	s.client.SetToken(a.ClientToken)
	s.gen++
	gen := s.gen
	s.valid = true
	s.expires = time.Time{}
	ttl := time.Duration(a.LeaseDuration) * time.Second
	var w *api.LifetimeWatcher
	switch {
	case ext:
		// Someone else renews it; we re-read it when it changes or fails.
	case a.Renewable && ttl > 0 && !s.closed:
		w, err = s.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: secret})
		if err == nil {
			s.watcher = w
		}
	case ttl > 0:
		// Not renewable: log in again shortly before it expires.
		s.expires = s.now().Add(ttl - min(ttl/10, 30*time.Second))
	}
	s.mu.Unlock()

	s.log.Info("vault: logged in", "method", describeAuth(s.auth), "ttl", ttl, "renewable", a.Renewable, "policies", a.Policies)
	if w != nil {
		go w.Start()
		go s.watch(w, gen)
	}
	return gen, nil
}

// watch follows a token's LifetimeWatcher and marks the token for
// replacement when renewal stops (max TTL reached, token revoked, Vault
// refused).
func (s *session) watch(w *api.LifetimeWatcher, gen uint64) {
	for {
		select {
		case err := <-w.DoneCh():
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			why := "token renewal stopped"
			if err != nil {
				why += ": " + classify(context.Background(), err).reason
			}
			s.invalidate(gen, why)
			return
		case r := <-w.RenewCh():
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				s.log.Debug("vault: token renewed", "ttl", time.Duration(r.Secret.Auth.LeaseDuration)*time.Second)
			}
		}
	}
}

func (s *session) loginError(ctx context.Context, err error) error {
	method := describeAuth(s.auth)
	if ctx.Err() != nil {
		return &LoginError{Method: method, Err: ctx.Err()}
	}
	var re *api.ResponseError
	var oe *net.OpError
	if errors.As(err, &re) || errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded) {
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
	if _, ours := s.auth.(describer); ours {
		// This package's methods build their own messages (file paths,
		// variable names), never with a value.
		return &LoginError{Method: method, Err: errors.New(stripPrefix(err.Error()))}
	}
	return &LoginError{Method: method, Err: errors.New(c.reason)}
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

// verify asks Vault whether the current token is still good, after a 403.
// It reports false only when Vault answered and rejected the token.
func (s *session) tokenRejected(ctx context.Context) bool {
	_, err := s.client.Auth().Token().LookupSelfWithContext(ctx)
	if err == nil {
		return false
	}
	var re *api.ResponseError
	return errors.As(err, &re) && (re.StatusCode == 403 || re.StatusCode == 401)
}

func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.watcher != nil {
		s.watcher.Stop()
		s.watcher = nil
	}
}
