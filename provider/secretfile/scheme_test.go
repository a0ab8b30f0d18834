package secretfile_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/provider/secretfile"
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
	dir, err := filepath.Abs("testdata/secrets")
	require.NoError(t, err)
	var s provider.Schemes
	// The default directory is testdata/secrets, as /run/secrets would be.
	s.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir = "testdata/secrets" }))

	for _, tc := range []struct {
		ref      string
		fields   []string
		locator  string
		resource string
	}{
		{"secretfile:", []string{"access_key_id", "secret_access_key"}, "testdata/secrets/{access_key_id,secret_access_key}", dir + "/default"},
		{"secretfile:default", []string{"access_key_id", "secret_access_key"}, "testdata/secrets/{access_key_id,secret_access_key}", dir + "/default"},
		{"secretfile:prod", []string{"access_key_id", "note", "secret_access_key"}, "testdata/secrets/prod.json", dir + "/prod"},
		{"secretfile:team", []string{"access_key_id", "extra_field", "secret_access_key"}, "testdata/secrets/team/", dir + "/team"},
		{"secretfile:" + dir + "/staging", []string{"access_key_id", "region", "secret_access_key"}, dir + "/staging.ini", dir + "/staging"},
		{"secretfile:" + dir + "/default", []string{"access_key_id", "secret_access_key"}, dir + "/{access_key_id,secret_access_key}", dir + "/default"},
		{"secretfile:" + filepath.Dir(dir) + "//./secrets/default", []string{"access_key_id", "secret_access_key"}, dir + "/{access_key_id,secret_access_key}", dir + "/default"},
		{"secretfile:prod#note", []string{"note"}, "testdata/secrets/prod.json", dir + "/prod"},
		{"secretfile:" + dir + "/staging#region", []string{"region"}, dir + "/staging.ini", dir + "/staging"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			tgt, err := s.Open(tc.ref)
			require.NoError(t, err)
			assert.Equal(t, []string{"secretfile:" + filepath.ToSlash(tc.resource)}, resourceTexts(tgt))
			p := tgt.Provider
			assert.Equal(t, secretfile.Name, provider.NameOf(p))
			for _, profile := range []string{provider.DefaultProfile, "prod", "../../etc"} {
				c, err := p.Retrieve(context.Background(), profile)
				require.NoError(t, err, profile)
				assert.Equal(t, tc.fields, c.Names())
				assert.Equal(t, tc.locator, c.Source.Locator)
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		p, _, err := s.Provider("secretfile:nosuch")
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background(), provider.DefaultProfile)
		require.ErrorIs(t, err, provider.ErrNotFound)
		assert.Contains(t, err.Error(), "none of nosuch.json, nosuch.ini, nosuch/ exists")
	})

	t.Run("missing field", func(t *testing.T) {
		p, _, err := s.Provider("secretfile:prod#region")
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background(), provider.DefaultProfile)
		require.ErrorIs(t, err, provider.ErrNotFound)
	})

	t.Run("conformance", func(t *testing.T) {
		p, _, err := s.Provider("secretfile:" + dir + "/default")
		require.NoError(t, err)
		providertest.Run(t, p, providertest.Options{Profile: "anything", Secrets: []string{canary},
			WantFields: []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}})
	})
}

func TestSchemeInvalid(t *testing.T) {
	var s provider.Schemes
	s.Register("secretfile", secretfile.Scheme())
	for _, tc := range []struct{ ref, want string }{
		{"secretfile:secrets/prod", "its body is neither a secret name (name contains a path separator) nor an absolute /DIR/NAME"},
		{"secretfile:~/secrets/prod", "its body is neither a secret name"},
		{`secretfile:secrets\prod`, "its body is neither a secret name (name contains a path separator)"},
		{"secretfile:.hidden", "its body is neither a secret name (name starts with '.')"},
		{"secretfile:/run/secrets/.data", "its body is neither a secret name (name starts with '.')"},
		{"secretfile:/run/secrets/", "its body ends in /; name the secret in the directory"},
		{"secretfile:/run/secrets/.", "its body is neither a secret name"},
		{"secretfile:/prod", "its body names a secret directly in /"},
		{"secretfile:/run/secrets/aws-*", `its body holds "*"`},
		{"secretfile:prod*", `its body holds "*"`},
		{"secretfile:" + strings.Repeat("n", 129), "its body is neither a secret name (name longer than 128 bytes)"},
		{"secretfile:prod?version=2", `has the param "version", but secretfile: takes no ?params`},
		{"secretfile:/run/secrets/../../etc/shadow", `".." path segment`},
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
	for _, s := range []string{"secretfile:", "secretfile:prod", "secretfile:/run/secrets/prod", "secretfile:a/b", "secretfile:prod#" + "f", "secretfile:" + canary} {
		f.Add(s)
	}
	dir := f.TempDir()
	sc := secretfile.Scheme(func(o *secretfile.Options) { o.Dir = dir })
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
