package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// conformanceFile is a credentials file with a section for every Valid
// reference of the conformance suite, so that each read succeeds and is
// recorded.
const conformanceFile = `[default]
aws_access_key_id = AKIADEFAULTEXAMPLE
aws_secret_access_key = CANARY-SECRET-d3adb33f
[production]
aws_access_key_id = AKIAPRODEXAMPLE
region = eu-west-1
[profile staging]
aws_access_key_id = AKIASTAGINGEXAMPLE
[github]
token = ghp_exampletoken0123456789
[ops]
token = ops-token
[team.a-1]
token = team-token
`

// conformanceHome makes HOME/.mcp/credentials (0600 in a 0700 directory)
// and HOME/.mcp/other, and returns HOME. HOME's path is made of names
// (provider.Describe shows it), unlike t.TempDir's, so that an error that
// repeats a path segment the suite has not put there is not mistaken for
// one that repeats a token.
func conformanceHome(t testing.TB) string {
	t.Helper()
	pid := os.Getpid()
	home, err := os.MkdirTemp("", fmt.Sprintf("mcpcred-file-%d-%d-", pid/10000, pid%10000))
	if err != nil {
		t.Fatal(err)
	}
	// MkdirTemp appends a random number; rename to a name-like path.
	named := strings.TrimRight(home, "0123456789") + "home"
	if err := os.Rename(home, named); err != nil {
		t.Fatal(err)
	}
	home = named
	t.Cleanup(func() { os.RemoveAll(home) })
	dir := filepath.Join(home, ".mcp")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"credentials", "other"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(conformanceFile), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// recordingScheme is the file Scheme over the files in home. The file
// Provider has no read hook, so each read is recorded from what it
// returns: the Source's locator "PATH [SECTION]" names the file and the
// section it read ("[profile NAME]" being section NAME's other spelling),
// recorded as file:ABSPATH/SECTION. MCP_CREDENTIAL_PROFILE is set, so a
// reference that let it redirect the default section would read [github]
// and be caught.
func recordingScheme(home string) func(t *testing.T, record func(provider.Resource)) provider.Scheme {
	return func(t *testing.T, record func(provider.Resource)) provider.Scheme {
		inner := Scheme(func(o *Options) {
			o.Getenv = env(map[string]string{"HOME": home, EnvProfile: "github"})
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
					record(locatorResource(t, c.Source.Locator))
				}
				return c, err
			})
			return tgt, nil
		})
	}
}

// locatorResource turns a file Provider's locator "PATH [SECTION]" into the
// resource file:ABSPATH/SECTION.
func locatorResource(t *testing.T, loc string) provider.Resource {
	i := strings.LastIndex(loc, " [")
	if i < 0 || !strings.HasSuffix(loc, "]") {
		t.Errorf("locator %q is not PATH [SECTION]", loc)
		return provider.Resource{Scheme: "file", Path: "/unparsed-locator"}
	}
	path, section := loc[:i], strings.TrimSuffix(loc[i+2:], "]")
	section = strings.TrimPrefix(section, "profile ")
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Error(err)
	}
	return provider.Resource{Scheme: "file", Path: filepath.ToSlash(abs) + "/" + section}
}

func schemeConfig(home string) providertest.SchemeConfig {
	creds := filepath.Join(home, ".mcp", "credentials")
	other := filepath.Join(home, ".mcp", "other")
	return providertest.SchemeConfig{
		Name: "file",
		New:  recordingScheme(home),
		Valid: []string{
			"file:",
			"file:default",
			"file:production",
			"file:staging",
			"file:github",
			"file:team.a-1",
			"file:production#region",
			"file:nosuch",
			"file:~/.mcp/credentials",
			"file:~/.mcp/credentials?profile=ops",
			"file:~/.mcp/other?profile=production#aws_access_key_id",
			"file:" + creds,
			"file:" + creds + "?profile=default",
			"file:" + other + "?profile=ops",
			"file:" + other + "?profile=staging#aws_access_key_id",
			"file:" + filepath.Dir(other) + "//./other?profile=ops",
			"file:" + filepath.Join(home, "nosuch") + "?profile=ops",
		},
		Invalid: []string{
			"file:dir/credentials?profile=prod",
			"file:./credentials",
			`file:dir\credentials`,
			"file:~root/.mcp/credentials",
			"file:~",
			"file:~/",
			"file:/etc/mcp/",
			"file:/etc/mcp/?profile=prod",
			"file: prod",
			"file:[prod]",
			"file:prod*",
			"file:*",
			"file:.",
			"file:" + strings.Repeat("s", 129),
			"file:prod?profile=ops",
			"file:" + creds + "?version=1",
			"file:" + creds + "?profile=ops&version=1",
			"file:../../etc/shadow?profile=x",
			"file:" + creds + "/../other",
		},
	}
}

func TestSchemeConformance(t *testing.T) {
	providertest.RunScheme(t, schemeConfig(conformanceHome(t)))
}

func FuzzSchemeRef(f *testing.F) {
	cfg := schemeConfig(conformanceHome(f))
	for _, s := range append(append([]string(nil), cfg.Valid...), cfg.Invalid...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) { providertest.CheckSchemeRef(t, cfg, ref) })
}
