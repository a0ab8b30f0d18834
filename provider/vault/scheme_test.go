package vault

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
)

func TestSchemeForms(t *testing.T) {
	f := newFakeVault(t)
	var s provider.Schemes
	s.Register("vault", Scheme(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": f.URL, "VAULT_TOKEN": f.token, "VAULT_MAX_RETRIES": "0", "HOME": t.TempDir()})
	}))
	ctx := context.Background()
	for _, tc := range []struct {
		ref      string
		resource string
		fields   []string
		locator  string
	}{
		{"vault:secret/data/mcp/work", "vault:secret/data/mcp/work", []string{"access_key_id", "port", "secret_access_key", "tls"}, "secret/data/mcp/work?version=3"},
		{"vault:secret/data/mcp/work#access_key_id", "vault:secret/data/mcp/work", []string{"access_key_id"}, "secret/data/mcp/work?version=3"},
		{"vault:secret/data/mcp/work?version=3", "vault:secret/data/mcp/work", []string{"access_key_id", "port", "secret_access_key", "tls"}, "secret/data/mcp/work?version=3"},
		{"vault:secret/data/mcp/work?version=3#secret_access_key", "vault:secret/data/mcp/work", []string{"secret_access_key"}, "secret/data/mcp/work?version=3"},
		{"vault:/secret/data/mcp/default/", "vault:secret/data/mcp/default", []string{"access_key_id", "port", "secret_access_key", "tls"}, "secret/data/mcp/default?version=3"},
		{"vault:kv1/mcp/default", "vault:kv1/mcp/default", []string{"token"}, "kv1/mcp/default"},
		{"vault:kv1/mcp/default#token", "vault:kv1/mcp/default", []string{"token"}, "kv1/mcp/default"},
		{"vault:aws/creds/deploy#access_key", "vault:aws/creds/deploy", []string{"access_key"}, "aws/creds/deploy"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			tgt, err := s.Open(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if len(tgt.Resources) != 1 || tgt.Resources[0].String() != tc.resource {
				t.Errorf("resources %v, want [%s]", tgt.Resources, tc.resource)
			}
			if n := provider.NameOf(tgt.Provider); n != Name {
				t.Errorf("name %q", n)
			}
			for _, profile := range []string{provider.DefaultProfile, "other"} {
				c, err := tgt.Provider.Retrieve(ctx, profile)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(c.Names(), ","); got != strings.Join(tc.fields, ",") {
					t.Errorf("fields %s, want %v", got, tc.fields)
				}
				if c.Source.Locator != tc.locator {
					t.Errorf("locator %q, want %q", c.Source.Locator, tc.locator)
				}
			}
		})
	}

	t.Run("version on KV v1", func(t *testing.T) {
		p, _, err := s.Provider("vault:kv1/mcp/default?version=2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Retrieve(ctx, provider.DefaultProfile); !errors.Is(err, provider.ErrInvalidRef) {
			t.Fatalf("a version pin on KV v1: %v, want ErrInvalidRef", err)
		}
	})
	t.Run("missing field", func(t *testing.T) {
		p, _, err := s.Provider("vault:secret/data/mcp/work#password")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Retrieve(ctx, provider.DefaultProfile); !errors.Is(err, provider.ErrNotFound) {
			t.Fatalf("missing key: %v, want ErrNotFound", err)
		}
	})
}

func TestSchemeInvalid(t *testing.T) {
	var s provider.Schemes
	s.Register("vault", Scheme(func(o *Options) { o.Getenv = env(nil) }))
	for _, tc := range []struct{ ref, want string }{
		{"vault:", "reference empty path"},
		{"vault:/", "empty path"},
		{"vault:secret//data/mcp", `path has an empty, "." or ".." segment`},
		{"vault:secret/./data/mcp", `path has an empty, "." or ".." segment`},
		{"vault:secret/data/mcp/a b", "path has invalid characters"},
		{`vault:secret\data\mcp`, "path has invalid characters"},
		{"vault:secret/data/mcp/*", `its body holds "*"`},
		{"vault:secret/data/mcp/aws?version=0", "version must be a positive integer without leading zeros"},
		{"vault:secret/data/mcp/aws?version=01", "version must be a positive integer without leading zeros"},
		{"vault:secret/data/mcp/aws?version=x", "version must be a positive integer"},
		{"vault:secret/data/mcp/aws?label=current", `has the param "label", but vault: takes only ?version=`},
		{"vault:secret/data/mcp/aws?profile=x", `has the param "profile", but vault: takes only ?version=`},
		{"vault:secret/data/../aws", `".." path segment`},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := s.Open(tc.ref)
			if err == nil || !errors.Is(err, provider.ErrInvalidRef) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalidRef with %q", err, tc.want)
			}
			if r, perr := provider.ParseRef(tc.ref); perr == nil && len(r.Body) > 4 && strings.Contains(err.Error(), r.Body) {
				t.Errorf("the error quotes the reference: %v", err)
			}
		})
	}
}

// TestSchemeReadsWhatItDeclares: a reference reads exactly the API path its
// Target declares. On a KV v2 mount the provider inserts data/ into a path
// written without it (secret/mcp/work is read as secret/data/mcp/work), so a
// reference written that way would read a path its Resource does not name,
// and a policy on secret/mcp/* would let it read secret/data/mcp/*. Such a
// reference must be refused (at Open or at Retrieve, with ErrInvalidRef),
// or declare the path it reads.
func TestSchemeReadsWhatItDeclares(t *testing.T) {
	for _, ref := range []string{
		"vault:secret/mcp/work",       // KV v2 mount secret/, path without data/
		"vault:secret/mcp/work#token", // the same, one key
		"vault:secret/data",           // read as secret/data/data
		"vault:secret",                // the mount itself, read as secret/data/
		"vault:logical/mcp/live",      // another KV v2 mount
	} {
		t.Run(ref, func(t *testing.T) {
			var (
				mu    sync.Mutex
				reads []provider.Resource
			)
			sc := recordingScheme(t, func(r provider.Resource) { mu.Lock(); reads = append(reads, r); mu.Unlock() })
			var s provider.Schemes
			s.Register("vault", sc)
			tgt, err := s.Open(ref)
			if err != nil {
				if !errors.Is(err, provider.ErrInvalidRef) {
					t.Fatalf("refused without ErrInvalidRef: %v", err)
				}
				return
			}
			var pats []string
			for _, r := range tgt.Resources {
				pats = append(pats, r.String())
			}
			declared, err := provider.NewRefPolicy(pats...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tgt.Provider.Retrieve(context.Background(), provider.DefaultProfile)
			mu.Lock()
			defer mu.Unlock()
			for _, r := range reads {
				if !declared.Covers(r) {
					t.Errorf("declares %v but read %v (Retrieve: %v)", pats, r, err)
				}
			}
		})
	}
}

// TestSchemePolicy: vault:secret/data/mcp/* allows the secrets directly
// under secret/data/mcp, however a reference to one is spelled (a version,
// one field), and never the secret at secret/data/mcp itself, which
// secret/data/mcp/, secret/data/mcp/?version=1 and secret/data/mcp/#field
// read.
func TestSchemePolicy(t *testing.T) {
	var s provider.Schemes
	s.Register("vault", Scheme(func(o *Options) { o.Getenv = env(nil) }))
	pol, err := provider.NewRefPolicy("vault:secret/data/mcp/*")
	if err != nil {
		t.Fatal(err)
	}
	deep, err := provider.NewRefPolicy("vault:secret/data/mcp/**")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref         string
		star, stars bool // allowed by secret/data/mcp/* and by secret/data/mcp/**
	}{
		{"vault:secret/data/mcp/aws", true, true},
		{"vault:secret/data/mcp/aws?version=1", true, true},
		{"vault:secret/data/mcp/aws#access_key_id", true, true},
		{"vault:secret/data/mcp/aws/", true, true},
		{"vault:/secret/data/mcp/aws", true, true},
		{"vault:secret/data/mcp/", false, false}, // the examples: they read secret/data/mcp
		{"vault:secret/data/mcp/?version=1", false, false},
		{"vault:secret/data/mcp/#field", false, false},
		{"vault:secret/data/mcp", false, false},
		{"vault:/secret/data/mcp/", false, false},
		{"vault:secret/data/mcp/team/aws", false, true},
		{"vault:secret/data/mcpx/aws", false, false},
		{"vault:secret/data/other", false, false},
		{"vault:secret/metadata/mcp/aws", false, false},
	} {
		tgt, err := s.Open(tc.ref)
		if err != nil {
			t.Errorf("%s: %v", tc.ref, err)
			continue
		}
		for _, p := range []struct {
			pol   *provider.RefPolicy
			allow bool
		}{{pol, tc.star}, {deep, tc.stars}} {
			err := p.pol.Check(tgt)
			switch {
			case p.allow && err != nil:
				t.Errorf("%v refuses %s: %v", p.pol.Patterns(), tc.ref, err)
			case !p.allow && !errors.Is(err, provider.ErrRefNotAllowed):
				t.Errorf("%v allows %s (resources %v)", p.pol.Patterns(), tc.ref, tgt.Resources)
			}
		}
	}
}
