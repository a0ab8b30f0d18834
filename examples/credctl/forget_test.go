package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
)

// TestForget removes one user's enrolled credential, and only theirs, from
// where the server reads it (an encrypted-file store here; Vault and the
// keychain go through the same provider.Store).
func TestForget(t *testing.T) {
	const iss = "https://idp.example.com"
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	users := filepath.Join(dir, "users")
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	path := filepath.Join(dir, "profiles.json")
	doc, _ := json.Marshal(map[string]any{"profiles": map[string]any{
		"default": map[string]any{"source": "encfile:" + users + "/{sub}", "allow": map[string]any{"issuers": []string{iss}}},
		"shared":  map[string]any{"source": "encfile:" + users + "/shared", "allow": map[string]any{"issuers": []string{iss}}},
	}})
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		return map[string]string{"MCP_PROFILES_PATH": path, "MCPCRED_ENCFILE_KEY": key, "HOME": dir}[k]
	}
	var schemes provider.Schemes
	schemes.Register("encfile", encfile.Scheme(func(o *encfile.Options) { o.Getenv = getenv }))
	profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Getenv = getenv })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, sub := range []string{"alice", "bob"} {
		st, _, err := profiles.StoreFor(&provider.Caller{Issuer: iss, Subject: sub}, "default")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, "", provider.NewCredentials(map[string]string{"token": canary + sub}, provider.Source{})); err != nil {
			t.Fatal(err)
		}
	}
	forget := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := runForget(ctx, args, getenv, &out, &errb)
		s := out.String() + errb.String()
		if strings.Contains(s, canary) {
			t.Fatalf("forget printed a value: %s", s)
		}
		return code, s
	}
	if code, out := forget("--profile", "default", "--subject", "alice", "--issuer", iss); code != 0 || !strings.Contains(out, "sub-alice") {
		t.Fatalf("forget alice: %d %s", code, out)
	}
	read := func(sub string) error {
		_, err := profiles.Retrieve(provider.ContextWithCaller(ctx, &provider.Caller{Issuer: iss, Subject: sub}), "default")
		return err
	}
	if err := read("alice"); !errors.Is(err, profile.ErrSourceEmpty) {
		t.Fatalf("alice's credential after forget: %v", err)
	}
	if err := read("bob"); err != nil {
		t.Fatalf("bob's credential after alice's forget: %v", err)
	}
	if code, _ := forget("--profile", "default", "--subject", "alice", "--issuer", iss); code != 0 {
		t.Fatal("forgetting what is gone must succeed")
	}
	for _, args := range [][]string{
		{"--profile", "shared", "--subject", "bob", "--issuer", iss},                      // not per subject
		{"--profile", "default", "--subject", "bob", "--issuer", "https://other.example"}, // not allowed
		{"--profile", "default", "--subject", "bob"},                                      // usage
		{"--profile", "nope", "--subject", "bob", "--issuer", iss},
	} {
		if code, out := forget(args...); code == 0 {
			t.Errorf("forget %v succeeded: %s", args, out)
		}
	}
	if err := read("bob"); err != nil {
		t.Fatalf("bob's credential after refused forgets: %v", err)
	}
}
