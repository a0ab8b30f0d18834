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
)

func schemes(optFns ...func(*encfile.Options)) *provider.Schemes {
	var s provider.Schemes
	s.Register("encfile", encfile.Scheme(append([]func(*encfile.Options){func(o *encfile.Options) {
		o.Key = testKey
		o.Getenv = func(string) string { return "" }
	}}, optFns...)...))
	return &s
}

// TestScheme: references read and write the file they name, and
// #FIELD only that field of it.
func TestScheme(t *testing.T) {
	ctx := context.Background()
	dir := storeDir(t)
	s := schemes()
	whole, ref, err := s.Store("encfile:" + filepath.Dir(dir) + "//./users/sub-alice")
	if err != nil {
		t.Fatal(err)
	}
	if ref.String() != "encfile:"+dir+"/sub-alice" {
		t.Errorf("canonical reference %s", ref)
	}
	all := creds("token", canary, "refresh_token", "rt")
	if err := whole.Put(ctx, "ignored", all); err != nil {
		t.Fatal(err)
	}
	// The reference and New's Provider name the same file.
	if c, err := newStore(t, dir).Retrieve(ctx, "sub-alice"); err != nil || !c.Equal(all) {
		t.Fatalf("New's Provider reads %v, %v", c, err)
	}
	tok, _, err := s.Store("encfile:" + dir + "/sub-alice#token")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := tok.Retrieve(ctx, ""); err != nil || !c.Equal(creds("token", canary)) {
		t.Fatalf("#token reads %v, %v", c, err)
	}
	for _, c := range []provider.Credentials{all, creds("refresh_token", "x"), {}} {
		wantErr(t, tok.Put(ctx, "", c), encfile.ErrInvalidName)
	}
	wantErr(t, tok.CompareAndSwap(ctx, "", creds("token", "stale"), creds("token", "new")), provider.ErrConflict)
	if err := tok.CompareAndSwap(ctx, "", creds("token", canary), creds("token", "new")); err != nil {
		t.Fatal(err)
	}
	if c, err := whole.Retrieve(ctx, ""); err != nil || !c.Equal(creds("token", "new", "refresh_token", "rt")) {
		t.Fatalf("after a #token swap the file holds %v, %v; want the other field kept", c, err)
	}
	if err := tok.Delete(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Retrieve(ctx, ""); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("#token after Delete: %v", err)
	}
	if c, err := whole.Retrieve(ctx, ""); err != nil || !c.Equal(creds("refresh_token", "rt")) {
		t.Fatalf("after deleting #token: %v, %v", c, err)
	}
	rt, _, _ := s.Store("encfile:" + dir + "/sub-alice#refresh_token")
	if err := rt.Delete(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub-alice")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file is left after its last field was deleted: %v", err)
	}
	if err := tok.CompareAndSwap(ctx, "", provider.Credentials{}, creds("token", "t")); err != nil {
		t.Fatalf("#token create-only: %v", err)
	}
	if err := whole.Delete(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := whole.Delete(ctx, ""); err != nil {
		t.Fatal(err)
	}
}

// TestSchemeInvalid: references the scheme cannot serve are refused
// without quoting them.
func TestSchemeInvalid(t *testing.T) {
	s := schemes()
	for _, ref := range []string{
		"encfile:", "encfile:name", "encfile:users/sub-alice", "encfile:/sub-alice", "encfile:/",
		"encfile:/var/lib/mcp/", "encfile:/var/lib/mcp/.hidden", "encfile:/var/lib/mcp/*",
		"encfile:/var/lib/mcp/a b", `encfile:/var/lib/mcp\x`, "encfile:/var/lib/mcp/a,b",
		"encfile:/var/lib/mcp/x?version=1", "encfile:/var/lib/mcp/" + strings.Repeat("n", 129),
		"encfile:/var/lib/mcp/ünïcode", "encfile:/var/lib/mcp/x#_bad", "encfile:/var/lib/mcp/" + canary + "!",
	} {
		_, err := s.Open(ref)
		if !errors.Is(err, provider.ErrInvalidRef) {
			t.Errorf("%s: %v, want ErrInvalidRef", ref, err)
		}
		noSecret(t, err)
	}
}

func TestSchemeCheckPolicy(t *testing.T) {
	s := schemes()
	for _, pat := range []string{"encfile:/var/lib/mcp/users/*", "encfile:/var/lib/mcp/users/sub-*", "encfile:/**"} {
		pol, err := provider.NewRefPolicy(pat)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CheckPolicy(pol); err != nil {
			t.Errorf("%s: %v", pat, err)
		}
	}
	pol, _ := provider.NewRefPolicy("encfile:users-*")
	if err := s.CheckPolicy(pol); err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Errorf("a relative pattern passes: %v", err)
	}
}
