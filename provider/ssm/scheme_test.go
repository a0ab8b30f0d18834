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
		ref      string
		want     map[string]string
		locator  string
		calls    int
		resource string
	}{
		{"ssm:/mcp/staging/", map[string]string{"token": "staging-token"}, "/mcp/staging/", 1, "ssm:/mcp/staging/**"},
		{"ssm:/mcp/prod/db/", map[string]string{"password": canary + "-db"}, "/mcp/prod/db/", 1, "ssm:/mcp/prod/db/**"},
		{"ssm:/shared/github-token#token", map[string]string{"token": canary + "-v3"}, "/shared/github-token", 1, "ssm:/shared/github-token"},
		{"ssm:/shared/github-token?version=1#token", map[string]string{"token": "v1"}, "/shared/github-token:1", 1, "ssm:/shared/github-token"},
		{"ssm:/shared/github-token?label=current#github_token", map[string]string{"github_token": "v2"}, "/shared/github-token:current", 1, "ssm:/shared/github-token"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			tgt, err := s.Open(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if len(tgt.Resources) != 1 || tgt.Resources[0].String() != tc.resource {
				t.Errorf("resources %v, want [%s]", tgt.Resources, tc.resource)
			}
			p := tgt.Provider
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
		if !errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want not found naming %s", ref, err, want)
		}
	}

	// A pinned version that does not exist is a failure, not absence.
	p, _, err := s.Provider("ssm:/shared/github-token?version=9#token")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Retrieve(ctx, provider.DefaultProfile)
	if err == nil || errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), "/shared/github-token:9: ssm: GetParameter: ParameterVersionNotFound") {
		t.Errorf("missing version: %v", err)
	}
}

func TestSchemeResources(t *testing.T) {
	var s provider.Schemes
	s.Register("ssm", ssm.Scheme(aws.Config{Region: testRegion}))
	for ref, want := range map[string]provider.Resource{
		"ssm:/mcp/prod/":                  {Scheme: "ssm", Path: "/mcp/prod", Span: provider.Subtree},
		"ssm:/mcp/":                       {Scheme: "ssm", Path: "/mcp", Span: provider.Subtree},
		"ssm:/mcp/prod/token#token":       {Scheme: "ssm", Path: "/mcp/prod/token"},
		"ssm:/mcp/prod/token?version=3#t": {Scheme: "ssm", Path: "/mcp/prod/token"},
		"ssm:/mcp/prod/token?label=cur#t": {Scheme: "ssm", Path: "/mcp/prod/token"},
		"ssm:token#token":                 {Scheme: "ssm", Path: "token"},
		"ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/mcp/prod/token#token": {Scheme: "ssm", Path: "arn:aws:ssm:eu-west-1:123456789012:parameter/mcp/prod/token"},
	} {
		tgt, err := s.Open(ref)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if len(tgt.Resources) != 1 || tgt.Resources[0] != want {
			t.Errorf("%s: resources %v, want [%v]", ref, tgt.Resources, want)
		}
	}
}

func TestSchemeInvalid(t *testing.T) {
	var s provider.Schemes
	s.Register("ssm", ssm.Scheme(aws.Config{Region: testRegion}))
	for _, tc := range []struct{ ref, want string }{
		{"ssm:", "its body names no parameter or path"},
		{"ssm:/", `its body is "/", which would read every parameter in the account`},
		{"ssm:/mcp/prod/#token", "its field is set, but a path gives every parameter under it as fields; for one parameter write ssm:/PATH/NAME#FIELD"},
		{"ssm:/mcp/prod/?version=3", "its params are set, but a path walk reads the current versions"},
		{"ssm:/mcp/prod/?label=current", "its params are set, but a path walk reads the current versions"},
		{"ssm:/mcp/prod/token", "its field is missing: one parameter needs #FIELD"},
		{"ssm:/mcp/prod/token#Token", "its field is not a field name: 1-64 characters of a-z, 0-9 and _"},
		{"ssm:/mcp/prod/token#db/password", "has a #field that is not"}, // refused by provider.ParseRef already
		{"ssm:mcp/prod/token#token", "its body is not a parameter name SSM accepts"},
		{"ssm:/mcp/pr od/token#token", "its body is not a parameter name SSM accepts"},
		{"ssm:/mcp//prod/", "its body is not a parameter path SSM accepts"},
		{"ssm:/mcp/pr od/", "its body is not a parameter path SSM accepts"},
		{"ssm:mcp/prod/", "its body is not a parameter path SSM accepts"},
		{"ssm:/mcp/prod/*", `its body holds "*"`},
		{"ssm:/mcp/token:3#token", "its body ends in :SELECTOR; write a version as ?version=N and a label as ?label=L"},
		{"ssm:/mcp/token:current#token", "its body ends in :SELECTOR"},
		{"ssm:/mcp/token:0#token", "its body is not a parameter name SSM accepts"},
		{"ssm:/mcp/token?version=0#token", "its params have a version that is not a positive integer"},
		{"ssm:/mcp/token?version=x#token", "its params have a version that is not a positive integer"},
		{"ssm:/mcp/token?version=1&label=current#token", "its params pin both a version and a label; choose one"},
		{"ssm:/mcp/token?label=awslabel#token", "its params have a label SSM refuses: label may not start with aws or ssm"},
		{"ssm:/mcp/token?profile=x#token", `has the param "profile", but ssm: takes only ?version=, ?label=`},
		{"ssm:/aws/x#token", "its body is not a parameter name SSM accepts"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := s.Open(tc.ref)
			if err == nil || !errors.Is(err, provider.ErrInvalidRef) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant ErrInvalidRef with %q", err, tc.want)
			}
			if r, perr := provider.ParseRef(tc.ref); perr == nil && len(r.Body) > 4 && strings.Contains(err.Error(), strings.TrimSuffix(r.Body, "/")) {
				t.Errorf("the error quotes the reference: %v", err)
			}
		})
	}

	t.Run("bad options", func(t *testing.T) {
		sc := ssm.Scheme(aws.Config{}, func(o *ssm.Options) { o.Label = "aws-nope" })
		_, err := sc.Open(provider.Ref{Scheme: "ssm", Body: "/mcp/prod/"})
		if err == nil || !strings.Contains(err.Error(), "ssm: Label") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestSchemePathErrorNoEcho: a path SSM would refuse is described, never
// quoted: it came from a request.
func TestSchemePathErrorNoEcho(t *testing.T) {
	var s provider.Schemes
	s.Register("ssm", ssm.Scheme(aws.Config{Region: testRegion}))
	const key = "AKIAIOSFODNN7EXAMPLE"
	for _, ref := range []string{"ssm:/" + key + "//x/", "ssm:/" + key + "/a b/", "ssm:" + key + "/x/", "ssm:/aws" + key + "/"} {
		_, err := s.Open(ref)
		if err == nil || !errors.Is(err, provider.ErrInvalidRef) {
			t.Errorf("%s: %v, want ErrInvalidRef", ref, err)
			continue
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("the error quotes the reference: %v", err)
		}
	}
}

// TestSchemeDigitLabel: SSM labels cannot start with a digit, because
// GetParameter reads NAME:N as version N. ?label=2024 must be refused, not
// sent as /mcp/prod/token:2024, which reads version 2024.
func TestSchemeDigitLabel(t *testing.T) {
	f := newFakeSSM(t)
	f.put("/mcp/prod/token", "SecureString", "v1", "1st")
	f.put("/mcp/prod/token", "SecureString", "v2")
	var s provider.Schemes
	s.Register("ssm", ssm.Scheme(f.config(identityA), func(o *ssm.Options) { o.Backoff = noDelay }))
	for _, ref := range []string{"ssm:/mcp/prod/token?label=1#token", "ssm:/mcp/prod/token?label=1st#token", "ssm:/mcp/prod/token?label=2024#token"} {
		tgt, err := s.Open(ref)
		if err != nil {
			if !errors.Is(err, provider.ErrInvalidRef) {
				t.Errorf("%s: %v, want ErrInvalidRef", ref, err)
			}
			continue
		}
		c, err := tgt.Provider.Retrieve(context.Background(), provider.DefaultProfile)
		t.Errorf("%s: accepted, and read %v (%v): a label starting with a digit is read as a version", ref, c.Source.Locator, err)
	}
}

// TestSchemeDotLevel: "." cannot be a hierarchy level of a reference: the
// resource ssm:/mcp/./token would name no parameter a policy can match, so
// the scheme refuses it itself rather than leave it to the Target check.
func TestSchemeDotLevel(t *testing.T) {
	var s provider.Schemes
	s.Register("ssm", ssm.Scheme(aws.Config{Region: testRegion}))
	for _, ref := range []string{"ssm:/mcp/./token#token", "ssm:/mcp/./", "ssm:/./", "ssm:/mcp/.#token"} {
		_, err := s.Open(ref)
		if err == nil || !errors.Is(err, provider.ErrInvalidRef) {
			t.Errorf("%s: %v, want ErrInvalidRef", ref, err)
		} else if strings.Contains(err.Error(), "a bug in the scheme") {
			t.Errorf("%s: refused only by the Target check, not by the scheme: %v", ref, err)
		}
	}
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
	for _, s := range []string{"ssm:/mcp/prod/", "ssm:/mcp/prod/token#token", "ssm:/x?version=3#y", "ssm:/x?label=cur#y", "ssm:/x:3#y", "ssm:/", "ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/x#y", "ssm:/x#" + canary} {
		f.Add(s)
	}
	sc := ssm.Scheme(aws.Config{Region: testRegion})
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := provider.ParseRef(s)
		if err != nil {
			return
		}
		tgt, err := sc.Open(ref)
		if err != nil {
			if !errors.Is(err, provider.ErrInvalidRef) || len(err.Error()) > 600 {
				t.Fatalf("bad error: %v", err)
			}
			return
		}
		if tgt.Provider == nil || len(tgt.Resources) != 1 {
			t.Fatalf("Target without a Provider or with %d resources", len(tgt.Resources))
		}
	})
}

// TestSchemePolicy: a path reference is a recursive walk, allowed only by
// a recursive pattern: ssm:/mcp/prod/* allows the parameters directly
// under /mcp/prod one by one, never ssm:/mcp/prod/, which ssm:/mcp/prod/**
// allows.
func TestSchemePolicy(t *testing.T) {
	var s provider.Schemes
	s.Register("ssm", ssm.Scheme(aws.Config{Region: testRegion}))
	star, err := provider.NewRefPolicy("ssm:/mcp/prod/*")
	if err != nil {
		t.Fatal(err)
	}
	deep, err := provider.NewRefPolicy("ssm:/mcp/prod/**")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref         string
		star, stars bool // allowed by ssm:/mcp/prod/* and by ssm:/mcp/prod/**
	}{
		{"ssm:/mcp/prod/", false, true}, // the example: a recursive walk
		{"ssm:/mcp/prod/db/", false, true},
		{"ssm:/mcp/", false, false},
		{"ssm:/mcp/prod/token#token", true, true},
		{"ssm:/mcp/prod/token?version=3#token", true, true},
		{"ssm:/mcp/prod/token?label=current#token", true, true},
		{"ssm:/mcp/prod/db/password#password", false, true},
		{"ssm:/mcp/production/token#token", false, false},
		{"ssm:/mcp/prod#token", false, false},
		{"ssm:arn:aws:ssm:eu-central-1:123456789012:parameter/mcp/prod/token#token", false, false},
	} {
		tgt, err := s.Open(tc.ref)
		if err != nil {
			t.Errorf("%s: %v", tc.ref, err)
			continue
		}
		for _, p := range []struct {
			pol   *provider.RefPolicy
			allow bool
		}{{star, tc.star}, {deep, tc.stars}} {
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
