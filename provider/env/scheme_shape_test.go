package env_test

import (
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
)

// The scheme's ResourceShape lets Schemes.CheckPolicy refuse, at start, a
// pattern that could cover nothing a reference reads, and pass every one
// that can.
func TestEnvSchemeCheckPolicy(t *testing.T) {
	var s provider.Schemes
	s.Register("env", env.Scheme())
	for _, pat := range []string{"env:MCP_CI_*", "env:GITHUB_TOKEN", "env:AWS_*", "env:**"} {
		if err := s.CheckPolicy(mustPolicy(t, pat)); err != nil {
			t.Errorf("%s: %v", pat, err)
		}
	}
	for pat, want := range map[string]string{"env:/x/*": "is an absolute path, so it covers nothing: an env: pattern names variables", "env:A/B": "matches no path", "env:GITHUB_TOKEN#token": `holds "#" or "?"`} {
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
