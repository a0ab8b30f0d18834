package secretfile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcpcred/mcpcred/provider"
)

// fuzzCanary looks like a base64 secret; '+', '/' and '=' keep it from
// passing as a key name, which errors may quote.
const fuzzCanary = "CANARY+SECRET/d3adb33f=="

func addSeedFiles(f *testing.F, glob string) {
	files, _ := filepath.Glob(glob)
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
}

// checkParse holds the properties every parse result must have.
func checkParse(t *testing.T, data []byte, p parsed, err error) {
	t.Helper()
	if err != nil {
		var se *provider.SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("error %T is not a *provider.SyntaxError", err)
		}
		if se.Err == nil || !strings.HasPrefix(se.Error(), "secretfile: ") {
			t.Fatalf("SyntaxError without a sentinel of this package: %v", err)
		}
		if se.Format != "JSON" && se.Format != "INI" {
			t.Fatalf("SyntaxError with format %q", se.Format)
		}
		if se.Line < 0 || se.Column < 0 || se.Line > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("position %d:%d outside the input", se.Line, se.Column)
		}
		if strings.Contains(err.Error(), "d3adb33f") {
			t.Fatalf("error reveals the canary: %q", err)
		}
		return
	}
	for k, v := range p.fields {
		if k == "" || v == "" {
			t.Fatalf("empty field name or value: %q", k)
		}
	}
}

// withCanary places the canary inside the input in the spots a secret
// would be: a JSON or INI value.
func withCanary(data []byte) []byte {
	return bytes.ReplaceAll(data, []byte("SECRET"), []byte(fuzzCanary))
}

// FuzzParseJSON checks the JSON secret-file parser: it never panics, its
// errors are SyntaxErrors with a position inside the input, and no error
// shows a value.
func FuzzParseJSON(f *testing.F) {
	addSeedFiles(f, "testdata/*/*.json")
	addSeedFiles(f, "testdata/secrets/aws_credentials")
	for _, s := range []string{
		`{"secret_access_key": "SECRET"}`, `{"a": SECRET}`, `{"SECRET": 1}`, `{"k": "SECRET"`,
		`{"Credentials": {"SecretAccessKey": "SECRET", "Expiration": "SECRET"}}`, `{"Version": SECRET}`,
		`{"k": "\ud800SECRET"}`, "\xef\xbb\xbf{\"k\":\"SECRET\"}", `{"": "SECRET"}`, `null`, `"SECRET"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = withCanary(data)
		p, err := parseJSON(data)
		checkParse(t, data, p, err)
	})
}

// FuzzParseINI is FuzzParseJSON for INI files, through gopkg.in/ini.v1.
func FuzzParseINI(f *testing.F) {
	addSeedFiles(f, "testdata/*/*.ini")
	for _, s := range []string{
		"[default]\naws_secret_access_key = SECRET\n", "[default\nk = SECRET\n", "SECRET\n", "[default]\nSECRET\n",
		"k = SECRET\n[default]\n", "[profile default]\nk=SECRET", "\"k = SECRET\n", "`k` = `SECRET\n", "k = \"\"\"SECRET\n",
		"[default]\nk = SECRET \\\nnext = 1\n", "= SECRET\n", "[default]\nExpiration = SECRET\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = withCanary(data)
		p, err := parseINI(data, provider.DefaultProfile)
		checkParse(t, data, p, err)
	})
}

// FuzzValidName checks profile-name validation against a real directory:
// a name that passes names a file directly inside Dir, and Retrieve with
// any name never reads outside Dir and never puts control characters in
// its error.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"default", "prod", "..", ".", "../outside", "a/b", `a\b`, "..data", "a..b", "x\x00", "\n", "ü", "NUL", "C:x", "\u2028", strings.Repeat("a", 200)} {
		f.Add(s)
	}
	base := f.TempDir()
	dir := filepath.Join(base, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		f.Fatal(err)
	}
	os.WriteFile(filepath.Join(base, "outside.json"), []byte(`{"token": "`+fuzzCanary+`"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "inside.json"), []byte(`{"token": "inside"}`), 0o600)
	p := New(func(o *Options) { o.Dir = dir })
	f.Fuzz(func(t *testing.T, name string) {
		valid := ValidName(name) == nil
		if valid {
			if len(name) > MaxNameLen || !utf8.ValidString(name) || strings.ContainsAny(name, "/\\\x00") || strings.Contains(name, "..") {
				t.Fatalf("ValidName accepted %q", name)
			}
			joined := filepath.Join(dir, name)
			if filepath.Dir(joined) != dir || filepath.Base(joined) != name {
				t.Fatalf("%q does not name an entry of Dir: %q", name, joined)
			}
		}
		c, err := p.Retrieve(context.Background(), name)
		if err == nil {
			if !valid || c.Value("token") != "inside" {
				t.Fatalf("Retrieve(%q) = %v", name, c)
			}
			return
		}
		if !valid && !errors.Is(err, ErrInvalidProfile) {
			t.Fatalf("invalid %q: err = %v", name, err)
		}
		if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }) || strings.Contains(err.Error(), "d3adb33f") {
			t.Fatalf("error %q", err)
		}
	})
}
