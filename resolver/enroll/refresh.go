package enroll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/mcpcred/mcpcred/provider"
)

// The fields of an OAuth-connected credential.
const (
	fieldToken        = provider.FieldToken // the access token
	fieldRefreshToken = "refresh_token"
	fieldExpiry       = "expiry" // RFC 3339, UTC
	fieldTokenType    = "token_type"
	fieldOAuthClient  = "oauth_client" // OAuth.Name
	fieldLease        = "refresh_lease"
)

// oauthFields is the stored shape of an OAuth token connected through
// client name.
func oauthFields(name string, tok *oauth2.Token) (map[string]string, bool) {
	if tok == nil || !validToken(tok.AccessToken) || tok.RefreshToken != "" && !validToken(tok.RefreshToken) {
		return nil, false
	}
	f := map[string]string{fieldToken: tok.AccessToken, fieldOAuthClient: name}
	if tok.RefreshToken != "" {
		f[fieldRefreshToken] = tok.RefreshToken
	}
	if !tok.Expiry.IsZero() {
		f[fieldExpiry] = tok.Expiry.UTC().Format(time.RFC3339)
	}
	if validTokenType(tok.TokenType) {
		f[fieldTokenType] = tok.TokenType
	}
	return f, true
}

// maxTokenLen bounds an OAuth token stored (some providers' JWT access
// tokens exceed a pasted value's MaxValueLen).
const maxTokenLen = 16 << 10

// validToken reports whether s can be stored as an OAuth token: 1 to
// maxTokenLen printable ASCII characters (RFC 6749 A.12, A.17).
func validToken(s string) bool {
	return s != "" && len(s) <= maxTokenLen && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e })
}

// validTokenType reports whether s reads as a token type (RFC 6749
// 7.1: "Bearer", "DPoP", "N_A"): 1 to 32 letters, digits, '-', '_', '.'.
func validTokenType(s string) bool {
	return s != "" && len(s) <= 32 && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") == ""
}

// RefreshOptions configure [Refresh].
type RefreshOptions struct {
	// Margin is how long before its expiry a token is refreshed, and how
	// much earlier than the token's expiry the returned credentials'
	// Expires is, so that a resolver reads again in time. Default 1 minute.
	Margin time.Duration

	// Lease is how long one replica may hold a refresh before another
	// takes it over (a replica that died mid-refresh). Default 30 seconds.
	Lease time.Duration

	// HTTPClient calls the token endpoints. Default http.DefaultClient.
	HTTPClient *http.Client

	// Logger receives one record per refresh: the OAuth client's name and
	// the outcome. Default: discard.
	Logger *slog.Logger

	// Now replaces time.Now, for tests.
	Now func() time.Time
}

// Refresh wraps a scheme whose Targets store (provider.Store), so that an
// OAuth-connected credential (the fields oauth_client, refresh_token and
// expiry, as Enroller stores them) is refreshed before it expires, by the
// client of clients whose Name is its oauth_client:
//
//   - A credential whose expiry is more than Margin away is returned with
//     Expires = expiry - Margin.
//   - Otherwise one refresh runs per reference in this process (callers
//     that arrive meanwhile share its result). Across replicas, a lease
//     (the field refresh_lease, written with CompareAndSwap) makes one
//     replica the refresher, so a rotating refresh token is presented
//     once; the others keep serving the current token while it is valid,
//     or wait for the new one. The new token is stored with
//     CompareAndSwap over the leased value; on a conflict, or when the
//     token endpoint answers invalid_grant, what is stored is read again
//     and returned.
//   - A credential that cannot be refreshed (no refresh token, an unknown
//     client, a refresh token refused) is served until its expiry, then
//     is provider.ErrNotFound, so that the user connects again.
//
// What Retrieve serves never holds refresh_token nor refresh_lease: a tool,
// and the upstream it calls, gets the access token (token, token_type,
// expiry, oauth_client) and nothing that outlives it. The store keeps
// both; the refresher reads and compares them itself. So a caller of the
// Targets' CompareAndSwap must not pass what Retrieve served as old (it
// no longer equals what is stored).
//
// The Targets' Providers are Stores (delegating) and Invalidators when the
// inner ones are. Credentials without oauth_client pass unchanged.
func Refresh(inner provider.Scheme, clients []*OAuth, optFns ...func(*RefreshOptions)) provider.Scheme {
	o := RefreshOptions{}
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Margin <= 0 {
		o.Margin = time.Minute
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	rs := &refreshScheme{inner: inner, opts: o, clients: map[string]*oauth2.Config{}, group: &singleflight.Group{}}
	for _, c := range clients {
		if c != nil && c.Config != nil {
			rs.clients[c.Name] = c.Config
		}
	}
	if sh, ok := inner.(provider.ShapedScheme); ok {
		return shapedRefreshScheme{rs, sh}
	}
	return rs
}

type refreshScheme struct {
	inner   provider.Scheme
	opts    RefreshOptions
	clients map[string]*oauth2.Config
	group   *singleflight.Group // keyed by canonical reference
}

type shapedRefreshScheme struct {
	*refreshScheme
	sh provider.ShapedScheme
}

func (s shapedRefreshScheme) ResourceShape() provider.ResourceShape { return s.sh.ResourceShape() }

func (s *refreshScheme) Open(ref provider.Ref) (provider.Target, error) {
	t, err := s.inner.Open(ref)
	if err != nil || t.Provider == nil {
		return t, err
	}
	if t.Ref.Scheme == "" {
		t.Ref = ref
	}
	r := &refresher{s: s, inner: t.Provider, ref: t.Ref.String(), name: provider.NameOf(t.Provider)}
	r.store, _ = t.Provider.(provider.Store)
	inv, isInv := t.Provider.(provider.Invalidator)
	switch {
	case r.store != nil && isInv:
		t.Provider = storeInvRefresher{storeRefresher{r}, inv}
	case r.store != nil:
		t.Provider = storeRefresher{r}
	case isInv:
		t.Provider = invRefresher{r, inv}
	default:
		t.Provider = r
	}
	return t, nil
}

// refresher is a Target's Provider that refreshes what it reads.
type refresher struct {
	s     *refreshScheme
	inner provider.Provider
	store provider.Store // nil: cannot store, so never refreshes
	ref   string
	name  string
}

func (r *refresher) Name() string { return r.name }

type storeRefresher struct{ *refresher }

func (r storeRefresher) Put(ctx context.Context, profile string, c provider.Credentials) error {
	return r.store.Put(ctx, profile, c)
}
func (r storeRefresher) Delete(ctx context.Context, profile string) error {
	return r.store.Delete(ctx, profile)
}
func (r storeRefresher) CompareAndSwap(ctx context.Context, profile string, old, next provider.Credentials) error {
	return r.store.CompareAndSwap(ctx, profile, old, next)
}

type invRefresher struct {
	*refresher
	inv provider.Invalidator
}

func (r invRefresher) Invalidate(profile string) { r.inv.Invalidate(profile) }

type storeInvRefresher struct {
	storeRefresher
	inv provider.Invalidator
}

func (r storeInvRefresher) Invalidate(profile string) { r.inv.Invalidate(profile) }

func (r *refresher) fail(profile, why string, notFound bool) error {
	if notFound {
		return provider.NotFound(r.name, profile, "", why)
	}
	return provider.Unavailable(r.name, profile, "", errors.New(why))
}

// Retrieve reads the credential, refreshes it when it is due, and serves
// it without what only the refresher needs ([served]).
func (r *refresher) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	c, err := r.retrieve(ctx, profile)
	if err != nil {
		return provider.Credentials{}, err
	}
	return served(c), nil
}

// served is an OAuth-connected credential as a tool gets it: the access
// token, its type and expiry and the client's name, never the refresh
// token (a long-lived credential that only the refresher presents, to the
// token endpoint) nor the refresh lease. The store keeps both; the
// refresher reads and compares them through the inner provider only.
// Credentials without oauth_client pass unchanged.
func served(c provider.Credentials) provider.Credentials {
	if !c.Has(fieldOAuthClient) || !c.Has(fieldRefreshToken) && !c.Has(fieldLease) {
		return c
	}
	m := make(map[string]provider.Secret, c.Len())
	for _, n := range c.Names() {
		if n != fieldRefreshToken && n != fieldLease {
			m[n] = c.Get(n)
		}
	}
	out := provider.NewCredentialsFromSecrets(m, c.Source)
	out.FetchedAt, out.Expires = c.FetchedAt, c.Expires
	return out
}

// retrieve reads the credential and refreshes it when it is due; what it
// returns still holds the refresh token and lease.
func (r *refresher) retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	c, err := r.inner.Retrieve(ctx, profile)
	if err != nil || !c.Has(fieldOAuthClient) {
		return c, err
	}
	out, due, err := r.check(profile, c)
	if !due || err != nil {
		return out, err
	}
	v, err, _ := r.s.group.Do(r.ref, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.s.opts.Lease)
		defer cancel()
		return r.refresh(fctx, profile, c)
	})
	if err != nil {
		return provider.Credentials{}, err
	}
	return v.(provider.Credentials), nil
}

// check returns c as it is served when it is not due for a refresh
// (Expires = expiry - Margin), and whether it is due.
func (r *refresher) check(profile string, c provider.Credentials) (provider.Credentials, bool, error) {
	exp, ok := expiryOf(c)
	if !ok {
		return provider.Credentials{}, false, provider.Final(&provider.Error{Provider: r.name, Profile: profile,
			Err: errors.New("enroll: the OAuth credential's expiry is not an RFC 3339 time")})
	}
	if exp.IsZero() {
		return c, false, nil
	}
	if r.s.opts.Now().Before(exp.Add(-r.s.opts.Margin)) {
		c.Expires = exp.Add(-r.s.opts.Margin)
		return c, false, nil
	}
	// Due: served as it is (a token that lives less than Margin, just
	// refreshed), it still must not be cached past its expiry.
	c.Expires = exp
	return c, true, nil
}

// expiryOf reads c's expiry field: zero when absent, not ok when malformed.
func expiryOf(c provider.Credentials) (time.Time, bool) {
	if !c.Has(fieldExpiry) {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, c.Value(fieldExpiry))
	return t, err == nil
}

// usable serves c, due for a refresh that did not happen, until its
// expiry; after it, c is not found (connect again), or unavailable when
// the refresh failed for a passing reason.
func (r *refresher) usable(profile string, c provider.Credentials, passing bool, why string) (provider.Credentials, error) {
	exp, _ := expiryOf(c)
	if r.s.opts.Now().Before(exp) {
		c.Expires = exp
		return c, nil
	}
	return provider.Credentials{}, r.fail(profile, why, !passing)
}

// refresh refreshes c (due) under a lease, or returns what another
// replica stores.
func (r *refresher) refresh(ctx context.Context, profile string, c provider.Credentials) (provider.Credentials, error) {
	o := r.s.opts
	name := c.Value(fieldOAuthClient)
	cfg := r.s.clients[name]
	if r.store == nil || cfg == nil || !c.Has(fieldRefreshToken) {
		return r.usable(profile, c, false, "the OAuth credential expired and cannot be refreshed: connect again")
	}
	for range 4 {
		// A lease ends Lease after it was taken at the latest: one further
		// away (a replica whose clock runs ahead, a corrupt value) is
		// not honoured, so it cannot hold the credential's refresh up.
		if lease, err := time.Parse(time.RFC3339Nano, c.Value(fieldLease)); err == nil && o.Now().Before(lease) && !lease.After(o.Now().Add(o.Lease)) {
			// Another replica is refreshing: serve the current token
			// while it lasts, else wait for the new one.
			if out, err := r.usable(profile, c, true, ""); err == nil {
				return out, nil
			}
			next, err := r.awaitChange(ctx, profile, c, lease)
			if err != nil {
				return provider.Credentials{}, err
			}
			if out, due, err := r.check(profile, next); !due || err != nil {
				return out, err
			}
			c = next
			continue
		}
		leased := c.Merge(provider.NewCredentials(map[string]string{fieldLease: o.Now().Add(o.Lease).UTC().Format(time.RFC3339Nano)}, provider.Source{}))
		if err := r.store.CompareAndSwap(ctx, profile, c, leased); err != nil {
			if !errors.Is(err, provider.ErrConflict) {
				return r.usable(profile, c, true, "the OAuth credential is due for a refresh and its store is unavailable")
			}
			next, err := r.inner.Retrieve(ctx, profile)
			if err != nil {
				return next, err
			}
			if out, due, err := r.check(profile, next); !due || err != nil {
				return out, err
			}
			c = next
			continue
		}
		hctx := context.WithValue(ctx, oauth2.HTTPClient, o.HTTPClient)
		tok, err := cfg.TokenSource(hctx, &oauth2.Token{RefreshToken: c.Value(fieldRefreshToken)}).Token()
		// Once the token endpoint has answered, what follows is written
		// whatever is left of the refresh's time: a rotated refresh token
		// (the old one is dead now) that is not stored is lost, and a
		// lease not released holds the others up. CompareAndSwap over
		// the lease keeps a late write from clobbering a takeover.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		defer cancel()
		if err != nil {
			var re *oauth2.RetrieveError
			dead := errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "unauthorized_client")
			// Release the lease; keep the credential, whose token may
			// work until its expiry.
			if cerr := r.store.CompareAndSwap(ctx, profile, leased, c); errors.Is(cerr, provider.ErrConflict) {
				// Someone stored another credential meanwhile, or removed
				// it: serve that.
				if out, ok, err := r.stored(ctx, profile); ok {
					return out, err
				}
			}
			r.logRefresh(ctx, name, map[bool]string{true: "refused", false: "failed"}[dead])
			if dead {
				return r.usable(profile, c, false, "the OAuth refresh token was refused: connect again")
			}
			return r.usable(profile, c, true, "the OAuth token endpoint could not refresh the credential now")
		}
		fields, ok := oauthFields(name, tok)
		if !ok {
			r.logRefresh(ctx, name, "malformed")
			if cerr := r.store.CompareAndSwap(ctx, profile, leased, c); errors.Is(cerr, provider.ErrConflict) {
				if out, ok, err := r.stored(ctx, profile); ok {
					return out, err
				}
			}
			return r.usable(profile, c, true, "the OAuth token endpoint answered without a usable token")
		}
		next := provider.NewCredentials(fields, c.Source)
		if err := r.store.CompareAndSwap(ctx, profile, leased, next); err != nil {
			r.logRefresh(ctx, name, "not-stored")
			if errors.Is(err, provider.ErrConflict) {
				// Our lease was taken over, or the credential removed:
				// what is stored wins, and nothing stored means removed.
				if out, ok, err := r.stored(ctx, profile); ok {
					return out, err
				}
			}
			// The new token works, though it could not be stored.
			next.Expires = tok.Expiry
			if !tok.Expiry.IsZero() {
				next.Expires = tok.Expiry.Add(-o.Margin)
			}
			return next, nil
		}
		r.logRefresh(ctx, name, "refreshed")
		out, _, err := r.check(profile, next)
		return out, err
	}
	return r.usable(profile, c, true, "the OAuth credential kept changing while it was refreshed")
}

// writeTimeout bounds the store's writes (and reads) that follow a token
// endpoint's answer.
const writeTimeout = 30 * time.Second

// stored reads what another writer stored meanwhile (a CompareAndSwap of
// ours conflicted). It answers the call (ok) with that credential when it
// is not due, and with not found when nothing is stored any more: the
// user removed it, and a token refreshed meanwhile, or the old one, must
// not be served after that. Otherwise (due again, or the store cannot be
// read) the caller decides.
func (r *refresher) stored(ctx context.Context, profile string) (provider.Credentials, bool, error) {
	cur, err := r.inner.Retrieve(ctx, profile)
	switch {
	case errors.Is(err, provider.ErrNotFound):
		return provider.Credentials{}, true, err
	case err != nil:
		return provider.Credentials{}, false, nil
	}
	if out, due, err := r.check(profile, cur); !due || err != nil {
		return out, true, err
	}
	return provider.Credentials{}, false, nil
}

// awaitChange polls the store until what it holds is no longer c, or the
// lease has passed, or ctx ends.
func (r *refresher) awaitChange(ctx context.Context, profile string, c provider.Credentials, lease time.Time) (provider.Credentials, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return provider.Credentials{}, provider.Unavailable(r.name, profile, "", fmt.Errorf("enroll: waiting for another replica's refresh: %w", ctx.Err()))
		case <-t.C:
		}
		next, err := r.inner.Retrieve(ctx, profile)
		if err != nil {
			return next, err
		}
		if !next.Equal(c) || !r.s.opts.Now().Before(lease) {
			return next, nil
		}
	}
}

func (r *refresher) logRefresh(ctx context.Context, client, outcome string) {
	r.s.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "mcpcred: oauth refresh", slog.String("client", provider.Label(client)), slog.String("outcome", outcome))
}
