package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

func TestConformance(t *testing.T) {
	f := newFakeVault(t)
	p := newTestProvider(t, f)
	providertest.Run(t, p, providertest.Options{
		Profile:        "default",
		MissingProfile: "nobody",
		WantFields:     []string{"access_key_id", "secret_access_key"},
		Secrets:        []string{canary, f.token},
	})
}

func TestRetrieveErrors(t *testing.T) {
	f := newFakeVault(t)
	var logs bytes.Buffer
	p := newTestProvider(t, f, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tests := []struct {
		profile  string
		is       error
		notIs    []error
		contains string
	}{
		{"missing", provider.ErrNotFound, nil, "secret/data/mcp/missing"},
		{"deleted", provider.ErrNotFound, nil, "secret/data/mcp/deleted"},
		{"denied", ErrPermissionDenied, []error{provider.ErrNotFound, provider.ErrUnavailable}, `"read" capability on "secret/data/mcp/denied"`},
		{"sealed", provider.ErrUnavailable, nil, "Vault is sealed"},
		{"boom", provider.ErrUnavailable, nil, "HTTP 500"},
		{"standby", provider.ErrUnavailable, nil, "HTTP 429"},
		{"bad", nil, []error{provider.ErrNotFound, provider.ErrUnavailable}, "HTTP 400"},
		{"garbage", nil, []error{provider.ErrNotFound, provider.ErrUnavailable}, "malformed response from Vault"},
		{"../etc", provider.ErrNotFound, nil, "cannot be used in a Vault path"},
		{"a b", provider.ErrNotFound, nil, "cannot be used in a Vault path"},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			_, err := p.Retrieve(context.Background(), tt.profile)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
			for _, n := range tt.notIs {
				if errors.Is(err, n) {
					t.Errorf("error %q wraps %v", err, n)
				}
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Provider != Name {
				t.Errorf("error %T is not a *provider.Error from %s", err, Name)
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(s, canary) {
					t.Errorf("error reveals the canary: %s", s)
				}
			}
		})
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("log reveals the canary")
	}
}

func TestRetrieveKV2(t *testing.T) {
	f := newFakeVault(t)
	p := newTestProvider(t, f)
	c, err := p.Retrieve(context.Background(), "work")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Source.String(), "vault (secret/data/mcp/work?version=3)"; got != want {
		t.Errorf("Source = %q, want %q", got, want)
	}
	for k, want := range map[string]string{"access_key_id": "AKIAFAKE", "secret_access_key": canary, "port": "5432", "tls": "true"} {
		if got := c.Value(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !c.Expires.IsZero() {
		t.Errorf("KV secret has an expiry %v", c.Expires)
	}
	providertest.CheckRendering(t, c, canary)
}

func TestFieldMapping(t *testing.T) {
	f := newFakeVault(t)
	tests := []struct {
		name    string
		fields  map[string]string
		want    map[string]string
		notFnd  bool
		profile string
	}{
		{"all", nil, map[string]string{"access_key_id": "AKIAFAKE", "secret_access_key": canary, "port": "5432", "tls": "true"}, false, "default"},
		{"renamed", map[string]string{"user": "access_key_id", "password": "secret_access_key"}, map[string]string{"user": "AKIAFAKE", "password": canary}, false, "default"},
		{"missing key", map[string]string{"user": "nope"}, nil, true, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProvider(t, f, func(o *Options) { o.Fields = tt.fields })
			c, err := p.Retrieve(context.Background(), tt.profile)
			if tt.notFnd {
				if !errors.Is(err, provider.ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Names()) != len(tt.want) {
				t.Errorf("fields %v, want %d", c.Names(), len(tt.want))
			}
			for k, v := range tt.want {
				if c.Value(k) != v {
					t.Errorf("%s wrong", k)
				}
			}
		})
	}
}

func TestRetrieveRefEngines(t *testing.T) {
	f := newFakeVault(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := newTestProvider(t, f, func(o *Options) { o.Now = func() time.Time { return now } })
	tests := []struct {
		ref     string
		field   string
		want    string
		loc     string
		expires time.Time
	}{
		{"vault:secret/data/mcp/work#access_key_id", "access_key_id", "AKIAFAKE", "secret/data/mcp/work?version=3", time.Time{}},
		{"vault:secret/data/mcp/work#secret_access_key", "secret_access_key", canary, "secret/data/mcp/work?version=3", time.Time{}},
		{"vault:kv1/mcp/default#token", "token", canary, "kv1/mcp/default", time.Time{}},
		// Expires is when the provider replaces (and revokes) the lease:
		// with a third of its 900s left.
		{"vault:aws/creds/deploy", "access_key", "AKIADYN", "aws/creds/deploy", now.Add(600 * time.Second)},
		// Served from the cache after sys/leases/lookup said 900s are
		// left, counted as 899s (a second of skew).
		{"vault:aws/creds/deploy#secret_key", "secret_key", canary, "aws/creds/deploy", now.Add(599 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			r, err := ParseRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.RetrieveRef(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if c.Value(tt.field) != tt.want {
				t.Errorf("%s wrong (fields %v)", tt.field, c.Names())
			}
			if c.Source.Locator != tt.loc {
				t.Errorf("locator %q, want %q", c.Source.Locator, tt.loc)
			}
			if !c.Expires.Equal(tt.expires) {
				t.Errorf("expires %v, want %v", c.Expires, tt.expires)
			}
			if tt.field == "access_key" && c.Has("security_token") {
				t.Errorf("null value became a field")
			}
		})
	}
	// The dynamic secret is cached while its lease lasts: one read only.
	before := f.reads.Load()
	r, _ := ParseRef("vault:aws/creds/deploy")
	if _, err := p.RetrieveRef(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if n := f.reads.Load() - before; n != 0 {
		t.Errorf("cached lease: %d extra reads", n)
	}
	now = now.Add(700 * time.Second) // less than a third of the lease left
	if _, err := p.RetrieveRef(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if n := f.reads.Load() - before; n != 1 {
		t.Errorf("expiring lease: %d reads, want 1", n)
	}
	if minted, revoked := f.counts(); minted != 2 || revoked != 1 {
		t.Errorf("replacing the lease: %d minted, %d revoked; want 2, 1 (the replaced one)", minted, revoked)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	p, err := New(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": addr, "VAULT_TOKEN": canary, "VAULT_MAX_RETRIES": "0"})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Retrieve(context.Background(), "default")
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatalf("error reveals the token")
	}
}

func TestReloginAfterRevocation(t *testing.T) {
	f := newFakeVault(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "sink")
	if err := os.WriteFile(tokenFile, []byte(f.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newTestProvider(t, f, func(o *Options) { o.Auth = TokenFileAuth(tokenFile) })
	if _, err := p.Retrieve(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	// The agent writes a new token, the old one is revoked.
	f.revoked.Store(true)
	_, err := p.Retrieve(context.Background(), "default")
	if err == nil || errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("revoked token: err = %v", err)
	}
	f.token = "s.second-" + canary
	f.revoked.Store(false)
	if err := os.WriteFile(tokenFile, []byte(f.token), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Retrieve(context.Background(), "default"); err != nil {
		t.Fatalf("after the sink file changed: %v", err)
	}
}

func TestDefaultAuth(t *testing.T) {
	home := t.TempDir()
	withFile := t.TempDir()
	os.WriteFile(filepath.Join(withFile, ".vault-token"), []byte("x"), 0o600)
	tests := []struct {
		name     string
		env      map[string]string
		wantAuth string
		noConfig bool
	}{
		{"nothing", map[string]string{"HOME": home}, "", true},
		{"addr only", map[string]string{"HOME": home, "VAULT_ADDR": "http://127.0.0.1:1"}, "", false},
		{"agent", map[string]string{"HOME": home, "VAULT_AGENT_ADDR": "http://127.0.0.1:1"}, "", false},
		{"token", map[string]string{"HOME": withFile, "VAULT_TOKEN": "t"}, "token", false},
		{"token file", map[string]string{"HOME": withFile}, "token file " + filepath.Join(withFile, ".vault-token"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(func(o *Options) { o.Getenv = env(tt.env) })
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if p.sess.auth != nil {
				got = describeAuth(p.sess.auth)
			}
			if got != tt.wantAuth || p.noConfig != tt.noConfig {
				t.Errorf("auth %q noConfig %v, want %q %v", got, p.noConfig, tt.wantAuth, tt.noConfig)
			}
			if tt.noConfig {
				_, err := p.Retrieve(context.Background(), "default")
				if !errors.Is(err, provider.ErrNotFound) {
					t.Errorf("unconfigured: err = %v, want ErrNotFound", err)
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		fn   func(*Options)
	}{
		{"bad retries", func(o *Options) { o.Getenv = env(map[string]string{"VAULT_MAX_RETRIES": "x"}) }},
		{"bad skip verify", func(o *Options) { o.Getenv = env(map[string]string{"VAULT_SKIP_VERIFY": "maybe"}) }},
		{"missing CA file", func(o *Options) {
			o.Getenv = env(map[string]string{"VAULT_CACERT": filepath.Join(t.TempDir(), "none.pem")})
		}},
		{"bad profile ref", func(o *Options) { o.Profiles = map[string]string{"x": "vault:../" + canary} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.fn)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error reveals input: %v", err)
			}
		})
	}
}

func TestNamespaceAndToken(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "from-process")
	t.Setenv("VAULT_NAMESPACE", "process-ns")
	p, err := New(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_NAMESPACE": "team-a", "VAULT_ADDR": "http://127.0.0.1:1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Client().Token() != "" {
		t.Errorf("process VAULT_TOKEN leaked into the client")
	}
	if got := p.Client().Namespace(); got != "team-a" {
		t.Errorf("namespace %q", got)
	}
}

func TestCanceled(t *testing.T) {
	f := newFakeVault(t)
	p := newTestProvider(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Retrieve(ctx, "default")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestScheme(t *testing.T) {
	f := newFakeVault(t)
	var s provider.Schemes
	s.Register("vault", Scheme(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": f.URL, "VAULT_TOKEN": f.token, "VAULT_MAX_RETRIES": "0"})
	}))
	p, _, err := s.Provider("vault:secret/data/mcp/work#secret_access_key")
	if err != nil {
		t.Fatal(err)
	}
	providertest.Run(t, p, providertest.Options{Profile: "anything", WantFields: []string{"secret_access_key"}, Secrets: []string{canary, f.token}})
	p2, _, err := s.Provider("vault:secret/data/mcp/absent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Retrieve(context.Background(), "default"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	if _, _, err := s.Provider("vault:secret/x?version=x"); err == nil {
		t.Fatal("bad version accepted")
	}
}
