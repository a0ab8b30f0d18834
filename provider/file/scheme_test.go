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

func TestScheme(t *testing.T) {
	path := install(t, "credentials.ini")
	home := filepath.Dir(filepath.Dir(path)) // path is HOME/.mcp/credentials
	other := installBytes(t, []byte("[default]\ntoken = other-default\n[ops]\ntoken = other-ops\n"))
	vars := map[string]string{"HOME": home, EnvProfile: "github"}
	var s provider.Schemes
	s.Register("file", Scheme(func(o *Options) { o.Getenv = env(vars) }))

	for _, tc := range []struct {
		ref, field, want, locator string
	}{
		{"file:", "access_key_id", "AKIADEFAULTEXAMPLE", path + " [default]"},
		{"file:#production", "access_key_id", "AKIAPRODEXAMPLE", path + " [production]"},
		{"file:#staging", "access_key_id", "AKIASTAGINGEXAMPLE", path + " [profile staging]"},
		{"file:#default", "access_key_id", "AKIADEFAULTEXAMPLE", path + " [default]"}, // not MCP_CREDENTIAL_PROFILE
		{"file:~/.mcp/credentials#github", "token", "ghp_exampletoken0123456789", path + " [github]"},
		{"file:" + other, "token", "other-default", other + " [default]"},
		{"file:" + other + "#ops", "token", "other-ops", other + " [ops]"},
		{"file:" + filepath.Dir(other) + "//./credentials#ops", "token", "other-ops", other + " [ops]"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			p, _, err := s.Provider(tc.ref)
			require.NoError(t, err)
			assert.Equal(t, Name, provider.NameOf(p))
			for _, profile := range []string{provider.DefaultProfile, "production", "whatever"} {
				c, err := p.Retrieve(context.Background(), profile)
				require.NoError(t, err, profile)
				assert.Equal(t, tc.want, c.Value(tc.field), profile)
				assert.Equal(t, tc.locator, c.Source.Locator)
			}
		})
	}

	t.Run("missing section", func(t *testing.T) {
		p, _, err := s.Provider("file:#nope")
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background(), provider.DefaultProfile)
		require.ErrorIs(t, err, provider.ErrNotFound)
		assert.Contains(t, err.Error(), "no section [nope]")
	})

	t.Run("missing file", func(t *testing.T) {
		p, _, err := s.Provider("file:" + filepath.Join(home, "nope") + "#x")
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background(), provider.DefaultProfile)
		require.ErrorIs(t, err, provider.ErrNotFound)
		assert.Contains(t, err.Error(), "no credentials file at")
	})

	t.Run("conformance", func(t *testing.T) {
		p, _, err := s.Provider("file:#production")
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
	for _, ref := range []string{"file:" + path, "file:" + path + "#production", "file:" + path + "#github", "file:" + filepath.Dir(path) + "/./credentials#empty"} {
		p, _, err := s.Provider(ref)
		require.NoError(t, err)
		p.Retrieve(ctx, provider.DefaultProfile)
	}
	require.Len(t, sc.files, 1)
	f := sc.files[path]
	assert.EqualValues(t, 1, f.parses.Load())

	// MCP_CREDENTIALS_FILE picks the default file, which is shared too.
	sc = Scheme(func(o *Options) { o.Getenv = env(map[string]string{EnvFile: path}) }).(*scheme)
	for _, frag := range []string{"", "#production"} {
		p, err := sc.Provider(provider.Ref{Scheme: "file", Fragment: strings.TrimPrefix(frag, "#")})
		require.NoError(t, err)
		_, err = p.Retrieve(ctx, "x")
		require.NoError(t, err)
	}
	require.Len(t, sc.files, 1)
	assert.Equal(t, path, sc.files[""].Path())
}

func TestSchemeInvalid(t *testing.T) {
	var s provider.Schemes
	s.Register("file", Scheme(func(o *Options) { o.Getenv = env(nil) }))
	for _, tc := range []struct{ ref, want string }{
		{"file:credentials#prod", `file: body: "credentials" is a relative path; use an absolute path or one starting with ~/`},
		{"file:./credentials", `file: body: "./credentials" is a relative path`},
		{"file:~/.mcp/credentials", `file: body: "~/.mcp/credentials": cannot expand ~/: HOME is not set`},
		{"file:~root/.mcp/credentials", `file: body: "~root/.mcp/credentials": only ~/ (your own home directory) is expanded`},
		{"file:~", `file: body: "~" names a directory`},
		{"file:/etc/mcp/#prod", `file: body: "/etc/mcp/" names a directory`},
		{"file:# prod", `file: fragment: section " prod" has leading or trailing white space`},
		{"file:#[prod]", `file: fragment: section "[prod]" holds "[" or "]"`},
		{"file:#" + strings.Repeat("s", 129), `file: fragment: section (129 bytes) is longer than 128 bytes`},
		{"file:../../etc/shadow#x", `".." path segment`}, // refused by provider.ParseRef already
	} {
		t.Run(tc.ref[:min(len(tc.ref), 30)], func(t *testing.T) {
			_, _, err := s.Provider(tc.ref)
			require.Error(t, err)
			assert.ErrorIs(t, err, provider.ErrInvalidRef)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func FuzzScheme(f *testing.F) {
	for _, s := range []string{"file:", "file:#prod", "file:/etc/x#y", "file:~/x", "file:rel", "file:#" + canary} {
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
		p, err := sc.Provider(ref)
		if err != nil {
			if !strings.Contains(err.Error(), provider.ErrInvalidRef.Error()) || len(err.Error()) > 400 {
				t.Fatalf("bad error: %v", err)
			}
			return
		}
		if p == nil {
			t.Fatal("nil provider without error")
		}
	})
}
