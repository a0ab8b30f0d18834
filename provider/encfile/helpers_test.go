package encfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
)

// canary is a secret value; no error, log or file name may show it.
const canary = "CANARY-ENCFILE-5ec7e7-d3adb33f"

// testKey and otherKey are fixed 32-byte keys.
var (
	testKey  = bytes.Repeat([]byte{0x42}, encfile.KeySize)
	otherKey = bytes.Repeat([]byte{0x24}, encfile.KeySize)
)

// storeDir returns a private directory (0700) for credential files.
func storeDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "users")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newStore(t testing.TB, dir string, optFns ...func(*encfile.Options)) *encfile.Provider {
	t.Helper()
	p, err := encfile.New(append([]func(*encfile.Options){func(o *encfile.Options) {
		o.Dir = dir
		o.Key = testKey
		o.Getenv = func(string) string { return "" }
	}}, optFns...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func creds(kv ...string) provider.Credentials {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return provider.NewCredentials(m, provider.Source{})
}

// noSecret fails if err shows a secret or any of the texts.
func noSecret(t testing.TB, err error, texts ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error() + fmt.Sprintf(" %#v %+v", err, err)
	for _, s := range append([]string{canary}, texts...) {
		if s != "" && strings.Contains(msg, s) {
			t.Fatalf("error shows %q: %s", s, msg)
		}
	}
}

func wantErr(t testing.TB, err error, targets ...error) {
	t.Helper()
	noSecret(t, err)
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %v does not wrap %v", err, target)
		}
	}
}
