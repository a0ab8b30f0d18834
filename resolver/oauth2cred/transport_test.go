package oauth2cred_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/oauth2cred"
)

func TestTransportSetsBearerToken(t *testing.T) {
	a := newAuthority()
	srv := newAPI(t, a)
	c := srv.client(newSource(t, newResolver(t, a, nil), resolver.Request{}))

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/things", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer caller-set")
	req.Header.Set("X-Trace", "1")
	resp, err := c.Do(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok GET 0", readAll(t, resp))

	hits := srv.received()
	require.Len(t, hits, 1)
	assert.Equal(t, "Bearer "+a.current(), hits[0].auth)
	// The caller's request is not modified.
	assert.Equal(t, "Bearer caller-set", req.Header.Get("Authorization"))
	assert.Equal(t, http.Header{"Authorization": {"Bearer caller-set"}, "X-Trace": {"1"}}, req.Header)

	// Later requests are cache hits: one provider call in all.
	for range 5 {
		resp, err := c.Get(srv.URL)
		require.NoError(t, err)
		readAll(t, resp)
	}
	assert.EqualValues(t, 1, a.walks.Load())
}

func TestTransportOptions(t *testing.T) {
	a := newAuthority()
	a.field = "access_token"
	srv := newAPI(t, a)
	srv.accept = func(auth string) bool { return auth == "Token "+a.current() }
	c := srv.client(newSource(t, newResolver(t, a, nil), resolver.Request{}, func(o *oauth2cred.Options) {
		o.Field = "access_token"
		o.TokenType = "Token"
	}))
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, readAll(t, resp))
}

// TestTransportRotation: the backend rotates the token and the API revokes
// the old one while the resolver still caches it. The next request is
// answered 401, re-resolves, and is retried once with the new token.
func TestTransportRotation(t *testing.T) {
	a := newAuthority()
	srv := newAPI(t, a)
	r := newResolver(t, a, nil)
	c := srv.client(newSource(t, r, resolver.Request{}))

	get := func() int {
		resp, err := c.Get(srv.URL)
		require.NoError(t, err)
		readAll(t, resp)
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, get())
	old := a.current()
	fresh := a.rotate()

	assert.Equal(t, http.StatusOK, get())
	hits := srv.received()
	require.Len(t, hits, 3)
	assert.Equal(t, []string{"Bearer " + old, "Bearer " + old, "Bearer " + fresh},
		[]string{hits[0].auth, hits[1].auth, hits[2].auth})
	assert.EqualValues(t, 2, a.walks.Load(), "one walk after the invalidation")

	// The new token is cached: no 401, no walk.
	assert.Equal(t, http.StatusOK, get())
	assert.Len(t, srv.received(), 4)
	assert.EqualValues(t, 2, a.walks.Load())
}

// TestTransportRetriesAtMostOnce: whatever the resolver answers, a request
// is sent at most twice.
func TestTransportRetriesAtMostOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		perWalk  bool // the backend hands out a new token on every walk
		wantHits int
	}{
		{"same token after re-resolving: no retry", false, 1},
		{"new token rejected too: no second retry", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthority()
			a.perWalk = tc.perWalk
			srv := newAPI(t, a)
			srv.accept = func(string) bool { return false } // the API rejects everything
			var logs lockedBuffer
			c := srv.client(newSource(t, newResolver(t, a, nil), resolver.Request{},
				func(o *oauth2cred.Options) { o.Logger = debugLogger(&logs) }))

			resp, err := c.Get(srv.URL + "/x")
			require.NoError(t, err)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Equal(t, "invalid token\n", readAll(t, resp), "the 401 is returned as it came")
			assert.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
			assert.Len(t, srv.received(), tc.wantHits)
			assert.EqualValues(t, 2, a.walks.Load(), "the rejected credential is re-resolved once")
			if !tc.perWalk {
				assert.Contains(t, logs.String(), "the resolver has no other credential")
			}
		})
	}
}

// TestTransportBodies: a request is retried only when its body can be sent
// again, and then the same body is sent.
func TestTransportBodies(t *testing.T) {
	const payload = `{"ip":"203.0.113.7"}`
	for _, tc := range []struct {
		name      string
		newReq    func(url string) (*http.Request, error)
		wantRetry bool
		wantBody  string
	}{
		{"GET without body", func(u string) (*http.Request, error) { return http.NewRequest("GET", u, nil) }, true, ""},
		{"http.NoBody", func(u string) (*http.Request, error) { return http.NewRequest("POST", u, http.NoBody) }, true, ""},
		{"bytes.Reader", func(u string) (*http.Request, error) {
			return http.NewRequest("POST", u, bytes.NewReader([]byte(payload)))
		}, true, payload},
		{"strings.Reader", func(u string) (*http.Request, error) {
			return http.NewRequest("PUT", u, strings.NewReader(payload))
		}, true, payload},
		{"bytes.Buffer", func(u string) (*http.Request, error) {
			return http.NewRequest("PATCH", u, bytes.NewBufferString(payload))
		}, true, payload},
		{"custom GetBody", func(u string) (*http.Request, error) {
			req, err := http.NewRequest("POST", u, io.NopCloser(strings.NewReader(payload)))
			if err == nil {
				req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(payload)), nil }
			}
			return req, err
		}, true, payload},
		{"stream without GetBody", func(u string) (*http.Request, error) {
			return http.NewRequest("POST", u, io.NopCloser(strings.NewReader(payload)))
		}, false, payload},
		{"GetBody fails", func(u string) (*http.Request, error) {
			req, err := http.NewRequest("POST", u, strings.NewReader(payload))
			if err == nil {
				req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("spool gone") }
			}
			return req, err
		}, false, payload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthority()
			srv := newAPI(t, a)
			var logs lockedBuffer
			c := srv.client(newSource(t, newResolver(t, a, nil), resolver.Request{},
				func(o *oauth2cred.Options) { o.Logger = debugLogger(&logs) }))
			warm, err := c.Get(srv.URL)
			require.NoError(t, err)
			readAll(t, warm)
			a.rotate()

			req, err := tc.newReq(srv.URL + "/rules")
			require.NoError(t, err)
			resp, err := c.Do(req)
			require.NoError(t, err)
			body := readAll(t, resp)
			hits := srv.received()[1:]
			if tc.wantRetry {
				assert.Equal(t, http.StatusOK, resp.StatusCode, body)
				require.Len(t, hits, 2)
				assert.Equal(t, tc.wantBody, hits[0].body)
				assert.Equal(t, tc.wantBody, hits[1].body, "the body is replayed")
				assert.Equal(t, hits[0].method, hits[1].method)
			} else {
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				assert.Equal(t, "invalid token\n", body)
				require.Len(t, hits, 1)
				assert.Equal(t, tc.wantBody, hits[0].body)
				assert.Contains(t, logs.String(), "not retried")
				// The rejected credential was still dropped: the next
				// request goes through at once.
				resp, err := c.Get(srv.URL)
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode, readAll(t, resp))
				assert.Len(t, srv.received(), 3)
			}
		})
	}
}

// TestTransportRequestCredentialsNotRetried: credentials passed in the
// resolver request are never cached, so a 401 is final.
func TestTransportRequestCredentialsNotRetried(t *testing.T) {
	a := newAuthority()
	srv := newAPI(t, a)
	r := newResolver(t, a, nil, func(o *resolver.Options) { o.AllowRequestCredentials = true })
	inline := provider.NewCredentials(map[string]string{provider.FieldToken: "tok_inline_" + a.rotate()}, provider.Source{})
	c := srv.client(newSource(t, r, resolver.Request{Credentials: inline}))
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	readAll(t, resp)
	hits := srv.received()
	require.Len(t, hits, 1)
	assert.Equal(t, "Bearer "+inline.Value(provider.FieldToken), hits[0].auth)
	assert.Zero(t, a.walks.Load(), "request credentials never reach the chain")
}

// TestTransportConcurrentRotation: many requests at once, before and after
// a rotation; every one succeeds, none is sent more than twice.
func TestTransportConcurrentRotation(t *testing.T) {
	a := newAuthority()
	srv := newAPI(t, a)
	c := srv.client(newSource(t, newResolver(t, a, nil), resolver.Request{}))
	const workers, each = 16, 8

	phase := func() {
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Go(func() {
				for j := range each {
					var body io.Reader
					if j%2 == 1 {
						body = strings.NewReader("payload")
					}
					req, err := http.NewRequest(http.MethodPost, srv.URL, body)
					if err != nil {
						errs <- err
						continue
					}
					resp, err := c.Do(req)
					if err != nil {
						errs <- err
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						errs <- errors.New(resp.Status)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	phase()
	require.Len(t, srv.received(), workers*each, "no 401 before the rotation")
	walks := a.walks.Load()
	a.rotate()
	phase()
	hits := srv.received()[workers*each:]
	assert.Greater(t, len(hits), workers*each, "requests with the revoked token were rejected and retried")
	assert.LessOrEqual(t, len(hits), 2*workers*each, "no request was sent more than twice")
	assert.Greater(t, a.walks.Load(), walks)
	t.Logf("after the rotation: %d requests sent for %d calls, %d provider walks", len(hits), workers*each, a.walks.Load()-walks)
	for _, h := range hits {
		if h.method == http.MethodPost && h.body != "" {
			assert.Equal(t, "payload", h.body)
		}
	}
}

// TestTransportContextCancellation: cancelling the request's context stops
// it wherever it waits: on the resolver, on the server, on the re-resolve.
func TestTransportContextCancellation(t *testing.T) {
	t.Run("while resolving", func(t *testing.T) {
		a := newAuthority()
		entered := make(chan struct{})
		a.hook = func(ctx context.Context, _ int64) error {
			close(entered)
			<-ctx.Done()
			return provider.Unavailable("secrets", "", "", ctx.Err())
		}
		srv := newAPI(t, a)
		c := srv.client(newSource(t, newResolver(t, a, nil), resolver.Request{}))
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-entered; cancel() }()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, &closeTracker{Reader: strings.NewReader("x")})
		require.NoError(t, err)
		_, err = c.Do(req)
		require.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, srv.received())
		assert.True(t, req.Body.(*closeTracker).closed.Load(), "the request body is closed on errors")
	})
	t.Run("while the server answers", func(t *testing.T) {
		a := newAuthority()
		srv := newAPI(t, a)
		entered := make(chan struct{})
		srv.handler = func(w http.ResponseWriter, r *http.Request) bool {
			close(entered)
			<-r.Context().Done()
			return true
		}
		c := srv.client(newSource(t, newResolver(t, a, nil), resolver.Request{}))
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-entered; cancel() }()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		_, err = c.Do(req)
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("while re-resolving after a 401", func(t *testing.T) {
		a := newAuthority()
		ctx, cancel := context.WithCancel(context.Background())
		a.hook = func(ctx context.Context, walk int64) error {
			if walk == 1 {
				return nil
			}
			cancel()
			<-ctx.Done()
			return provider.Unavailable("secrets", "", "", ctx.Err())
		}
		srv := newAPI(t, a)
		var logs lockedBuffer
		c := srv.client(newSource(t, newResolver(t, a, nil), resolver.Request{},
			func(o *oauth2cred.Options) { o.Logger = debugLogger(&logs) }))
		warm, err := c.Get(srv.URL)
		require.NoError(t, err)
		readAll(t, warm)
		a.rotate()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		resp, err := c.Transport.RoundTrip(req)
		require.NoError(t, err, "the 401 is the answer")
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		readAll(t, resp)
		assert.Len(t, srv.received(), 2, "not retried")
		assert.Contains(t, logs.String(), "resolving a new credential failed")
	})
}

// TestTransportErrors: failures before anything is sent close the body and
// name no value.
func TestTransportErrors(t *testing.T) {
	empty, err := resolver.New(nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		tr   *oauth2cred.Transport
		is   error
	}{
		{"nil Source", &oauth2cred.Transport{}, nil},
		{"no credentials", &oauth2cred.Transport{Source: newSource(t, empty, resolver.Request{})}, resolver.ErrNoCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &closeTracker{Reader: strings.NewReader("x")}
			req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", body)
			require.NoError(t, err)
			resp, err := tc.tr.RoundTrip(req)
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.True(t, strings.HasPrefix(err.Error(), "oauth2cred: "), err.Error())
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.True(t, body.closed.Load())
		})
	}
}

// TestTransportKeepsReplacedCredential: a 401 for a token that the resolver
// has already replaced (a concurrent request re-resolved it) retries with
// the replacement and does not invalidate it, so a burst of 401s after one
// rotation does not make one provider walk per request.
func TestTransportKeepsReplacedCredential(t *testing.T) {
	a := newAuthority()
	r := newResolver(t, a, nil)
	srv := newAPI(t, a)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv.handler = func(http.ResponseWriter, *http.Request) bool {
		once.Do(func() { close(entered); <-release })
		return false
	}
	c := srv.client(newSource(t, r, resolver.Request{}))

	done := make(chan *http.Response)
	go func() {
		resp, err := c.Get(srv.URL)
		assert.NoError(t, err)
		done <- resp
	}()
	<-entered // the request carries v1
	a.rotate()
	r.Invalidate("") // as a concurrent request's 401 would
	_, err := r.Resolve(context.Background(), resolver.Request{})
	require.NoError(t, err)
	require.EqualValues(t, 2, a.walks.Load())
	close(release)

	resp := <-done
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode, readAll(t, resp))
	hits := srv.received()
	require.Len(t, hits, 2)
	assert.Equal(t, "Bearer "+a.current(), hits[1].auth)
	// The replacement is still cached: the next request needs no walk.
	resp, err = c.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, readAll(t, resp))
	assert.EqualValues(t, 2, a.walks.Load(), "the replacement was not invalidated")
}

// TestTransportRedirects: the token goes only to the origin of the request
// the caller sent, whatever hops http.Client follows.
func TestTransportRedirects(t *testing.T) {
	a := newAuthority()
	srv := newAPI(t, a)
	other := newAPI(t, a) // another origin: same host, another port
	other.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/back" {
			http.Redirect(w, r, srv.URL+"/final", http.StatusFound)
		} else {
			fmt.Fprint(w, "elsewhere")
		}
		return true
	}
	srv.handler = func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case "/bounce":
			http.Redirect(w, r, other.URL+"/back", http.StatusTemporaryRedirect)
		default:
			return false
		}
		return true
	}
	want := "Bearer " + a.current()
	c := srv.client(newSource(t, newResolver(t, a, nil), resolver.Request{}))
	for _, tc := range []struct {
		path      string
		wantHere  []string // Authorization of each hit on srv
		wantThere []string // and on other
	}{
		{"/same", []string{want, want}, nil},
		{"/away", []string{want}, []string{""}},
		{"/bounce", []string{want, want}, []string{""}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			before, beforeOther := len(srv.received()), len(other.received())
			req, err := http.NewRequest(http.MethodPost, srv.URL+tc.path, strings.NewReader("body"))
			require.NoError(t, err)
			resp, err := c.Do(req)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode, readAll(t, resp))
			var here, there []string
			for _, h := range srv.received()[before:] {
				here = append(here, h.auth)
			}
			for _, h := range other.received()[beforeOther:] {
				there = append(there, h.auth)
			}
			assert.Equal(t, tc.wantHere, here)
			assert.Equal(t, tc.wantThere, there)
		})
	}
	t.Run("chain that cannot be followed", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/final", nil)
		require.NoError(t, err)
		req.Response = &http.Response{} // a hop whose first request is unknown
		resp, err := c.Transport.RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		readAll(t, resp)
		hits := srv.received()
		assert.Empty(t, hits[len(hits)-1].auth)
	})
}
