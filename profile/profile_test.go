package profile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/resolver"
)

const canary = "CANARY-SECRET-d3adb33f"

// staticSchemes serves "static:NAME" with a fixed credential per name, and
// nothing for "static:nothing".
func staticSchemes() *provider.Schemes {
	var s provider.Schemes
	s.Register("static", testScheme(func(ref provider.Ref) provider.Provider {
		return provider.WithName(provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
			if err := ctx.Err(); err != nil {
				return provider.Credentials{}, err
			}
			if ref.Body == "nothing" {
				return provider.Credentials{}, provider.NotFound("static", profile, ref.Body, "no such entry")
			}
			return provider.NewCredentials(map[string]string{
				provider.FieldAccessKeyID:     "AKID-" + ref.Body,
				provider.FieldSecretAccessKey: canary + "-" + ref.Body,
			}, provider.Source{Provider: "static", Locator: ref.Body}), nil
		}), "static")
	}))
	return &s
}

// testScheme is a Scheme whose Target reads the one resource the
// reference's body names, through the Provider fn makes for it.
func testScheme(fn func(ref provider.Ref) provider.Provider) provider.Scheme {
	return provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{
			Resources: []provider.Resource{{Scheme: ref.Scheme, Path: ref.Body}},
			Provider:  fn(ref),
		}, nil
	})
}

// write puts a profiles file in a private temporary directory.
func write(t testing.TB, content string, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	path := filepath.Join(dir, "profiles.json")
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
	require.NoError(t, os.Chmod(path, mode))
	return path
}

func newProvider(t testing.TB, path string, getenv map[string]string, logger *slog.Logger) *profile.Provider {
	t.Helper()
	p, err := profile.New(staticSchemes(), func(o *profile.Options) {
		o.Path = path
		o.Getenv = func(k string) string { return getenv[k] }
		o.Logger = logger
	})
	require.NoError(t, err)
	return p
}

func testdataFile(t *testing.T) string {
	b, err := os.ReadFile("testdata/profiles.json")
	require.NoError(t, err)
	return string(b)
}

func TestRetrieve(t *testing.T) {
	p := newProvider(t, write(t, testdataFile(t), 0o644), nil, nil)
	ctx := context.Background()

	c, err := p.Retrieve(ctx, "prod")
	require.NoError(t, err)
	assert.Equal(t, "AKID-prod", c.Value(provider.FieldAccessKeyID))
	assert.Equal(t, "us-west-2", c.Value(provider.FieldRegion))
	assert.Equal(t, "arn:aws:iam::123456789012:role/mcp", c.Value("role_arn"))
	assert.Equal(t, "profile", c.Source.Provider)
	assert.Contains(t, c.Source.Locator, "[prod] via static (prod)")

	_, err = p.Retrieve(ctx, "staging")
	require.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "not defined (profiles: default, empty, prod)")

	_, err = p.Retrieve(ctx, "empty")
	require.ErrorIs(t, err, profile.ErrSourceEmpty)
	assert.False(t, errors.Is(err, provider.ErrNotFound), "a defined profile is a definite answer")
	assert.Contains(t, err.Error(), "its static: source")

	providertest.Run(t, p, providertest.Options{Profile: "prod", MissingProfile: "staging",
		WantFields: []string{provider.FieldAccessKeyID, provider.FieldRegion}, Secrets: []string{canary}})
}

func TestMissingFile(t *testing.T) {
	p := newProvider(t, filepath.Join(t.TempDir(), "nope.json"), nil, nil)
	_, err := p.Retrieve(context.Background(), "default")
	require.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "no profiles file")
	assert.False(t, p.Has("default"))
}

func TestDefaultPathAndActiveProfile(t *testing.T) {
	home := t.TempDir()
	p, err := profile.New(nil, func(o *profile.Options) {
		o.Getenv = func(k string) string { return map[string]string{"HOME": home}[k] }
	})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".mcp", "profiles.json"), p.Path())

	p, err = profile.New(nil, func(o *profile.Options) {
		o.Getenv = func(k string) string { return map[string]string{"MCP_PROFILES_PATH": "/etc/mcp/p.json"}[k] }
	})
	require.NoError(t, err)
	assert.Equal(t, "/etc/mcp/p.json", p.Path())

	active := func(v string) (string, error) {
		return profile.ActiveProfile(func(k string) string { return map[string]string{"MCP_ACTIVE_PROFILE": v}[k] })
	}
	for in, want := range map[string]string{"": "default", "ops": "ops"} {
		got, err := active(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"bad/../name", "..", " ops", "ops\\x", "AKIAIOSFODNN7EXAMPLE/x"} {
		_, err := active(bad)
		require.Error(t, err, bad)
		assert.NotContains(t, err.Error(), "AKIAIOSFODNN7EXAMPLE")
	}
}

const inline = `{"profiles": {"lab": {"credentials": {"access_key_id": "AKIDLAB", "secret_access_key": "` + canary + `"}, "region": "eu-west-1"}}}`

func TestPermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: owner checks accept root-owned files")
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string
	}{
		{"references readable by others", testdataFile(t), 0o644, ""},
		{"references writable by group", testdataFile(t), 0o664, "group and others must not be able to write it; fix with: chmod go-w"},
		{"inline secrets private", inline, 0o600, ""},
		{"inline secrets readable by others", inline, 0o644, "group and others must have no access; fix with: chmod 600"},
		{"inline secrets readable by group", inline, 0o640, "mode 0640"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, tc.content, tc.mode)
			p := newProvider(t, path, nil, nil)
			name := "prod"
			if strings.Contains(tc.content, `"lab"`) {
				name = "lab"
			}
			c, err := p.Retrieve(ctx, name)
			if tc.wantErr == "" {
				require.NoError(t, err)
				providertest.CheckRendering(t, c, canary)
				return
			}
			require.ErrorIs(t, err, profile.ErrInsecurePermissions)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Contains(t, err.Error(), path)
			assert.NotContains(t, err.Error(), canary)
			assert.False(t, p.Has(name), "a refused file offers no profiles")
		})
	}

	t.Run("directory writable by others", func(t *testing.T) {
		path := write(t, testdataFile(t), 0o600)
		require.NoError(t, os.Chmod(filepath.Dir(path), 0o777))
		_, err := newProvider(t, path, nil, nil).Retrieve(ctx, "prod")
		require.ErrorIs(t, err, profile.ErrInsecurePermissions)
		assert.Contains(t, err.Error(), "directory")
	})

	t.Run("insecure mode warns", func(t *testing.T) {
		var logs bytes.Buffer
		path := write(t, inline, 0o644)
		p := newProvider(t, path, map[string]string{"MCP_INSECURE_MODE": "1"}, slog.New(slog.NewTextHandler(&logs, nil)))
		c, err := p.Retrieve(ctx, "lab")
		require.NoError(t, err)
		assert.Equal(t, canary, c.Value(provider.FieldSecretAccessKey))
		assert.Equal(t, "eu-west-1", c.Value(provider.FieldRegion))
		assert.Contains(t, logs.String(), "insecure permissions because MCP_INSECURE_MODE is set")
		assert.NotContains(t, logs.String(), canary)
	})
}

func TestEditsApplyWithoutRestart(t *testing.T) {
	path := write(t, testdataFile(t), 0o600)
	p := newProvider(t, path, nil, nil)
	ctx := context.Background()
	assert.True(t, p.Has("prod"))
	c, err := p.Retrieve(ctx, "prod")
	require.NoError(t, err)
	assert.Equal(t, "AKID-prod", c.Value(provider.FieldAccessKeyID))

	require.NoError(t, os.WriteFile(path, []byte(`{"profiles": {"prod": {"source": "static:rotated"}}}`), 0o600))
	c, err = p.Retrieve(ctx, "prod")
	require.NoError(t, err)
	assert.Equal(t, "AKID-rotated", c.Value(provider.FieldAccessKeyID))

	require.NoError(t, os.WriteFile(path, []byte(`{"profiles": {"prod": {"sorce": "static:x"}}}`), 0o600))
	_, err = p.Retrieve(ctx, "prod")
	require.ErrorIs(t, err, profile.ErrMalformed)
	assert.Contains(t, err.Error(), `profile "prod": profile: malformed profiles file: `+path+`:1:45: unknown key "sorce"`)
	assert.Equal(t, 1, strings.Count(err.Error(), path), "the file is named once: %v", err)
	var se *provider.SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, [3]any{path, 1, 45}, [3]any{se.Path, se.Line, se.Column})
	_, err = p.Load()
	require.ErrorAs(t, err, &se)
	assert.Equal(t, `profile: malformed profiles file: `+path+`:1:45: unknown key "sorce" in a profile (known: source, credentials, region, settings, description, allow)`, err.Error())
}

func TestUnknownScheme(t *testing.T) {
	path := write(t, `{"profiles": {"ops": {"source": "vault:secret/data/mcp/ops"}}}`, 0o600)
	_, err := newProvider(t, path, nil, nil).Retrieve(context.Background(), "ops")
	require.ErrorIs(t, err, provider.ErrUnknownScheme)
	assert.Contains(t, err.Error(), "import github.com/mcpcred/mcpcred/provider/vault")
	assert.False(t, errors.Is(err, provider.ErrNotFound))
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, at, want string // at: the position the error gives, "" if none
	}{
		{"syntax", "{\n  \"profiles\": {\n    \"prod\": {\"source\": \"static:x\",}\n  }\n}", "3:35", "invalid JSON syntax"},
		{"secret in bad line", "{\"profiles\": {\"lab\": {\"credentials\": {\"secret_access_key\": \"" + canary + "\" \"x\"}}}}", "1:85", "invalid JSON syntax"},
		{"type", `{"profiles": {"prod": {"source": 12}}}`, "1:35", `"profiles.source" must be a JSON string, not number`},
		{"secret not a string", `{"profiles": {"lab": {"credentials": {"secret_access_key": 12345678}}}}`, "1:71", "invalid value"},
		{"unknown key", `{"profiles": {}, "profile": {}}`, "1:31", `unknown key "profile"`},
		{"no profiles", `{}`, "", `no "profiles" object`},
		{"trailing", `{"profiles": {}} {}`, "1:17", "unexpected data after the top-level object"},
		{"truncated", `{"profiles": {"prod": {"source": "static:x"`, "1:43", "unexpected end of file"},
		// An invalid profile is located at its name.
		{"neither", `{"profiles": {"prod": {"region": "us-east-1"}}}`, "1:15", `profile "prod": needs a "source" reference or inline "credentials"`},
		{"both", `{"profiles": {"prod": {"source": "env:", "credentials": {"token": "t"}}}}`, "1:15", "has both"},
		{"traversal", `{"profiles": {"prod": {"source": "file:../../etc/shadow#x"}}}`, "1:15", `".." path segment`},
		{"bad name", `{"profiles": {"../prod": {"source": "env:"}}}`, "1:15", "path separator"},
		{"control name", `{"profiles": {"pr\u0000od": {"source": "env:"}}}`, "1:15", "control"},
		{"bad field", `{"profiles": {"p": {"credentials": {"Secret-Key": "x"}}}}`, "1:15", `field name (a 10-byte value, not shown)`},
		{"empty secret", `{"profiles": {"p": {"credentials": {"token": ""}}}}`, "1:15", `field "token" is empty`},
		{"bad region", `{"profiles": {"p": {"source": "env:", "region": "US East"}}}`, "1:15", "not an AWS-style region"},
		{"second profile, other lines", "{\"profiles\": {\n  \"a\": {\"source\": \"env:\"},\n  \"p\": {\"source\": \"env:\", \"region\": \"US East\"}}}", "3:3", `profile "p": region`},
		{"name repeated in a value", "{\"profiles\": {\n  \"a\": {\"source\": \"env:\", \"description\": \"p\"},\n  \"p\": {}}}", "3:3", `profile "p": needs`},
		{"name written twice: the last counts", "{\"profiles\": {\n  \"p\": {},\n  \"p\": {\"region\": \"x\"}}}", "3:3", `profile "p": needs`},
		{"escaped name", "{\"profiles\": {\n  \"\\u0070\": {}}}", "2:3", `profile "p": needs`},
		{"field name case", "{\"Profiles\": {\n  \"p\": {}}}", "2:3", `profile "p": needs`},
		// "allow" and per-subject sources.
		{"unknown allow key", `{"profiles": {"p": {"source": "env:", "allow": {"subject": ["alice"]}}}}`, "1:72", `unknown key "subject" in "allow" (known: subjects, groups, clients, issuers)`},
		{"unknown top key names its object", `{"profiles": {}, "profile": {}}`, "1:31", `unknown key "profile" at the top level (known: $schema, profiles)`},
		{"allow not an object", `{"profiles": {"p": {"source": "env:", "allow": ["alice"]}}}`, "1:48", `must be a JSON object`},
		{"allow subjects not strings", `{"profiles": {"p": {"source": "env:", "allow": {"subjects": [1]}}}}`, "1:62", `must be a JSON string`},
		{"allow empty", `{"profiles": {"p": {"source": "env:", "allow": {}}}}`, "1:15", `allow: names no caller`},
		{"allow empty list", `{"profiles": {"p": {"source": "env:", "allow": {"subjects": []}}}}`, "1:15", `allow: "subjects" is an empty list`},
		{"allow empty subject", `{"profiles": {"p": {"source": "env:", "allow": {"subjects": ["alice", ""]}}}}`, "1:15", `allow: "subjects": entry 2 is empty`},
		{"allow control group", `{"profiles": {"p": {"source": "env:", "allow": {"groups": ["sre\u0000"]}}}}`, "1:15", `allow: "groups": entry 1 holds control`},
		{"allow invisible issuer", `{"profiles": {"p": {"source": "env:", "allow": {"issuers": ["https://idp\u200b"]}}}}`, "1:15", `allow: "issuers": entry 1 holds control or invisible`},
		{"allow spaced client", `{"profiles": {"p": {"source": "env:", "allow": {"clients": [" app"]}}}}`, "1:15", `allow: "clients": entry 1 has leading`},
		{"template inside a segment", `{"profiles": {"p": {"source": "vault:secret/x{sub}y", "allow": {"issuers": ["i"]}}}}`, "1:15", `source: has {sub} inside a path segment`},
		{"template as a segment prefix", `{"profiles": {"p": {"source": "vault:secret/{sub}x", "allow": {"issuers": ["i"]}}}}`, "1:15", `inside a path segment`},
		{"template after a backslash", `{"profiles": {"p": {"source": "vault:secret\\{sub}", "allow": {"issuers": ["i"]}}}}`, "1:15", `inside a path segment`},
		{"template in the field", `{"profiles": {"p": {"source": "vault:secret/x#{sub}", "allow": {"issuers": ["i"]}}}}`, "1:15", `{sub} in its ?params or #field`},
		{"template in a param", `{"profiles": {"p": {"source": "file:~/c?profile={sub}", "allow": {"issuers": ["i"]}}}}`, "1:15", `{sub} in its ?params or #field`},
		{"template in the scheme", `{"profiles": {"p": {"source": "{sub}:x", "allow": {"issuers": ["i"]}}}}`, "1:15", `before its scheme's colon`},
		{"other placeholder", `{"profiles": {"p": {"source": "vault:users/{user}", "allow": {"issuers": ["i"]}}}}`, "1:15", `other than the one placeholder {sub}`},
		{"placeholder twice", `{"profiles": {"p": {"source": "vault:users/{sub}/{sub}", "allow": {"issuers": ["i"]}}}}`, "1:15", `other than the one placeholder {sub}`},
		{"stray brace", `{"profiles": {"p": {"source": "vault:users/{sub}/}", "allow": {"issuers": ["i"]}}}}`, "1:15", `other than the one placeholder {sub}`},
		{"placeholder case", `{"profiles": {"p": {"source": "vault:users/{SUB}", "allow": {"issuers": ["i"]}}}}`, "1:15", `other than the one placeholder {sub}`},
		{"template with traversal", `{"profiles": {"p": {"source": "vault:users/../{sub}", "allow": {"issuers": ["i"]}}}}`, "1:15", `".." path segment`},
		{"template without allow", `{"profiles": {"p": {"source": "vault:users/{sub}"}}}`, "1:15", `needs "allow" with exactly one of "issuers"`},
		{"template without issuer", `{"profiles": {"p": {"source": "vault:users/{sub}", "allow": {"subjects": ["alice"]}}}}`, "1:15", `needs "allow" with exactly one of "issuers"`},
		{"template with two issuers", `{"profiles": {"p": {"source": "vault:users/{sub}", "allow": {"issuers": ["a", "b"]}}}}`, "1:15", `exactly one of "issuers"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := profile.Parse([]byte(tc.in))
			require.Error(t, err)
			assert.ErrorIs(t, err, profile.ErrMalformed)
			var se *provider.SyntaxError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "JSON", se.Format)
			assert.Empty(t, se.Path, "Parse does not know the file")
			at := ""
			if se.Line > 0 {
				at = fmt.Sprintf("%d:%d", se.Line, se.Column)
			}
			assert.Equal(t, tc.at, at)
			prefix := "profile: malformed profiles file: "
			if tc.at != "" {
				prefix += tc.at + ": "
			}
			assert.True(t, strings.HasPrefix(err.Error(), prefix), "%q does not start with %q", err, prefix)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), canary)
			assert.NotContains(t, err.Error(), "12345678")
		})
	}
}

// TestHostileSelections drives the whole policy: a resolver whose allowed
// profiles are exactly those in the profiles file.
func TestHostileSelections(t *testing.T) {
	p := newProvider(t, write(t, testdataFile(t), 0o600), nil, nil)
	fallback := provider.WithName(provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{"token": "from-fallback-" + profile}, provider.Source{}), nil
	}), "file")
	r, err := resolver.New([]provider.Provider{p, fallback}, func(o *resolver.Options) {
		o.AllowProfile = p.Allows
		o.Profile, _ = profile.ActiveProfile(func(string) string { return "" })
	})
	require.NoError(t, err)
	ctx := context.Background()
	res, err := r.Resolve(ctx, resolver.Request{Profile: "prod"})
	require.NoError(t, err)
	assert.Equal(t, "profile", res.Credentials.Source.Provider)

	for _, name := range []string{"staging", "../prod", "prod\x00", "PROD", " prod", "prod ", "pr\u200bod", "root", "*",
		"file:production", "vault:secret/data/mcp/aws", strings.Repeat("a", 500)} {
		_, err := r.Resolve(ctx, resolver.Request{Profile: name})
		require.Error(t, err, "%q", name)
		assert.True(t, errors.Is(err, resolver.ErrProfileRefused) || errors.Is(err, resolver.ErrInvalidProfile), "%q: %v", name, err)
	}
	// A defined profile whose source is empty does not fall through.
	_, err = r.Resolve(ctx, resolver.Request{Profile: "empty"})
	require.ErrorIs(t, err, profile.ErrSourceEmpty)
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"profiles": {"prod": {"source": "file:production", "region": "us-west-2"}}}`))
	f.Add([]byte(inline))
	f.Add([]byte(`{"profiles": {"lab": {"credentials": {"secret_access_key": "` + canary + `" "x"}}}}`))
	f.Add([]byte(`{"profiles": {"x": {"settings": {"a": "b"}, "source": "env:MCP_*"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := profile.Parse(data)
		if err != nil {
			var se *provider.SyntaxError
			if !errors.Is(err, profile.ErrMalformed) || !errors.As(err, &se) {
				t.Fatalf("error is not a *provider.SyntaxError wrapping ErrMalformed: %v", err)
			}
			if se.Line < 0 || se.Column < 0 || se.Line > bytes.Count(data, []byte("\n"))+1 || (se.Line == 0 && se.Column != 0) {
				t.Fatalf("position %d:%d outside the input", se.Line, se.Column)
			}
			if strings.Contains(err.Error(), canary) || len(err.Error()) > 400 {
				t.Fatalf("error reveals content or is too long: %d bytes", len(err.Error()))
			}
			return
		}
		for _, n := range file.Names() {
			prof, ok := file.Get(n)
			if !ok || prof.Name != n || provider.ValidName(n, profile.MaxNameLen) != nil {
				t.Fatalf("accepted invalid profile %q", n)
			}
			if prof.Source != "" {
				if _, err := provider.ParseRef(prof.Source); err != nil {
					t.Fatalf("accepted invalid source %q", prof.Source)
				}
			}
		}
	})
}

// A defined profile whose source is unavailable must not let a later
// provider answer the same name with other credentials.
func TestUnavailableSourceDoesNotFallThrough(t *testing.T) {
	var s provider.Schemes
	s.Register("locked", testScheme(func(ref provider.Ref) provider.Provider {
		return provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
			return provider.Credentials{}, provider.Unavailable("keychain", profile, "", errors.New("the keyring is locked"))
		})
	}))
	path := write(t, `{"profiles": {"prod": {"source": "locked:prod"}}}`, 0o600)
	p, err := profile.New(&s, func(o *profile.Options) { o.Path = path; o.Getenv = func(string) string { return "" } })
	require.NoError(t, err)
	legacy := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{"access_key_id": "AKIALEGACYADMIN00000"}, provider.Source{}), nil
	}), "file")
	r, err := resolver.New([]provider.Provider{p, legacy}, func(o *resolver.Options) { o.AllowProfile = p.Allows })
	require.NoError(t, err)
	_, err = r.Resolve(context.Background(), resolver.Request{Profile: "prod"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "the keyring is locked")
	var ce *resolver.ChainError
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Attempts, 1, "the walk stops at the profile's authority")
	assert.Equal(t, "profile", ce.Attempts[0].Provider)
}
