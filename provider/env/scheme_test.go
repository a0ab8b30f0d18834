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
		ref     string
		want    map[string]string
		locator string
	}{
		{"env:", map[string]string{"access_key_id": "AKIDEXAMPLE", "secret_access_key": canary, "region": "eu-west-1"},
			"AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY"},
		{"env:MCP_CI_*", map[string]string{"token": "ci-token", "username": "bot"}, "MCP_CI_TOKEN, MCP_CI_USERNAME"},
		{"env:GITHUB_TOKEN", map[string]string{"github_token": "ghp_example"}, "GITHUB_TOKEN"},
		{"env:GITHUB_TOKEN#token", map[string]string{"token": "ghp_example"}, "GITHUB_TOKEN"},
		{"env:JIRA_USER,JIRA_PASSWORD", map[string]string{"jira_user": "me", "jira_password": "pw"}, "JIRA_PASSWORD, JIRA_USER"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			p, _, err := s.Provider(tc.ref)
			require.NoError(t, err)
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
		{"env:#token", `env: fragment: "token": env: (AWS's variables) takes no #fragment`},
		{"env:*", `env: body: "*": a prefix must be a variable name followed by one *`},
		{"env:MCP_*_*", `env: body: "MCP_*_*": a prefix must be`},
		{"env:MCP-CI_*", `env: body: "MCP-CI_*": a prefix must be`},
		{"env:MCP_CI_*#token", `env: fragment: "token": prefix mode ("MCP_CI_*") names every field itself`},
		{"env:1PASSWORD", `env: body: "1PASSWORD" is not a variable name`},
		{"env:GITHUB TOKEN", `env: body: "GITHUB TOKEN" is not a variable name`},
		{"env:A,,B", `env: body: "" is not a variable name`},
		{"env:A,B#token", `env: fragment: "token": a #field name applies to a single variable, and "A,B" lists 2`},
		{"env:GITHUB_TOKEN#Token", `env: fragment: field name "Token" must be 1-64 characters of a-z, 0-9 and _`},
		{"env:TOKEN,token", `env: body: "TOKEN" and "token" both give the field token`},
		{"env:" + strings.Repeat("A,", 40) + "A", "lists 41 variables; at most 32"},
		{"env:" + strings.Repeat("A", 129), "is not a variable name"},
	} {
		t.Run(tc.ref[:min(len(tc.ref), 30)], func(t *testing.T) {
			_, _, err := s.Provider(tc.ref)
			require.Error(t, err)
			assert.ErrorIs(t, err, provider.ErrInvalidRef)
			assert.Contains(t, err.Error(), tc.want)
		})
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
		p, err := sc.Provider(ref)
		if err != nil {
			if !strings.Contains(err.Error(), provider.ErrInvalidRef.Error()) {
				t.Fatalf("error does not wrap ErrInvalidRef: %v", err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if _, err := p.Retrieve(context.Background(), provider.DefaultProfile); err == nil {
			t.Fatalf("empty environment gave credentials for %q", s)
		}
	})
}
