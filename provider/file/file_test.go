package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

const canary = "CANARY-SECRET-d3adb33f"

// env returns a Getenv over m, so that tests never read the real environment.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// install copies fixture (a file under testdata) to DIR/.mcp/credentials
// with mode 0600 in a 0700 directory, and returns the file's path.
func install(t testing.TB, fixture string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	return installBytes(t, data)
}

func installBytes(t testing.TB, data []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".mcp")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "credentials")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newAt(path string, optFns ...func(*Options)) *Provider {
	return New(append([]func(*Options){func(o *Options) {
		o.Path = path
		o.Getenv = env(nil)
	}}, optFns...)...)
}

// noLeak fails t if s contains the canary.
func noLeak(t testing.TB, what, s string) {
	t.Helper()
	if strings.Contains(s, canary) {
		t.Errorf("%s reveals the canary secret: %s", what, strings.ReplaceAll(s, canary, "<LEAKED>"))
	}
}

func noLeakErr(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		noLeak(t, "error", s)
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		noLeak(t, "error locator", pe.Locator)
	}
}

func TestRetrieve(t *testing.T) {
	path := install(t, "credentials.ini")
	tests := []struct {
		name    string
		env     map[string]string
		profile string
		want    map[string]string
		locator string
		wantErr error
		errHas  []string
	}{
		{name: "default", profile: provider.DefaultProfile,
			want:    map[string]string{"access_key_id": "AKIADEFAULTEXAMPLE", "secret_access_key": canary, "region": "us-east-1"},
			locator: path + " [default]"},
		{name: "empty profile means default", profile: "",
			want: map[string]string{"access_key_id": "AKIADEFAULTEXAMPLE", "secret_access_key": canary, "region": "us-east-1"}},
		{name: "named, aws keys mapped, key case ignored", profile: "production",
			want: map[string]string{"access_key_id": "AKIAPRODEXAMPLE", "secret_access_key": "prod/secret+key=",
				"session_token": "FwoGZXIvYXdzEProdToken", "region": "eu-west-1"},
			locator: path + " [production]"},
		{name: "other keys pass through", profile: "github",
			want: map[string]string{"token": "ghp_exampletoken0123456789", "username": "octocat"}},
		{name: "profile-style section", profile: "staging",
			want:    map[string]string{"access_key_id": "AKIASTAGINGEXAMPLE", "secret_access_key": "staging-secret"},
			locator: path + " [profile staging]"},
		{name: "section name trimmed, canonical keys", profile: "spaced",
			want: map[string]string{"access_key_id": "AKIASPACED", "secret_access_key": "spaced-secret"}},
		{name: "MCP_CREDENTIAL_PROFILE picks the default section", env: map[string]string{EnvProfile: "production"},
			profile: provider.DefaultProfile,
			want: map[string]string{"access_key_id": "AKIAPRODEXAMPLE", "secret_access_key": "prod/secret+key=",
				"session_token": "FwoGZXIvYXdzEProdToken", "region": "eu-west-1"},
			locator: path + " [production]"},
		{name: "MCP_CREDENTIAL_PROFILE leaves named profiles alone", env: map[string]string{EnvProfile: "production"},
			profile: "github", want: map[string]string{"token": "ghp_exampletoken0123456789", "username": "octocat"}},
		{name: "MCP_CREDENTIAL_PROFILE names a missing section", env: map[string]string{EnvProfile: "nope"},
			profile: provider.DefaultProfile, wantErr: provider.ErrNotFound, errHas: []string{"no section [nope]"}},
		{name: "half-empty section drops the empty key", profile: "halfempty",
			want: map[string]string{"access_key_id": "AKIAHALF"}},
		{name: "missing section lists sections", profile: "missing", wantErr: provider.ErrNotFound,
			errHas: []string{path + " [missing]", "no section [missing]",
				"sections present: [default], [production], [github], [profile staging], [spaced], [empty], [halfempty], [nokeys]"}},
		{name: "section names are case-sensitive", profile: "Production", wantErr: provider.ErrNotFound,
			errHas: []string{"no section [(a 10-byte value, not shown)]"}},
		{name: "all values empty", profile: "empty", wantErr: provider.ErrNotFound,
			errHas: []string{"section [empty] has no values; empty: aws_access_key_id, aws_secret_access_key"}},
		{name: "no keys", profile: "nokeys", wantErr: provider.ErrNotFound, errHas: []string{"section [nokeys] has no keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(func(o *Options) { o.Path = path; o.Getenv = env(tt.env) })
			c, err := p.Retrieve(context.Background(), tt.profile)
			noLeakErr(t, err)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want one wrapping %v", err, tt.wantErr)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, n := range c.Names() {
				got[n] = c.Value(n)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("fields = %v, want %v", got, tt.want)
			}
			if c.Source.Provider != "file" {
				t.Errorf("Source.Provider = %q", c.Source.Provider)
			}
			if tt.locator != "" && c.Source.Locator != tt.locator {
				t.Errorf("Source.Locator = %q, want %q", c.Source.Locator, tt.locator)
			}
			if c.FetchedAt.IsZero() {
				t.Error("FetchedAt is zero")
			}
			providertest.CheckRendering(t, c, canary)
		})
	}
}

func TestLiteralValues(t *testing.T) {
	p := newAt(install(t, "literal.ini"))
	c, err := p.Retrieve(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"hash":             "abc#def",
		"semicolon":        "abc;def",
		"spaced_hash":      "abc #def",
		"spaced_semicolon": "abc ;def",
		"equals":           "a=b==",
		"colon":            "a:b",
		"double_quoted":    `"quoted value"`,
		"single_quoted":    `'single'`,
		"inner_quote":      `ab"cd'ef`,
		"backslash_end":    `abc\`,
		"next":             "after-backslash",
		"interpolation":    "%(hash)s",
		"unicode":          "pässwörd-密码-🔑",
		"tabs":             "tab\tinside",
		"percent":          "100%",
		"brackets":         "[not a section]",
		"url":              "https://example.com:8443/path?q=1#frag",
		"colon_key":        "colon-value",
	}
	for k, v := range want {
		if got := c.Value(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if c.Len() != len(want) {
		t.Errorf("fields %v, want %d", c.Names(), len(want))
	}
}

func TestEncodings(t *testing.T) {
	for _, tt := range []struct{ fixture, want string }{{"crlf.ini", "AKIACRLF"}, {"bom.ini", "AKIABOM"}} {
		c, err := newAt(install(t, tt.fixture)).Retrieve(context.Background(), "default")
		if err != nil {
			t.Fatalf("%s: %v", tt.fixture, err)
		}
		if got := c.Value(provider.FieldAccessKeyID); got != tt.want {
			t.Errorf("%s: access_key_id = %q, want %q", tt.fixture, got, tt.want)
		}
		if tt.fixture == "crlf.ini" && c.Value(provider.FieldSecretAccessKey) != "crlf-secret" {
			t.Errorf("crlf: secret keeps a carriage return: %q", c.Value(provider.FieldSecretAccessKey))
		}
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		fixture string
		line    int
		reason  string
	}{
		{"unclosed_section.ini", 3, "section header has no closing ]"},
		{"unclosed_section_crlf.ini", 3, "section header has no closing ]"},
		{"no_delimiter.ini", 5, "expected KEY = VALUE"},
		{"key_before_section.ini", 1, "key outside any section"},
		{"empty_key.ini", 2, "empty key name"},
		{"empty_section_name.ini", 3, "empty section name"},
		{"backtick.ini", 3, "value starts with `"},
		{"triple_quote.ini", 2, "value starts with `"},
		{"quoted_key.ini", 2, "quoted key names are not supported"},
		{"utf16.ini", 1, "UTF-16"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			path := install(t, filepath.Join("malformed", tt.fixture))
			var logs bytes.Buffer
			p := newAt(path, func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			for range 2 { // the second answer comes from the cache
				_, err := p.Retrieve(context.Background(), "default")
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				if errors.Is(err, provider.ErrNotFound) {
					t.Errorf("malformed file reported as not found: %v", err)
				}
				var se *provider.SyntaxError
				if !errors.As(err, &se) || se.Path != path || se.Line != tt.line || se.Format != "INI" {
					t.Errorf("err = %v, want a *provider.SyntaxError for %s at line %d", err, path, tt.line)
				}
				// The file and line are named once, by the SyntaxError.
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Locator != "" || pe.Provider != Name {
					t.Errorf("err = %#v, want a *provider.Error of %s without a Locator", err, Name)
				}
				if at := fmt.Sprintf("%s:%d: ", path, tt.line); strings.Count(err.Error(), at) != 1 || strings.Count(err.Error(), path) != 1 {
					t.Errorf("err = %v, want %q in it once and the path nowhere else", err, at)
				}
				if !strings.Contains(err.Error(), tt.reason) {
					t.Errorf("err = %v, want it to say %q", err, tt.reason)
				}
				noLeakErr(t, err)
			}
			noLeak(t, "log", logs.String())
			if n := p.parses.Load(); n != 1 {
				t.Errorf("parsed %d times, want 1", n)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		p      *Provider
		errHas string
	}{
		{"no file", newAt(filepath.Join(dir, "credentials")), "no credentials file at " + filepath.Join(dir, "credentials")},
		{"no directory", newAt(filepath.Join(dir, "nodir", "credentials")), "no credentials file at"},
		{"dangling symlink", newAt(link), link + " is a symlink to a missing file"},
		{"default path under HOME", New(func(o *Options) { o.Getenv = env(map[string]string{"HOME": dir}) }),
			"no credentials file at " + filepath.Join(dir, ".mcp", "credentials")},
		{"MCP_CREDENTIALS_FILE", New(func(o *Options) {
			o.Getenv = env(map[string]string{"HOME": "/nonexistent", EnvFile: filepath.Join(dir, "other")})
		}), "no credentials file at " + filepath.Join(dir, "other")},
		{"no HOME", New(func(o *Options) { o.Getenv = env(nil) }), "no home directory"},
		{"UserHomeDir option", New(func(o *Options) {
			o.Getenv = env(nil)
			o.UserHomeDir = func() (string, error) { return dir, nil }
		}), filepath.Join(dir, ".mcp", "credentials")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Retrieve(context.Background(), "default")
			if !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("err = %v, want it to contain %q", err, tt.errHas)
			}
		})
	}
}

func TestPathFromEnv(t *testing.T) {
	p := New(func(o *Options) { o.Getenv = env(map[string]string{"HOME": "/home/u", EnvFile: "/etc/mcp/creds"}) })
	if p.Path() != "/etc/mcp/creds" {
		t.Errorf("Path = %q", p.Path())
	}
	p = New(func(o *Options) { o.Getenv = env(map[string]string{"HOME": "/home/u"}) })
	if p.Path() != filepath.Join("/home/u", ".mcp", "credentials") {
		t.Errorf("Path = %q", p.Path())
	}
	p = New(func(o *Options) {
		o.Path = "/explicit"
		o.Getenv = env(map[string]string{EnvFile: "/etc/mcp/creds"})
	})
	if p.Path() != "/explicit" {
		t.Errorf("Path = %q", p.Path())
	}
}

func TestPermissions(t *testing.T) {
	if !securefile.PermChecks {
		t.Skip("no permission checks on " + runtime.GOOS)
	}
	content, err := os.ReadFile("testdata/credentials.ini")
	if err != nil {
		t.Fatal(err)
	}
	type setup struct {
		path    string // configured path
		badPath string // path the error must name; "" if Retrieve must succeed
		mode    string // mode the error must name
		fix     string
	}
	secure := func(t *testing.T) string { return installBytes(t, content) }
	tests := []struct {
		name  string
		setup func(t *testing.T) setup
	}{
		{"secure", func(t *testing.T) setup { return setup{path: secure(t)} }},
		{"file 0400", func(t *testing.T) setup {
			p := secure(t)
			chmod(t, p, 0o400)
			return setup{path: p}
		}},
		{"world-readable file", func(t *testing.T) setup {
			p := secure(t)
			chmod(t, p, 0o644)
			return setup{p, p, "0644", "chmod 600 " + p}
		}},
		{"group-readable file", func(t *testing.T) setup {
			p := secure(t)
			chmod(t, p, 0o640)
			return setup{p, p, "0640", "chmod 600 " + p}
		}},
		{"others-writable file", func(t *testing.T) setup {
			p := secure(t)
			chmod(t, p, 0o602)
			return setup{p, p, "0602", "chmod 600 " + p}
		}},
		{"group-executable file", func(t *testing.T) setup {
			p := secure(t)
			chmod(t, p, 0o610)
			return setup{p, p, "0610", "chmod 600 " + p}
		}},
		{"group-readable directory", func(t *testing.T) setup {
			p := secure(t)
			chmod(t, filepath.Dir(p), 0o750)
			return setup{p, filepath.Dir(p), "0750", "chmod 700 " + filepath.Dir(p)}
		}},
		{"world-listable directory", func(t *testing.T) setup {
			p := secure(t)
			chmod(t, filepath.Dir(p), 0o711)
			return setup{p, filepath.Dir(p), "0711", "chmod 700 " + filepath.Dir(p)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.setup(t)
			p := newAt(s.path)
			c, err := p.Retrieve(context.Background(), "default")
			noLeakErr(t, err)
			if s.badPath == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Value(provider.FieldSecretAccessKey) != canary {
					t.Error("wrong credentials")
				}
				return
			}
			if !errors.Is(err, ErrInsecurePermissions) {
				t.Fatalf("err = %v, want ErrInsecurePermissions", err)
			}
			if errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable) {
				t.Errorf("insecure file must be a failure, not a miss: %v", err)
			}
			var perr *PermissionError
			if !errors.As(err, &perr) || perr.Path != s.badPath {
				t.Fatalf("err = %v, want a *PermissionError for %s", err, s.badPath)
			}
			for _, want := range []string{s.badPath, s.mode, s.fix} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestInsecureMode(t *testing.T) {
	if !securefile.PermChecks {
		t.Skip("no permission checks on " + runtime.GOOS)
	}
	for _, val := range []string{"1", "true", "0", ""} {
		t.Run(val, func(t *testing.T) {
			path := install(t, "credentials.ini")
			chmod(t, path, 0o644)
			var logs bytes.Buffer
			p := New(func(o *Options) {
				o.Path = path
				o.Getenv = env(map[string]string{EnvInsecure: val})
				o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			for range 3 {
				c, err := p.Retrieve(context.Background(), "default")
				noLeakErr(t, err)
				if val == "0" || val == "" {
					if !errors.Is(err, ErrInsecurePermissions) {
						t.Fatalf("%s=%q: err = %v, want a refusal", EnvInsecure, val, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s=%q: %v", EnvInsecure, val, err)
				}
				if c.Value(provider.FieldSecretAccessKey) != canary {
					t.Fatal("wrong credentials")
				}
			}
			out := logs.String()
			noLeak(t, "log", out)
			warns := 0
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if line == "" {
					continue
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatal(err)
				}
				if rec["level"] != "WARN" {
					continue
				}
				warns++
				if rec["path"] != path || rec["mode"] != "0644" {
					t.Errorf("warning %v does not name path %s and mode 0644", rec, path)
				}
			}
			want := 0
			if val == "1" || val == "true" {
				want = 1 // once, not on every Retrieve
			}
			if warns != want {
				t.Errorf("%d warnings, want %d; log:\n%s", warns, want, out)
			}
		})
	}
}

func TestNotRegular(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".mcp")
	if err := os.MkdirAll(filepath.Join(dir, "credentials"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := newAt(filepath.Join(dir, "credentials")).Retrieve(context.Background(), "default")
	if err == nil || errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	data := []byte("[default]\ntoken = " + strings.Repeat("x", 100) + "\n")
	path := installBytes(t, data)
	_, err := newAt(path, func(o *Options) { o.MaxSize = 64 }).Retrieve(context.Background(), "default")
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "64-byte limit") {
		t.Errorf("err = %v", err)
	}
	if _, err := newAt(path).Retrieve(context.Background(), "default"); err != nil {
		t.Errorf("default limit: %v", err)
	}
}

func TestRequired(t *testing.T) {
	path := install(t, "credentials.ini")
	p := newAt(path, func(o *Options) {
		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
	})
	if _, err := p.Retrieve(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	_, err := p.Retrieve(context.Background(), "halfempty")
	if !errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), "lacks secret_access_key (empty: aws_secret_access_key)") {
		t.Errorf("err = %v", err)
	}
	_, err = p.Retrieve(context.Background(), "github")
	if !errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), "lacks access_key_id, secret_access_key") {
		t.Errorf("err = %v", err)
	}
}

func TestConflicts(t *testing.T) {
	tests := []struct {
		name, data, errHas string
	}{
		{"two spellings of one field", "[default]\naws_region = us-east-1\nregion = eu-west-1\n",
			"sets region twice, as aws_region and as region"},
		{"bare and profile-style", "[default]\ntoken = CANARY-SECRET-d3adb33f\n[profile default]\ntoken = b\n",
			"both [default] and [profile default] exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newAt(installBytes(t, []byte(tt.data))).Retrieve(context.Background(), "default")
			if err == nil || errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("err = %v, want a failure saying %q", err, tt.errHas)
			}
			noLeakErr(t, err)
		})
	}
	// Same key twice, or the same section twice: the later value wins.
	data := "[default]\ntoken = first\n[other]\nx = y\n[default]\nTOKEN = second\n"
	c, err := newAt(installBytes(t, []byte(data))).Retrieve(context.Background(), "default")
	if err != nil || c.Value("token") != "second" {
		t.Errorf("duplicate keys: token = %q, err = %v", c.Value("token"), err)
	}
}

// write replaces path's contents in place (same inode) and keeps its mode.
func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRotationToBroken(t *testing.T) {
	path := install(t, "credentials.ini")
	p := newAt(path)
	if _, err := p.Retrieve(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	chmod(t, path, 0o644)
	if _, err := p.Retrieve(context.Background(), "default"); !errors.Is(err, ErrInsecurePermissions) {
		t.Errorf("after chmod 644: err = %v; the cache must not skip the permission check", err)
	}
	chmod(t, path, 0o600)
	write(t, path, "[default]\n"+canary+"\n")
	_, err := p.Retrieve(context.Background(), "default")
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("after breaking the file: err = %v", err)
	}
	noLeakErr(t, err)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Retrieve(context.Background(), "default"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("after removing the file: err = %v", err)
	}
}

func TestConcurrentRotation(t *testing.T) {
	path := installBytes(t, []byte("[default]\ntoken = v0\n"))
	p := newAt(path)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := p.Retrieve(ctx, "default")
				if err != nil && ctx.Err() == nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, provider.ErrNotFound) {
					t.Error(err)
					return
				}
				if err == nil && !strings.HasPrefix(c.Value("token"), "v") {
					t.Errorf("token = %q", c.Value("token"))
					return
				}
			}
		})
	}
	for i := range 50 {
		tmp := path + ".tmp"
		write(t, tmp, fmt.Sprintf("[default]\ntoken = v%d\n", i))
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(t, path+".tmp", "[default]\ntoken = vlast\n")
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	c, err := p.Retrieve(context.Background(), "default")
	if err != nil || c.Value("token") != "vlast" {
		t.Errorf("final token = %q, %v", c.Value("token"), err)
	}
}

func TestCanary(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []error
	retrieve := func(data string, mode os.FileMode, insecure bool, profile string) {
		path := installBytes(t, []byte(data))
		chmod(t, path, mode)
		p := New(func(o *Options) {
			o.Path = path
			o.Logger = logger
			o.Getenv = env(map[string]string{EnvInsecure: fmt.Sprint(insecure)})
		})
		c, err := p.Retrieve(context.Background(), profile)
		if err != nil {
			errs = append(errs, err)
			return
		}
		providertest.CheckRendering(t, c, canary)
		logger.Info("got", "creds", c, "secret", c.Get("token"))
		noLeak(t, "String", c.String())
	}
	good := "[default]\ntoken = " + canary + "\n"
	retrieve(good, 0o600, false, "default")
	retrieve(good, 0o644, false, "default")
	retrieve(good, 0o644, true, "default")
	retrieve(good, 0o600, false, "other")
	retrieve("[default]\ntoken = "+canary+"\nbroken line "+canary+"\n", 0o600, false, "default")
	retrieve("[default]\n"+canary+"\n", 0o600, false, "default")
	retrieve("[default]\ntoken = `"+canary+"\n", 0o600, false, "default")
	retrieve("[default]\n[x"+canary+"\n", 0o600, false, "default")
	retrieve("[default]\ntoken = \n", 0o600, false, "default")
	retrieve("[default]\naws_region = "+canary+"\nregion = "+canary+"\n", 0o600, false, "default")
	if len(errs) < 7 {
		t.Errorf("got %d errors, want at least 7", len(errs))
	}
	for _, err := range errs {
		noLeakErr(t, err)
	}
	noLeak(t, "log", logs.String())
}

func TestConformance(t *testing.T) {
	path := install(t, "credentials.ini")
	p := newAt(path)
	providertest.Run(t, p, providertest.Options{
		MissingProfile: "no-such-profile",
		WantFields:     []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey, provider.FieldRegion},
		Secrets:        []string{canary},
	})
	t.Run("named profile", func(t *testing.T) {
		providertest.Run(t, p, providertest.Options{
			Profile:        "production",
			MissingProfile: "empty",
			WantFields:     []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey, provider.FieldSessionToken},
			Secrets:        []string{canary},
		})
	})
}

func BenchmarkRetrieve(b *testing.B) {
	path := install(b, "credentials.ini")
	for _, bb := range []struct {
		name    string
		settled bool
	}{{"unchanged", true}, {"recently-changed", false}} {
		b.Run(bb.name, func(b *testing.B) {
			p := newAt(path)
			if bb.settled {
				p.wallNow = func() time.Time { return time.Now().Add(time.Hour) }
			} else {
				p.wallNow = func() time.Time { return time.Unix(0, 0) }
			}
			ctx := context.Background()
			if _, err := p.Retrieve(ctx, "default"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Retrieve(ctx, "default"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func chmod(t testing.TB, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
