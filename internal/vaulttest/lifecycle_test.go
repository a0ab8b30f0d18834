package vaulttest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/vault"
)

// TestLifecycle checks the token and lease lifecycle against a real Vault:
// denied reads, token revocation, max TTL, policies without "default",
// wrapped secret ids, redirects and odd answers through a second listener.
func TestLifecycle(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *server)
	}{
		{"DeniedReadsKeepToken", testDeniedReadsKeepToken},
		{"DeniedReadWrappedSecretID", testDeniedReadWrappedSecretID},
		{"TokenAuthWithoutDefault", testTokenAuthWithoutDefault},
		{"ReloginRateBound", testReloginRateBound},
		{"LeaseTokenRevoked", testLeaseTokenRevoked},
		{"LeaseTokenMaxTTL", testLeaseTokenMaxTTL},
		{"ConcurrentLeaseReads", testConcurrentLeaseReads},
		{"VersionPins", testVersionPins},
		{"LogicalDeletedKV2", testLogicalDeletedKV2},
		{"RedirectToOtherHost", testRedirectToOtherHost},
		{"EmptyUnwrapAnswer", testEmptyUnwrapAnswer},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
	}
}

// accessors counts the tokens that exist.
func (s *server) accessors() int {
	s.t.Helper()
	sec, err := s.admin.Logical().List("auth/token/accessors")
	if err != nil {
		s.t.Fatal(err)
	}
	keys, _ := sec.Data["keys"].([]any)
	return len(keys)
}

// liveLeases lists the lease ids Vault holds under prefix.
func (s *server) liveLeases(prefix string) []string {
	s.t.Helper()
	sec, err := s.admin.Logical().List("sys/leases/lookup/" + prefix + "/")
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	if sec != nil {
		keys, _ := sec.Data["keys"].([]any)
		for _, k := range keys {
			out = append(out, k.(string))
		}
	}
	return out
}

// The README's minimal policy: mcp-read only, no "default". Denied reads
// must neither log in again nor leave tokens behind, and a use-limited
// secret id must outlast them.
func testDeniedReadsKeepToken(t *testing.T, s *server) {
	s.putKV2("mcp/nodef", map[string]any{"token": "nodef-value"})
	s.putKV2("other/nodef", map[string]any{"token": canary})
	roleID, secretID := s.appRole("nodef", map[string]any{"token_no_default_policy": true, "secret_id_num_uses": 2})
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
	})
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "nodef"); err != nil {
		t.Fatal(err)
	}
	tok, tokens := p.Client().Token(), s.accessors()
	denied, err := vault.ParseRef("vault:secret/data/other/nodef")
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_, err := p.RetrieveRef(ctx, denied)
		var pe *vault.PermissionError
		if !errors.As(err, &pe) {
			t.Fatalf("denied read: %v, want a PermissionError", err)
		}
	}
	for range 3 {
		if c, err := p.Retrieve(ctx, "nodef"); err != nil || c.Value("token") != "nodef-value" {
			t.Fatalf("allowed read after denied ones: %v", err)
		}
	}
	if n := logs.count("vault: logged in"); n != 1 {
		t.Errorf("%d logins for 10 denied reads, want 1", n)
	}
	if p.Client().Token() != tok {
		t.Error("the token was replaced")
	}
	if n := s.accessors(); n != tokens {
		t.Errorf("%d tokens exist after the denied reads, %d before", n, tokens)
	}
	checkNoLeak(t, "log", logs.String(), canary, secretID, tok)
}

// One denied request with a wrapped, single-use secret id must not break
// later requests.
func testDeniedReadWrappedSecretID(t *testing.T, s *server) {
	s.putKV2("mcp/wrapped", map[string]any{"token": "wrapped-value"})
	roleID, _ := s.appRole("wrapped", map[string]any{"token_no_default_policy": true})
	f := filepath.Join(t.TempDir(), "secret-id")
	if err := os.WriteFile(f, []byte(s.secretID("wrapped", true)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretIDFile: f, Wrapped: true})
	})
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "wrapped"); err != nil {
		t.Fatal(err)
	}
	denied, _ := vault.ParseRef("vault:secret/data/other/nodef")
	if _, err := p.RetrieveRef(ctx, denied); !errors.Is(err, vault.ErrPermissionDenied) {
		t.Fatalf("denied read: %v", err)
	}
	for range 3 {
		if _, err := p.Retrieve(ctx, "wrapped"); err != nil {
			t.Fatalf("after one denied read: %v", err)
		}
	}
}

// TokenAuth with a token that can read the path but may not look itself up.
func testTokenAuthWithoutDefault(t *testing.T, s *server) {
	s.putKV2("mcp/tokennodef", map[string]any{"token": "tnd-value"})
	sec, err := s.admin.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"mcp-read"}, NoDefaultPolicy: true, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, s, nil, func(o *vault.Options) { o.Auth = vault.TokenAuth(sec.Auth.ClientToken) })
	c, err := p.Retrieve(context.Background(), "tokennodef")
	if err != nil || c.Value("token") != "tnd-value" {
		t.Fatalf("TokenAuth without default policy: %v", err)
	}
}

// Tokens revoked one after the other: one re-login at once, then none
// within ReloginInterval.
func testReloginRateBound(t *testing.T, s *server) {
	s.putKV2("mcp/revokedloop", map[string]any{"token": "loop-value"})
	roleID, secretID := s.appRole("revokedloop", nil)
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
		o.ReloginInterval = time.Hour
	})
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "revokedloop"); err != nil {
		t.Fatal(err)
	}
	var errs int
	for range 10 {
		s.revoke(p.Client().Token())
		if _, err := p.Retrieve(ctx, "revokedloop"); err != nil {
			errs++
			if !errors.Is(err, provider.ErrUnavailable) || !errors.Is(err, vault.ErrTokenRejected) {
				t.Fatalf("rejected token: %v, want ErrUnavailable and ErrTokenRejected", err)
			}
		}
	}
	if n := logs.count("vault: logged in"); n != 2 {
		t.Fatalf("%d logins for 10 revocations, want 2 (the first, one re-login)", n)
	}
	if errs != 9 {
		t.Fatalf("%d requests failed, want 9", errs)
	}
}

// Revoking the token revokes its leases: the cached one must not be served.
func testLeaseTokenRevoked(t *testing.T, s *server) {
	s.write("leased/creds/revoked", map[string]any{"access_key": "AKIAREVOKE", "ttl": "1h"})
	roleID, secretID := s.appRole("leaserevoke", nil)
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
		o.Profiles = map[string]string{"revoked": "vault:leased/creds/revoked"}
	})
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "revoked"); err != nil {
		t.Fatal(err)
	}
	first := s.liveLeases("leased/creds/revoked")
	if len(first) != 1 {
		t.Fatalf("leases after one read: %v", first)
	}
	s.revoke(p.Client().Token())
	// Vault revokes a token's leases in the background.
	for deadline := time.Now().Add(20 * time.Second); len(s.liveLeases("leased/creds/revoked")) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("Vault kept the leases of a revoked token")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, err := p.Retrieve(ctx, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	now := s.liveLeases("leased/creds/revoked")
	if len(now) != 1 || now[0] == first[0] {
		t.Fatalf("after the token was revoked: live leases %v (first %v); the revoked one was served", now, first)
	}
	if n := logs.count("vault: leased secret"); n != 2 {
		t.Fatalf("%d reads of the leased path, want 2", n)
	}
	if !c.Expires.After(time.Now()) {
		t.Fatalf("expires %v", c.Expires)
	}
}

// At its token's max TTL Vault revokes the lease: Expires never says it
// lives longer than its token, and it is read anew under the next token.
func testLeaseTokenMaxTTL(t *testing.T, s *server) {
	s.write("leased/creds/maxttl", map[string]any{"access_key": "AKIAMAXTTL", "ttl": "1h"})
	roleID, secretID := s.appRole("leasemaxttl", map[string]any{"token_ttl": "2s", "token_max_ttl": "4s"})
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
		o.Profiles = map[string]string{"maxttl": "vault:leased/creds/maxttl"}
	})
	ctx := context.Background()
	start := time.Now()
	deadline := start.Add(9 * time.Second)
	for time.Now().Before(deadline) {
		c, err := p.Retrieve(ctx, "maxttl")
		if err != nil {
			t.Fatal(err)
		}
		if c.Expires.Sub(c.FetchedAt) > 4*time.Second {
			t.Fatalf("Expires %v after the read, beyond the token's 4s max TTL", c.Expires.Sub(c.FetchedAt))
		}
		if live := s.liveLeases("leased/creds/maxttl"); len(live) == 0 && c.Expires.After(time.Now()) {
			// Vault revoked it with its token while the provider says
			// it is valid until Expires.
			t.Fatalf("served a lease Vault no longer holds, with Expires %v ahead", time.Until(c.Expires))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := logs.count("vault: leased secret"); n < 2 {
		t.Fatalf("%d reads of the leased path over two token lifetimes, want a new read per token", n)
	}
	t.Logf("logins %d, lease reads %d", logs.count("vault: logged in"), logs.count("vault: leased secret"))
}

// Concurrent reads of one dynamic secret mint one lease.
func testConcurrentLeaseReads(t *testing.T, s *server) {
	s.write("leased/creds/concurrent", map[string]any{"access_key": "AKIACONC", "ttl": "1h"})
	tok := s.token("1h", true)
	p := newProvider(t, s, nil, func(o *vault.Options) { o.Auth = vault.TokenAuth(tok) })
	ref, _ := vault.ParseRef("vault:leased/creds/concurrent")
	var wg sync.WaitGroup
	errc := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.RetrieveRef(context.Background(), ref)
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if l := s.liveLeases("leased/creds/concurrent"); len(l) != 1 {
		t.Fatalf("20 concurrent reads left %d leases, want 1", len(l))
	}
}

// A version pin only means something on KV v2.
func testVersionPins(t *testing.T, s *server) {
	s.write("kv1/mcp/pinned", map[string]any{"password": "current"})
	s.write("leased/creds/pinned", map[string]any{"access_key": "AKIAPIN", "ttl": "1h"})
	tok := s.token("1h", true)
	p := newProvider(t, s, nil, func(o *vault.Options) { o.Auth = vault.TokenAuth(tok) })
	for _, r := range []string{"vault:kv1/mcp/pinned?version=1", "vault:leased/creds/pinned?version=2"} {
		ref, err := vault.ParseRef(r)
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.RetrieveRef(context.Background(), ref)
		if !errors.Is(err, vault.ErrInvalidRef) || !errors.Is(err, provider.ErrInvalidRef) {
			t.Fatalf("%s: %v %v, want ErrInvalidRef", r, c.Names(), err)
		}
	}
	if l := s.liveLeases("leased/creds/pinned"); len(l) != 0 {
		t.Fatalf("a pinned dynamic reference minted %d leases", len(l))
	}
}

// With EngineLogical, a deleted KV v2 secret is not found.
func testLogicalDeletedKV2(t *testing.T, s *server) {
	s.putKV2("mcp/logical-deleted", map[string]any{"token": "gone"})
	s.putKV2("mcp/logical-live", map[string]any{"token": "live"})
	if err := s.admin.KVv2("secret").Delete(context.Background(), "mcp/logical-deleted"); err != nil {
		t.Fatal(err)
	}
	tok := s.token("1h", true)
	p := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.TokenAuth(tok)
		o.Engine = vault.EngineLogical
	})
	ref, _ := vault.ParseRef("vault:secret/data/mcp/logical-deleted")
	if c, err := p.RetrieveRef(context.Background(), ref); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("deleted secret: fields %v, err %v; want ErrNotFound", c.Names(), err)
	}
	ref, _ = vault.ParseRef("vault:secret/data/mcp/logical-live")
	c, err := p.RetrieveRef(context.Background(), ref)
	if err != nil || c.Value("token") != "live" || c.Has("metadata") {
		t.Fatalf("live secret: fields %v, err %v", c.Names(), err)
	}
}

// recorder is a second listener that records what reaches it.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	hits []string
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hits = append(r.hits, req.URL.Path+" "+req.Header.Get("X-Vault-Token")+" "+string(b))
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"auth":{"client_token":"from-elsewhere"},"data":{"data":{"token":"elsewhere"},"metadata":{"version":1}}}`)
	}))
	t.Cleanup(r.Close)
	return r
}

// front puts a listener before Vault that passes requests through, except
// those route answers itself.
func front(t *testing.T, s *server, route func(w http.ResponseWriter, r *http.Request) bool) *httptest.Server {
	u, _ := url.Parse(s.URL)
	proxy := httputil.NewSingleHostReverseProxy(u)
	f := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !route(w, r) {
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// A 307 to another host must not carry the token or a secret_id there.
func testRedirectToOtherHost(t *testing.T, s *server) {
	s.putKV2("mcp/redirected", map[string]any{"token": canary})
	s.putKV2("mcp/direct", map[string]any{"token": "direct-value"})
	other := newRecorder(t)
	fr := front(t, s, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/secret/data/mcp/redirected" || r.URL.Path == "/v1/auth/approle/login" {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
			return true
		}
		return false
	})
	tok := s.token("1h", true)
	roleID, secretID := s.appRole("redirect", nil)
	ctx := context.Background()
	withFront := func(o *vault.Options) {
		base := o.Getenv
		o.Getenv = func(k string) string {
			if k == "VAULT_ADDR" {
				return fr.URL
			}
			return base(k)
		}
	}
	p := newProvider(t, s, nil, withFront, func(o *vault.Options) { o.Auth = vault.TokenAuth(tok) })
	if c, err := p.Retrieve(ctx, "direct"); err != nil || c.Value("token") != "direct-value" {
		t.Fatalf("through the front listener: %v", err)
	}
	if _, err := p.Retrieve(ctx, "redirected"); err == nil {
		t.Fatal("read through a redirect to another host succeeded")
	} else {
		t.Logf("redirected read: %v", err)
	}
	p2 := newProvider(t, s, nil, withFront, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
	})
	if _, err := p2.Retrieve(ctx, "direct"); !errors.Is(err, vault.ErrLogin) {
		t.Fatalf("login through a redirect to another host: %v, want a login error", err)
	}
	for _, h := range other.seen() {
		checkNoLeak(t, "the other host's request", h, tok, secretID)
	}
	if n := len(other.seen()); n != 0 {
		t.Fatalf("the other host received %d requests", n)
	}
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.hits)
}

// An empty answer to the unwrap call is a login error, not a crash.
func testEmptyUnwrapAnswer(t *testing.T, s *server) {
	s.putKV2("mcp/unwrap", map[string]any{"token": "unwrap-value"})
	roleID, _ := s.appRole("unwrap", nil)
	fr := front(t, s, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/sys/wrapping/unwrap" {
			w.WriteHeader(http.StatusOK)
			return true
		}
		return false
	})
	f := filepath.Join(t.TempDir(), "secret-id")
	wrapped := s.secretID("unwrap", true)
	if err := os.WriteFile(f, []byte(wrapped), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretIDFile: f, Wrapped: true})
		base := o.Getenv
		o.Getenv = func(k string) string {
			if k == "VAULT_ADDR" {
				return fr.URL
			}
			return base(k)
		}
	})
	_, err := p.Retrieve(context.Background(), "unwrap")
	if !errors.Is(err, vault.ErrLogin) || strings.Contains(err.Error(), wrapped) {
		t.Fatalf("empty unwrap answer: %v, want a login error", err)
	}
	t.Logf("empty unwrap answer: %v", err)
}
