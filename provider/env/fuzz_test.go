package env_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
)

// FuzzFileValue checks the normalisation of NAME_FILE content: it never
// panics, removes at most one trailing newline (with its CR), changes
// nothing else, and its errors never quote the content.
func FuzzFileValue(f *testing.F) {
	for _, s := range []string{"", "\n", "\r\n", "x", "x\n", "x\r\n", "x\n\n", "x\r", "\r\n\r\n", canary + "\n", "a\x00b\n", "\xff\xfe\n"} {
		f.Add([]byte(s), int64(0))
	}
	f.Add([]byte(canary), int64(4))
	f.Fuzz(func(t *testing.T, b []byte, max int64) {
		if max > 1<<20 {
			max = 1 << 20
		}
		v, err := env.FileValue(b, max)
		limit := max
		if limit <= 0 {
			limit = env.DefaultMaxFileSize
		}
		if int64(len(b)) > limit {
			if !errors.Is(err, env.ErrFileTooLarge) {
				t.Fatalf("len %d > limit %d: err = %v", len(b), limit, err)
			}
			if len(b) >= 4 && strings.Contains(err.Error(), string(b)) {
				t.Fatal("error quotes the content")
			}
			return
		}
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		s := string(b)
		if !strings.HasPrefix(s, v) {
			t.Fatalf("value is not a prefix of the content")
		}
		switch cut := s[len(v):]; cut {
		case "", "\n", "\r\n":
		default:
			t.Fatalf("removed %q", cut)
		}
		if strings.HasSuffix(s, "\n") && len(s)-len(v) == 0 {
			t.Fatalf("trailing newline kept")
		}
	})
}

// FuzzFileIndirection runs NAME_FILE end to end through a real file: the
// value read equals FileValue of the content, and no error text holds the
// content.
func FuzzFileIndirection(f *testing.F) {
	f.Add([]byte(canary + "\n"))
	f.Add([]byte(""))
	f.Add([]byte("\r\n"))
	f.Add([]byte("multi\nline\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "v")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		p := newEnv(map[string]string{"T_FILE": path}, func(o *env.Options) {
			o.Vars = map[string][]string{"token": {"T"}}
			o.MaxFileSize = 256
		})
		c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
		want, werr := env.FileValue(b, 256)
		switch {
		case werr != nil:
			if !errors.Is(err, env.ErrFileTooLarge) {
				t.Fatalf("err = %v, want ErrFileTooLarge", err)
			}
		case want == "":
			if !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("empty value: err = %v, want ErrNotFound", err)
			}
		default:
			if err != nil || c.Value("token") != want {
				t.Fatalf("got %v, %v", c, err)
			}
		}
		if err != nil && len(want) >= 4 && strings.Contains(err.Error(), want) {
			t.Fatal("error quotes the content")
		}
	})
}

// FuzzPrefixField checks the prefix name mapping: it never panics; a
// mapped field is non-empty, lower-case, made of [a-z0-9_]; and the
// upper-cased field maps back to itself, with or without _FILE.
func FuzzPrefixField(f *testing.F) {
	for _, s := range []string{"MCP_CI_TOKEN", "MCP_CI_TOKEN_FILE", "MCP_CI_", "MCP_CI__FILE", "MCP_CI_FILE", "MCP_CI_a-b", "MCP_CI_Ü", "MCP_CI_X=Y", "OTHER"} {
		f.Add("MCP_CI_", s)
	}
	f.Add("", "TOKEN")
	f.Fuzz(func(t *testing.T, prefix, name string) {
		field, isFile, ok := env.PrefixField(prefix, name)
		if !ok {
			if field != "" || isFile {
				t.Fatalf("not ok but field %q isFile %v", field, isFile)
			}
			return
		}
		if prefix == "" || !strings.HasPrefix(name, prefix) {
			t.Fatalf("mapped %q without prefix %q", name, prefix)
		}
		if field == "" || strings.Trim(field, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Fatalf("bad field %q from %q", field, name)
		}
		if isFile != strings.HasSuffix(name[len(prefix):], "_FILE") {
			t.Fatalf("isFile %v for %q", isFile, name)
		}
		back := prefix + strings.ToUpper(field)
		// A field ending in "_file" reads back as a _FILE form; skip it.
		if f2, file2, ok2 := env.PrefixField(prefix, back); !strings.HasSuffix(field, "_file") && (!ok2 || f2 != field || file2) {
			t.Fatalf("%q -> %q, but %q -> %q %v %v", name, field, back, f2, file2, ok2)
		}
		if f3, file3, ok3 := env.PrefixField(prefix, back+"_FILE"); !ok3 || f3 != field || !file3 {
			t.Fatalf("%q_FILE -> %q %v %v", back, f3, file3, ok3)
		}
	})
}
