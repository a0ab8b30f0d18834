package secretfile_test

import (
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/secretfile"
)

// The scheme's ResourceShape lets Schemes.CheckPolicy refuse, at start, a
// pattern that could cover nothing a reference reads, and pass every one
// that can.
func TestSecretfileSchemeCheckPolicy(t *testing.T) {
	var s provider.Schemes
	s.Register("secretfile", secretfile.Scheme())
	for _, pat := range []string{"secretfile:/run/secrets/*", "secretfile:/run/secrets/aws-prod", "secretfile:/**", "secretfile:/x"} {
		if err := s.CheckPolicy(mustPolicy(t, pat)); err != nil {
			t.Errorf("%s: %v", pat, err)
		}
	}
	for pat, want := range map[string]string{"secretfile:aws-*": "is not an absolute path, so it covers nothing: a secretfile: pattern names a directory's absolute path followed by an entry, such as secretfile:/run/secrets/*", "secretfile:/run/secrets#*": `holds "#" or "?"`} {
		if err := s.CheckPolicy(mustPolicy(t, pat)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to hold %q", pat, err, want)
		}
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
