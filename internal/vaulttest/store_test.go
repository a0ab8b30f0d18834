package vaulttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/vault"
)

// storePolicy is the least-privilege policy for per-user credentials and
// the enrollment ledger, as provider/vault's documentation gives it
// ("Storing"); testStoreDocumentedPolicy keeps the two the same.
const storePolicy = `
path "secret/data/mcp/users/*"       { capabilities = ["create", "read", "update"] }
path "secret/metadata/mcp/users/*"   { capabilities = ["delete"] }
path "secret/data/mcpcred/used/*"     { capabilities = ["create", "read", "update"] }
path "secret/metadata/mcpcred/used/*" { capabilities = ["delete"] }
`

// TestStore starts one in-process Vault and runs the provider.Store checks
// against it; the ones that seal or stop it run last.
func TestStore(t *testing.T) {
	s := startServer(t)
	if err := s.admin.Sys().PutPolicy("mcp-store", storePolicy); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *server)
	}{
		{"DocumentedPolicy", testStoreDocumentedPolicy},
		{"ReferenceRoundTrip", testStoreReferenceRoundTrip},
		{"ProfileRoundTrip", testStoreProfileRoundTrip},
		{"CompareAndSwapRace", testStoreCASRace},
		{"VaultRefusesStaleVersion", testStoreStaleVersion},
		{"CreateOnlyLedger", testStoreLedger},
		{"DeletedAndDestroyed", testStoreDeletedAndDestroyed},
		{"CASRequired", testStoreCASRequired},
		{"LeastPrivilege", testStoreLeastPrivilege},
		{"ReadOnly", testStoreReadOnly},
		{"Canary", testStoreCanary},
		{"Sealed", testStoreSealed},
		{"Stopped", testStoreStopped},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
	}
}

// storeToken returns a token with the store policy only (not even the
// default policy).
func (s *server) storeToken() string {
	s.t.Helper()
	sec, err := s.admin.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"mcp-store"}, NoDefaultPolicy: true, TTL: "1h"})
	if err != nil {
		s.t.Fatal(err)
	}
	return sec.Auth.ClientToken
}

// schemes returns provider.Schemes with the vault scheme logged in with tok.
func (s *server) schemes(t *testing.T, tok string, logs *logSink) *provider.Schemes {
	var ss provider.Schemes
	envm := map[string]string{"VAULT_ADDR": s.URL, "VAULT_MAX_RETRIES": "0", "HOME": t.TempDir()}
	ss.Register("vault", vault.Scheme(func(o *vault.Options) {
		o.Getenv = func(k string) string { return envm[k] }
		o.Auth = vault.TokenAuth(tok)
		if logs != nil {
			o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}))
	return &ss
}

func creds(kv ...string) provider.Credentials {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return provider.NewCredentials(m, provider.Source{})
}

// kvGone reports whether path (below secret/) has no metadata left: no
// version of it can be read back.
func (s *server) kvGone(t *testing.T, path string) bool {
	t.Helper()
	_, err := s.admin.KVv2("secret").GetMetadata(context.Background(), path)
	return errors.Is(err, api.ErrSecretNotFound)
}

func testStoreDocumentedPolicy(t *testing.T, _ *server) {
	doc, err := os.ReadFile("../../provider/vault/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(storePolicy), "\n") {
		if !strings.Contains(string(doc), "//\t"+line+"\n") {
			t.Errorf("provider/vault/doc.go does not document the policy line %s", line)
		}
	}
}

// testStoreReferenceRoundTrip writes, reads, replaces and deletes through
// the Store of a reference, as enrollment does for a per-subject source.
func testStoreReferenceRoundTrip(t *testing.T, s *server) {
	ctx := context.Background()
	st, ref, err := s.schemes(t, s.storeToken(), nil).Store("vault:secret/data/mcp/users/sub-alice")
	if err != nil {
		t.Fatal(err)
	}
	if ref.String() != "vault:secret/data/mcp/users/sub-alice" {
		t.Errorf("ref %s", ref)
	}
	if _, err := st.Retrieve(ctx, "mine"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("before Put: %v", err)
	}
	oauth := creds("token", "at-1", "refresh_token", "rt-1", "expiry", "2030-01-01T00:00:00Z", "token_type", "Bearer", "oauth_client", "github")
	if err := st.Put(ctx, "mine", oauth); err != nil {
		t.Fatal(err)
	}
	sec, err := s.admin.KVv2("secret").Get(ctx, "mcp/users/sub-alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(sec.Data) != 5 || sec.Data["refresh_token"] != "rt-1" {
		t.Fatalf("stored %d keys, want exactly the 5 fields", len(sec.Data))
	}
	c, err := st.Retrieve(ctx, "other-profile-ignored")
	if err != nil || !c.Equal(oauth) {
		t.Fatalf("Retrieve after Put: %v", err)
	}
	pasted := creds("token", "pasted")
	if err := st.Put(ctx, "mine", pasted); err != nil {
		t.Fatal(err)
	}
	if c, err := st.Retrieve(ctx, "mine"); err != nil || !c.Equal(pasted) {
		t.Fatalf("Retrieve after replace: %v", err)
	}
	if err := st.Delete(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Retrieve(ctx, "mine"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
	if !s.kvGone(t, "mcp/users/sub-alice") {
		t.Fatal("Delete left versions behind")
	}
	if err := st.Delete(ctx, "mine"); err != nil {
		t.Fatalf("deleting nothing: %v", err)
	}
}

func testStoreProfileRoundTrip(t *testing.T, s *server) {
	ctx := context.Background()
	tok := s.storeToken()
	p := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.TokenAuth(tok)
		o.PathTemplate = "mcp/users/{profile}"
	})
	for i := range 5 {
		c := creds("access_key_id", fmt.Sprint("AKIA", i), "secret_access_key", fmt.Sprint("secret-", i))
		if err := p.Put(ctx, "sub-carol", c); err != nil {
			t.Fatal(err)
		}
		got, err := p.Retrieve(ctx, "sub-carol")
		if err != nil || !got.Equal(c) {
			t.Fatalf("Retrieve after Put %d: %v", i, err)
		}
		if !strings.HasSuffix(got.Source.Locator, fmt.Sprint("?version=", i+1)) {
			t.Errorf("Locator %s, want version %d", got.Source.Locator, i+1)
		}
	}
	if err := p.Delete(ctx, "sub-carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Retrieve(ctx, "sub-carol"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
	if !s.kvGone(t, "mcp/users/sub-carol") {
		t.Fatal("Delete left versions behind")
	}
}

// testStoreCASRace: two replicas (separate providers and clients) refresh
// the same credential at once; exactly one write wins.
func testStoreCASRace(t *testing.T, s *server) {
	ctx := context.Background()
	replicas := make([]*vault.Provider, 2)
	for i := range replicas {
		tok := s.storeToken()
		replicas[i] = newProvider(t, s, nil, func(o *vault.Options) {
			o.Auth = vault.TokenAuth(tok)
			o.PathTemplate = "mcp/users/{profile}"
		})
	}
	for round := range 3 {
		old := creds("token", fmt.Sprint("old-", round), "refresh_token", fmt.Sprint("rt-old-", round))
		if err := replicas[0].Put(ctx, "sub-race", old); err != nil {
			t.Fatal(err)
		}
		// Both replicas have read it.
		for _, r := range replicas {
			if c, err := r.Retrieve(ctx, "sub-race"); err != nil || !c.Equal(old) {
				t.Fatalf("read old: %v", err)
			}
		}
		const n = 8
		type result struct {
			i   int
			err error
		}
		start := make(chan struct{})
		results := make(chan result, n)
		for i := range n {
			go func() {
				<-start
				next := creds("token", fmt.Sprintf("new-%d-%d", round, i), "refresh_token", fmt.Sprintf("rt-%d-%d", round, i))
				results <- result{i, replicas[i%2].CompareAndSwap(ctx, "sub-race", old, next)}
			}()
		}
		close(start)
		winner := -1
		for range n {
			r := <-results
			switch {
			case r.err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: goroutines %d and %d both won", round, winner, r.i)
				}
				winner = r.i
			case !errors.Is(r.err, provider.ErrConflict):
				t.Errorf("round %d: loser %d: %v, want ErrConflict", round, r.i, r.err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won", round)
		}
		want := creds("token", fmt.Sprintf("new-%d-%d", round, winner), "refresh_token", fmt.Sprintf("rt-%d-%d", round, winner))
		for _, r := range replicas {
			if c, err := r.Retrieve(ctx, "sub-race"); err != nil || !c.Equal(want) {
				t.Fatalf("round %d: stored value is not the winner's (%v)", round, err)
			}
		}
		t.Logf("round %d: goroutine %d (replica %d) won, %d conflicts", round, winner, winner%2, n-1)
	}
}

// interloper writes another value to the secret just before the first
// write request for it reaches Vault: the race that only Vault's
// check-and-set can see, since the compare before it succeeded.
type interloper struct {
	base  http.RoundTripper
	path  string
	once  sync.Once
	write func()
}

func (i *interloper) RoundTrip(r *http.Request) (*http.Response, error) {
	if (r.Method == http.MethodPut || r.Method == http.MethodPost) && r.URL.Path == "/v1/"+i.path {
		i.once.Do(i.write)
	}
	return i.base.RoundTrip(r)
}

func testStoreStaleVersion(t *testing.T, s *server) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, path string
		old        provider.Credentials
	}{
		{"swap", "mcp/users/sub-ivan", creds("refresh_token", "r1")},
		{"create-only", "mcp/users/sub-judy", provider.Credentials{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.old.IsZero() {
				s.putKV2(tc.path, map[string]any{"refresh_token": "r1"})
			}
			cfg := api.DefaultConfig()
			il := &interloper{base: cfg.HttpClient.Transport, path: "secret/data/" + tc.path, write: func() {
				s.putKV2(tc.path, map[string]any{"refresh_token": "r2-other-replica"})
			}}
			cfg.HttpClient.Transport = il
			tok := s.storeToken()
			p := newProvider(t, s, nil, func(o *vault.Options) {
				o.Config = cfg
				o.Auth = vault.TokenAuth(tok)
				o.PathTemplate = "{profile}"
			})
			err := p.CompareAndSwap(ctx, tc.path, tc.old, creds("refresh_token", "r2-"+canary))
			if !errors.Is(err, provider.ErrConflict) {
				t.Fatalf("%v, want ErrConflict", err)
			}
			checkNoLeak(t, "error", err.Error(), canary, "r2-other-replica", tok)
			c, err := p.Retrieve(ctx, tc.path)
			if err != nil || c.Value("refresh_token") != "r2-other-replica" {
				t.Fatalf("the other replica's value was lost: %v", err)
			}
		})
	}
}

// testStoreLedger: create-only writes are the enrollment ledger's claims.
func testStoreLedger(t *testing.T, s *server) {
	ctx := context.Background()
	ss := s.schemes(t, s.storeToken(), nil)
	st, _, err := ss.Store("vault:secret/data/mcpcred/used/t0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	marker := creds("until", "2030-01-01T00:00:00Z")
	if err := st.CompareAndSwap(ctx, "", provider.Credentials{}, marker); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if err := st.CompareAndSwap(ctx, "", provider.Credentials{}, marker); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("second claim: %v, want ErrConflict", err)
	}
	// Claims racing from two replicas: one wins.
	st2, _, err := s.schemes(t, s.storeToken(), nil).Store("vault:secret/data/mcpcred/used/t-race")
	if err != nil {
		t.Fatal(err)
	}
	st1, _, _ := ss.Store("vault:secret/data/mcpcred/used/t-race")
	errs := make(chan error, 8)
	start := make(chan struct{})
	for i := range 8 {
		st := []provider.Store{st1, st2}[i%2]
		go func() { <-start; errs <- st.CompareAndSwap(ctx, "", provider.Credentials{}, marker) }()
	}
	close(start)
	wins := 0
	for range 8 {
		switch err := <-errs; {
		case err == nil:
			wins++
		case !errors.Is(err, provider.ErrConflict):
			t.Errorf("claim: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d claims won, want 1", wins)
	}
	if err := st.Delete(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.CompareAndSwap(ctx, "", provider.Credentials{}, marker); err != nil {
		t.Fatalf("claim after Delete: %v", err)
	}
}

// testStoreDeletedAndDestroyed: a current version that is deleted or
// destroyed is "nothing stored".
func testStoreDeletedAndDestroyed(t *testing.T, s *server) {
	ctx := context.Background()
	st, _, err := s.schemes(t, s.storeToken(), nil).Store("vault:secret/data/mcp/users/sub-erin")
	if err != nil {
		t.Fatal(err)
	}
	a, b := creds("token", "a"), creds("token", "b")
	if err := st.Put(ctx, "", a); err != nil {
		t.Fatal(err)
	}
	if err := s.admin.KVv2("secret").Delete(ctx, "mcp/users/sub-erin"); err != nil {
		t.Fatal(err)
	}
	if err := st.CompareAndSwap(ctx, "", a, b); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("swap from a deleted value: %v, want ErrConflict", err)
	}
	if err := st.CompareAndSwap(ctx, "", provider.Credentials{}, b); err != nil {
		t.Fatalf("create-only over a deleted version: %v", err)
	}
	if err := s.admin.KVv2("secret").Destroy(ctx, "mcp/users/sub-erin", []int{2}); err != nil {
		t.Fatal(err)
	}
	if err := st.CompareAndSwap(ctx, "", provider.Credentials{}, a); err != nil {
		t.Fatalf("create-only over a destroyed version: %v", err)
	}
	if c, err := st.Retrieve(ctx, ""); err != nil || !c.Equal(a) {
		t.Fatalf("Retrieve: %v", err)
	}
}

// testStoreCASRequired: a mount with cas_required, and a secret with it.
func testStoreCASRequired(t *testing.T, s *server) {
	ctx := context.Background()
	if err := s.admin.Sys().Mount("strict", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.admin.Logical().Write("strict/config", map[string]any{"cas_required": true})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("configure strict/: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := s.admin.KVv2("strict").Put(ctx, "probe", map[string]any{"x": "y"}); err == nil {
		t.Fatal("the mount does not require check-and-set")
	}
	ss := s.schemes(t, s.root, nil)
	st, _, err := ss.Store("vault:strict/data/app/user")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c := creds("token", fmt.Sprint("v", i))
		if err := st.Put(ctx, "", c); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
		if got, err := st.Retrieve(ctx, ""); err != nil || !got.Equal(c) {
			t.Fatalf("Retrieve %d: %v", i, err)
		}
	}
	if err := st.CompareAndSwap(ctx, "", creds("token", "v2"), creds("token", "v3")); err != nil {
		t.Fatal(err)
	}
	if err := st.CompareAndSwap(ctx, "", creds("token", "v2"), creds("token", "v4")); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("stale swap: %v", err)
	}
	if err := st.Delete(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.CompareAndSwap(ctx, "", provider.Credentials{}, creds("token", "v5")); err != nil {
		t.Fatal(err)
	}

	// cas_required on one secret of a mount that does not require it.
	s.putKV2("mcp/users/sub-frank", map[string]any{"token": "f0"})
	if _, err := s.admin.Logical().Write("secret/metadata/mcp/users/sub-frank", map[string]any{"cas_required": true}); err != nil {
		t.Fatal(err)
	}
	st2, _, err := s.schemes(t, s.storeToken(), nil).Store("vault:secret/data/mcp/users/sub-frank")
	if err != nil {
		t.Fatal(err)
	}
	if err := st2.Put(ctx, "", creds("token", "f1")); err != nil {
		t.Fatal(err)
	}
	if got, err := st2.Retrieve(ctx, ""); err != nil || got.Value("token") != "f1" {
		t.Fatalf("Retrieve: %v", err)
	}
}

// testStoreLeastPrivilege: the documented policy is enough under its
// paths, and nothing elsewhere.
func testStoreLeastPrivilege(t *testing.T, s *server) {
	ctx := context.Background()
	s.putKV2("mcp/other", map[string]any{"token": "other"})
	ss := s.schemes(t, s.storeToken(), nil)
	for _, ref := range []string{"vault:secret/data/mcp/users/sub-gina", "vault:secret/data/mcpcred/used/t-gina"} {
		st, _, err := ss.Store(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, b := creds("token", "a"), creds("token", "b")
		if err := st.Put(ctx, "", a); err != nil {
			t.Fatalf("%s: Put: %v", ref, err)
		}
		if err := st.Put(ctx, "", b); err != nil {
			t.Fatalf("%s: Put again: %v", ref, err)
		}
		if c, err := st.Retrieve(ctx, ""); err != nil || !c.Equal(b) {
			t.Fatalf("%s: Retrieve: %v", ref, err)
		}
		if err := st.CompareAndSwap(ctx, "", b, a); err != nil {
			t.Fatalf("%s: CompareAndSwap: %v", ref, err)
		}
		if err := st.Delete(ctx, ""); err != nil {
			t.Fatalf("%s: Delete: %v", ref, err)
		}
		if err := st.CompareAndSwap(ctx, "", provider.Credentials{}, a); err != nil {
			t.Fatalf("%s: create-only: %v", ref, err)
		}
	}
	// Elsewhere: refused, naming the path and the capability.
	for _, ref := range []string{"vault:secret/data/mcp/other", "vault:secret/data/mcp/users2/x"} {
		st, _, err := ss.Store(ref)
		if err != nil {
			t.Fatal(err)
		}
		path := strings.TrimPrefix(ref, "vault:")
		meta := strings.Replace(path, "/data/", "/metadata/", 1)
		for op, tc := range map[string]struct {
			fn         func() error
			path, caps string
		}{
			"Put":            {func() error { return st.Put(ctx, "", creds("token", "x")) }, path, "create or update"},
			"CompareAndSwap": {func() error { return st.CompareAndSwap(ctx, "", provider.Credentials{}, creds("token", "x")) }, path, "read"},
			"Delete":         {func() error { return st.Delete(ctx, "") }, meta, "delete"},
			"Retrieve":       {func() error { _, err := st.Retrieve(ctx, ""); return err }, path, "read"},
		} {
			err := tc.fn()
			var pe *vault.PermissionError
			if !errors.As(err, &pe) || pe.Path != tc.path || pe.Capability != tc.caps {
				t.Errorf("%s %s: %v, want PermissionError %q on %s", op, ref, err, tc.caps, tc.path)
			}
			if errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable) {
				t.Errorf("%s %s: %v is not a permission error only", op, ref, err)
			}
		}
	}
	if sec, err := s.admin.KVv2("secret").Get(ctx, "mcp/other"); err != nil || sec.Data["token"] != "other" {
		t.Fatal("a refused write changed the secret")
	}
}

func testStoreReadOnly(t *testing.T, s *server) {
	ctx := context.Background()
	s.write("kv1/mcp/ro", map[string]any{"token": "v1"})
	ss := s.schemes(t, s.root, nil)
	v := s.putKV2("mcp/users/sub-pinned", map[string]any{"token": "p"})
	for _, ref := range []string{"vault:kv1/mcp/ro", "vault:leased/creds/x", fmt.Sprintf("vault:secret/data/mcp/users/sub-pinned?version=%d", v)} {
		st, _, err := ss.Store(ref)
		if err != nil {
			t.Fatal(err)
		}
		for op, err := range map[string]error{
			"Put":            st.Put(ctx, "", creds("token", canary)),
			"CompareAndSwap": st.CompareAndSwap(ctx, "", provider.Credentials{}, creds("token", canary)),
			"Delete":         st.Delete(ctx, ""),
		} {
			if !errors.Is(err, provider.ErrReadOnly) {
				t.Errorf("%s %s: %v, want ErrReadOnly", op, ref, err)
			}
		}
	}
	if sec, err := s.admin.Logical().Read("kv1/mcp/ro"); err != nil || sec.Data["token"] != "v1" {
		t.Fatal("KV v1 secret changed")
	}
	if sec, err := s.admin.KVv2("secret").Get(ctx, "mcp/users/sub-pinned"); err != nil || sec.VersionMetadata.Version != v {
		t.Fatal("pinned secret changed")
	}
}

// testStoreCanary: no value, token or hostile path in any error or log.
func testStoreCanary(t *testing.T, s *server) {
	ctx := context.Background()
	tok := s.storeToken()
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) {
		o.Auth = vault.TokenAuth(tok)
		o.PathTemplate = "mcp/users/{profile}"
	})
	ss := s.schemes(t, tok, logs)
	// A secret pasted where a subject or profile belongs.
	const hostile = "ghp_ABCDEFghijkl0123456789xyzXYZ"
	val := creds("token", canary)
	var errs []error
	add := func(err error) {
		if err == nil {
			t.Error("no error")
			return
		}
		errs = append(errs, err)
	}
	if err := p.Put(ctx, hostile, val); err != nil {
		t.Fatal(err)
	}
	add(p.CompareAndSwap(ctx, hostile, provider.Credentials{}, val))                     // conflict
	add(p.CompareAndSwap(ctx, hostile, creds("token", "x"), creds("token", canary+"2"))) // conflict
	for _, r := range []string{"vault:secret/data/mcp/" + hostile, "vault:secret/data/" + hostile + "/x", "vault:kv1/" + hostile} {
		st, _, err := ss.Store(r)
		if err != nil {
			t.Fatal(err)
		}
		add(st.Put(ctx, "", val))
		add(st.CompareAndSwap(ctx, "", provider.Credentials{}, val))
		add(st.Delete(ctx, ""))
	}
	st, _, err := ss.Store("vault:secret/data/mcp/users/sub-h#token")
	if err != nil {
		t.Fatal(err)
	}
	add(st.Put(ctx, "", creds("token", canary, "refresh_token", canary)))
	if err := p.Delete(ctx, hostile); err != nil {
		t.Fatal(err)
	}
	var text, shown []string
	for _, err := range errs {
		text = append(text, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		shown = append(shown, err.Error())
	}
	checkNoLeak(t, "errors", strings.Join(text, "\n"), canary, hostile, tok, s.root)
	checkNoLeak(t, "log", logs.String(), canary, hostile, tok, s.root)
	t.Logf("errors:\n%s", strings.Join(shown, "\n"))
}

func testStoreSealed(t *testing.T, s *server) {
	ctx := context.Background()
	st, _, err := s.schemes(t, s.storeToken(), nil).Store("vault:secret/data/mcp/users/sub-sealed")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "", creds("token", "a")); err != nil {
		t.Fatal(err)
	}
	s.seal()
	for op, err := range map[string]error{
		"Put":            st.Put(ctx, "", creds("token", "b")),
		"CompareAndSwap": st.CompareAndSwap(ctx, "", creds("token", "a"), creds("token", "b")),
		"Delete":         st.Delete(ctx, ""),
	} {
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Errorf("sealed %s: %v, want ErrUnavailable", op, err)
		}
	}
	s.unseal()
	if err := st.CompareAndSwap(ctx, "", creds("token", "a"), creds("token", "b")); err != nil {
		t.Fatalf("after unseal: %v", err)
	}
}

func testStoreStopped(t *testing.T, s *server) {
	ctx := context.Background()
	st, _, err := s.schemes(t, s.storeToken(), nil).Store("vault:secret/data/mcp/users/sub-stopped")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "", creds("token", "a")); err != nil {
		t.Fatal(err)
	}
	s.stop()
	defer s.restart()
	for op, err := range map[string]error{
		"Put":            st.Put(ctx, "", creds("token", "b")),
		"CompareAndSwap": st.CompareAndSwap(ctx, "", creds("token", "a"), creds("token", "b")),
		"Delete":         st.Delete(ctx, ""),
	} {
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Errorf("stopped %s: %v, want ErrUnavailable", op, err)
		}
	}
}
