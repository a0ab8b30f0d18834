package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// resourceTexts renders a Target's Resources as their text forms.
func resourceTexts(tgt provider.Target) []string {
	out := make([]string, len(tgt.Resources))
	for i, r := range tgt.Resources {
		out[i] = r.String()
	}
	return out
}

func TestScheme(t *testing.T) {
	path := install(t, "credentials.ini")
	home := filepath.Dir(filepath.Dir(path)) // path is HOME/.mcp/credentials
	other := installBytes(t, []byte("[default]\ntoken = other-default\n[ops]\ntoken = other-ops\n"))
	vars := map[string]string{"HOME": home, EnvProfile: "github"}
	var s provider.Schemes
	s.Register("file", Scheme(func(o *Options) { o.Getenv = env(vars) }))

	for _, tc := range []struct {
		ref, field, want, locator, resource string
	}{
		{"file:", "access_key_id", "AKIADEFAULTEXAMPLE", path + " [default]", path + "/default"},
		{"file:production", "access_key_id", "AKIAPRODEXAMPLE", path + " [production]", path + "/production"},
		{"file:staging", "access_key_id", "AKIASTAGINGEXAMPLE", path + " [profile staging]", path + "/staging"},
		{"file:default", "access_key_id", "AKIADEFAULTEXAMPLE", path + " [default]", path + "/default"}, // not MCP_CREDENTIAL_PROFILE
		{"file:~/.mcp/credentials?profile=github", "token", "ghp_exampletoken0123456789", path + " [github]", path + "/github"},
		{"file:" + other, "token", "other-default", other + " [default]", other + "/default"},
		{"file:" + other + "?profile=default", "token", "other-default", other + " [default]", other + "/default"},
		{"file:" + other + "?profile=ops", "token", "other-ops", other + " [ops]", other + "/ops"},
		{"file:" + filepath.Dir(other) + "//./credentials?profile=ops", "token", "other-ops", other + " [ops]", other + "/ops"},
		{"file:production#region", "region", "eu-west-1", path + " [production]", path + "/production"},
		{"file:" + other + "?profile=ops#token", "token", "other-ops", other + " [ops]", other + "/ops"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			tgt, err := s.Open(tc.ref)
			require.NoError(t, err)
			assert.Equal(t, []string{"file:" + filepath.ToSlash(tc.resource)}, resourceTexts(tgt))
			p := tgt.Provider
			assert.Equal(t, Name, provider.NameOf(p))
			for _, profile := range []string{provider.DefaultProfile, "production", "whatever"} {
				c, err := p.Retrieve(context.Background(), profile)
				require.NoError(t, err, profile)
				assert.Equal(t, tc.want, c.Value(tc.field), profile)
				assert.Equal(t, tc.locator, c.Source.Locator)
				if strings.Contains(tc.ref, "#") {
					assert.Equal(t, []string{tc.field}, c.Names(), "#field keeps only that field")
				}
			}
		})
	}

	t.Run("missing field", func(t *testing.T) {
		p, _, err := s.Provider("file:github#password")
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background(), provider.DefaultProfile)
		require.ErrorIs(t, err, provider.ErrNotFound)
	})

	t.Run("missing section", func(t *testing.T) {
		p, _, err := s.Provider("file:nope")
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background(), provider.DefaultProfile)
		require.ErrorIs(t, err, provider.ErrNotFound)
		assert.Contains(t, err.Error(), "no section [nope]")
	})

	t.Run("missing file", func(t *testing.T) {
		p, _, err := s.Provider("file:" + filepath.Join(home, "nope") + "?profile=x")
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background(), provider.DefaultProfile)
		require.ErrorIs(t, err, provider.ErrNotFound)
		assert.Contains(t, err.Error(), "no credentials file at")
	})

	t.Run("conformance", func(t *testing.T) {
		p, _, err := s.Provider("file:production")
		require.NoError(t, err)
		providertest.Run(t, p, providertest.Options{Profile: "anything",
			WantFields: []string{provider.FieldAccessKeyID, provider.FieldRegion}})
		p, _, err = s.Provider("file:")
		require.NoError(t, err)
		providertest.Run(t, p, providertest.Options{WantFields: []string{provider.FieldSecretAccessKey}, Secrets: []string{canary}})
	})
}

// Sections of one file share one Provider: the file is read and parsed
// once for all of them.
func TestSchemeSharesFile(t *testing.T) {
	path := install(t, "credentials.ini")
	sc := Scheme(func(o *Options) { o.Getenv = env(nil) }).(*scheme)
	var s provider.Schemes
	s.Register("file", sc)
	ctx := context.Background()
	for _, ref := range []string{"file:" + path, "file:" + path + "?profile=production", "file:" + path + "?profile=github", "file:" + filepath.Dir(path) + "/./credentials?profile=empty"} {
		p, _, err := s.Provider(ref)
		require.NoError(t, err)
		p.Retrieve(ctx, provider.DefaultProfile)
	}
	require.Len(t, sc.files, 1)
	f := sc.files[path]
	assert.EqualValues(t, 1, f.parses.Load())

	// MCP_CREDENTIALS_FILE picks the default file, which is shared too.
	sc = Scheme(func(o *Options) { o.Getenv = env(map[string]string{EnvFile: path}) }).(*scheme)
	for _, section := range []string{"", "production"} {
		tgt, err := sc.Open(provider.Ref{Scheme: "file", Body: section})
		require.NoError(t, err)
		if section == "" {
			section = provider.DefaultProfile
		}
		assert.Equal(t, []string{"file:" + filepath.ToSlash(path) + "/" + section}, resourceTexts(tgt))
		_, err = tgt.Provider.Retrieve(ctx, "x")
		require.NoError(t, err)
	}
	require.Len(t, sc.files, 1)
	assert.Equal(t, path, sc.files[""].Path())
}

func TestSchemeInvalid(t *testing.T) {
	var s provider.Schemes
	s.Register("file", Scheme(func(o *Options) { o.Getenv = env(nil) }))
	for _, tc := range []struct{ ref, want string }{
		{"file:dir/credentials?profile=prod", "its body is a relative path; use an absolute path or one starting with ~/"},
		{"file:./credentials", "its body is a relative path"},
		{`file:dir\credentials`, "its body is a relative path"},
		{"file:~/.mcp/credentials", "its body starts with ~/, but there is no home directory to expand it to"},
		{"file:~root/.mcp/credentials", "its body starts with ~ but not ~/: only ~/ (your own home directory) is expanded"},
		{"file:~", "its body names a directory"},
		{"file:/etc/mcp/?profile=prod", "its body names a directory"},
		{"file: prod", "its body names a section that is not valid: has leading or trailing white space"},
		{"file:[prod]", `its body names a section that is not valid: holds "[", "]" or "*"`},
		{"file:prod*", `holds "[", "]" or "*"`},
		{"file:.", `its body names a section that is not valid: is "." or ".."`},
		{"file:" + strings.Repeat("s", 129), "its body names a section that"},
		{"file:prod?profile=ops", "has ?profile=, but the body already names a section"},
		{"file:/etc/mcp/credentials?version=1", `has the param "version", but file: takes only ?profile=`},
		{"file:", "the default credentials file, which cannot be located"}, // no HOME, no MCP_CREDENTIALS_FILE
		{"file:../../etc/shadow?profile=x", `".." path segment`},           // refused by provider.ParseRef already
		{"file:/etc/../etc/shadow", `".." path segment`},
	} {
		t.Run(tc.ref[:min(len(tc.ref), 30)], func(t *testing.T) {
			_, err := s.Open(tc.ref)
			require.Error(t, err)
			assert.ErrorIs(t, err, provider.ErrInvalidRef)
			assert.Contains(t, err.Error(), tc.want)
			if r, err2 := provider.ParseRef(tc.ref); err2 == nil && len(r.Body) > 4 {
				assert.NotContains(t, err.Error(), r.Body, "the error quotes the reference")
			}
		})
	}
}

func FuzzScheme(f *testing.F) {
	for _, s := range []string{"file:", "file:prod", "file:/etc/x?profile=y", "file:~/x", "file:rel/x", "file:" + canary, "file:/a#b"} {
		f.Add(s)
	}
	dir := f.TempDir()
	require.NoError(f, os.Chmod(dir, 0o700))
	sc := Scheme(func(o *Options) { o.Getenv = env(map[string]string{"HOME": dir}) })
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
		if tgt.Provider == nil || len(tgt.Resources) != 1 {
			t.Fatalf("Target without a Provider or with %d resources", len(tgt.Resources))
		}
	})
}
