package enroll_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/mcpcred/mcpcred/internal/testop"
	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver/enroll"
)

// memory is a tiny provider.Store scheme for the example; a server uses
// vault (KV v2), keychain or encfile.
type memory struct {
	mu sync.Mutex
	m  map[string]provider.Credentials
}

type memoryTarget struct {
	s   *memory
	key string
}

func (t memoryTarget) Retrieve(context.Context, string) (provider.Credentials, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if c, ok := t.s.m[t.key]; ok {
		return c, nil
	}
	return provider.Credentials{}, provider.NotFound("memory", "", "", "nothing stored")
}

func (t memoryTarget) Put(_ context.Context, _ string, c provider.Credentials) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.s.m[t.key] = c
	return nil
}

func (t memoryTarget) Delete(context.Context, string) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	delete(t.s.m, t.key)
	return nil
}

func (t memoryTarget) CompareAndSwap(_ context.Context, _ string, old, next provider.Credentials) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if !t.s.m[t.key].Equal(old) {
		return provider.ErrConflict
	}
	t.s.m[t.key] = next
	return nil
}

func (s *memory) Open(ref provider.Ref) (provider.Target, error) {
	return provider.Target{Provider: memoryTarget{s, ref.Body}, Resources: []provider.Resource{{Scheme: "memory", Path: ref.Body}}}, nil
}

// ExampleNew: a user of a remote MCP server adds their API token in the
// browser. The test OpenID provider stands in for the issuer of the MCP
// callers' tokens, and a cookie-jar HTTP client for the browser.
func ExampleNew() {
	ctx := context.Background()
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer srv.Close()
	base := srv.URL + "/enroll"

	op, err := testop.Start(srv.URL + "/mcp")
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	op.AddUser(testop.User{Subject: "alice", Username: "alice", Password: "correct horse"})
	op.AddWebClient(testop.WebClient{ID: "mcp-enroll", Secret: "enroll-secret", RedirectURIs: []string{base + "/callback"}})

	// The profiles file: "mine" is each user's own, in the store.
	dir, _ := os.MkdirTemp("", "enroll-example")
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o700)
	path := filepath.Join(dir, "profiles.json")
	os.WriteFile(path, []byte(`{"profiles": {"mine": {"source": "memory:users/{sub}", "allow": {"issuers": ["`+op.Issuer+`"]}}}}`), 0o600)
	store := &memory{m: map[string]provider.Credentials{}}
	var schemes provider.Schemes
	schemes.Register("memory", store)
	profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Path = path })
	if err != nil {
		log.Fatal(err)
	}

	e, err := enroll.New(ctx, profiles, enroll.Options{
		BaseURL:  base,
		Key:      []byte("an example key of at least 32 bytes, random in real life"),
		Issuer:   op.Issuer,
		ClientID: "mcp-enroll", ClientSecret: "enroll-secret",
		Profiles: map[string]enroll.Profile{"mine": {Title: "Example API", Fields: []enroll.Field{{Name: "token", Label: "API token"}}}},
		Ledger:   enroll.MemoryLedger(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	handler = e.Handler()

	// A tool call of alice's found nothing for "mine": the server answers
	// with this elicitation (mcptool does it; a nil session gets no
	// completion notice).
	alice := &provider.Caller{Issuer: op.Issuer, Subject: "alice"}
	elicit, ok, err := e.Enroll(ctx, nil, alice, "mine")
	if err != nil || !ok {
		log.Fatal(ok, err)
	}
	fmt.Println(elicit.Mode, strings.HasPrefix(elicit.URL, base+"/start?t="))

	// Alice opens the link, signs in, and submits the form.
	browser := testop.Browser()
	resp, err := testop.SignIn(ctx, browser, elicit.URL, "alice", "correct horse")
	if err != nil {
		log.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)[1]
	req, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(url.Values{"csrf": {string(csrf)}, "token": {"alice-api-token"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	resp, err = browser.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	// The profile now serves alice her own token.
	c, err := profiles.Retrieve(provider.ContextWithCaller(ctx, alice), "mine")
	fmt.Println(c.Value("token"), err)
	// Output:
	// url true
	// 200
	// alice-api-token <nil>
}

// ExampleReadEnv: the operator's part of Options, from the environment.
func ExampleReadEnv() {
	env := map[string]string{
		"MCP_ENROLL_URL":           "https://mcp.example.com/enroll",
		"MCP_ENROLL_KEY":           "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"MCP_ENROLL_CLIENT_ID":     "mcp-enroll",
		"MCP_ENROLL_CLIENT_SECRET": "secret",
		"MCP_ENROLL_LEDGER":        "vault:secret/data/mcpcred/used/",
	}
	cfg, err := enroll.ReadEnv(func(k string) string { return env[k] })
	fmt.Println(cfg.Enabled(), len(cfg.Key), cfg.Ledger, err)

	_, err = enroll.ReadEnv(func(k string) string {
		if k == "MCP_ENROLL_KEY" {
			return "c2hvcnQ="
		}
		return env[k]
	})
	fmt.Println(err)
	// Output:
	// true 32 vault:secret/data/mcpcred/used/ <nil>
	// enroll: MCP_ENROLL_KEY must be base64 of at least 32 bytes
}

// ExampleRefresh: register a storing scheme wrapped by Refresh, with the
// OAuth clients of the profiles that connect, so that every replica
// refreshes OAuth-connected credentials before they expire.
func ExampleRefresh() {
	github := &enroll.OAuth{Name: "github"} // Config: the client at the third party
	var schemes provider.Schemes
	schemes.Register("memory", enroll.Refresh(&memory{m: map[string]provider.Credentials{}}, []*enroll.OAuth{github}))
	fmt.Println(schemes.Names())
	// Output: [memory]
}
