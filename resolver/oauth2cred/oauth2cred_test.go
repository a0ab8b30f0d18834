package oauth2cred_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/static"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/oauth2cred"
)

func TestToken(t *testing.T) {
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		name     string
		fields   map[string]string
		expires  time.Time
		opts     func(*oauth2cred.Options)
		wantTok  string
		wantType string
	}{
		{"defaults", map[string]string{"token": "tok-a", "region": "x"}, time.Time{}, nil, "tok-a", "Bearer"},
		{"expiry", map[string]string{"token": "tok-b"}, expires, nil, "tok-b", "Bearer"},
		{"access_token field", map[string]string{"access_token": "tok-c", "token": "other"}, time.Time{},
			func(o *oauth2cred.Options) { o.Field = "access_token" }, "tok-c", "Bearer"},
		{"token type", map[string]string{"token": "tok-d"}, time.Time{},
			func(o *oauth2cred.Options) { o.TokenType = "DPoP" }, "tok-d", "DPoP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := static.New(tc.fields, func(o *static.Options) { o.Expires = tc.expires })
			r, err := resolver.New([]provider.Provider{p})
			require.NoError(t, err)
			var opts []func(*oauth2cred.Options)
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			src := newSource(t, r, resolver.Request{}, opts...)
			tok, err := src.Token(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tc.wantTok, tok.AccessToken)
			assert.Equal(t, tc.wantType, tok.TokenType)
			assert.Equal(t, tc.wantType, tok.Type())
			assert.True(t, tok.Expiry.Equal(tc.expires), "Expiry %v, want %v", tok.Expiry, tc.expires)
			assert.Empty(t, tok.RefreshToken)
			assert.True(t, tok.Valid())

			// The oauth2.TokenSource gives the same token.
			tok2, err := src.TokenSource(context.Background()).Token()
			require.NoError(t, err)
			assert.Equal(t, tok, tok2)
		})
	}
}

// TestTokenSourceSeesRotation: every Token call asks the resolver, so an
// invalidated credential is replaced at once; oauth2.ReuseTokenSource
// would keep serving the revoked token, which is why the package does not
// wrap its sources in one.
func TestTokenSourceSeesRotation(t *testing.T) {
	a := newAuthority()
	r := newResolver(t, a, nil)
	ts := newSource(t, r, resolver.Request{}).TokenSource(context.Background())
	reused := oauth2.ReuseTokenSource(nil, ts)

	tok, err := ts.Token()
	require.NoError(t, err)
	assert.Equal(t, a.current(), tok.AccessToken)
	reusedTok, err := reused.Token()
	require.NoError(t, err)
	assert.Equal(t, a.current(), reusedTok.AccessToken)

	a.rotate()
	r.Invalidate("")
	tok, err = ts.Token()
	require.NoError(t, err)
	assert.Equal(t, a.current(), tok.AccessToken)
	reusedTok, err = reused.Token()
	require.NoError(t, err)
	assert.NotEqual(t, a.current(), reusedTok.AccessToken, "ReuseTokenSource hides the rotation")
}

// TestTokenSourceContext: the plain TokenSource resolves with the context it
// was given; a nil one means context.Background().
func TestTokenSourceContext(t *testing.T) {
	a := newAuthority()
	var seen []any
	a.hook = func(ctx context.Context, _ int64) error {
		seen = append(seen, ctx.Value(ctxKey{}))
		return ctx.Err()
	}
	src := newSource(t, newResolver(t, a, nil), resolver.Request{})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := src.TokenSource(ctx).Token()
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, strings.HasPrefix(err.Error(), "oauth2cred: "), err.Error())
	_, err = src.Token(ctx)
	require.ErrorIs(t, err, context.Canceled)

	ctx = context.WithValue(context.Background(), ctxKey{}, "bound")
	tok, err := src.TokenSource(ctx).Token()
	require.NoError(t, err)
	assert.Equal(t, a.current(), tok.AccessToken)
	assert.Equal(t, []any{"bound"}, seen, "the provider ran with the bound context")

	var none context.Context
	tok, err = src.TokenSource(none).Token()
	require.NoError(t, err)
	assert.Equal(t, a.current(), tok.AccessToken)
}

type ctxKey struct{}

// TestTokenSourceWithOAuth2Transport: Source.TokenSource plugs into
// oauth2.Transport (without the retry on 401).
func TestTokenSourceWithOAuth2Transport(t *testing.T) {
	a := newAuthority()
	srv := newAPI(t, a)
	src := newSource(t, newResolver(t, a, nil), resolver.Request{})
	c := &http.Client{Transport: &oauth2.Transport{Source: src.TokenSource(context.Background()), Base: srv.Client().Transport}}
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, readAll(t, resp))
	assert.Equal(t, "Bearer "+a.current(), srv.received()[0].auth)
}

func TestNewInvalidOptions(t *testing.T) {
	r, err := resolver.New(nil)
	require.NoError(t, err)
	const secretish = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
	for _, tc := range []struct {
		name string
		r    *resolver.Resolver
		fn   func(*oauth2cred.Options)
		want string
	}{
		{"nil resolver", nil, nil, "the resolver is nil"},
		{"field with capitals", r, func(o *oauth2cred.Options) { o.Field = "Access-Token" }, "Options.Field"},
		{"field holding a token", r, func(o *oauth2cred.Options) { o.Field = secretish }, "Options.Field"},
		{"token type with a space", r, func(o *oauth2cred.Options) { o.TokenType = "Bearer x" }, "Options.TokenType"},
		{"token type holding a token", r, func(o *oauth2cred.Options) { o.TokenType = secretish + "\n" }, "Options.TokenType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*oauth2cred.Options)
			if tc.fn != nil {
				opts = append(opts, tc.fn)
			}
			s, err := oauth2cred.New(tc.r, resolver.Request{}, opts...)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "oauth2cred: "), err.Error())
			assert.NotContains(t, err.Error(), secretish)
		})
	}
}

// TestBadCredentials: credentials without the token field, or with a token
// that cannot go into a header, fail with a sentinel, name no value, and
// send nothing.
func TestBadCredentials(t *testing.T) {
	canary := "tok_" + strings.Repeat("CANARY", 4)
	for _, tc := range []struct {
		name   string
		fields map[string]string
		is     error
		want   string
	}{
		{"no token field", map[string]string{"access_token": canary, "region": "x"}, oauth2cred.ErrNoToken,
			`have no field "token" (they have access_token, region)`},
		{"header injection", map[string]string{"token": canary + "\r\nX-Admin: 1"}, oauth2cred.ErrInvalidToken, "-byte value, not shown"},
		{"space", map[string]string{"token": canary + " " + canary}, oauth2cred.ErrInvalidToken, "not shown"},
		{"non-ASCII", map[string]string{"token": canary + "é"}, oauth2cred.ErrInvalidToken, "not shown"},
		{"NUL", map[string]string{"token": canary + "\x00"}, oauth2cred.ErrInvalidToken, "not shown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := resolver.New([]provider.Provider{static.New(tc.fields)})
			require.NoError(t, err)
			src := newSource(t, r, resolver.Request{})
			_, err = src.Token(context.Background())
			require.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "from static")
			assert.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), canary)

			a := newAuthority()
			srv := newAPI(t, a)
			_, err = srv.client(src).Get(srv.URL)
			require.ErrorIs(t, err, tc.is)
			assert.NotContains(t, err.Error(), canary)
			assert.Empty(t, srv.received())
		})
	}
}
