package keychain

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

func schemesOver(kr Keyring) *provider.Schemes {
	var s provider.Schemes
	s.Register("keychain", Scheme(func(o *Options) { o.Keyring = kr }))
	return &s
}

func TestScheme(t *testing.T) {
	kr := newMemKeyring()
	ctx := context.Background()
	store := New(func(o *Options) { o.Keyring = kr })
	if err := store.Store(ctx, "ops", map[string]provider.Secret{"token": provider.NewSecret(canary), "username": provider.NewSecret("octocat")}); err != nil {
		t.Fatal(err)
	}
	if err := store.Store(ctx, provider.DefaultProfile, map[string]provider.Secret{"token": provider.NewSecret("default-token")}); err != nil {
		t.Fatal(err)
	}
	// Items made by hand, as with secret-tool: no index, one unlisted name.
	kr.Set("mcpcred:manual", "github_pat", "ghp_manual")
	kr.Set("acme:ops", "token", "acme-token")
	s := schemesOver(kr)

	for _, tc := range []struct {
		ref     string
		want    map[string]string
		locator string
	}{
		{"keychain:ops", map[string]string{"token": canary, "username": "octocat"}, "mcpcred:ops"},
		{"keychain:mcpcred/ops", map[string]string{"token": canary, "username": "octocat"}, "mcpcred:ops"},
		{"keychain:ops#username", map[string]string{"username": "octocat"}, "mcpcred:ops/username"},
		{"keychain:manual#github_pat", map[string]string{"github_pat": "ghp_manual"}, "mcpcred:manual/github_pat"},
		{"keychain:acme/ops", map[string]string{"token": "acme-token"}, "acme:ops"},
		{"keychain:acme/ops#token", map[string]string{"token": "acme-token"}, "acme:ops/token"},
		{"keychain:", map[string]string{"token": "default-token"}, "mcpcred:default"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			p, _, err := s.Provider(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if n := provider.NameOf(p); n != Name {
				t.Errorf("name %q", n)
			}
			for _, profile := range []string{provider.DefaultProfile, "prod"} {
				c, err := p.Retrieve(ctx, profile)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]string{}
				for _, n := range c.Names() {
					got[n] = c.Value(n)
				}
				if len(got) != len(tc.want) || c.Source.Locator != tc.locator {
					t.Fatalf("got %v from %q, want %v from %q", c.Names(), c.Source.Locator, tc.want, tc.locator)
				}
				for k, v := range tc.want {
					if got[k] != v {
						t.Errorf("field %s differs", k)
					}
				}
			}
		})
	}

	for ref, want := range map[string]string{
		"keychain:nosuch":         `no items under service "mcpcred:nosuch"`,
		"keychain:ops#password":   `provider keychain: profile "ops": mcpcred:ops/password: keychain: no such item`,
		"keychain:other/ops#name": `other:ops/name: keychain: no such item`,
	} {
		p, _, err := s.Provider(ref)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Retrieve(ctx, provider.DefaultProfile)
		if !provider.IsNotFound(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want not found with %q", ref, err, want)
		}
	}

	t.Run("shared per service", func(t *testing.T) {
		sc := Scheme(func(o *Options) { o.Keyring = kr }).(*scheme)
		for _, b := range []string{"ops", "mcpcred/ops", "a", "acme/ops", "acme/x"} {
			if _, err := sc.Provider(provider.Ref{Scheme: "keychain", Body: b}); err != nil {
				t.Fatal(err)
			}
		}
		if len(sc.byService) != 2 {
			t.Errorf("%d providers, want one per service prefix (2)", len(sc.byService))
		}
	})

	t.Run("conformance", func(t *testing.T) {
		for _, ref := range []string{"keychain:ops", "keychain:ops#token"} {
			p, _, err := s.Provider(ref)
			if err != nil {
				t.Fatal(err)
			}
			providertest.Run(t, p, providertest.Options{Profile: "anything", WantFields: []string{"token"}, Secrets: []string{canary}})
		}
	})
}

func TestSchemeInvalid(t *testing.T) {
	s := schemesOver(noCallKeyring{t})
	for _, tc := range []struct{ ref, want string }{
		{"keychain:my ops", `keychain: body: "my ops": profile name contains a space or control character`},
		{"keychain:ops:prod", `keychain: body: "ops:prod": profile name contains ":"`},
		{"keychain:mcpcred/", `keychain: body: "mcpcred/": profile name is empty`},
		{"keychain:/ops", `keychain: body: service prefix "" is empty`},
		{"keychain:mcp:cred/ops", `keychain: body: service prefix "mcp:cred" contains ":"`},
		{"keychain:a/b/c", `keychain: body: "a/b/c" has more than one /; the form is SERVICE/PROFILE`},
		{"keychain:ops#_fields", `keychain: fragment: "_fields": field name must be letters, digits`},
		{"keychain:ops#api key", `keychain: fragment: "api key": field name must be`},
		{"keychain:" + strings.Repeat("p", 129), `keychain: body: (129 bytes): profile name is longer than 128 bytes`},
	} {
		t.Run(tc.ref[:min(len(tc.ref), 30)], func(t *testing.T) {
			_, _, err := s.Provider(tc.ref)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), provider.ErrInvalidRef.Error()) {
				t.Fatalf("got %v, want ErrInvalidRef with %q", err, tc.want)
			}
		})
	}
}

// TestSchemeLive reads references from the real Secret Service, including
// an item stored without this package's index.
func TestSchemeLive(t *testing.T) {
	requireKeyring(t)
	ctx := context.Background()
	profile := uniqueProfile(t)
	kc := New()
	if err := kc.Store(ctx, profile, map[string]provider.Secret{"token": provider.NewSecret(canary)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kc.Delete(context.Background(), profile) })
	if err := (osKeyring{}).Set("mcpcred:"+profile, "github_pat", "ghp-live"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { (osKeyring{}).Delete("mcpcred:"+profile, "github_pat") })

	var s provider.Schemes
	s.Register("keychain", Scheme())
	p, _, err := s.Provider("keychain:mcpcred/" + profile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Retrieve(ctx, provider.DefaultProfile)
	if err != nil || c.Value("token") != canary || c.Has("github_pat") {
		t.Fatalf("whole profile: %v %v", c, err)
	}
	p, _, err = s.Provider("keychain:" + profile + "#github_pat")
	if err != nil {
		t.Fatal(err)
	}
	c, err = p.Retrieve(ctx, "other")
	if err != nil || c.Value("github_pat") != "ghp-live" {
		t.Fatalf("one item: %v %v", c, err)
	}
	providertest.Run(t, p, providertest.Options{Profile: "x", WantFields: []string{"github_pat"}})
}

func FuzzScheme(f *testing.F) {
	for _, s := range []string{"keychain:", "keychain:ops", "keychain:mcpcred/ops#token", "keychain:a/b/c", "keychain:ops#" + canary} {
		f.Add(s)
	}
	sc := Scheme(func(o *Options) { o.Keyring = newMemKeyring() })
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := provider.ParseRef(s)
		if err != nil {
			return
		}
		p, err := sc.Provider(ref)
		if err != nil {
			if !strings.Contains(err.Error(), provider.ErrInvalidRef.Error()) || len(err.Error()) > 400 {
				t.Fatalf("bad error: %v", err)
			}
			return
		}
		if _, err := p.Retrieve(context.Background(), provider.DefaultProfile); !provider.IsNotFound(err) {
			t.Fatalf("empty keyring: %v", err)
		}
	})
}
