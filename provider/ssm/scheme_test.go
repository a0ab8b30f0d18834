package ssm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/provider/ssm"
)

func TestScheme(t *testing.T) {
	f := newFakeSSM(t)
	seedProd(f)
	f.put("/shared/github-token", "SecureString", "v1")
	f.put("/shared/github-token", "SecureString", "v2", "current")
	f.put("/shared/github-token", "SecureString", canary+"-v3")
	var s provider.Schemes
	s.Register("ssm", ssm.Scheme(f.config(identityA), func(o *ssm.Options) { o.Backoff = noDelay }))
	ctx := context.Background()

	for _, tc := range []struct {
		ref     string
		want    map[string]string
		locator string
		calls   int
	}{
		{"ssm:/mcp/staging/", map[string]string{"token": "staging-token"}, "/mcp/staging/", 1},
		{"ssm:/mcp/prod/db/", map[string]string{"password": canary + "-db"}, "/mcp/prod/db/", 1},
		{"ssm:/shared/github-token#token", map[string]string{"token": canary + "-v3"}, "/shared/github-token", 1},
		{"ssm:/shared/github-token:1#token", map[string]string{"token": "v1"}, "/shared/github-token:1", 1},
		{"ssm:/shared/github-token:current#github_token", map[string]string{"github_token": "v2"}, "/shared/github-token:current", 1},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			p, _, err := s.Provider(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if n := provider.NameOf(p); n != ssm.Name {
				t.Errorf("name %q", n)
			}
			before := len(f.Calls())
			for _, profile := range []string{provider.DefaultProfile, "prod"} {
				c, err := p.Retrieve(ctx, profile)
				if err != nil {
					t.Fatal(err)
				}
				if c.Source.Locator != tc.locator || c.Len() != len(tc.want) {
					t.Fatalf("got %v, want fields %v from %s", c, tc.want, tc.locator)
				}
				for k, v := range tc.want {
					if c.Value(k) != v {
						t.Errorf("field %s differs", k)
					}
				}
			}
			if n := len(f.Calls()) - before; n != 2*tc.calls {
				t.Errorf("%d SSM calls for two retrieves, want %d", n, 2*tc.calls)
			}
		})
	}

	t.Run("prod walk", func(t *testing.T) {
		p, _, err := s.Provider("ssm:/mcp/prod/")
		if err != nil {
			t.Fatal(err)
		}
		providertest.Run(t, p, providertest.Options{Profile: "anything", Secrets: []string{canary},
			WantFields: []string{"access_key_id", "secret_access_key", "region", "db/password", "token"}})
	})

	for ref, want := range map[string]string{
		"ssm:/mcp/nosuch/":      "no parameters under the path",
		"ssm:/mcp/nosuch#token": "/mcp/nosuch",
	} {
		p, _, err := s.Provider(ref)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Retrieve(ctx, provider.DefaultProfile)
		if !provider.IsNotFound(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want not found naming %s", ref, err, want)
		}
	}

	// A pinned version that does not exist is a failure, not absence.
	p, _, err := s.Provider("ssm:/shared/github-token:9#token")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Retrieve(ctx, provider.DefaultProfile)
	if err == nil || provider.IsNotFound(err) || !strings.Contains(err.Error(), "/shared/github-token:9: ssm: GetParameter: ParameterVersionNotFound") {
		t.Errorf("missing version: %v", err)
	}
}

func TestSchemeInvalid(t *testing.T) {
	var s provider.Schemes
	s.Register("ssm", ssm.Scheme(aws.Config{Region: testRegion}))
	for _, tc := range []struct{ ref, want string }{
		{"ssm:", "ssm: body: names no parameter or path"},
		{"ssm:/", `ssm: body: "/" would read every parameter in the account`},
		{"ssm:/mcp/prod/#token", `ssm: fragment: "token": a path ("/mcp/prod/") gives every parameter under it as fields and takes no #fragment; for one parameter write ssm:/mcp/prod/NAME#FIELD`},
		{"ssm:/mcp/prod/token", `ssm: fragment: missing: "/mcp/prod/token" names one parameter; add #FIELD`},
		{"ssm:/mcp/prod/token#Token", `ssm: fragment: field name "Token" must be 1-64 characters of a-z, 0-9 and _`},
		{"ssm:/mcp/prod/token#db/password", `ssm: fragment: field name "db/password"`},
		{"ssm:mcp/prod/token#token", `ssm: body: ssm: invalid parameter name: "mcp/prod/token": a hierarchical name must start with '/'`},
		{"ssm:/mcp//prod/", `ssm: body: ssm: invalid parameter name: "/mcp//prod": empty hierarchy level`},
		{"ssm:/mcp/pr od/", `ssm: body: ssm: invalid parameter name: "/mcp/pr od": only letters, digits`},
		{"ssm:/mcp/token:0#token", `ssm: body: ssm: invalid parameter name: "/mcp/token:0": version must be a positive integer`},
		{"ssm:/mcp/token:awslabel#token", `label may not start with aws or ssm`},
		{"ssm:/aws/x#token", `names may not start with aws or ssm`},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, _, err := s.Provider(tc.ref)
			if err == nil || !errors.Is(err, provider.ErrInvalidRef) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant ErrInvalidRef with %q", err, tc.want)
			}
			if strings.Contains(tc.want, "invalid parameter name") && !errors.Is(err, ssm.ErrInvalidName) {
				t.Errorf("does not wrap ErrInvalidName: %v", err)
			}
		})
	}

	t.Run("bad options", func(t *testing.T) {
		sc := ssm.Scheme(aws.Config{}, func(o *ssm.Options) { o.Label = "aws-nope" })
		_, err := sc.Provider(provider.Ref{Scheme: "ssm", Body: "/mcp/prod/"})
		if err == nil || !strings.Contains(err.Error(), "ssm: Label") {
			t.Fatalf("got %v", err)
		}
	})
}

// SchemeFromDefaultConfig loads the SDK's configuration at the first
// Retrieve; here the environment points it at the local endpoint.
func TestSchemeFromDefaultConfig(t *testing.T) {
	f := newFakeSSM(t)
	seedProd(f)
	t.Setenv("AWS_ENDPOINT_URL_SSM", f.URL())
	t.Setenv("AWS_REGION", testRegion)
	t.Setenv("AWS_ACCESS_KEY_ID", identityB.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", identityB.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")

	var s provider.Schemes
	s.Register("ssm", ssm.SchemeFromDefaultConfig(func(o *ssm.Options) { o.Backoff = noDelay }))
	p, _, err := s.Provider("ssm:/mcp/staging/")
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil || c.Value("token") != "staging-token" {
		t.Fatalf("%v %v", c, err)
	}
	calls := f.Calls()
	if len(calls) != 1 || calls[0].Signer != identityB.AccessKeyID {
		t.Fatalf("calls %+v, want one signed by identity B", calls)
	}
}

func FuzzScheme(f *testing.F) {
	for _, s := range []string{"ssm:/mcp/prod/", "ssm:/mcp/prod/token#token", "ssm:/x:3#y", "ssm:/", "ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/x#y", "ssm:/x#" + canary} {
		f.Add(s)
	}
	sc := ssm.Scheme(aws.Config{Region: testRegion})
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := provider.ParseRef(s)
		if err != nil {
			return
		}
		p, err := sc.Provider(ref)
		if err != nil {
			if !errors.Is(err, provider.ErrInvalidRef) || len(err.Error()) > 600 {
				t.Fatalf("bad error: %v", err)
			}
			return
		}
		if p == nil {
			t.Fatal("nil provider without error")
		}
	})
}
