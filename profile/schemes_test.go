package profile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/resolver"
)

// privateFile writes content to dir/name with mode 0600, dir being 0700.
func privateFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.Chmod(dir, 0o700))
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	require.NoError(t, os.Chmod(path, 0o600))
	return path
}

// TestRealSchemes resolves the profiles of a profiles file through the real
// env, file and secretfile schemes and the resolver, as an MCP server wires
// them.
func TestRealSchemes(t *testing.T) {
	home := t.TempDir()
	credentials := privateFile(t, filepath.Join(home, ".mcp"), "credentials",
		"[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret\n\n"+
			"[production]\naws_access_key_id = AKIAPROD\naws_secret_access_key = "+canary+"-prod\nregion = eu-west-1\n")
	opsFile := privateFile(t, filepath.Join(t.TempDir(), "team"), "ops.ini", "[ops]\ntoken = ops-token\n")
	secrets := t.TempDir()
	privateFile(t, secrets, "github.json", `{"token": "`+canary+`-gh", "username": "octocat"}`)

	vars := map[string]string{
		"HOME":                   home,
		"AWS_ACCESS_KEY_ID":      "AKIAENV",
		"AWS_SECRET_ACCESS_KEY":  canary + "-env",
		"MCP_CI_TOKEN":           "ci-token",
		"MCP_CI_API_URL":         "https://ci.example",
		"GITHUB_TOKEN":           "ghp-env",
		"MCP_CREDENTIAL_PROFILE": "production", // must not redirect file: references
	}
	getenv := func(k string) string { return vars[k] }
	environ := func() []string {
		var out []string
		for k, v := range vars {
			out = append(out, k+"="+v)
		}
		return out
	}

	var schemes provider.Schemes
	schemes.Register("env", env.Scheme(func(o *env.Options) { o.Getenv, o.Environ = getenv, environ }))
	schemes.Register("file", file.Scheme(func(o *file.Options) { o.Getenv = getenv }))
	schemes.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir = secrets }))

	profilesPath := privateFile(t, t.TempDir(), "profiles.json", fmt.Sprintf(`{"profiles": {
		"default": {"source": "env:", "region": "us-east-1"},
		"ci":      {"source": "env:MCP_CI_*"},
		"gh-env":  {"source": "env:GITHUB_TOKEN#token"},
		"local":   {"source": "file:~/.mcp/credentials"},
		"prod":    {"source": "file:production", "region": "us-west-2"},
		"ops":     {"source": "file:%s?profile=ops"},
		"github":  {"source": "secretfile:github"},
		"gh-dir":  {"source": "secretfile:%s/github"},
		"gone":    {"source": "secretfile:nosuch"},
		"broken":  {"source": "file:relative/credentials#x"}
	}}`, opsFile, secrets))
	profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Path = profilesPath; o.Getenv = getenv })
	require.NoError(t, err)
	r, err := resolver.New([]provider.Provider{profiles}, func(o *resolver.Options) {
		o.AllowProfile = profiles.Allows
		o.Profile, _ = profile.ActiveProfile(getenv)
	})
	require.NoError(t, err)
	ctx := context.Background()

	for _, tc := range []struct {
		profile string
		want    map[string]string
		via     string
	}{
		{"", map[string]string{"access_key_id": "AKIAENV", "secret_access_key": canary + "-env", "region": "us-east-1"},
			"via env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"},
		{"ci", map[string]string{"token": "ci-token", "api_url": "https://ci.example"}, "via env (MCP_CI_API_URL, MCP_CI_TOKEN)"},
		{"gh-env", map[string]string{"token": "ghp-env"}, "via env (GITHUB_TOKEN)"},
		{"local", map[string]string{"access_key_id": "AKIADEFAULT", "secret_access_key": "default-secret"}, "via file (" + credentials + " [default])"},
		{"prod", map[string]string{"access_key_id": "AKIAPROD", "secret_access_key": canary + "-prod", "region": "eu-west-1"},
			"via file (" + credentials + " [production])"},
		{"ops", map[string]string{"token": "ops-token"}, "via file (" + opsFile + " [ops])"},
		{"github", map[string]string{"token": canary + "-gh", "username": "octocat"}, "via secretfile (" + filepath.Join(secrets, "github.json") + ")"},
		{"gh-dir", map[string]string{"token": canary + "-gh", "username": "octocat"}, "via secretfile (" + filepath.Join(secrets, "github.json") + ")"},
	} {
		t.Run("profile="+tc.profile, func(t *testing.T) {
			res, err := r.Resolve(ctx, resolver.Request{Profile: tc.profile})
			require.NoError(t, err)
			got := map[string]string{}
			for _, n := range res.Credentials.Names() {
				got[n] = res.Credentials.Value(n)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, "profile", res.Credentials.Source.Provider)
			assert.True(t, strings.HasSuffix(res.Credentials.Source.Locator, tc.via), "locator %q", res.Credentials.Source.Locator)
			providertest.CheckRendering(t, res.Credentials, canary)
		})
	}

	_, err = r.Resolve(ctx, resolver.Request{Profile: "gone"})
	require.ErrorIs(t, err, profile.ErrSourceEmpty)
	assert.Contains(t, err.Error(), "none of nosuch.json, nosuch.ini, nosuch/ exists")

	_, err = r.Resolve(ctx, resolver.Request{Profile: "broken"})
	require.ErrorIs(t, err, provider.ErrInvalidRef)
	assert.Contains(t, err.Error(), "its body is a relative path")

	_, err = r.Resolve(ctx, resolver.Request{Profile: "staging"})
	require.ErrorIs(t, err, resolver.ErrProfileRefused)

	// The same schemes serve a request's credential_id, within the
	// operator's allowlist.
	policy, err := provider.NewRefPolicy("file:"+credentials+"/*", "secretfile:"+secrets+"/*")
	require.NoError(t, err)
	refs, err := resolver.New(nil, func(o *resolver.Options) {
		o.References = &schemes
		o.AllowReferences = policy
	})
	require.NoError(t, err)
	res, err := refs.Resolve(ctx, resolver.Request{CredentialID: "file:~/.mcp/credentials?profile=production"})
	require.NoError(t, err)
	assert.Equal(t, "AKIAPROD", res.Credentials.Value(provider.FieldAccessKeyID))
	res, err = refs.Resolve(ctx, resolver.Request{CredentialID: "secretfile:github"})
	require.NoError(t, err)
	assert.Equal(t, "octocat", res.Credentials.Value(provider.FieldUsername))
	_, err = refs.Resolve(ctx, resolver.Request{CredentialID: "file:" + opsFile + "?profile=ops"})
	require.ErrorIs(t, err, resolver.ErrReferenceRefused)
	_, err = refs.Resolve(ctx, resolver.Request{CredentialID: "env:"})
	require.ErrorIs(t, err, resolver.ErrReferenceRefused)

	// The profile provider itself passes the conformance suite over real
	// schemes.
	providertest.Run(t, profiles, providertest.Options{Profile: "prod", MissingProfile: "staging",
		WantFields: []string{provider.FieldAccessKeyID, provider.FieldRegion}, Secrets: []string{canary + "-prod"}})
}
