package enroll

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/internal/testop"
	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
)

// mapStore is a provider.Store over a map, the "mem:" scheme: unit tests'
// stand-in for a shared store (two Schemes over one mapStore are two
// replicas over one Vault).
type mapStore struct {
	mu     sync.Mutex
	m      map[string]provider.Credentials
	writes atomic.Int64
}

func newMapStore() *mapStore { return &mapStore{m: map[string]provider.Credentials{}} }

type memTarget struct {
	s   *mapStore
	key string
}

func (t memTarget) Name() string { return "mem" }

func (t memTarget) Retrieve(context.Context, string) (provider.Credentials, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	c, ok := t.s.m[t.key]
	if !ok {
		return provider.Credentials{}, provider.NotFound("mem", "", "", "nothing stored")
	}
	return c, nil
}

func (t memTarget) Put(_ context.Context, _ string, c provider.Credentials) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.s.m[t.key] = provider.NewCredentialsFromSecrets(fieldsOf(c), provider.Source{Provider: "mem"})
	t.s.writes.Add(1)
	return nil
}

func (t memTarget) Delete(context.Context, string) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	delete(t.s.m, t.key)
	return nil
}

func (t memTarget) CompareAndSwap(_ context.Context, _ string, old, next provider.Credentials) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if !t.s.m[t.key].Equal(old) {
		return provider.ErrConflict
	}
	t.s.m[t.key] = provider.NewCredentialsFromSecrets(fieldsOf(next), provider.Source{Provider: "mem"})
	t.s.writes.Add(1)
	return nil
}

func fieldsOf(c provider.Credentials) map[string]provider.Secret {
	m := map[string]provider.Secret{}
	for _, n := range c.Names() {
		m[n] = c.Get(n)
	}
	return m
}

func (s *mapStore) get(key string) provider.Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}

func (s *mapStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *mapStore) scheme() provider.Scheme {
	return provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{Provider: memTarget{s, ref.Body}, Resources: []provider.Resource{{Scheme: "mem", Path: ref.Body}}}, nil
	})
}

// clock is a test clock: real time plus an offset.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

const (
	enrollClient = "mcp-enroll"
	enrollSecret = "enroll-client-secret-0123456789"
	thirdClient  = "third-party"
	thirdSecret  = "third-party-secret-0123456789"
	alicePass    = "alice-password-0123"
	bobPass      = "bob-password-0123"
)

// env is a running enrollment: a real OpenID provider (internal/testop)
// that signs users in and also plays the OAuth third party, the pages on
// an httptest server, a profiles file over the mem: store.
type env struct {
	t       *testing.T
	op      *testop.OP
	srv     *httptest.Server
	base    string
	store   *mapStore
	e       *Enroller
	clock   *clock
	ledger  Ledger
	schemes *provider.Schemes
	pp      *profile.Provider
	third   *OAuth
	logs    *strings.Builder
	logMu   *sync.Mutex
}

var alice = func(iss string) *provider.Caller { return &provider.Caller{Issuer: iss, Subject: "alice"} }

func newEnv(t *testing.T, mods ...func(*Options)) *env {
	t.Helper()
	var h atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	base := srv.URL + "/enroll"

	op, err := testop.Start("https://mcp.example.com/mcp")
	require.NoError(t, err)
	t.Cleanup(func() { op.Close() })
	require.NoError(t, op.AddUser(testop.User{Subject: "alice", Username: "alice", Password: alicePass}))
	require.NoError(t, op.AddUser(testop.User{Subject: "bob", Username: "bob", Password: bobPass}))
	require.NoError(t, op.AddWebClient(testop.WebClient{ID: enrollClient, Secret: enrollSecret, RedirectURIs: []string{base + "/callback"}}))
	require.NoError(t, op.AddWebClient(testop.WebClient{ID: thirdClient, Secret: thirdSecret, RedirectURIs: []string{base + "/connected"}}))

	ctx := context.Background()
	disc, err := oidc.NewProvider(ctx, op.Issuer)
	require.NoError(t, err)
	third := &OAuth{Name: "thirdparty", Config: &oauth2.Config{ClientID: thirdClient, ClientSecret: thirdSecret, Endpoint: disc.Endpoint(), Scopes: []string{"openid", "offline_access"}}, Issuer: op.Issuer}

	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	path := filepath.Join(dir, "profiles.json")
	allow := map[string]any{"issuers": []string{op.Issuer}}
	doc, _ := json.Marshal(map[string]any{"profiles": map[string]any{
		"mine":   map[string]any{"source": "mem:users/{sub}/mine", "allow": allow},
		"other":  map[string]any{"source": "mem:users/{sub}/other", "allow": allow},
		"oauthy": map[string]any{"source": "mem:users/{sub}/oauthy", "allow": allow},
		"shared": map[string]any{"source": "mem:users/shared", "allow": allow},
	}})
	require.NoError(t, os.WriteFile(path, doc, 0o600))
	ms := newMapStore()
	var schemes provider.Schemes
	schemes.Register("mem", Refresh(ms.scheme(), []*OAuth{third}))
	pp, err := profile.New(&schemes, func(o *profile.Options) { o.Path = path })
	require.NoError(t, err)

	ev := &env{t: t, op: op, srv: srv, base: base, store: ms, clock: &clock{}, ledger: MemoryLedger(), schemes: &schemes, pp: pp, third: third,
		logs: &strings.Builder{}, logMu: &sync.Mutex{}}
	opts := Options{
		BaseURL: base, Key: []byte("0123456789abcdef0123456789abcdef"),
		Issuer: op.Issuer, ClientID: enrollClient, ClientSecret: enrollSecret,
		Profiles: map[string]Profile{
			"mine":   {Title: "Example API", Fields: []Field{{Name: "token", Label: "API token"}}},
			"other":  {Title: "Other API", Fields: []Field{{Name: "access_key_id", Label: "Key id", Plain: true}, {Name: "secret_access_key", Label: "Secret"}}},
			"oauthy": {Title: "Third party", OAuth: third},
			"shared": {Title: "Shared", Fields: []Field{{Name: "token"}}},
		},
		Ledger:       ev.ledger,
		Now:          ev.clock.now,
		PollInterval: 20 * time.Millisecond,
		Logger:       newTestLogger(ev),
	}
	for _, m := range mods {
		m(&opts)
	}
	e, err := New(ctx, pp, opts)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	ev.e = e
	hh := e.Handler()
	h.Store(&hh)
	return ev
}

// link makes a ticket for caller and profile, without a session.
func (ev *env) link(c *provider.Caller, name string) string {
	ev.t.Helper()
	p, ok, err := ev.e.Enroll(context.Background(), nil, c, name)
	require.NoError(ev.t, err)
	require.True(ev.t, ok)
	return p.URL
}

// signIn follows link in a new browser and signs in as user; it returns
// the browser and the last response's status and body.
func (ev *env) signIn(link, user, pass string) (*http.Client, int, string) {
	ev.t.Helper()
	b := testop.Browser()
	resp, err := testop.SignIn(context.Background(), b, link, user, pass)
	require.NoError(ev.t, err)
	return b, resp.StatusCode, readBody(resp)
}

func readBody(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	require.NotNil(t, m, "no csrf field on the page")
	return m[1]
}

// post sends a same-origin form post as a browser does.
func (ev *env) post(b *http.Client, path string, form url.Values, mod ...func(*http.Request)) (int, string, *http.Response) {
	ev.t.Helper()
	req, err := http.NewRequest(http.MethodPost, ev.base+path, strings.NewReader(form.Encode()))
	require.NoError(ev.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", ev.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, m := range mod {
		m(req)
	}
	resp, err := b.Do(req)
	require.NoError(ev.t, err)
	return resp.StatusCode, readBody(resp), resp
}

func (ev *env) get(b *http.Client, rawURL string) (int, string, *http.Response) {
	ev.t.Helper()
	resp, err := b.Get(rawURL)
	require.NoError(ev.t, err)
	return resp.StatusCode, readBody(resp), resp
}

// noRedirect is b that does not follow redirects.
func noRedirect(b *http.Client) *http.Client {
	return &http.Client{Jar: b.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (ev *env) logText() string {
	ev.logMu.Lock()
	defer ev.logMu.Unlock()
	return ev.logs.String()
}

func testopBrowser() *http.Client { return testop.Browser() }

func testopSignIn(b *http.Client, link, user, pass string) (*http.Response, error) {
	return testop.SignIn(context.Background(), b, link, user, pass)
}
