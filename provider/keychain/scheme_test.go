package keychain

import (
	"context"
	"errors"
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
		canon   string // the Target's canonical reference
	}{
		{"keychain:ops", map[string]string{"token": canary, "username": "octocat"}, "mcpcred:ops", "keychain:mcpcred/ops"},
		{"keychain:mcpcred/ops", map[string]string{"token": canary, "username": "octocat"}, "mcpcred:ops", "keychain:mcpcred/ops"},
		{"keychain:ops#username", map[string]string{"username": "octocat"}, "mcpcred:ops/username", "keychain:mcpcred/ops#username"},
		{"keychain:manual#github_pat", map[string]string{"github_pat": "ghp_manual"}, "mcpcred:manual/github_pat", "keychain:mcpcred/manual#github_pat"},
		{"keychain:acme/ops", map[string]string{"token": "acme-token"}, "acme:ops", "keychain:acme/ops"},
		{"keychain:acme/ops#token", map[string]string{"token": "acme-token"}, "acme:ops/token", "keychain:acme/ops#token"},
		{"keychain:", map[string]string{"token": "default-token"}, "mcpcred:default", "keychain:mcpcred/default"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			tgt, err := s.Open(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if got := tgt.Ref.String(); got != tc.canon {
				t.Errorf("canonical form %q, want %q", got, tc.canon)
			}
			// The one resource is SERVICE/PROFILE, with or without #field.
			wantRes := "keychain:" + strings.TrimSuffix(strings.TrimPrefix(tc.canon, "keychain:"), "#"+strings.SplitN(tc.canon+"#", "#", 3)[1])
			if len(tgt.Resources) != 1 || tgt.Resources[0].String() != wantRes {
				t.Errorf("resources %v, want [%s]", tgt.Resources, wantRes)
			}
			p := tgt.Provider
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
		if !errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want not found with %q", ref, err, want)
		}
	}

	t.Run("shared per service", func(t *testing.T) {
		sc := Scheme(func(o *Options) { o.Keyring = kr }).(*scheme)
		for _, b := range []string{"ops", "mcpcred/ops", "a", "acme/ops", "acme/x"} {
			if _, err := sc.Open(provider.Ref{Scheme: "keychain", Body: b}); err != nil {
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
		{"keychain:my ops", "its body names a profile that is not valid: profile name contains a space or control character"},
		{"keychain:ops:prod", `its body names a profile that is not valid: profile name contains ":"`},
		{"keychain:mcpcred/", "its body names a profile that is not valid: profile name is empty"},
		{"keychain:/ops", "its body has a service prefix that is not valid: it is empty"},
		{"keychain:mcp:cred/ops", `its body has a service prefix that is not valid: it contains ":"`},
		{"keychain:my svc/ops", "its body has a service prefix that is not valid: it contains a space or control character"},
		{"keychain:a/b/c", "its body has more than one /; the form is SERVICE/PROFILE"},
		{"keychain:mcpcred/*", `its body holds "*"`},
		{"keychain:ops*", `its body holds "*"`},
		{"keychain:ops#_fields", "its field field name must be letters, digits"},
		{"keychain:ops#.hidden", "its field field name must be letters, digits"},
		{"keychain:ops#api key", "has a #field that is not"}, // refused by provider.ParseRef already
		{"keychain:ops#" + strings.Repeat("f", 65), "its field field name is longer than 64 bytes"},
		{"keychain:" + strings.Repeat("p", 129), "its body names a profile that is not valid: profile name is longer than 128 bytes"},
		{"keychain:" + strings.Repeat("s", 129) + "/ops", "its body has a service prefix that is not valid: it is longer than 128 bytes"},
		{"keychain:ops?version=1", `has the param "version", but keychain: takes no ?params`},
	} {
		t.Run(tc.ref[:min(len(tc.ref), 30)], func(t *testing.T) {
			_, err := s.Open(tc.ref)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, provider.ErrInvalidRef) {
				t.Fatalf("got %v, want ErrInvalidRef with %q", err, tc.want)
			}
			if r, perr := provider.ParseRef(tc.ref); perr == nil && len(r.Body) > 4 && strings.Contains(err.Error(), r.Body) {
				t.Errorf("the error quotes the reference: %v", err)
			}
		})
	}
}

// TestSchemeDotProfile: "." and ".." cannot be a profile or a service
// prefix in a reference: the resource keychain:mcpcred/. would not name
// one keychain profile, and a policy could not match it.
func TestSchemeDotProfile(t *testing.T) {
	s := schemesOver(noCallKeyring{t})
	for _, ref := range []string{"keychain:.", "keychain:mcpcred/.", "keychain:./ops", "keychain:.#token"} {
		_, err := s.Open(ref)
		if err == nil || !errors.Is(err, provider.ErrInvalidRef) {
			t.Errorf("%s: %v, want ErrInvalidRef", ref, err)
		} else if strings.Contains(err.Error(), "a bug in the scheme") {
			t.Errorf("%s: refused only by the Target check, not by the scheme: %v", ref, err)
		}
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
	tgt, err := s.Open("keychain:mcpcred/" + profile)
	if err != nil {
		t.Fatal(err)
	}
	if len(tgt.Resources) != 1 || tgt.Resources[0] != (provider.Resource{Scheme: "keychain", Path: "mcpcred/" + profile}) {
		t.Errorf("resources %v", tgt.Resources)
	}
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
		tgt, err := sc.Open(ref)
		if err != nil {
			if !strings.Contains(err.Error(), provider.ErrInvalidRef.Error()) || len(err.Error()) > 400 {
				t.Fatalf("bad error: %v", err)
			}
			return
		}
		if len(tgt.Resources) != 1 {
			t.Fatalf("%d resources", len(tgt.Resources))
		}
		if _, err := tgt.Provider.Retrieve(context.Background(), provider.DefaultProfile); !errors.Is(err, provider.ErrNotFound) {
			t.Fatalf("empty keyring: %v", err)
		}
	})
}
