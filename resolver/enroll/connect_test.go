package enroll

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
)

// connect runs the OAuth connect flow for alice's "oauthy" profile, with
// the test OP as the third party, and returns the stored credential.
func (ev *env) connect() provider.Credentials {
	t := ev.t
	t.Helper()
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "oauthy"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, ">Connect<")
	assert.NotContains(t, page, `type="password"`)
	status, _, resp := ev.post(noRedirect(b), "/connect", url.Values{"csrf": {csrfOf(t, page)}})
	require.Equal(t, http.StatusSeeOther, status)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc.String(), ev.op.Issuer+"/"), "redirects only to the third party's AuthURL")
	assert.Equal(t, "S256", loc.Query().Get("code_challenge_method"))
	assert.Equal(t, ev.base+"/connected", loc.Query().Get("redirect_uri"))
	resp, err = testopSignIn(b, loc.String(), "alice", alicePass)
	require.NoError(t, err)
	body := readBody(resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "Saved. Return to your app.")
	assert.Equal(t, "/enroll/connected", resp.Request.URL.Path)
	return ev.store.get("users/sub-alice/oauthy")
}

// TestConnectFlow: the OAuth connect flow stores the OAuth shape (access
// token, refresh token, expiry, type, client name) in alice's place, and
// the page that offers Connect lets its form lead to the third party.
func TestConnectFlow(t *testing.T) {
	ev := newEnv(t)
	c := ev.connect()
	assert.Equal(t, []string{"expiry", "oauth_client", "refresh_token", "token", "token_type"}, c.Names())
	assert.Equal(t, "thirdparty", c.Value("oauth_client"))
	exp, err := time.Parse(time.RFC3339, c.Value("expiry"))
	require.NoError(t, err)
	assert.True(t, exp.After(time.Now()))
	assert.NotContains(t, ev.logText(), c.Value("token"))
	assert.NotContains(t, ev.logText(), c.Value("refresh_token"))

	// Through the profile (Refresh-wrapped scheme): served, with Expires
	// a margin before the token's expiry.
	got, err := ev.pp.Retrieve(provider.ContextWithCaller(context.Background(), alice(ev.op.Issuer)), "oauthy")
	require.NoError(t, err)
	assert.Equal(t, c.Value("token"), got.Value("token"))
	assert.Equal(t, exp.Add(-time.Minute), got.Expires)
}

// TestConnectRefusals: the third party's answer without the connect
// cookie, with another state, or an error stores nothing.
func TestConnectRefusals(t *testing.T) {
	ev := newEnv(t)
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "oauthy"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, ev.lastCSP(b), ev.op.Issuer, "form-action lets the Connect post lead to the third party")
	status, _, _ = ev.post(b, "/connect", url.Values{})
	assert.Equal(t, http.StatusForbidden, status, "no csrf")
	status, _, resp := ev.post(noRedirect(b), "/connect", url.Values{"csrf": {csrfOf(t, page)}})
	require.Equal(t, http.StatusSeeOther, status)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	state := loc.Query().Get("state")
	status, _, _ = ev.get(b, ev.base+"/connected?code=x&state=other")
	assert.Equal(t, http.StatusBadRequest, status)
	status, _, _ = ev.get(testopBrowser(), ev.base+"/connected?code=x&state="+state)
	assert.Equal(t, http.StatusBadRequest, status, "no cookie")
	status, _, _ = ev.get(b, ev.base+"/connected?error=access_denied&state="+state)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, 0, ev.store.len())
}

// TestConnectIssuerMixUp: an authorization response whose iss (RFC 9207)
// names another authorization server than the profile's third party is
// refused before any code is exchanged, and nothing is stored.
func TestConnectIssuerMixUp(t *testing.T) {
	ev := newEnv(t)
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "oauthy"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	for _, iss := range []string{"https://evil.example", ev.op.Issuer + "/", "", strings.ToUpper(ev.op.Issuer)} {
		status, _, resp := ev.post(noRedirect(b), "/connect", url.Values{"csrf": {csrfOf(t, page)}})
		require.Equal(t, http.StatusSeeOther, status)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		status, _, _ = ev.get(b, ev.base+"/connected?code=x&state="+url.QueryEscape(loc.Query().Get("state"))+"&iss="+url.QueryEscape(iss))
		assert.Equal(t, http.StatusBadRequest, status, "iss %q", iss)
	}
	assert.Equal(t, 0, ev.store.len())
}

// lastCSP fetches the form again and returns its Content-Security-Policy.
func (ev *env) lastCSP(b *http.Client) string {
	_, _, resp := ev.get(b, ev.base+"/")
	return resp.Header.Get("Content-Security-Policy")
}

// expire rewrites the stored credential's expiry to the past, keeping its
// (still valid) refresh token: the next read must refresh.
func (ev *env) expire(key string) provider.Credentials {
	c := ev.store.get(key)
	old := c.Merge(provider.NewCredentials(map[string]string{"expiry": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}, provider.Source{}))
	require.NoError(ev.t, memTarget{ev.store, key}.Put(context.Background(), "", old))
	return old
}

// TestRefreshTwoReplicas: two replicas (two Refresh-wrapped schemes over
// one store) read an expired OAuth credential at once, many times each:
// the OP's rotating refresh token is exchanged once, every read returns
// the same new token, and the store holds it (nothing lost, no lease
// left).
func TestRefreshTwoReplicas(t *testing.T) {
	ev := newEnv(t)
	ev.connect()
	const key = "users/sub-alice/oauthy"
	old := ev.expire(key)
	before := ev.op.RefreshCount()

	var replicas []provider.Provider
	for range 2 {
		var s provider.Schemes
		s.Register("mem", Refresh(ev.store.scheme(), []*OAuth{ev.third}))
		p, _, err := s.Provider("mem:" + key)
		require.NoError(t, err)
		replicas = append(replicas, p)
	}
	var wg sync.WaitGroup
	got := make(chan provider.Credentials, 32)
	for i := range 32 {
		wg.Go(func() {
			c, err := replicas[i%2].Retrieve(context.Background(), "")
			if assert.NoError(t, err) {
				got <- c
			}
		})
	}
	wg.Wait()
	close(got)
	stored := ev.store.get(key)
	assert.Equal(t, int64(1), ev.op.RefreshCount()-before, "the refresh token is exchanged once")
	assert.NotEqual(t, old.Value("token"), stored.Value("token"))
	assert.NotEqual(t, old.Value("refresh_token"), stored.Value("refresh_token"), "rotated")
	assert.False(t, stored.Has(fieldLease))
	n := 0
	for c := range got {
		n++
		assert.Equal(t, stored.Value("token"), c.Value("token"))
		assert.False(t, c.Expires.IsZero())
	}
	assert.Equal(t, 32, n)
}

// TestRefreshDead: a refresh token the OP no longer accepts makes an
// expired credential not found, so that the profile's source is empty and
// enrollment starts again; no lease is left behind.
func TestRefreshDead(t *testing.T) {
	ev := newEnv(t)
	ev.connect()
	const key = "users/sub-alice/oauthy"
	require.Positive(t, ev.op.Revoke("alice"))
	ev.expire(key)
	_, err := ev.pp.Retrieve(provider.ContextWithCaller(context.Background(), alice(ev.op.Issuer)), "oauthy")
	require.ErrorIs(t, err, profile.ErrSourceEmpty)
	assert.False(t, ev.store.get(key).Has(fieldLease))
	_, ok, err := ev.e.Enroll(context.Background(), nil, alice(ev.op.Issuer), "oauthy")
	require.NoError(t, err)
	assert.True(t, ok)
}
