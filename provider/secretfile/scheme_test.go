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

func TestScheme(t *testing.T) {
	dir, err := filepath.Abs("testdata/secrets")
	require.NoError(t, err)
	var s provider.Schemes
	// The default directory is testdata/secrets, as /run/secrets would be.
	s.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir = "testdata/secrets" }))

	for _, tc := range []struct {
		ref     string
		fields  []string
		locator string
	}{
		{"secretfile:", []string{"access_key_id", "secret_access_key"}, "testdata/secrets/{access_key_id,secret_access_key}"},
		{"secretfile:prod", []string{"access_key_id", "note", "secret_access_key"}, "testdata/secrets/prod.json"},
		{"secretfile:team", []string{"access_key_id", "extra_field", "secret_access_key"}, "testdata/secrets/team/"},
		{"secretfile:" + dir + "#staging", []string{"access_key_id", "region", "secret_access_key"}, dir + "/staging.ini"},
		{"secretfile:" + dir, []string{"access_key_id", "secret_access_key"}, dir + "/{access_key_id,secret_access_key}"},
		{"secretfile:" + dir + "/#default", []string{"access_key_id", "secret_access_key"}, dir + "/{access_key_id,secret_access_key}"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			p, _, err := s.Provider(tc.ref)
			require.NoError(t, err)
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

	t.Run("conformance", func(t *testing.T) {
		p, _, err := s.Provider("secretfile:" + dir)
		require.NoError(t, err)
		providertest.Run(t, p, providertest.Options{Profile: "anything", Secrets: []string{canary},
			WantFields: []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}})
	})
}

func TestSchemeInvalid(t *testing.T) {
	var s provider.Schemes
	s.Register("secretfile", secretfile.Scheme())
	for _, tc := range []struct{ ref, want string }{
		{"secretfile:#prod", `secretfile: fragment: "prod": a #NAME follows a directory (secretfile:/DIR#NAME); for a secret in the default directory write secretfile:NAME`},
		{"secretfile:prod#aws", `secretfile: fragment: "aws": a #NAME follows a directory (secretfile:/DIR#NAME), not the secret name "prod"`},
		{"secretfile:secrets/prod", `secretfile: body: "secrets/prod" is neither a secret name (name contains a path separator) nor an absolute directory`},
		{"secretfile:~/secrets#prod", `secretfile: body: "~/secrets" is neither a secret name`},
		{"secretfile:.hidden", `secretfile: body: ".hidden" is neither a secret name (name starts with '.')`},
		{"secretfile:/run/secrets#.data", `secretfile: fragment: ".data" is not a secret name: name starts with '.'`},
		{"secretfile:/run/secrets#a/b", `secretfile: fragment: "a/b" is not a secret name: name contains a path separator`},
		{"secretfile:" + strings.Repeat("n", 129), `secretfile: body: (129 bytes) is neither a secret name (name longer than 128 bytes)`},
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
	for _, s := range []string{"secretfile:", "secretfile:prod", "secretfile:/run/secrets#prod", "secretfile:a/b", "secretfile:#" + canary} {
		f.Add(s)
	}
	dir := f.TempDir()
	sc := secretfile.Scheme(func(o *secretfile.Options) { o.Dir = dir })
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
