package oauth2cred_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/oauth2cred"
)

// authority is the backend that issues tokens (a secrets store the
// provider reads) and the API server's view of which token is valid.
// Every token is a canary: random, so a test can look for it anywhere.
type authority struct {
	mu     sync.Mutex
	n      int
	tokens []string // every token issued, in order
	walks  atomic.Int64

	// perWalk makes every provider call issue a new token.
	perWalk bool
	// field names the credential field the provider answers with.
	field string
	// hook runs at the start of each provider call, with its number (1-based).
	hook func(ctx context.Context, walk int64) error
}

func newAuthority() *authority {
	a := &authority{field: provider.FieldToken}
	a.rotate()
	return a
}

// rotate issues a new token; the previous one is revoked.
func (a *authority) rotate() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	tok := fmt.Sprintf("tok_%s_v%d", rand.Text(), a.n)
	a.tokens = append(a.tokens, tok)
	return tok
}

// current is the token the backend holds now.
func (a *authority) current() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tokens[len(a.tokens)-1]
}

func (a *authority) issued() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.tokens...)
}

// Name names the provider for attribution.
func (a *authority) Name() string { return "secrets" }

// Retrieve answers every profile with the current token.
func (a *authority) Retrieve(ctx context.Context, _ string) (provider.Credentials, error) {
	n := a.walks.Add(1)
	if a.hook != nil {
		if err := a.hook(ctx, n); err != nil {
			return provider.Credentials{}, err
		}
	}
	if a.perWalk && n > 1 {
		a.rotate()
	}
	return provider.NewCredentials(map[string]string{a.field: a.current(), "region": "eu-west-1"},
		provider.Source{Locator: "store/mcp/api"}), nil
}

// newResolver is a resolver over a, logging at debug level to logs.
func newResolver(t testing.TB, a *authority, logs io.Writer, optFns ...func(*resolver.Options)) *resolver.Resolver {
	t.Helper()
	r, err := resolver.New([]provider.Provider{a}, append([]func(*resolver.Options){func(o *resolver.Options) {
		if logs != nil {
			o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}}, optFns...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newSource is oauth2cred.New for valid options.
func newSource(t testing.TB, r *resolver.Resolver, req resolver.Request, optFns ...func(*oauth2cred.Options)) *oauth2cred.Source {
	t.Helper()
	s, err := oauth2cred.New(r, req, optFns...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hit is one request the API server received.
type hit struct {
	method, path, auth, body string
}

// api is a real HTTP API that accepts a request only if its Authorization
// header carries the token accept says is valid.
type api struct {
	*httptest.Server
	accept  func(auth string) bool
	handler func(w http.ResponseWriter, r *http.Request) bool // runs first; true: answered

	mu   sync.Mutex
	hits []hit
}

// newAPI starts an API that accepts "Bearer " + a.current().
func newAPI(t testing.TB, a *authority) *api {
	t.Helper()
	s := &api{accept: func(auth string) bool { return auth == "Bearer "+a.current() }}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *api) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	s.hits = append(s.hits, hit{method: r.Method, path: r.URL.Path, auth: auth, body: string(body)})
	s.mu.Unlock()
	if s.handler != nil && s.handler(w, r) {
		return
	}
	if !s.accept(auth) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	fmt.Fprintf(w, "ok %s %d", r.Method, len(body))
}

func (s *api) received() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

// client returns an http.Client that authorizes through src.
func (s *api) client(src *oauth2cred.Source) *http.Client {
	return &http.Client{Transport: &oauth2cred.Transport{Source: src, Base: s.Client().Transport}}
}

// lockedBuffer is a bytes.Buffer that concurrent loggers may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// debugLogger logs every level to w.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// readAll reads and closes resp's body.
func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// closeTracker is a request body that records whether it was closed.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }
