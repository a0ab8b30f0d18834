package file_test

import (
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/file"
)

// The scheme's ResourceShape lets Schemes.CheckPolicy refuse, at start, a
// pattern that could cover nothing a reference reads, and pass every one
// that can.
func TestFileSchemeCheckPolicy(t *testing.T) {
	var s provider.Schemes
	s.Register("file", file.Scheme())
	for _, pat := range []string{"file:/home/u/.mcp/credentials/*", "file:/home/u/.mcp/credentials/ops", "file:/home/**", "file:**"} {
		if err := s.CheckPolicy(mustPolicy(t, pat)); err != nil {
			t.Errorf("%s: %v", pat, err)
		}
	}
	for pat, want := range map[string]string{"file:*": "is not an absolute path, so it covers nothing: a file: pattern names a file's absolute path followed by a section, such as file:/home/u/.mcp/credentials/*", "file:staging": "is not an absolute path", "file:~/.mcp/credentials/*": "is not an absolute path", "file:/credentials": "matches no path", "file:/home/u/.mcp/credentials#*": `holds "#" or "?"`, "file:/home/u/.mcp/credentials?profile=*": `holds "#" or "?"`} {
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
