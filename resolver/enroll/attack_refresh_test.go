package enroll

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// tokenEndpoint is an OAuth token endpoint that answers every refresh
// with a new access and refresh token living expiresIn seconds.
func tokenEndpoint(t *testing.T, expiresIn int, hooks ...func(w http.ResponseWriter) bool) (*OAuth, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") == "" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		for _, h := range hooks {
			if h(w) {
				return
			}
		}
		i := n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("access-%d-0123456789", i), "token_type": "Bearer",
			"refresh_token": fmt.Sprintf("refresh-%d-0123456789", i), "expires_in": expiresIn})
	}))
	t.Cleanup(srv.Close)
	return &OAuth{Name: "fake", Config: &oauth2.Config{ClientID: "c", ClientSecret: "s",
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}}, &n
}

// oauthCred is a stored OAuth-connected credential of client, expiring
// at exp, with extra fields.
func oauthCred(client string, exp time.Time, extra ...string) provider.Credentials {
	f := map[string]string{"token": "access-0-0123456789", "refresh_token": "refresh-0-0123456789", "token_type": "Bearer",
		"oauth_client": client, "expiry": exp.UTC().Format(time.RFC3339)}
	for i := 0; i+1 < len(extra); i += 2 {
		f[extra[i]] = extra[i+1]
	}
	return provider.NewCredentials(f, provider.Source{})
}

// TestRefreshTokenNotServed: what Refresh serves (to the resolver, so to
// tools and the upstreams they call) never holds the refresh token or the
// refresh lease, whether the credential is fresh, just refreshed, served
// while another replica holds the lease, or served until its expiry after
// a failed refresh; the store keeps both, and the next refresh still
// works with the stored refresh token.
func TestRefreshTokenNotServed(t *testing.T) {
	ev := newEnv(t)
	stored := ev.connect()
	const key = "users/sub-alice/oauthy"
	require.True(t, stored.Has(fieldRefreshToken))
	ctx := provider.ContextWithCaller(context.Background(), alice(ev.op.Issuer))
	noRefresh := func(what string, c provider.Credentials) {
		t.Helper()
		assert.False(t, c.Has(fieldRefreshToken), "%s: refresh token served", what)
		assert.False(t, c.Has(fieldLease), "%s: lease served", what)
		assert.True(t, c.Has(fieldToken), what)
		for _, n := range c.Names() {
			assert.NotEqual(t, ev.store.get(key).Value(fieldRefreshToken), c.Value(n), "%s: field %s", what, n)
		}
	}

	got, err := ev.pp.Retrieve(ctx, "oauthy")
	require.NoError(t, err)
	noRefresh("fresh", got)
	assert.False(t, got.Expires.IsZero())

	// Through a resolver, as a tool gets it.
	r, err := resolver.New([]provider.Provider{ev.pp}, func(o *resolver.Options) {
		o.AllowProfile, o.Required = ev.pp.Allows, []string{"token"}
	})
	require.NoError(t, err)
	res, err := r.Resolve(context.Background(), resolver.Request{Caller: alice(ev.op.Issuer), Profile: "oauthy"})
	require.NoError(t, err)
	noRefresh("resolved", res.Credentials)

	// Due: refreshed with the stored refresh token, served without the new one.
	before := ev.op.RefreshCount()
	old := ev.expire(key)
	got, err = ev.pp.Retrieve(ctx, "oauthy")
	require.NoError(t, err)
	assert.Equal(t, int64(1), ev.op.RefreshCount()-before)
	noRefresh("refreshed", got)
	now := ev.store.get(key)
	assert.True(t, now.Has(fieldRefreshToken), "the store keeps the refresh token")
	assert.NotEqual(t, old.Value(fieldRefreshToken), now.Value(fieldRefreshToken))
	assert.Equal(t, now.Value(fieldToken), got.Value(fieldToken))

	// Another replica holds the lease; the token is due but still valid.
	leased := now.Merge(provider.NewCredentials(map[string]string{
		fieldExpiry: time.Now().Add(30 * time.Second).UTC().Format(time.RFC3339),
		fieldLease:  time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339Nano),
	}, provider.Source{}))
	require.NoError(t, memTarget{ev.store, key}.Put(context.Background(), "", leased))
	got, err = ev.pp.Retrieve(ctx, "oauthy")
	require.NoError(t, err)
	noRefresh("leased elsewhere", got)
	assert.True(t, ev.store.get(key).Has(fieldLease))
}

// TestRefreshServedCarriesExpiry: a refreshed token that lives less than
// the margin (the third party's choice) is still served with its expiry,
// so that a resolver does not cache it past it for its whole TTL.
func TestRefreshServedCarriesExpiry(t *testing.T) {
	client, n := tokenEndpoint(t, 30)
	ms := newMapStore()
	const key = "k"
	require.NoError(t, memTarget{ms, key}.Put(context.Background(), "", oauthCred("fake", time.Now().Add(-time.Minute))))
	var s provider.Schemes
	s.Register("mem", Refresh(ms.scheme(), []*OAuth{client}))
	p, _, err := s.Provider("mem:" + key)
	require.NoError(t, err)
	c, err := p.Retrieve(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, int64(1), n.Load())
	assert.Equal(t, "access-1-0123456789", c.Value(fieldToken))
	require.False(t, c.Expires.IsZero(), "served without an expiry: a resolver would cache it for its TTL")
	assert.False(t, c.Expires.After(time.Now().Add(31*time.Second)))
	assert.False(t, c.Has(fieldRefreshToken))
	assert.Equal(t, "refresh-1-0123456789", ms.get(key).Value(fieldRefreshToken))
}

// TestRefreshImplausibleLease: a lease further away than Lease (written by
// a replica whose clock runs ahead, or corrupt) does not hold an expired
// credential's refresh up until it passes: the refresh happens now.
func TestRefreshImplausibleLease(t *testing.T) {
	client, n := tokenEndpoint(t, 3600)
	ms := newMapStore()
	const key = "k"
	far := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	require.NoError(t, memTarget{ms, key}.Put(context.Background(), "", oauthCred("fake", time.Now().Add(-time.Minute), fieldLease, far)))
	var s provider.Schemes
	s.Register("mem", Refresh(ms.scheme(), []*OAuth{client}, func(o *RefreshOptions) { o.Lease = 2 * time.Second }))
	p, _, err := s.Provider("mem:" + key)
	require.NoError(t, err)
	c, err := p.Retrieve(context.Background(), "")
	require.NoError(t, err, "stuck behind a lease an hour away")
	assert.Equal(t, int64(1), n.Load())
	assert.Equal(t, "access-1-0123456789", c.Value(fieldToken))
	assert.False(t, ms.get(key).Has(fieldLease))

	// A plausible lease (within Lease) is honoured: the valid token is
	// served and nothing is refreshed.
	near := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	require.NoError(t, memTarget{ms, key}.Put(context.Background(), "", oauthCred("fake", time.Now().Add(20*time.Second), fieldLease, near)))
	c, err = p.Retrieve(context.Background(), "")
	require.NoError(t, err)
	assert.Equal(t, "access-0-0123456789", c.Value(fieldToken))
	assert.Equal(t, int64(1), n.Load())
}

// TestRefreshRemovedMeanwhile: a credential the user removes (forget,
// Enroller.Remove on any replica) while a refresh of it runs is not
// served afterwards: neither the token the refresh just obtained nor the
// old one, whether the token endpoint answers with new tokens or fails.
func TestRefreshRemovedMeanwhile(t *testing.T) {
	for name, answer := range map[string]func(w http.ResponseWriter) bool{
		"refreshed": func(http.ResponseWriter) bool { return false },
		"refused": func(w http.ResponseWriter) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return true
		},
		"failed": func(w http.ResponseWriter) bool { w.WriteHeader(http.StatusBadGateway); return true },
		"malformed": func(w http.ResponseWriter) bool {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"a\u0001","token_type":"Bearer"}`))
			return true
		},
	} {
		t.Run(name, func(t *testing.T) {
			ms := newMapStore()
			const key = "k"
			remove := func(w http.ResponseWriter) bool {
				memTarget{ms, key}.Delete(context.Background(), "")
				return answer(w)
			}
			client, _ := tokenEndpoint(t, 3600, remove)
			// Due (within the margin), not yet expired: the old token
			// would otherwise be served until its expiry.
			require.NoError(t, memTarget{ms, key}.Put(context.Background(), "", oauthCred("fake", time.Now().Add(30*time.Second))))
			var s provider.Schemes
			s.Register("mem", Refresh(ms.scheme(), []*OAuth{client}))
			p, _, err := s.Provider("mem:" + key)
			require.NoError(t, err)
			c, err := p.Retrieve(context.Background(), "")
			require.ErrorIs(t, err, provider.ErrNotFound, "served %v after its removal", c)
			assert.True(t, ms.get(key).IsZero(), "nothing written back")
		})
	}
}

// slowWrite is the mem: store whose CompareAndSwap that releases a lease
// (old holds one, next does not) takes a while, as a loaded Vault's write
// may; it honours its context, as a real store's client does.
type slowWrite struct {
	memTarget
	delay time.Duration
}

func (s slowWrite) CompareAndSwap(ctx context.Context, p string, old, next provider.Credentials) error {
	if old.Has(fieldLease) && !next.Has(fieldLease) {
		select {
		case <-ctx.Done():
			return provider.Unavailable("mem", p, "", ctx.Err())
		case <-time.After(s.delay):
		}
	}
	return s.memTarget.CompareAndSwap(ctx, p, old, next)
}

// TestRefreshStoresRotatedToken: once the token endpoint has answered, the
// rotated refresh token (the old one is now dead) is stored even when the
// write takes longer than what is left of the refresh's time: losing it
// would leave the stored credential with a dead refresh token, and the
// user would have to connect again.
func TestRefreshStoresRotatedToken(t *testing.T) {
	client, n := tokenEndpoint(t, 3600)
	ms := newMapStore()
	const key = "k"
	require.NoError(t, memTarget{ms, key}.Put(context.Background(), "", oauthCred("fake", time.Now().Add(-time.Minute))))
	var s provider.Schemes
	s.Register("mem", Refresh(provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{Provider: slowWrite{memTarget{ms, ref.Body}, 1500 * time.Millisecond}, Resources: []provider.Resource{{Scheme: "mem", Path: ref.Body}}}, nil
	}), []*OAuth{client}, func(o *RefreshOptions) { o.Lease = 500 * time.Millisecond }))
	p, _, err := s.Provider("mem:" + key)
	require.NoError(t, err)
	c, err := p.Retrieve(context.Background(), "")
	require.NoError(t, err)
	assert.Equal(t, "access-1-0123456789", c.Value(fieldToken))
	require.Equal(t, int64(1), n.Load())
	stored := ms.get(key)
	assert.Equal(t, "refresh-1-0123456789", stored.Value(fieldRefreshToken), "the rotated refresh token was lost")
	assert.False(t, stored.Has(fieldLease))
}
