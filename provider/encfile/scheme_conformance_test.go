package encfile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// conformanceDir makes a private directory of credential files whose path
// is made of names (provider.Describe shows it), unlike t.TempDir's, so
// that an error that repeats a path segment the suite has not put there is
// not mistaken for one that repeats a token.
func conformanceDir(t testing.TB) string {
	t.Helper()
	pid := os.Getpid()
	tmp, err := os.MkdirTemp("", fmt.Sprintf("mcpcred-encfile-%d-%d-", pid/10000, pid%10000))
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimRight(tmp, "0123456789") + "root"
	if err := os.Rename(tmp, root); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	dir := filepath.Join(root, "users")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := newStore(t, dir)
	for name, c := range map[string]provider.Credentials{
		"sub-alice": creds("token", canary, "refresh_token", "rt-alice"),
		"ops":       creds("access_key_id", "AKIAOPSEXAMPLE", "secret_access_key", "ops-secret"),
	} {
		if err := p.Put(context.Background(), name, c); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// recordingScheme records each read from what it returns: the Source's
// locator is the file read.
func recordingScheme(t *testing.T, record func(provider.Resource)) provider.Scheme {
	inner := encfile.Scheme(func(o *encfile.Options) {
		o.Key = testKey
		o.Getenv = func(string) string { return "" }
	})
	return provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		tgt, err := inner.Open(ref)
		if err != nil {
			return tgt, err
		}
		read := tgt.Provider
		tgt.Provider = provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
			c, err := read.Retrieve(ctx, profile)
			if err == nil {
				record(provider.Resource{Scheme: "encfile", Path: filepath.ToSlash(c.Source.Locator)})
			}
			return c, err
		})
		return tgt, nil
	})
}

func schemeConfig(dir string) providertest.SchemeConfig {
	return providertest.SchemeConfig{
		Name: "encfile",
		New:  recordingScheme,
		Valid: []string{
			"encfile:" + dir + "/sub-alice",
			"encfile:" + dir + "/sub-alice#token",
			"encfile:" + dir + "/ops",
			"encfile:" + dir + "/ops#secret_access_key",
			"encfile:" + dir + "/nosuch",
			"encfile:" + dir + "/sub-_41lice_40example_2Ecom",
			"encfile:" + filepath.Dir(dir) + "//./users/ops",
			"encfile:" + filepath.Dir(dir) + "/nosuch/ops",
			"encfile:/var/lib/mcp/users/sub-bob",
		},
		Invalid: []string{
			"encfile:",
			"encfile:ops",
			"encfile:users/ops",
			"encfile:~/users/ops",
			`encfile:users\ops`,
			"encfile:" + dir + "/",
			"encfile:" + dir + "/.",
			"encfile:" + dir + "/.encfile.lock",
			"encfile:/ops",
			"encfile:/",
			"encfile:" + dir + "/sub-*",
			"encfile:*",
			"encfile:" + dir + "/" + strings.Repeat("n", 129),
			"encfile:" + dir + "/ops?version=2",
			"encfile:" + dir + "/ops?profile=x",
			"encfile:" + dir + "/../etc/shadow",
			"encfile:" + dir + "/ops#_x",
		},
	}
}

func TestSchemeConformance(t *testing.T) {
	providertest.RunScheme(t, schemeConfig(conformanceDir(t)))
}
