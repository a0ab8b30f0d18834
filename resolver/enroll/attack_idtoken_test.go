package enroll

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/internal/testop"
	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
)

// craftOP is an OpenID provider whose token endpoint answers the ID token
// a test makes (claims as it likes, signed with the published key): what
// a misbehaving or compromised issuer, or a token meant for another
// client, would look like to the callback.
type craftOP struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	mu     sync.Mutex
	claims func(nonce string) map[string]any
	nonce  string // the nonce of the last authorization request
}

func newCraftOP(t *testing.T) *craftOP {
	t.Helper()
	op := &craftOP{}
	var err error
	op.key, err = rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	op.srv = httptest.NewServer(http.HandlerFunc(op.serve))
	t.Cleanup(op.srv.Close)
	return op
}

func (op *craftOP) serve(w http.ResponseWriter, r *http.Request) {
	iss := op.srv.URL
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
			"jwks_uri": iss + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	case "/keys":
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k", Algorithm: "RS256", Use: "sig"}}})
	case "/authorize":
		op.mu.Lock()
		op.nonce = r.URL.Query().Get("nonce")
		op.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case "/token":
		op.mu.Lock()
		claims := op.claims(op.nonce)
		op.mu.Unlock()
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: op.key, KeyID: "k"}}, nil)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		b, _ := json.Marshal(claims)
		jws, err := sig.Sign(b)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		raw, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-0123456789", "token_type": "Bearer", "expires_in": 60, "id_token": raw})
	default:
		http.NotFound(w, r)
	}
}

// TestIDTokenChecks: the callback accepts only an ID token that the
// issuer signed for this client (audience; with several audiences, or
// any azp at all, azp this client), unexpired, carrying this sign-in's
// nonce, naming the issuer and the ticket's subject; the answer's iss
// parameter, when sent, is the issuer. Nothing else opens the form.
func TestIDTokenChecks(t *testing.T) {
	op := newCraftOP(t)
	iss := op.srv.URL
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	path := filepath.Join(dir, "profiles.json")
	doc, _ := json.Marshal(map[string]any{"profiles": map[string]any{
		"mine": map[string]any{"source": "mem:users/{sub}/mine", "allow": map[string]any{"issuers": []string{iss}}}}})
	require.NoError(t, os.WriteFile(path, doc, 0o600))
	ms := newMapStore()
	var schemes provider.Schemes
	schemes.Register("mem", ms.scheme())
	pp, err := profile.New(&schemes, func(o *profile.Options) { o.Path = path })
	require.NoError(t, err)
	e, err := New(context.Background(), pp, Options{BaseURL: srv.URL + "/enroll", Key: []byte("0123456789abcdef0123456789abcdef"),
		Issuer: iss, ClientID: "me", ClientSecret: "s", Ledger: MemoryLedger(),
		Profiles: map[string]Profile{"mine": {Title: "T", Fields: []Field{{Name: "token"}}}}})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	h = e.Handler()

	good := func(nonce string) map[string]any {
		return map[string]any{"iss": iss, "sub": "alice", "aud": "me", "nonce": nonce,
			"exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix()}
	}
	with := func(k string, v any) func(string) map[string]any {
		return func(n string) map[string]any {
			c := good(n)
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return c
		}
	}
	for name, tc := range map[string]struct {
		claims func(string) map[string]any
		query  string
		status int
	}{
		"good": {good, "", http.StatusSeeOther},
		"good, several audiences": {func(n string) map[string]any {
			c := good(n)
			c["aud"] = []string{"me", "other"}
			c["azp"] = "me"
			return c
		}, "", http.StatusSeeOther},
		"good, iss parameter": {good, "&iss=" + url.QueryEscape(iss), http.StatusSeeOther},
		"another user":        {with("sub", "bob"), "", http.StatusForbidden},
		"no nonce":            {with("nonce", nil), "", http.StatusBadGateway},
		"another nonce":       {with("nonce", "n-0123456789"), "", http.StatusBadGateway},
		"another audience":    {with("aud", "other"), "", http.StatusBadGateway},
		"audiences, no azp":   {with("aud", []string{"me", "other"}), "", http.StatusBadGateway},
		"audiences, azp other": {func(n string) map[string]any {
			c := good(n)
			c["aud"] = []string{"me", "other"}
			c["azp"] = "other"
			return c
		}, "", http.StatusBadGateway},
		"one audience, azp other":  {with("azp", "other"), "", http.StatusBadGateway},
		"another issuer":           {with("iss", "https://evil.example"), "", http.StatusBadGateway},
		"expired":                  {with("exp", time.Now().Add(-time.Minute).Unix()), "", http.StatusBadGateway},
		"no expiry":                {with("exp", nil), "", http.StatusBadGateway},
		"iss parameter of another": {good, "&iss=https%3A%2F%2Fevil.example", http.StatusBadRequest},
		"empty iss parameter":      {good, "&iss=", http.StatusBadRequest},
		"no subject":               {with("sub", nil), "", http.StatusForbidden},
	} {
		t.Run(name, func(t *testing.T) {
			op.mu.Lock()
			op.claims = tc.claims
			op.mu.Unlock()
			link, ok, err := e.Enroll(context.Background(), nil, &provider.Caller{Issuer: iss, Subject: "alice"}, "mine")
			require.NoError(t, err)
			require.True(t, ok)
			b := noRedirect(testop.Browser())
			resp, err := b.Get(link.URL)
			require.NoError(t, err)
			readBody(resp)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			resp, err = b.Get(loc.String()) // the issuer records the nonce
			require.NoError(t, err)
			readBody(resp)
			resp, err = b.Get(srv.URL + "/enroll/callback?code=c0de&state=" + url.QueryEscape(loc.Query().Get("state")) + tc.query)
			require.NoError(t, err)
			readBody(resp)
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status != http.StatusSeeOther {
				assert.Empty(t, resp.Header.Get("Location"))
				for _, c := range resp.Cookies() {
					assert.NotEqual(t, cookieSession, c.Name, "no session for a refused sign-in")
				}
			}
		})
	}
	assert.Equal(t, 0, ms.len())
}
