package vaulttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/provider/vault"
	"github.com/mcpcred/mcpcred/resolver"
)

const canary = "CANARY-SECRET-d3adb33f"

// TestVault starts one in-process Vault (a few seconds) and runs every
// check against it as subtests; the ones that stop or seal it run last.
func TestVault(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *server)
	}{
		{"ConformanceKV2", testConformanceKV2},
		{"KV1", testKV1},
		{"VersionsAndRotation", testVersionsAndRotation},
		{"TokenFile", testTokenFile},
		{"VaultTokenEnv", testVaultTokenEnv},
		{"AppRole", testAppRole},
		{"KubernetesStyleJWT", testKubernetesStyle},
		{"ReloginAfterRevoke", testReloginAfterRevoke},
		{"Renewal", testRenewal},
		{"PermissionDenied", testPermissionDenied},
		{"MinimalPolicy", testMinimalPolicy},
		{"Leased", testLeased},
		{"Canary", testCanary},
		{"Sealed", testSealed},
		{"Resolver", testResolver},
		{"Stopped", testStopped},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
	}
}

// newProvider returns a provider for s with an isolated environment.
func newProvider(t testing.TB, s *server, logs *logSink, fns ...func(*vault.Options)) *vault.Provider {
	t.Helper()
	envm := map[string]string{"VAULT_ADDR": s.URL, "VAULT_MAX_RETRIES": "0", "HOME": t.TempDir()}
	all := append([]func(*vault.Options){func(o *vault.Options) {
		o.Getenv = func(k string) string { return envm[k] }
		if logs != nil {
			o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}}, fns...)
	p, err := vault.New(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func checkNoLeak(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(text, s) {
			t.Errorf("%s reveals a secret (%d chars)", what, len(s))
		}
	}
}

func testConformanceKV2(t *testing.T, s *server) {
	s.putKV2("mcp/default", map[string]any{"access_key_id": "AKIACONF", "secret_access_key": canary})
	tok := s.token("1h", true)
	p := newProvider(t, s, nil, func(o *vault.Options) { o.Auth = vault.TokenAuth(tok) })
	providertest.Run(t, p, providertest.Options{
		Profile:        "default",
		MissingProfile: "nobody",
		WantFields:     []string{"access_key_id", "secret_access_key"},
		Secrets:        []string{canary, tok},
	})
}

func testKV1(t *testing.T, s *server) {
	s.write("kv1/mcp/db", map[string]any{"username": "app", "password": canary})
	tok := s.token("1h", true)
	p := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.TokenAuth(tok)
		o.Mount = "kv1"
	})
	c, err := p.Retrieve(context.Background(), "db")
	if err != nil {
		t.Fatal(err)
	}
	if c.Value("password") != canary || c.Value("username") != "app" || c.Source.Locator != "kv1/mcp/db" {
		t.Fatalf("got %v", c)
	}
	// Configured instead of detected.
	p2 := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.TokenAuth(tok)
		o.Mount, o.Engine = "kv1", vault.EngineKV1
		o.Fields = map[string]string{provider.FieldPassword: "password"}
	})
	c, err = p2.Retrieve(context.Background(), "db")
	if err != nil {
		t.Fatal(err)
	}
	if c.Names()[0] != "password" || c.Len() != 1 {
		t.Fatalf("fields %v", c.Names())
	}
	_, err = p2.Retrieve(context.Background(), "nope")
	if !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("missing KV v1 secret: %v", err)
	}
}

func testVersionsAndRotation(t *testing.T, s *server) {
	v1 := s.putKV2("mcp/rotating", map[string]any{"token": "first-value"})
	tok := s.token("1h", true)
	p := newProvider(t, s, nil, func(o *vault.Options) { o.Auth = vault.TokenAuth(tok) })
	ctx := context.Background()
	c, err := p.Retrieve(ctx, "rotating")
	if err != nil {
		t.Fatal(err)
	}
	if c.Value("token") != "first-value" || c.Source.Locator != fmt.Sprintf("secret/data/mcp/rotating?version=%d", v1) {
		t.Fatalf("first: %v", c)
	}
	// Rotation: a new version is seen at the next Retrieve.
	v2 := s.putKV2("mcp/rotating", map[string]any{"token": "second-value"})
	c, err = p.Retrieve(ctx, "rotating")
	if err != nil {
		t.Fatal(err)
	}
	if c.Value("token") != "second-value" || !strings.HasSuffix(c.Source.Locator, fmt.Sprintf("version=%d", v2)) {
		t.Fatalf("after rotation: %v", c)
	}
	// A pinned version, through a reference.
	ref, err := vault.ParseRef(fmt.Sprintf("vault:secret/data/mcp/rotating?version=%d#token", v1))
	if err != nil {
		t.Fatal(err)
	}
	c, err = p.RetrieveRef(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value("token") != "first-value" {
		t.Fatal("pinned version: wrong value")
	}
	// A deleted version is not found; a version that never existed too.
	if err := s.admin.KVv2("secret").DeleteVersions(ctx, "mcp/rotating", []int{v1}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RetrieveRef(ctx, ref); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("deleted version: %v", err)
	}
	ref.Version = 99
	if _, err := p.RetrieveRef(ctx, ref); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("absent version: %v", err)
	}
	// A missing key is not found either.
	ref, _ = vault.ParseRef("vault:secret/data/mcp/rotating#nope")
	if _, err := p.RetrieveRef(ctx, ref); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	// A reference to a KV v2 mount names the API path: one without data/
	// would read a path it does not name.
	ref, _ = vault.ParseRef("vault:secret/mcp/rotating#token")
	if _, err := p.RetrieveRef(ctx, ref); !errors.Is(err, provider.ErrInvalidRef) {
		t.Fatalf("KV v2 reference without data/: %v, want ErrInvalidRef", err)
	}
	ref, _ = vault.ParseRef("vault:secret/data/mcp/rotating#nope")
	if _, err := p.RetrieveRef(ctx, ref); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
}

func testTokenFile(t *testing.T, s *server) {
	s.putKV2("mcp/tf", map[string]any{"token": "tf-value"})
	dir := t.TempDir()
	sink := filepath.Join(dir, "sink")
	first := s.token("1h", true)
	if err := os.WriteFile(sink, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) { o.TokenFile = sink })
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "tf"); err != nil {
		t.Fatal(err)
	}
	// Vault Agent writes a new token and the old one is revoked.
	second := s.token("1h", true)
	if err := os.WriteFile(sink, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	s.revoke(first)
	if _, err := p.Retrieve(ctx, "tf"); err != nil {
		t.Fatalf("after the sink changed: %v", err)
	}
	if p.Client().Token() != second {
		t.Fatal("provider did not pick up the new token")
	}
	// ~/.vault-token, found through HOME.
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".vault-token"), []byte(second), 0o600)
	p2, err := vault.New(func(o *vault.Options) {
		o.Getenv = func(k string) string {
			return map[string]string{"VAULT_ADDR": s.URL, "HOME": home, "VAULT_MAX_RETRIES": "0"}[k]
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if _, err := p2.Retrieve(ctx, "tf"); err != nil {
		t.Fatalf("~/.vault-token: %v", err)
	}
	checkNoLeak(t, "log", logs.String(), first, second, "tf-value")
}

func testVaultTokenEnv(t *testing.T, s *server) {
	s.putKV2("mcp/envtok", map[string]any{"token": "env-value"})
	tok := s.token("1h", true)
	p, err := vault.New(func(o *vault.Options) {
		o.Getenv = func(k string) string {
			return map[string]string{"VAULT_ADDR": s.URL, "VAULT_TOKEN": tok, "HOME": t.TempDir()}[k]
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := p.Retrieve(context.Background(), "envtok")
	if err != nil || c.Value("token") != "env-value" {
		t.Fatalf("VAULT_TOKEN: %v %v", c, err)
	}
}

func testAppRole(t *testing.T, s *server) {
	s.putKV2("mcp/approle", map[string]any{"token": "approle-value"})
	roleID, secretID := s.appRole("mcp", nil)
	dir := t.TempDir()
	ctx := context.Background()
	check := func(t *testing.T, auth vault.Auth, extraEnv map[string]string) *vault.Provider {
		t.Helper()
		logs := &logSink{}
		p := newProvider(t, s, logs, func(o *vault.Options) {
			o.Auth = auth
			base := o.Getenv
			o.Getenv = func(k string) string {
				if v, ok := extraEnv[k]; ok {
					return v
				}
				return base(k)
			}
		})
		c, err := p.Retrieve(ctx, "approle")
		if err != nil {
			t.Fatal(err)
		}
		if c.Value("token") != "approle-value" {
			t.Fatal("wrong value")
		}
		checkNoLeak(t, "log", logs.String(), secretID, p.Client().Token(), "approle-value")
		return p
	}
	t.Run("string", func(t *testing.T) {
		check(t, vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID}), nil)
	})
	t.Run("file", func(t *testing.T) {
		f := filepath.Join(dir, "secret-id")
		os.WriteFile(f, []byte(s.secretID("mcp", false)), 0o600)
		check(t, vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretIDFile: f}), nil)
	})
	t.Run("env", func(t *testing.T) {
		check(t, vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretIDEnv: "MCP_SECRET_ID"}), map[string]string{"MCP_SECRET_ID": s.secretID("mcp", false)})
	})
	t.Run("wrapped", func(t *testing.T) {
		f := filepath.Join(dir, "wrapped")
		os.WriteFile(f, []byte(s.secretID("mcp", true)), 0o600)
		check(t, vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretIDFile: f, Wrapped: true}), nil)
	})
	t.Run("bad secret id", func(t *testing.T) {
		p := newProvider(t, s, nil, func(o *vault.Options) {
			o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: canary})
		})
		_, err := p.Retrieve(ctx, "approle")
		if !errors.Is(err, vault.ErrLogin) || errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("err = %v, want a login failure", err)
		}
		checkNoLeak(t, "error", err.Error(), canary)
		t.Logf("bad secret id: %v", err)
	})
}

// Kubernetes auth needs a cluster's TokenReview API; a JWT auth mount that
// trusts the same issuer takes the same login request ({role, jwt} at
// auth/MOUNT/login), so KubernetesAuth is tested against it.
func testKubernetesStyle(t *testing.T, s *server) {
	s.putKV2("mcp/k8s", map[string]any{"token": "k8s-value"})
	iss := s.jwtRole("mcp")
	dir := t.TempDir()
	tokenPath := filepath.Join(dir, "token")
	os.WriteFile(tokenPath, []byte(iss.token(t, "system:serviceaccount:apps:mcp", time.Hour)), 0o600)
	p := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.KubernetesAuth(vault.Kubernetes{Role: "mcp", TokenPath: tokenPath, Mount: "jwt"})
	})
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "k8s"); err != nil {
		t.Fatal(err)
	}
	// The projected token rotates; the Vault token is revoked: the next
	// login must read the file again.
	os.WriteFile(tokenPath, []byte("not-a-jwt"), 0o600)
	s.revoke(p.Client().Token())
	if _, err := p.Retrieve(ctx, "k8s"); !errors.Is(err, vault.ErrLogin) {
		t.Fatalf("with a bad service-account token: %v, want a login failure", err)
	}
	os.WriteFile(tokenPath, []byte(iss.token(t, "system:serviceaccount:apps:mcp", time.Hour)), 0o600)
	if _, err := p.Retrieve(ctx, "k8s"); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

func testReloginAfterRevoke(t *testing.T, s *server) {
	s.putKV2("mcp/revoke", map[string]any{"token": "revoke-value"})
	roleID, secretID := s.appRole("revoke", nil)
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
	})
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "revoke"); err != nil {
		t.Fatal(err)
	}
	old := p.Client().Token()
	s.revoke(old)
	if _, err := p.Retrieve(ctx, "revoke"); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if p.Client().Token() == old {
		t.Fatal("token not replaced")
	}
	if n := logs.count("vault: logged in"); n != 2 {
		t.Fatalf("%d logins, want 2", n)
	}
	checkNoLeak(t, "log", logs.String(), old, secretID, p.Client().Token())
}

func testRenewal(t *testing.T, s *server) {
	s.putKV2("mcp/renew", map[string]any{"token": "renew-value"})
	// Tokens live 2s and are renewable up to 5s: the watcher renews, then
	// renewal stops at max TTL and the provider logs in again by itself.
	roleID, secretID := s.appRole("renew", map[string]any{"token_ttl": "2s", "token_max_ttl": "5s"})
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
	})
	ctx := context.Background()
	deadline := time.Now().Add(9 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := p.Retrieve(ctx, "renew"); err != nil {
			t.Fatalf("Retrieve during renewal: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n := logs.count("vault: token renewed"); n < 1 {
		t.Errorf("no renewal logged")
	}
	if n := logs.count("vault: logged in"); n < 2 {
		t.Errorf("%d logins; want a re-login after max TTL", n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("renewals %d, logins %d", logs.count("vault: token renewed"), logs.count("vault: logged in"))
}

func testPermissionDenied(t *testing.T, s *server) {
	s.putKV2("other/secret", map[string]any{"token": canary})
	tok := s.token("1h", true)
	p := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.TokenAuth(tok)
		o.PathTemplate = "other/{profile}"
	})
	_, err := p.Retrieve(context.Background(), "secret")
	var pe *vault.PermissionError
	if !errors.As(err, &pe) || errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("err = %v, want a PermissionError", err)
	}
	if pe.Capability != "read" || !strings.Contains(err.Error(), `"read" capability on "secret/data/other/secret"`) {
		t.Fatalf("err = %v", err)
	}
	checkNoLeak(t, "error", err.Error(), canary, tok)
	t.Logf("denied: %v", err)
}

func testLeased(t *testing.T, s *server) {
	// The leased engine returns renewable leases of the ttl written.
	s.write("leased/creds/deploy", map[string]any{"access_key": "AKIALEASE", "secret_key": canary, "ttl": "4s"})
	tok := s.token("1h", true)
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) {
		o.Auth = vault.TokenAuth(tok)
		o.Profiles = map[string]string{"deploy": "vault:leased/creds/deploy"}
	})
	ctx := context.Background()
	c1, err := p.Retrieve(ctx, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	// Expires is when the provider would replace (and revoke) the lease:
	// with a third of its 4s left, so at most 2/3 of 4s after the read.
	if d := c1.Expires.Sub(c1.FetchedAt); c1.Expires.IsZero() || d > 4*time.Second*2/3 || d < 2*time.Second {
		t.Fatalf("expires %v after the read, want about 2/3 of a 4s lease", d)
	}
	if c1.Value("secret_key") != canary {
		t.Fatal("wrong value")
	}
	time.Sleep(3500 * time.Millisecond)
	c2, err := p.Retrieve(ctx, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Expires.After(c1.Expires) {
		t.Errorf("lease not renewed: expires %v then %v", c1.Expires, c2.Expires)
	}
	if n := logs.count("vault: lease renewed"); n < 1 {
		t.Errorf("no lease renewal logged")
	}
	checkNoLeak(t, "log", logs.String(), canary, tok)
}

func testCanary(t *testing.T, s *server) {
	s.putKV2("mcp/canary", map[string]any{"password": canary})
	roleID, secretID := s.appRole("canary", nil)
	logs := &logSink{}
	p := newProvider(t, s, logs, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
	})
	ctx := context.Background()
	c, err := p.Retrieve(ctx, "canary")
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckRendering(t, c, canary, secretID, p.Client().Token())
	var errs []string
	for _, prof := range []string{"missing", "../x"} {
		if _, err := p.Retrieve(ctx, prof); err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%#v", err))
		}
	}
	checkNoLeak(t, "errors", strings.Join(errs, "\n"), canary, secretID, p.Client().Token())
	checkNoLeak(t, "log", logs.String(), canary, secretID, p.Client().Token())
}

// testSealed seals and unseals the server: sealed is unavailable, and the
// provider recovers with its token when Vault is unsealed.
func testSealed(t *testing.T, s *server) {
	s.putKV2("mcp/sealed", map[string]any{"token": "sealed-value"})
	tok := s.token("1h", true)
	p := newProvider(t, s, nil, func(o *vault.Options) { o.Auth = vault.TokenAuth(tok) })
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "sealed"); err != nil {
		t.Fatal(err)
	}
	s.seal()
	_, err := p.Retrieve(ctx, "sealed")
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("sealed: %v, want ErrUnavailable", err)
	}
	t.Logf("sealed: %v", err)
	s.unseal()
	if _, err := p.Retrieve(ctx, "sealed"); err != nil {
		t.Fatalf("after unseal: %v", err)
	}
}

// testStopped closes the listener and every connection, then listens again
// on the same address.
func testStopped(t *testing.T, s *server) {
	s.putKV2("mcp/stopped", map[string]any{"token": "stopped-value"})
	roleID, secretID := s.appRole("stopped", nil)
	p := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
	})
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "stopped"); err != nil {
		t.Fatal(err)
	}
	s.stop()
	start := time.Now()
	_, err := p.Retrieve(ctx, "stopped")
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("stopped: %v, want ErrUnavailable", err)
	}
	t.Logf("stopped (%v): %v", time.Since(start).Round(time.Millisecond), err)
	// A fresh provider cannot even log in: also unavailable.
	p2 := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
	})
	if _, err := p2.Retrieve(ctx, "stopped"); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("login while stopped: %v, want ErrUnavailable", err)
	}
	s.restart()
	if _, err := p.Retrieve(ctx, "stopped"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if _, err := p2.Retrieve(ctx, "stopped"); err != nil {
		t.Fatalf("login after restart: %v", err)
	}
}

// testResolver runs the provider under the resolver: a "vault:" reference
// through provider.Schemes, and the last good value served while Vault is
// down.
func testResolver(t *testing.T, s *server) {
	s.putKV2("mcp/resolved", map[string]any{"token": "resolved-value"})
	tok := s.token("1h", true)
	envm := map[string]string{"VAULT_ADDR": s.URL, "VAULT_TOKEN": tok, "VAULT_MAX_RETRIES": "0", "HOME": t.TempDir()}
	getenv := func(k string) string { return envm[k] }
	p := newProvider(t, s, nil, func(o *vault.Options) { o.Getenv = getenv })
	var schemes provider.Schemes
	schemes.Register("vault", vault.Scheme(func(o *vault.Options) { o.Getenv = getenv }))
	policy, err := provider.NewRefPolicy("vault:secret/data/mcp/*")
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New([]provider.Provider{p}, func(o *resolver.Options) {
		o.TTL = 300 * time.Millisecond
		o.MaxStale = time.Minute
		o.AllowProfile = resolver.AnyProfile
		o.References = &schemes
		o.AllowReferences = policy
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := r.Resolve(ctx, resolver.Request{Profile: "resolved"})
	if err != nil || res.Credentials.Value("token") != "resolved-value" {
		t.Fatalf("resolve: %v %v", res.Credentials, err)
	}
	res, err = r.Resolve(ctx, resolver.Request{CredentialID: "vault:secret/data/mcp/resolved#token"})
	if err != nil || res.Credentials.Value("token") != "resolved-value" {
		t.Fatalf("reference: %v %v", res.Credentials, err)
	}
	if _, err := r.Resolve(ctx, resolver.Request{CredentialID: "vault:secret/data/other/x"}); err == nil {
		t.Fatal("reference outside AllowReferences accepted")
	}

	s.stop()
	time.Sleep(500 * time.Millisecond) // past the TTL
	res, err = r.Resolve(ctx, resolver.Request{Profile: "resolved"})
	if err != nil {
		t.Fatalf("while Vault is down: %v", err)
	}
	if res.Credentials.Value("token") != "resolved-value" {
		t.Fatal("stale value wrong")
	}
	// A refresh may run in the background first; the value is stale
	// once it has failed.
	deadline := time.Now().Add(5 * time.Second)
	for !res.Stale && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		res, err = r.Resolve(ctx, resolver.Request{Profile: "resolved"})
		if err != nil {
			t.Fatalf("while Vault is down: %v", err)
		}
	}
	if !res.Stale {
		t.Error("value served while Vault is down is not marked stale")
	}
	s.restart()
	s.putKV2("mcp/resolved", map[string]any{"token": "rotated-value"})
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		res, err = r.Resolve(ctx, resolver.Request{Profile: "resolved"})
		if err == nil && !res.Stale && res.Credentials.Value("token") == "rotated-value" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no fresh value after Vault came back: stale=%v err=%v", res.Stale, err)
}

// testMinimalPolicy checks the README's policy: a token with only
// mcp-read (no default policy) can read, including the mount lookup.
func testMinimalPolicy(t *testing.T, s *server) {
	s.putKV2("mcp/minimal", map[string]any{"token": "minimal-value"})
	roleID, secretID := s.appRole("minimal", map[string]any{"token_no_default_policy": true})
	p := newProvider(t, s, nil, func(o *vault.Options) {
		o.Auth = vault.AppRoleAuth(vault.AppRole{RoleID: roleID, SecretID: secretID})
	})
	c, err := p.Retrieve(context.Background(), "minimal")
	if err != nil || c.Value("token") != "minimal-value" {
		t.Fatalf("%v %v", c, err)
	}
}
