package keychain

import (
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// recordingKeyring is a memKeyring that reports each item read as the
// resource keychain:SERVICE/PROFILE of its service SERVICE:PROFILE. A read
// under a service without a profile (the bare prefix, where the profile
// list lives) is reported as keychain:SERVICE, which no reference declares.
type recordingKeyring struct {
	*memKeyring
	record func(provider.Resource)
}

func (k recordingKeyring) Get(service, account string) (string, error) {
	prefix, profile, ok := strings.Cut(service, ":")
	path := prefix
	if ok {
		path += "/" + profile
	}
	k.record(provider.Resource{Scheme: "keychain", Path: path})
	return k.memKeyring.Get(service, account)
}

// conformanceKeyring holds profiles for the Valid references: ops (with an
// index), manual (items made by hand, no index) and acme:ops.
func conformanceKeyring(t *testing.T) *memKeyring {
	kr := newMemKeyring()
	store := New(func(o *Options) { o.Keyring = kr })
	if err := store.Store(t.Context(), "ops", map[string]provider.Secret{"token": provider.NewSecret(canary), "username": provider.NewSecret("octocat")}); err != nil {
		t.Fatal(err)
	}
	if err := store.Store(t.Context(), provider.DefaultProfile, map[string]provider.Secret{"token": provider.NewSecret("default-token")}); err != nil {
		t.Fatal(err)
	}
	kr.Set("mcpcred:manual", "github_pat", "ghp_manual")
	kr.Set("acme:ops", "token", "acme-token")
	return kr
}

func recordingScheme(t *testing.T, record func(provider.Resource)) provider.Scheme {
	kr := recordingKeyring{memKeyring: conformanceKeyring(t), record: record}
	return Scheme(func(o *Options) { o.Keyring = kr })
}

var schemeValid = []string{
	"keychain:",
	"keychain:ops",
	"keychain:default",
	"keychain:mcpcred/ops",
	"keychain:ops#username",
	"keychain:ops#token",
	"keychain:manual",
	"keychain:manual#github_pat",
	"keychain:acme/ops",
	"keychain:acme/ops#token",
	"keychain:nosuch",
	"keychain:nosuch#token",
	"keychain:team.a-1",
	"keychain:ünïcode",
}

var schemeInvalid = []string{
	"keychain:my ops",
	"keychain:ops:prod",
	"keychain:mcpcred/",
	"keychain:/ops",
	"keychain:/",
	"keychain:mcp:cred/ops",
	"keychain:my svc/ops",
	"keychain:a/b/c",
	"keychain:mcpcred/*",
	"keychain:*",
	"keychain:ops*",
	"keychain:ops#_fields",
	"keychain:ops#.hidden",
	"keychain:ops#" + strings.Repeat("f", 65),
	"keychain:" + strings.Repeat("p", 129),
	"keychain:" + strings.Repeat("s", 129) + "/ops",
	"keychain:ops?version=1",
	"keychain:ops?profile=x",
	"keychain:.",
	"keychain:./ops",
	"keychain:mcpcred/.",
}

func schemeConfig() providertest.SchemeConfig {
	return providertest.SchemeConfig{Name: "keychain", New: recordingScheme, Valid: schemeValid, Invalid: schemeInvalid}
}

func TestSchemeConformance(t *testing.T) {
	providertest.RunScheme(t, schemeConfig())
}

func FuzzSchemeRef(f *testing.F) {
	for _, s := range append(append([]string(nil), schemeValid...), schemeInvalid...) {
		f.Add(s)
	}
	cfg := schemeConfig()
	f.Fuzz(func(t *testing.T, ref string) { providertest.CheckSchemeRef(t, cfg, ref) })
}
