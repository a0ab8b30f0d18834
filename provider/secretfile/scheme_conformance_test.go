package secretfile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/provider/secretfile"
)

// conformanceDir makes a secrets directory holding every layout: a JSON
// profile, an INI profile, a directory of field files, and field files for
// the default profile directly in it. Its path is made of names
// (provider.Describe shows it), unlike t.TempDir's, so that an error that
// repeats a path segment the suite has not put there is not mistaken for
// one that repeats a token.
func conformanceDir(t testing.TB) string {
	t.Helper()
	pid := os.Getpid()
	tmp, err := os.MkdirTemp("", fmt.Sprintf("mcpcred-secretfile-%d-%d-", pid/10000, pid%10000))
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimRight(tmp, "0123456789") + "root"
	if err := os.Rename(tmp, root); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	dir := filepath.Join(root, "secrets")
	write := func(rel, data string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("access_key_id", "AKIADEFAULTEXAMPLE\n")
	write("secret_access_key", canary+"\n")
	write("prod.json", `{"access_key_id":"AKIAPRODEXAMPLE","secret_access_key":"prod-secret"}`)
	write("staging.ini", "[staging]\naccess_key_id = AKIASTAGINGEXAMPLE\nregion = eu-west-1\n")
	write("team/token", "team-token\n")
	write("team/username", "bot\n")
	return dir
}

// recordingScheme is the secretfile Scheme over dir (its default
// directory). The Provider has no read hook, so each read is recorded from
// what it returns: the Source's locator names the file or directory it read
// (DIR/NAME.json, DIR/NAME.ini, DIR/NAME/, or DIR/{field,...} for the
// default profile's field files), recorded as secretfile:DIR/NAME.
func recordingScheme(dir string) func(t *testing.T, record func(provider.Resource)) provider.Scheme {
	return func(t *testing.T, record func(provider.Resource)) provider.Scheme {
		inner := secretfile.Scheme(func(o *secretfile.Options) { o.Dir = dir })
		return provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
			tgt, err := inner.Open(ref)
			if err != nil {
				return tgt, err
			}
			read := tgt.Provider
			tgt.Provider = provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
				c, err := read.Retrieve(ctx, profile)
				if err == nil {
					record(locatorResource(t, c.Source.Locator))
				}
				return c, err
			})
			return tgt, nil
		})
	}
}

// locatorResource maps a secretfile locator to the entry it read.
func locatorResource(t *testing.T, loc string) provider.Resource {
	dir, entry := filepath.Split(strings.TrimSuffix(loc, string(filepath.Separator)))
	switch {
	case strings.HasPrefix(entry, "{"):
		entry = provider.DefaultProfile // field files directly in the directory
	case strings.HasSuffix(entry, ".json"):
		entry = strings.TrimSuffix(entry, ".json")
	case strings.HasSuffix(entry, ".ini"):
		entry = strings.TrimSuffix(entry, ".ini")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Error(err)
	}
	return provider.Resource{Scheme: "secretfile", Path: filepath.ToSlash(abs) + "/" + entry}
}

func schemeConfig(dir string) providertest.SchemeConfig {
	return providertest.SchemeConfig{
		Name: "secretfile",
		New:  recordingScheme(dir),
		Valid: []string{
			"secretfile:",
			"secretfile:default",
			"secretfile:prod",
			"secretfile:staging",
			"secretfile:team",
			"secretfile:team#token",
			"secretfile:prod#access_key_id",
			"secretfile:nosuch",
			"secretfile:aws-prod.v2",
			"secretfile:" + dir + "/default",
			"secretfile:" + dir + "/prod",
			"secretfile:" + dir + "/staging#region",
			"secretfile:" + filepath.Dir(dir) + "//./secrets/team",
			"secretfile:" + filepath.Dir(dir) + "/nosuch/prod",
		},
		Invalid: []string{
			"secretfile:secrets/prod",
			"secretfile:~/secrets/prod",
			`secretfile:secrets\prod`,
			"secretfile:.hidden",
			"secretfile:..data",
			"secretfile:" + dir + "/.data",
			"secretfile:" + dir + "/",
			"secretfile:" + dir + "/.",
			"secretfile:/prod",
			"secretfile:/",
			"secretfile:" + dir + "/aws-*",
			"secretfile:prod*",
			"secretfile:*",
			"secretfile:" + strings.Repeat("n", 129),
			"secretfile:prod?version=2",
			"secretfile:prod?profile=x",
			"secretfile:" + dir + "/../etc/shadow",
		},
	}
}

func TestSchemeConformance(t *testing.T) {
	providertest.RunScheme(t, schemeConfig(conformanceDir(t)))
}

func FuzzSchemeRef(f *testing.F) {
	cfg := schemeConfig(conformanceDir(f))
	for _, s := range append(append([]string(nil), cfg.Valid...), cfg.Invalid...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) { providertest.CheckSchemeRef(t, cfg, ref) })
}
