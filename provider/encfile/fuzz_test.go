package encfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

func FuzzSchemeRef(f *testing.F) {
	cfg := schemeConfig(conformanceDir(f))
	for _, s := range append(append([]string(nil), cfg.Valid...), cfg.Invalid...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) { providertest.CheckSchemeRef(t, cfg, ref) })
}

// FuzzFile: whatever a credential file holds, Retrieve never panics, opens
// nothing it did not seal (only the bytes a Put wrote open), and its error
// never quotes the content.
func FuzzFile(f *testing.F) {
	dir := storeDir(f)
	p := newStore(f, dir)
	ctx := context.Background()
	if err := p.Put(ctx, "sealed", creds("token", canary)); err != nil {
		f.Fatal(err)
	}
	sealed, _ := os.ReadFile(filepath.Join(dir, "sealed"))
	f.Add(sealed)
	f.Add([]byte("MCEF\x01"))
	f.Add([]byte("MCEF\x02" + strings.Repeat("x", 40)))
	f.Add([]byte(canary))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "sealed")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := p.Retrieve(ctx, "sealed")
		if err == nil {
			if string(b) != string(sealed) || c.Value("token") != canary {
				t.Fatalf("opened %d bytes that no Put wrote", len(b))
			}
			return
		}
		if !errors.Is(err, encfile.ErrCannotOpen) && !errors.Is(err, encfile.ErrFormat) && !errors.Is(err, encfile.ErrTooLarge) {
			t.Fatalf("unexpected error %v", err)
		}
		if len(b) >= 6 && strings.Contains(err.Error(), string(b)) {
			t.Fatalf("error quotes the content: %v", err)
		}
		noSecret(t, err)
	})
}

// FuzzValidName: a name ValidName accepts is one local file name that is
// not the package's own, and Retrieve refuses every other name as not
// found without quoting it.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"sub-alice", "ops", ".encfile.lock", "..", "a/b", "a..b", "", canary, "ünï", "a\x00b"} {
		f.Add(s)
	}
	dir := storeDir(f)
	p := newStore(f, dir)
	f.Fuzz(func(t *testing.T, name string) {
		err := encfile.ValidName(name)
		if err == nil {
			if !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || filepath.Base(name) != name {
				t.Fatalf("accepted %q", name)
			}
			return
		}
		_, rerr := p.Retrieve(context.Background(), name)
		if !errors.Is(rerr, provider.ErrNotFound) || !errors.Is(rerr, encfile.ErrInvalidName) {
			t.Fatalf("Retrieve(%q): %v", name, rerr)
		}
		if len(name) >= 8 && !provider.IsName(name) && strings.Contains(rerr.Error(), name) {
			t.Fatalf("error quotes the name: %v", rerr)
		}
	})
}
