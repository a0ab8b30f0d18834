package file_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/file"
)

// A reference reached through a symbolic link lists where the link leads
// too, so a policy over one directory never admits a read elsewhere.
func TestSchemeLinkIsAResource(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "allowed")
	elsewhere := filepath.Join(root, "elsewhere")
	for _, d := range []string{allowed, elsewhere} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(elsewhere, "credentials"), []byte("[default]\ntoken = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(allowed, "link")); err != nil {
		t.Fatal(err)
	}
	var s provider.Schemes
	s.Register("file", file.Scheme())
	pol, err := provider.NewRefPolicy("file:" + allowed + "/**")
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := s.Open("file:" + allowed + "/link/credentials")
	if err != nil {
		t.Fatal(err)
	}
	if err := pol.Check(tgt); !errors.Is(err, provider.ErrRefNotAllowed) {
		t.Fatalf("a link out of the allowed directory was admitted: %v (resources %v)", err, tgt.Resources)
	}
	both, err := provider.NewRefPolicy("file:"+allowed+"/**", "file:"+elsewhere+"/**")
	if err != nil {
		t.Fatal(err)
	}
	if err := both.Check(tgt); err != nil {
		t.Fatalf("covering both places should admit it: %v", err)
	}
}
