package encfile_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
)

// TestStoreForProfile: a profiles file whose source is
// "encfile:DIR/{sub}" gives each caller their own file: a Put through
// profile.Provider.StoreFor is what Retrieve through the profile returns
// for that caller, and for nobody else.
func TestStoreForProfile(t *testing.T) {
	const iss = "https://idp.example.com"
	ctx := context.Background()
	dir := storeDir(t)
	conf := t.TempDir()
	path := filepath.Join(conf, "profiles.json")
	doc, _ := json.Marshal(map[string]any{"profiles": map[string]any{
		"mine": map[string]any{"source": "encfile:" + dir + "/{sub}", "allow": map[string]any{"issuers": []string{iss}}},
	}})
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	pp, err := profile.New(schemes(), func(o *profile.Options) { o.Path = path })
	if err != nil {
		t.Fatal(err)
	}
	alice := &provider.Caller{Issuer: iss, Subject: "Alice@example.com"}
	bob := &provider.Caller{Issuer: iss, Subject: "bob"}
	aliceCtx, bobCtx := provider.ContextWithCaller(ctx, alice), provider.ContextWithCaller(ctx, bob)
	if _, err := pp.Retrieve(aliceCtx, "mine"); !errors.Is(err, profile.ErrSourceEmpty) {
		t.Fatalf("before enrolling: %v, want ErrSourceEmpty", err)
	}
	st, ref, err := pp.StoreFor(alice, "mine")
	if err != nil {
		t.Fatal(err)
	}
	seg := profile.EncodeSubject(alice.Subject)
	if ref.String() != "encfile:"+dir+"/"+seg {
		t.Errorf("StoreFor's reference %s", ref)
	}
	oauth := creds("token", canary, "refresh_token", "rt-1", "oauth_client", "github", "token_type", "Bearer")
	if err := st.Put(aliceCtx, "mine", oauth); err != nil {
		t.Fatal(err)
	}
	got, err := pp.Retrieve(aliceCtx, "mine")
	if err != nil || !got.Equal(oauth) {
		t.Fatalf("Retrieve through the profile: %v, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, seg)); err != nil {
		t.Fatalf("no file %s: %v", seg, err)
	}
	if _, err := pp.Retrieve(bobCtx, "mine"); !errors.Is(err, profile.ErrSourceEmpty) {
		t.Fatalf("bob reads: %v, want ErrSourceEmpty", err)
	}
	// A refresh: compare-and-swap through the Store, then Remove.
	next := creds("token", "at-2", "refresh_token", "rt-2", "oauth_client", "github", "token_type", "Bearer")
	if err := st.CompareAndSwap(aliceCtx, "mine", got, next); err != nil {
		t.Fatal(err)
	}
	if err := st.CompareAndSwap(aliceCtx, "mine", got, next); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("a second swap from the old value: %v, want ErrConflict", err)
	}
	if c, err := pp.Retrieve(aliceCtx, "mine"); err != nil || !c.Equal(next) {
		t.Fatalf("after the swap: %v, %v", c, err)
	}
	// Alice's file renamed to Bob's name does not open for Bob.
	if err := os.Rename(filepath.Join(dir, seg), filepath.Join(dir, profile.EncodeSubject("bob"))); err != nil {
		t.Fatal(err)
	}
	_, err = pp.Retrieve(bobCtx, "mine")
	if err == nil || errors.Is(err, profile.ErrSourceEmpty) {
		t.Fatalf("bob reads alice's renamed file: %v", err)
	}
	noSecret(t, err)
	bst, _, err := pp.StoreFor(bob, "mine")
	if err != nil {
		t.Fatal(err)
	}
	if err := bst.Delete(bobCtx, "mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := pp.Retrieve(bobCtx, "mine"); !errors.Is(err, profile.ErrSourceEmpty) {
		t.Fatalf("after Delete: %v", err)
	}
}
