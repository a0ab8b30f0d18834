package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/mcpcred/mcpcred/provider"
)

// A plain 403 is about the path, not the token: no login, whatever the
// token may look up about itself.
func TestDeniedReadKeepsToken(t *testing.T) {
	for _, noDefault := range []bool{false, true} {
		t.Run(fmt.Sprintf("noDefault=%v", noDefault), func(t *testing.T) {
			f := newFakeVault(t)
			f.noDefault.Store(noDefault)
			p := newTestProvider(t, f, func(o *Options) {
				o.Auth = AppRoleAuth(AppRole{RoleID: "r", SecretID: "s"})
			})
			for range 10 {
				_, err := p.Retrieve(context.Background(), "denied")
				if !errors.Is(err, ErrPermissionDenied) {
					t.Fatalf("err = %v, want ErrPermissionDenied", err)
				}
			}
			if _, err := p.Retrieve(context.Background(), "default"); err != nil {
				t.Fatal(err)
			}
			if n := f.logins.Load(); n != 1 {
				t.Fatalf("%d logins for 10 denied reads and one allowed read, want 1", n)
			}
		})
	}
}

// TokenAuth accepts a token that can read but may not look itself up.
func TestTokenAuthWithoutDefaultPolicy(t *testing.T) {
	f := newFakeVault(t)
	f.noDefault.Store(true)
	p := newTestProvider(t, f)
	if _, err := p.Retrieve(context.Background(), "default"); err != nil {
		t.Fatalf("token without lookup-self: %v", err)
	}
}

// A token Vault calls invalid is replaced at once, then at most once per
// ReloginInterval.
func TestReloginRateBound(t *testing.T) {
	f := newFakeVault(t)
	p := newTestProvider(t, f, func(o *Options) {
		o.Auth = AppRoleAuth(AppRole{RoleID: "r", SecretID: "s"})
		o.ReloginInterval = 1 << 62 // never again within the test
	})
	ctx := context.Background()
	if _, err := p.Retrieve(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	f.revoked.Store(true) // every token is now refused as invalid
	var last error
	for range 10 {
		_, last = p.Retrieve(ctx, "default")
		if last == nil {
			t.Fatal("read with a revoked token succeeded")
		}
	}
	if n := f.logins.Load(); n != 2 {
		t.Fatalf("%d logins, want 2 (the first, one re-login)", n)
	}
	if !errors.Is(last, ErrTokenRejected) || !errors.Is(last, provider.ErrUnavailable) {
		t.Fatalf("throttled: %v, want ErrTokenRejected and ErrUnavailable", last)
	}
	if strings.Contains(last.Error(), canary) {
		t.Fatal("error reveals the token")
	}
}

// Concurrent reads of one dynamic secret share one read: one lease.
func TestConcurrentLeaseReads(t *testing.T) {
	f := newFakeVault(t)
	p := newTestProvider(t, f)
	r, _ := ParseRef("vault:aws/creds/deploy")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.RetrieveRef(context.Background(), r)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if minted, _ := f.counts(); minted != 1 {
		t.Fatalf("20 concurrent reads minted %d leases, want 1", minted)
	}
}

// A lease Vault no longer knows (its token revoked, an operator) is not
// served from the cache.
func TestRevokedLeaseNotServed(t *testing.T) {
	f := newFakeVault(t)
	p := newTestProvider(t, f)
	r, _ := ParseRef("vault:aws/creds/deploy")
	ctx := context.Background()
	if _, err := p.RetrieveRef(ctx, r); err != nil {
		t.Fatal(err)
	}
	f.expire()
	if _, err := p.RetrieveRef(ctx, r); err != nil {
		t.Fatal(err)
	}
	if minted, _ := f.counts(); minted != 2 {
		t.Fatalf("%d leases minted, want 2: the revoked one was served from cache", minted)
	}
}

// A version pin is an error where it means nothing.
func TestVersionPinOutsideKV2(t *testing.T) {
	f := newFakeVault(t)
	p := newTestProvider(t, f)
	for _, s := range []string{"vault:kv1/mcp/default?version=2", "vault:aws/creds/deploy?version=1"} {
		r, err := ParseRef(s)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.RetrieveRef(context.Background(), r)
		if !errors.Is(err, ErrInvalidRef) || !errors.Is(err, provider.ErrInvalidRef) {
			t.Errorf("%s: err = %v, want ErrInvalidRef", s, err)
		}
	}
	if minted, _ := f.counts(); minted != 0 {
		t.Errorf("a pinned dynamic path minted %d leases", minted)
	}
}

// With EngineLogical, a deleted KV v2 version is not found, and a live one
// yields its data, not the envelope.
func TestLogicalKV2Envelope(t *testing.T) {
	f := newFakeVault(t)
	p := newTestProvider(t, f, func(o *Options) { o.Engine = EngineLogical })
	r, _ := ParseRef("vault:logical/data/mcp/deleted")
	c, err := p.RetrieveRef(context.Background(), r)
	if !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("deleted: %v %v, want ErrNotFound", c, err)
	}
	r, _ = ParseRef("vault:logical/data/mcp/live")
	c, err = p.RetrieveRef(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value("token") != canary || c.Has("metadata") || c.Source.Locator != "logical/data/mcp/live?version=5" {
		t.Fatalf("live: fields %v locator %q", c.Names(), c.Source.Locator)
	}
}

// Maps a request can grow stay bounded.
func TestCachesBounded(t *testing.T) {
	f := newFakeVault(t)
	p := newTestProvider(t, f, func(o *Options) { o.MaxLeases = 4 })
	ctx := context.Background()
	for i := range 2000 {
		for _, s := range []string{"vault:secret/data/mcp/missing-%d", "vault:nomount/x-%d"} {
			r, _ := ParseRef(fmt.Sprintf(s, i))
			if _, err := p.RetrieveRef(ctx, r); !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("%s: %v", r, err)
			}
		}
	}
	for i := range 20 {
		r, _ := ParseRef(fmt.Sprintf("vault:aws/creds/role-%d", i))
		if _, err := p.RetrieveRef(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	p.mu.Lock()
	mounts, leases := len(p.mounts), len(p.leases)
	p.mu.Unlock()
	if mounts > 2 || leases > 4 {
		t.Fatalf("after 4000 missing paths and 20 leased ones: %d mounts cached (want <= 2), %d leases (want <= 4)", mounts, leases)
	}
}

// Malformed URLs in the configuration are named, never quoted: they can
// carry a proxy or basic-auth password.
func TestConfigURLNotQuoted(t *testing.T) {
	const pw = "Pr0xyCANARY"
	bad := "http://svc-vault:" + pw + "@proxy.internal:31x8"
	for _, v := range []string{"VAULT_ADDR", "VAULT_AGENT_ADDR", "VAULT_HTTP_PROXY", "VAULT_PROXY_ADDR"} {
		t.Run("Getenv "+v, func(t *testing.T) {
			_, err := New(func(o *Options) {
				o.Getenv = env(map[string]string{"VAULT_TOKEN": "t", v: bad})
			})
			if err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), v) {
				t.Fatalf("err = %v, want one naming %s without its value", err, v)
			}
		})
		t.Run("process "+v, func(t *testing.T) {
			t.Setenv(v, bad)
			_, err := New(func(o *Options) { o.Getenv = env(map[string]string{"VAULT_TOKEN": "t"}) })
			if err == nil || strings.Contains(err.Error(), pw) {
				t.Fatalf("err = %v, want one without the value", err)
			}
		})
	}
	_, err := New(func(o *Options) { o.Address = bad; o.Getenv = env(nil) })
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Fatalf("Options.Address: err = %v", err)
	}
	// A valid proxy from Getenv is used.
	p, err := New(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_PROXY_ADDR": "http://u:p@127.0.0.1:3128"})
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}

// recorder is a second listener: it records what reaches it.
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
		r.hits = append(r.hits, req.URL.Path+" token="+req.Header.Get("X-Vault-Token")+" body="+string(b))
		r.mu.Unlock()
		writeJSON(w, 200, map[string]any{"auth": map[string]any{"client_token": "stolen"}, "data": map[string]any{"x": "y"}})
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hits...)
}

// A redirect to another host is refused before the token or a secret_id
// is sent there; one to the same host is followed.
func TestRedirectToOtherHostRefused(t *testing.T) {
	other := newRecorder(t)
	f := newFakeVault(t)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/same/redirect":
			http.Redirect(w, r, "/v1/kv1/mcp/default", http.StatusTemporaryRedirect)
		case strings.HasPrefix(r.URL.Path, "/v1/sys/internal/ui/mounts/same/"):
			writeJSON(w, 200, map[string]any{"data": map[string]any{"path": "same/", "type": "kv", "options": map[string]any{"version": "1"}}})
		case r.URL.Path == "/v1/auth/token/lookup-self", r.URL.Path == "/v1/kv1/mcp/default", strings.HasPrefix(r.URL.Path, "/v1/sys/internal/ui/mounts/"):
			f.Config.Handler.ServeHTTP(w, r)
		default:
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}
	}))
	t.Cleanup(front.Close)
	ctx := context.Background()
	for _, auth := range []Auth{TokenAuth(f.token), AppRoleAuth(AppRole{RoleID: "role", SecretID: canary})} {
		p, err := New(func(o *Options) {
			o.Getenv = env(map[string]string{"VAULT_ADDR": front.URL, "VAULT_MAX_RETRIES": "0"})
			o.Auth = auth
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Retrieve(ctx, "default")
		p.Close()
		if err == nil {
			t.Fatalf("%s: read through a cross-host redirect succeeded", describeAuth(auth))
		}
		if hits := other.seen(); len(hits) != 0 {
			t.Fatalf("%s: the other host received %d requests", describeAuth(auth), len(hits))
		}
		t.Logf("%s: %v", describeAuth(auth), err)
	}
	p, err := New(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": front.URL, "VAULT_MAX_RETRIES": "0", "VAULT_TOKEN": f.token})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, _ := ParseRef("vault:same/redirect")
	c, err := p.RetrieveRef(ctx, r)
	if err != nil || c.Value("token") != canary {
		t.Fatalf("same-host redirect: %v %v", c.Names(), err)
	}
}

// An empty answer to the unwrap call, or a panicking auth method, is a
// login error, not a crash.
func TestLoginNeverPanics(t *testing.T) {
	for name, h := range map[string]func(w http.ResponseWriter){
		"200 empty":  func(w http.ResponseWriter) { w.WriteHeader(200) },
		"404 empty":  func(w http.ResponseWriter) { w.WriteHeader(404) },
		"no data":    func(w http.ResponseWriter) { writeJSON(w, 200, map[string]any{"data": nil}) },
		"not string": func(w http.ResponseWriter) { writeJSON(w, 200, map[string]any{"data": map[string]any{"secret_id": 5}}) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeVault(t)
			f.unwrap = h
			p := newTestProvider(t, f, func(o *Options) {
				o.Auth = AppRoleAuth(AppRole{RoleID: "r", SecretID: canary, Wrapped: true})
			})
			_, err := p.Retrieve(context.Background(), "default")
			if !errors.Is(err, ErrLogin) || strings.Contains(err.Error(), canary) {
				t.Fatalf("err = %v, want a login error", err)
			}
		})
	}
	t.Run("panicking method", func(t *testing.T) {
		f := newFakeVault(t)
		p := newTestProvider(t, f, func(o *Options) { o.Auth = panicAuth{} })
		_, err := p.Retrieve(context.Background(), "default")
		if !errors.Is(err, ErrLogin) || strings.Contains(err.Error(), canary) {
			t.Fatalf("err = %v, want a login error", err)
		}
	})
}

type panicAuth struct{}

func (panicAuth) Login(context.Context, *api.Client) (*api.Secret, error) {
	var s *api.Secret
	_ = s.Data["x"+canary] // nil dereference
	panic("unreachable " + canary)
}
