package enroll

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
)

// TestReadEnv: each wrong variable is named in the error, and its value
// never is.
func TestReadEnv(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(testKey)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	keyFile := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(key+"\n"), 0o600))
	openFile := filepath.Join(dir, "open")
	require.NoError(t, os.WriteFile(openFile, []byte(key), 0o644))
	require.NoError(t, os.Chmod(openFile, 0o644))
	ok := map[string]string{EnvURL: "https://mcp.example.com/enroll", EnvKey: key, EnvClientID: "mcp", EnvClientSecret: "s3cret-value-xyz"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range ok {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for name, tc := range map[string]struct {
		env     map[string]string
		wantErr string // the variable named; "" for none
		secret  string // must not appear in the error
	}{
		"ok":                {ok, "", ""},
		"url-safe key":      {with(EnvKey, base64.RawURLEncoding.EncodeToString(testKey)), "", ""},
		"key file":          {with(EnvKey, "", EnvKeyFile, keyFile), "", ""},
		"ledger":            {with(EnvLedger, "vault:secret/data/mcpcred/used/"), "", ""},
		"disabled":          {map[string]string{}, "", ""},
		"key without url":   {map[string]string{EnvKey: key}, EnvKey, key},
		"short key":         {with(EnvKey, base64.StdEncoding.EncodeToString(testKey[:31])), EnvKey, ""},
		"key not base64":    {with(EnvKey, "not base64 !!"+"hunter2-secret"), EnvKey, "hunter2-secret"},
		"both keys":         {with(EnvKeyFile, keyFile), EnvKeyFile, ""},
		"no key":            {with(EnvKey, ""), EnvKey, ""},
		"open key file":     {with(EnvKey, "", EnvKeyFile, openFile), EnvKeyFile, ""},
		"relative key file": {with(EnvKey, "", EnvKeyFile, "key"), EnvKeyFile, ""},
		"http url":          {with(EnvURL, "http://mcp.example.com/enroll"), EnvURL, ""},
		"url with query":    {with(EnvURL, "https://mcp.example.com/enroll?next=x"), EnvURL, ""},
		"no client":         {with(EnvClientID, ""), EnvClientID, ""},
		"bad ledger":        {with(EnvLedger, "no scheme here"), EnvLedger, ""},
	} {
		c, err := ReadEnv(func(k string) string { return tc.env[k] })
		if tc.wantErr == "" {
			assert.NoError(t, err, name)
			if len(tc.env) > 0 {
				assert.True(t, c.Enabled(), name)
				assert.Equal(t, testKey, c.Key, name)
			} else {
				assert.False(t, c.Enabled(), name)
			}
			continue
		}
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), tc.wantErr, name)
			if tc.secret != "" {
				assert.NotContains(t, err.Error(), tc.secret, name)
			}
			assert.False(t, strings.Contains(err.Error(), key), name)
		}
	}
	c, err := ReadEnv(func(k string) string { return with(EnvLedger, "vault:secret/data/mcpcred/used/")[k] })
	require.NoError(t, err)
	assert.NotNil(t, c.NewLedger(&provider.Schemes{}))
}
