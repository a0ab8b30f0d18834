package keychain_test

import (
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
)

// The scheme's ResourceShape lets Schemes.CheckPolicy refuse, at start, a
// pattern that could cover nothing a reference reads, and pass every one
// that can.
func TestKeychainSchemeCheckPolicy(t *testing.T) {
	var s provider.Schemes
	s.Register("keychain", keychain.Scheme())
	for _, pat := range []string{"keychain:mcpcred/*", "keychain:*/ops", "keychain:**"} {
		if err := s.CheckPolicy(mustPolicy(t, pat)); err != nil {
			t.Errorf("%s: %v", pat, err)
		}
	}
	for pat, want := range map[string]string{"keychain:*": "matches no path a keychain: resource has, so it covers nothing: a keychain: pattern names SERVICE/PROFILE, such as keychain:mcpcred/*", "keychain:/ops": "is an absolute path", "keychain:a/b/c": "matches no path", "keychain:mcpcred/ops#token": `holds "#" or "?"`} {
		if err := s.CheckPolicy(mustPolicy(t, pat)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to hold %q", pat, err, want)
		}
	}
	// A default prefix holding "/" leaves the shape unknown: nothing is refused.
	var odd provider.Schemes
	odd.Register("keychain", keychain.Scheme(func(o *keychain.Options) { o.Service = "team/x" }))
	if err := odd.CheckPolicy(mustPolicy(t, "keychain:*")); err != nil {
		t.Errorf("service prefix with /: %v", err)
	}
}

func mustPolicy(t *testing.T, pat string) *provider.RefPolicy {
	t.Helper()
	p, err := provider.NewRefPolicy(pat)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
