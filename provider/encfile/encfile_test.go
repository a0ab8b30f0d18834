package encfile_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
)

var _ provider.Store = (*encfile.Provider)(nil)

// TestRoundTrip: Put, Retrieve, replace, CompareAndSwap, Delete, on disk
// as the package doc says.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(storeDir(t), "made-on-first-write")
	p := newStore(t, dir)
	if _, err := p.Retrieve(ctx, "sub-alice"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("Retrieve before any write: %v, want not found", err)
	}
	if err := p.Delete(ctx, "sub-alice"); err != nil {
		t.Fatalf("Delete without a directory: %v", err)
	}
	first := creds("token", canary, "refresh_token", "rt-1", "expiry", "2030-01-02T03:04:05Z", "token_type", "Bearer", "oauth_client", "github")
	if err := p.Put(ctx, "sub-alice", first); err != nil {
		t.Fatal(err)
	}
	got, err := p.Retrieve(ctx, "sub-alice")
	if err != nil || !got.Equal(first) {
		t.Fatalf("Retrieve = %v, %v; want %v", got, err, first)
	}
	if got.Source.Provider != encfile.Name || got.Source.Locator != filepath.Join(dir, "sub-alice") || got.FetchedAt.IsZero() {
		t.Errorf("Source %v FetchedAt %v", got.Source, got.FetchedAt)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "sub-alice"): 0o600, filepath.Join(dir, encfile.LockFile): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %o", path, fi.Mode(), err, want)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "sub-alice"))
	if !strings.HasPrefix(string(raw), "MCEF\x01") || strings.Contains(string(raw), canary) || strings.Contains(string(raw), "token") {
		t.Fatalf("the file is not sealed: %q", raw)
	}
	// A second write of the same fields is a new nonce, so a new file.
	if err := p.Put(ctx, "sub-alice", first); err != nil {
		t.Fatal(err)
	}
	if raw2, _ := os.ReadFile(filepath.Join(dir, "sub-alice")); string(raw2[5:17]) == string(raw[5:17]) {
		t.Error("two writes used the same nonce")
	}

	second := creds("token", "t-2")
	if err := p.Put(ctx, "sub-alice", second); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Retrieve(ctx, "sub-alice"); err != nil || !got.Equal(second) {
		t.Fatalf("after replacing: %v, %v", got, err)
	}
	for _, old := range []provider.Credentials{first, {}, creds("token", "t-2", "x", "y")} {
		wantErr(t, p.CompareAndSwap(ctx, "sub-alice", old, creds("token", "lost")), provider.ErrConflict)
	}
	if err := p.CompareAndSwap(ctx, "sub-alice", second, first); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, "sub-alice"); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, "sub-alice"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := p.Retrieve(ctx, "sub-alice"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
	if err := p.CompareAndSwap(ctx, "sub-alice", provider.Credentials{}, second); err != nil {
		t.Fatalf("create-only: %v", err)
	}
	wantErr(t, p.CompareAndSwap(ctx, "sub-alice", provider.Credentials{}, first), provider.ErrConflict)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "sub-alice" && e.Name() != encfile.LockFile {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestRefusedWrites: bad names, no fields, too large; nothing is written.
func TestRefusedWrites(t *testing.T) {
	ctx := context.Background()
	dir := storeDir(t)
	p := newStore(t, dir, func(o *encfile.Options) { o.MaxFileSize = 1024 })
	for name, tc := range map[string]struct {
		profile string
		c       provider.Credentials
		want    error
	}{
		"no fields":       {"ok", provider.Credentials{}, encfile.ErrInvalidName},
		"bad field":       {"ok", creds("a b", canary), encfile.ErrInvalidName},
		"canary field":    {"ok", creds(canary+"/x", "v"), encfile.ErrInvalidName},
		"too large":       {"ok", creds("token", canary+strings.Repeat("x", 1024)), encfile.ErrTooLarge},
		"escapes to big":  {"ok", creds("token", canary+strings.Repeat("<", 600)), encfile.ErrTooLarge},
		"path":            {"../x", creds("token", canary), encfile.ErrInvalidName},
		"dot":             {".encfile.lock", creds("token", canary), encfile.ErrInvalidName},
		"slash":           {"a/b", creds("token", canary), encfile.ErrInvalidName},
		"empty":           {"", creds("token", canary), encfile.ErrInvalidName},
		"canary profile":  {canary + "\x00", creds("token", "v"), encfile.ErrInvalidName},
		"unicode profile": {"ünïcode", creds("token", "v"), encfile.ErrInvalidName},
	} {
		t.Run(name, func(t *testing.T) {
			wantErr(t, p.Put(ctx, tc.profile, tc.c), tc.want)
			wantErr(t, p.CompareAndSwap(ctx, tc.profile, provider.Credentials{}, tc.c), tc.want)
			if _, err := p.Retrieve(ctx, tc.profile); tc.profile != "ok" && !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("Retrieve: %v, want not found", err)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != encfile.LockFile {
			t.Errorf("written: %s", e.Name())
		}
	}
}

// TestWrongKey: a file sealed under another key does not open, and the
// error names the file and the fix.
func TestWrongKey(t *testing.T) {
	ctx := context.Background()
	dir := storeDir(t)
	if err := newStore(t, dir).Put(ctx, "sub-alice", creds("token", canary)); err != nil {
		t.Fatal(err)
	}
	other := newStore(t, dir, func(o *encfile.Options) { o.Key = otherKey })
	_, err := other.Retrieve(ctx, "sub-alice")
	wantErr(t, err, encfile.ErrCannotOpen)
	for _, want := range []string{filepath.Join(dir, "sub-alice"), "key", "delete it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not hold %q", err, want)
		}
	}
	if errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrConflict) {
		t.Errorf("wrong key reads as not found or conflict: %v", err)
	}
	// A compare-and-swap over a file it cannot open is that error, not a
	// conflict; a Put replaces it.
	wantErr(t, other.CompareAndSwap(ctx, "sub-alice", provider.Credentials{}, creds("token", "x")), encfile.ErrCannotOpen)
	if err := other.Put(ctx, "sub-alice", creds("token", "x")); err != nil {
		t.Fatal(err)
	}
	if c, err := other.Retrieve(ctx, "sub-alice"); err != nil || c.Value("token") != "x" {
		t.Fatalf("after Put: %v, %v", c, err)
	}
}

// TestTampered: changing any one byte of a file makes it fail to open.
func TestTampered(t *testing.T) {
	ctx := context.Background()
	dir := storeDir(t)
	p := newStore(t, dir)
	if err := p.Put(ctx, "sub-alice", creds("token", canary)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sub-alice")
	orig, _ := os.ReadFile(path)
	for i := range orig {
		for _, bit := range []byte{0x01, 0x80} {
			b := append([]byte(nil), orig...)
			b[i] ^= bit
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := p.Retrieve(ctx, "sub-alice")
			if !errors.Is(err, encfile.ErrCannotOpen) && !errors.Is(err, encfile.ErrFormat) {
				t.Fatalf("byte %d flipped: %v, want ErrCannotOpen or ErrFormat", i, err)
			}
			noSecret(t, err)
		}
	}
	for _, b := range [][]byte{orig[:len(orig)-1], orig[:20], nil, append(append([]byte(nil), orig...), 0)} {
		os.WriteFile(path, b, 0o600)
		_, err := p.Retrieve(ctx, "sub-alice")
		if !errors.Is(err, encfile.ErrCannotOpen) && !errors.Is(err, encfile.ErrFormat) {
			t.Fatalf("%d bytes: %v", len(b), err)
		}
	}
}

// TestRenamed: a file copied or renamed to another name, or moved to
// another directory, does not open there.
func TestRenamed(t *testing.T) {
	ctx := context.Background()
	dir := storeDir(t)
	p := newStore(t, dir)
	if err := p.Put(ctx, "sub-alice", creds("token", canary)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "sub-alice"))
	if err := os.WriteFile(filepath.Join(dir, "sub-bob"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := p.Retrieve(ctx, "sub-bob")
	wantErr(t, err, encfile.ErrCannotOpen)
	if !strings.Contains(err.Error(), filepath.Join(dir, "sub-bob")) {
		t.Errorf("error does not name the file: %v", err)
	}
	if err := os.Rename(filepath.Join(dir, "sub-alice"), filepath.Join(dir, "sub-carol")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Retrieve(ctx, "sub-carol"); !errors.Is(err, encfile.ErrCannotOpen) {
		t.Fatalf("renamed: %v", err)
	}
	if _, err := p.Retrieve(ctx, "sub-alice"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after the rename: %v", err)
	}
	dir2 := storeDir(t)
	os.WriteFile(filepath.Join(dir2, "sub-alice"), data, 0o600)
	if _, err := newStore(t, dir2).Retrieve(ctx, "sub-alice"); !errors.Is(err, encfile.ErrCannotOpen) {
		t.Fatalf("moved to another directory: %v", err)
	}
	// Back where it was written, it opens.
	os.WriteFile(filepath.Join(dir, "sub-alice"), data, 0o600)
	if c, err := p.Retrieve(ctx, "sub-alice"); err != nil || c.Value("token") != canary {
		t.Fatalf("restored: %v, %v", c, err)
	}
}

// TestPermissions: the directory, the files and the directories on the way
// are checked as provider/secretfile checks them.
func TestPermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: ownership checks accept root's files")
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  error
		fix   string
	}{
		{"file readable by group", func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "sub-alice"), 0o640) }, encfile.ErrInsecurePermissions, "chmod 600"},
		{"file readable by others", func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "sub-alice"), 0o604) }, encfile.ErrInsecurePermissions, "chmod 600"},
		{"directory listable by others", func(t *testing.T, dir string) { os.Chmod(dir, 0o755) }, encfile.ErrInsecurePermissions, "chmod 700"},
		{"parent writable by others", func(t *testing.T, dir string) { os.Chmod(filepath.Dir(dir), 0o777) }, encfile.ErrInsecurePermissions, "chmod go-w"},
		{"symbolic link", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "sub-alice"), filepath.Join(dir, "real"))
			os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "sub-alice"))
		}, encfile.ErrNotRegular, ""},
		{"directory in its place", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "sub-alice"))
			os.Mkdir(filepath.Join(dir, "sub-alice"), 0o700)
		}, encfile.ErrNotRegular, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := storeDir(t)
			p := newStore(t, dir)
			if err := p.Put(ctx, "sub-alice", creds("token", canary)); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, dir)
			t.Cleanup(func() { os.Chmod(filepath.Dir(dir), 0o700) })
			_, err := p.Retrieve(ctx, "sub-alice")
			wantErr(t, err, tc.want)
			if !strings.Contains(err.Error(), tc.fix) {
				t.Errorf("error %q does not give the fix %q", err, tc.fix)
			}
			if strings.HasPrefix(tc.fix, "chmod 7") || tc.fix == "chmod go-w" { // the directory: writes are refused too
				wantErr(t, p.Put(ctx, "sub-bob", creds("token", canary)), tc.want)
			}
		})
	}
}

// TestKeySources: Options.Key, MCPCRED_ENCFILE_KEY, MCPCRED_ENCFILE_KEY_FILE,
// in that order; errors never show the key.
func TestKeySources(t *testing.T) {
	ctx := context.Background()
	dir := storeDir(t)
	if err := newStore(t, dir).Put(ctx, "p", creds("token", canary)); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(testKey)
	keyFile := func(mode os.FileMode, content string) string {
		path := filepath.Join(storeDir(t), "key") // in a private directory, as securefile wants
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, mode)
		return path
	}
	good, loose := keyFile(0o600, b64+"\n"), keyFile(0o644, b64)
	readOnly := keyFile(0o400, base64.RawURLEncoding.EncodeToString(testKey))
	short := base64.StdEncoding.EncodeToString(testKey[:16])
	for _, tc := range []struct {
		name string
		key  []byte
		env  map[string]string
		want []error // nil: opens the file
	}{
		{"Options.Key", testKey, nil, nil},
		{"Options.Key first", testKey, map[string]string{encfile.EnvKey: "garbage"}, nil},
		{"env", nil, map[string]string{encfile.EnvKey: b64}, nil},
		{"env first", nil, map[string]string{encfile.EnvKey: b64, encfile.EnvKeyFile: "/nonexistent"}, nil},
		{"key file", nil, map[string]string{encfile.EnvKeyFile: good}, nil},
		{"key file 0400, URL base64", nil, map[string]string{encfile.EnvKeyFile: readOnly}, nil},
		{"none", nil, nil, []error{encfile.ErrNoKey}},
		{"short Options.Key", testKey[:31], nil, []error{encfile.ErrBadKey}},
		{"env not base64", nil, map[string]string{encfile.EnvKey: canary}, []error{encfile.ErrBadKey}},
		{"env short", nil, map[string]string{encfile.EnvKey: short}, []error{encfile.ErrBadKey}},
		{"key file readable by others", nil, map[string]string{encfile.EnvKeyFile: loose}, []error{encfile.ErrBadKey, encfile.ErrInsecurePermissions}},
		{"key file missing", nil, map[string]string{encfile.EnvKeyFile: filepath.Join(dir, "nope")}, []error{encfile.ErrBadKey}},
		{"key file not base64", nil, map[string]string{encfile.EnvKeyFile: keyFile(0o600, canary)}, []error{encfile.ErrBadKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := func(o *encfile.Options) {
				o.Dir, o.Key = dir, tc.key
				o.Getenv = func(k string) string { return tc.env[k] }
			}
			p, err := encfile.New(opts)
			var s provider.Schemes
			s.Register("encfile", encfile.Scheme(opts))
			st, _, serr := s.Store("encfile:" + dir + "/p")
			if serr != nil {
				t.Fatalf("the Scheme refuses the reference without a key: %v", serr)
			}
			_, rerr := st.Retrieve(ctx, "")
			if tc.want == nil {
				if err != nil || rerr != nil {
					t.Fatalf("New: %v; through the Scheme: %v", err, rerr)
				}
				if c, err := p.Retrieve(ctx, "p"); err != nil || c.Value("token") != canary {
					t.Fatalf("Retrieve: %v, %v", c, err)
				}
				return
			}
			noSecret(t, err, b64, base64.StdEncoding.EncodeToString(testKey[:16]))
			noSecret(t, rerr, b64)
			wantErr(t, err, tc.want...)
			wantErr(t, rerr, tc.want...)
			wantErr(t, st.Put(ctx, "", creds("token", "x")), tc.want...)
		})
	}
}
