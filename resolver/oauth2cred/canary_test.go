package oauth2cred_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/oauth2cred"
)

// TestTokenNeverInErrorsOrLogs drives every path of the Transport (success,
// rotation and retry, a 401 without another credential, an unreplayable
// body, a failing GetBody, a failing re-resolve, bad tokens) with canary
// tokens and a canary in the URL's query, and checks that no error and no
// log record of the resolver or of this package repeats any of them.
func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	a := newAuthority()
	var failWalks bool
	a.hook = func(context.Context, int64) error {
		if failWalks {
			return provider.Unavailable("secrets", "", "store/mcp/api", errors.New("connection refused"))
		}
		return nil
	}
	var logs lockedBuffer
	r := newResolver(t, a, &logs)
	srv := newAPI(t, a)
	rejectAll := false
	accept := srv.accept
	srv.accept = func(auth string) bool { return !rejectAll && accept(auth) }
	c := srv.client(newSource(t, r, resolver.Request{}, func(o *oauth2cred.Options) { o.Logger = debugLogger(&logs) }))

	queryCanary := "qs_" + rand.Text()
	u := srv.URL + "/v1/items/" + rand.Text() + "?api_key=" + queryCanary
	var errs []error
	do := func(method string, body io.Reader, getBody func() (io.ReadCloser, error)) int {
		t.Helper()
		req, err := http.NewRequest(method, u, body)
		require.NoError(t, err)
		if getBody != nil {
			req.GetBody = getBody
		}
		resp, err := c.Do(req)
		if err != nil {
			// http.Client wraps the Transport's error in a *url.Error that
			// quotes the whole URL; that part is net/http's.
			var ue *url.Error
			require.ErrorAs(t, err, &ue)
			errs = append(errs, ue.Err)
			return 0
		}
		readAll(t, resp)
		return resp.StatusCode
	}

	assert.Equal(t, 200, do("GET", nil, nil))
	a.rotate()
	assert.Equal(t, 200, do("POST", strings.NewReader("x"), nil), "rotated and retried")
	a.rotate()
	assert.Equal(t, 401, do("POST", io.NopCloser(strings.NewReader("x")), nil), "not replayable")
	assert.Equal(t, 200, do("GET", nil, nil), "the rejected token was dropped")
	a.rotate()
	assert.Equal(t, 401, do("POST", strings.NewReader("x"), func() (io.ReadCloser, error) {
		return nil, errors.New("spool gone")
	}), "GetBody fails")
	rejectAll = true
	assert.Equal(t, 401, do("GET", nil, nil), "no other credential")
	failWalks = true
	assert.Equal(t, 401, do("GET", nil, nil), "re-resolve fails")
	assert.Equal(t, 0, do("GET", nil, nil), "nothing cached, nothing to resolve")
	require.NotEmpty(t, errs)

	// Bad tokens, through the same logs.
	for _, bad := range []map[string]string{
		{"token": a.rotate() + "\r\nX-Evil: 1"},
		{"access_token": a.rotate()},
	} {
		p := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
			return provider.NewCredentials(bad, provider.Source{}), nil
		}), "secrets")
		r2, err := resolver.New([]provider.Provider{p})
		require.NoError(t, err)
		c2 := srv.client(newSource(t, r2, resolver.Request{}, func(o *oauth2cred.Options) { o.Logger = debugLogger(&logs) }))
		req, err := http.NewRequest(http.MethodGet, u, nil)
		require.NoError(t, err)
		_, err = c2.Transport.RoundTrip(req)
		require.Error(t, err)
		errs = append(errs, err)
		_, err = newSource(t, r2, resolver.Request{}).Token(context.Background())
		require.Error(t, err)
		errs = append(errs, err)
	}

	out := logs.String()
	for _, want := range []string{"retrying once", "cannot be sent again", "GetBody failed", "no other credential", "resolving a new credential failed"} {
		assert.Contains(t, out, want, "the 401 paths were driven")
	}
	canaries := append(a.issued(), queryCanary)
	for _, c := range canaries {
		for _, s := range []string{c, strings.ToLower(c)} {
			assert.NotContains(t, out, s)
			for _, err := range errs {
				assert.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), s)
			}
		}
	}
}
