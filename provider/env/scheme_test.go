package env_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

func schemes(m map[string]string) *provider.Schemes {
	getenv, environ := fakeEnv(m)
	var s provider.Schemes
	s.Register("env", env.Scheme(func(o *env.Options) { o.Getenv, o.Environ = getenv, environ }))
	return &s
}

// resources renders a Target's Resources as their text forms.
func resources(tgt provider.Target) []string {
	out := make([]string, len(tgt.Resources))
	for i, r := range tgt.Resources {
		out[i] = r.String()
	}
	return out
}

func TestScheme(t *testing.T) {
	vars := map[string]string{
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": canary,
		"AWS_REGION":            "eu-west-1",
		"MCP_CI_TOKEN":          "ci-token",
		"MCP_CI_USERNAME":       "bot",
		"GITHUB_TOKEN":          "ghp_example",
		"JIRA_USER":             "me",
		"JIRA_PASSWORD":         "pw",
	}
	s := schemes(vars)
	for _, tc := range []struct {
		ref       string
		want      map[string]string
		locator   string
		resources []string
	}{
		{"env:", map[string]string{"access_key_id": "AKIDEXAMPLE", "secret_access_key": canary, "region": "eu-west-1"},
			"AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY",
			[]string{"env:AWS_ACCESS_KEY_ID", "env:AWS_DEFAULT_REGION", "env:AWS_REGION", "env:AWS_SECRET_ACCESS_KEY", "env:AWS_SESSION_TOKEN"}},
		{"env:MCP_CI_*", map[string]string{"token": "ci-token", "username": "bot"}, "MCP_CI_TOKEN, MCP_CI_USERNAME",
			[]string{"env:MCP_CI_*"}},
		{"env:GITHUB_TOKEN", map[string]string{"github_token": "ghp_example"}, "GITHUB_TOKEN",
			[]string{"env:GITHUB_TOKEN"}},
		{"env:GITHUB_TOKEN#token", map[string]string{"token": "ghp_example"}, "GITHUB_TOKEN",
			[]string{"env:GITHUB_TOKEN"}},
		{"env:JIRA_USER,JIRA_PASSWORD", map[string]string{"jira_user": "me", "jira_password": "pw"}, "JIRA_PASSWORD, JIRA_USER",
			[]string{"env:JIRA_USER", "env:JIRA_PASSWORD"}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			tgt, err := s.Open(tc.ref)
			require.NoError(t, err)
			assert.Equal(t, tc.ref, tgt.Ref.String(), "canonical form")
			assert.Equal(t, tc.resources, resources(tgt))
			p := tgt.Provider
			assert.Equal(t, env.Name, provider.NameOf(p))
			// The reference answers whatever profile it is asked for.
			for _, profile := range []string{provider.DefaultProfile, "prod"} {
				c, err := p.Retrieve(context.Background(), profile)
				require.NoError(t, err)
				got := map[string]string{}
				for _, n := range c.Names() {
					got[n] = c.Value(n)
				}
				assert.Equal(t, tc.want, got)
				assert.Equal(t, tc.locator, c.Source.Locator)
			}
		})
	}

	t.Run("Provider wrapper", func(t *testing.T) {
		p, ref, err := s.Provider("env:GITHUB_TOKEN#token")
		require.NoError(t, err)
		assert.Equal(t, provider.Ref{Scheme: "env", Body: "GITHUB_TOKEN", Field: "token"}, ref)
		assert.Equal(t, env.Name, provider.NameOf(p))
	})

	t.Run("conformance", func(t *testing.T) {
		p, _, err := s.Provider("env:")
		require.NoError(t, err)
		providertest.Run(t, p, providertest.Options{Profile: "anything",
			WantFields: []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}, Secrets: []string{canary}})
	})
}

func TestSchemeNotSet(t *testing.T) {
	s := schemes(map[string]string{"JIRA_USER": "me"})
	ctx := context.Background()
	for ref, want := range map[string]string{
		"env:":                        "none of AWS_ACCESS_KEY_ID, AWS_DEFAULT_REGION",
		"env:MCP_CI_*":                "none of MCP_CI_*",
		"env:GITHUB_TOKEN#token":      "none of GITHUB_TOKEN",
		"env:JIRA_USER,JIRA_PASSWORD": "jira_user set but jira_password not (looked at JIRA_PASSWORD)",
	} {
		p, _, err := s.Provider(ref)
		require.NoError(t, err, ref)
		_, err = p.Retrieve(ctx, provider.DefaultProfile)
		require.Error(t, err, ref)
		assert.Contains(t, err.Error(), want, ref)
		if strings.Contains(ref, ",") {
			assert.ErrorIs(t, err, env.ErrIncomplete, "a half-set list is a mistake, not absence")
		} else {
			assert.ErrorIs(t, err, provider.ErrNotFound, ref)
		}
	}
}

func TestSchemeInvalid(t *testing.T) {
	s := schemes(nil)
	for _, tc := range []struct{ ref, want string }{
		{"env:#token", "env: reference: its field is set, but env: (AWS's variables) names its fields itself"},
		{"env:*", "its body is not a prefix: a prefix is a variable name followed by one *"},
		{"env:MCP_*_*", "its body is not a prefix"},
		{"env:MCP-CI_*", "its body is not a prefix"},
		{"env:MCP_CI_*#token", "its field is set, but a prefix names every field itself"},
		{"env:1PASSWORD", "its body item 1 is not a variable name"},
		{"env:GITHUB TOKEN", "its body item 1 is not a variable name"},
		{"env:A,,B", "its body item 2 is not a variable name"},
		{"env:A,B#token", "its field names one field, but the body lists 2 variables"},
		{"env:GITHUB_TOKEN#Token", "its field is not a field name: 1-64 characters of a-z, 0-9 and _"},
		{"env:TOKEN,token", "its body gives the field"},
		{"env:" + strings.Repeat("A,", 40) + "A", "lists 41 variables; at most 32"},
		{"env:" + strings.Repeat("A", 129), "is not a variable name"},
		{"env:GITHUB_TOKEN?version=1", "its params has the param \"version\", but env: takes no ?params"},
		{"env:?profile=x", "takes no ?params"},
	} {
		t.Run(tc.ref[:min(len(tc.ref), 30)], func(t *testing.T) {
			_, err := s.Open(tc.ref)
			require.Error(t, err)
			assert.ErrorIs(t, err, provider.ErrInvalidRef)
			assert.Contains(t, err.Error(), tc.want)
			r, perr := provider.ParseRef(tc.ref)
			require.NoError(t, perr)
			if len(r.Body) > 3 {
				assert.NotContains(t, err.Error(), r.Body, "the error quotes the reference")
			}
		})
	}
}

// TestSchemeNoEcho checks that a refused reference's error does not repeat
// what the request wrote, even lower-cased.
func TestSchemeNoEcho(t *testing.T) {
	s := schemes(nil)
	const key = "AKIAIOSFODNN7EXAMPLE"
	for _, ref := range []string{
		"env:" + key + "," + strings.ToLower(key),
		"env:" + key + "#Token",
		"env:" + key + "-*",
	} {
		_, err := s.Open(ref)
		require.ErrorIs(t, err, provider.ErrInvalidRef, ref)
		assert.NotContains(t, strings.ToLower(err.Error()), strings.ToLower(key), ref)
	}
}

// FuzzScheme checks that no reference makes the scheme panic, and that it
// either builds a provider or refuses with ErrInvalidRef.
func FuzzScheme(f *testing.F) {
	for _, s := range []string{"env:", "env:MCP_CI_*", "env:A,B", "env:A#b", "env:*", "env:" + canary} {
		f.Add(s)
	}
	sc := env.Scheme(func(o *env.Options) { o.Getenv, o.Environ = fakeEnv(nil) })
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := provider.ParseRef(s)
		if err != nil {
			return
		}
		tgt, err := sc.Open(ref)
		if err != nil {
			if !strings.Contains(err.Error(), provider.ErrInvalidRef.Error()) {
				t.Fatalf("error does not wrap ErrInvalidRef: %v", err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if len(tgt.Resources) == 0 {
			t.Fatalf("%q: a Target that lists no resource", s)
		}
		if _, err := tgt.Provider.Retrieve(context.Background(), provider.DefaultProfile); err == nil {
			t.Fatalf("empty environment gave credentials for %q", s)
		}
	})
}

// TestSchemePolicy: a policy decides on the variables a reference reads,
// not on its spelling. env:MCP_CI_* allows the variables under MCP_CI_ and
// nothing a list adds to them.
func TestSchemePolicy(t *testing.T) {
	s := schemes(nil)
	pol, err := provider.NewRefPolicy("env:MCP_CI_*")
	require.NoError(t, err)
	for ref, allowed := range map[string]bool{
		"env:MCP_CI_TOKEN":                       true,
		"env:MCP_CI_TOKEN#token":                 true,
		"env:MCP_CI_*":                           true,
		"env:MCP_CI_API_*":                       true,
		"env:MCP_CI_TOKEN,MCP_CI_USER":           true,
		"env:MCP_CI_TOKEN,AWS_SECRET_ACCESS_KEY": false, // the example
		"env:AWS_SECRET_ACCESS_KEY,MCP_CI_TOKEN": false,
		"env:MCP_CI_TOKEN,MCP_CI_TOKEN_FILE":     true, // both under the prefix
		"env:MCP_*":                              false,
		"env:MCP_CI*":                            false, // MCP_CIX is not under MCP_CI_
		"env:MCP_CI_":                            false, // the bare prefix is no member of MCP_CI_*
		"env:":                                   false,
		"env:GITHUB_TOKEN":                       false,
	} {
		tgt, err := s.Open(ref)
		require.NoError(t, err, ref)
		err = pol.Check(tgt)
		if allowed {
			assert.NoError(t, err, ref)
		} else {
			assert.ErrorIs(t, err, provider.ErrRefNotAllowed, ref)
			if err != nil {
				assert.NotContains(t, err.Error(), "AWS_SECRET", "the refusal names the resource by scheme and length only")
			}
		}
	}
}
