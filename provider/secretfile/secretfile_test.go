package secretfile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/provider/secretfile"
)

const canary = "CANARY-SECRET-d3adb33f"

func newDir(dir string, optFns ...func(*secretfile.Options)) *secretfile.Provider {
	return secretfile.New(append([]func(*secretfile.Options){func(o *secretfile.Options) { o.Dir = dir }}, optFns...)...)
}

func TestConformance(t *testing.T) {
	for _, profile := range []string{provider.DefaultProfile, "prod", "sts", "process", "staging", "flat", "team"} {
		t.Run(profile, func(t *testing.T) {
			providertest.Run(t, newDir("testdata/secrets"), providertest.Options{
				Profile:        profile,
				MissingProfile: "nosuchprofile",
				Secrets:        []string{canary},
			})
		})
	}
}

func TestRetrieve(t *testing.T) {
	exp := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		profile string
		opts    func(*secretfile.Options)
		fields  map[string]string
		locator string
		expires time.Time
	}{
		{provider.DefaultProfile, nil,
			map[string]string{"access_key_id": "AKIDROOT", "secret_access_key": canary},
			"testdata/secrets/{access_key_id,secret_access_key}", time.Time{}},
		{provider.DefaultProfile, func(o *secretfile.Options) { o.Files = map[string]string{"default": "aws_credentials"} },
			map[string]string{"access_key_id": "AKIDDOCKER", "secret_access_key": canary, "region": "eu-central-1"},
			"testdata/secrets/aws_credentials", time.Time{}},
		{"prod", nil,
			map[string]string{"access_key_id": "AKIDPROD", "secret_access_key": canary, "note": "passed through"},
			"testdata/secrets/prod.json", time.Time{}},
		{"sts", nil,
			map[string]string{"access_key_id": "ASIASTSEXAMPLE", "secret_access_key": canary, "session_token": "FwoGZXIvYXdzEXAMPLE"},
			"testdata/secrets/sts.json", exp},
		{"process", nil,
			map[string]string{"access_key_id": "ASIAPROCESS", "secret_access_key": canary, "session_token": "tok"},
			"testdata/secrets/process.json", exp},
		{"staging", nil,
			map[string]string{"access_key_id": "AKIDSTAGING", "secret_access_key": canary + `#not-a-comment;either\`, "region": "us-west-2"},
			"testdata/secrets/staging.ini", time.Time{}},
		{"other", func(o *secretfile.Options) { o.Files = map[string]string{"other": "staging.ini"} },
			map[string]string{"access_key_id": "AKIDOTHER"},
			"testdata/secrets/staging.ini", time.Time{}},
		{"flat", nil,
			map[string]string{"username": "ci-bot", "password": canary},
			"testdata/secrets/flat.ini", time.Time{}},
		{"team", nil,
			map[string]string{"access_key_id": "AKIDTEAM", "secret_access_key": canary, "extra_field": "value"},
			"testdata/secrets/team/", time.Time{}},
		{provider.DefaultProfile, func(o *secretfile.Options) { o.Fields = []string{"access_key_id"} },
			map[string]string{"access_key_id": "AKIDROOT"},
			"testdata/secrets/{access_key_id}", time.Time{}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d_%s", i, tt.profile), func(t *testing.T) {
			var opts []func(*secretfile.Options)
			if tt.opts != nil {
				opts = append(opts, tt.opts)
			}
			c, err := newDir("testdata/secrets", opts...).Retrieve(context.Background(), tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			if c.Len() != len(tt.fields) {
				t.Errorf("fields %v, want %d", c.Names(), len(tt.fields))
			}
			for k, v := range tt.fields {
				if c.Value(k) != v {
					t.Errorf("%s = %q, want %q", k, c.Value(k), v)
				}
			}
			if c.Source.Provider != "secretfile" || c.Source.Locator != filepath.FromSlash(tt.locator) {
				t.Errorf("Source = %+v, want locator %q", c.Source, tt.locator)
			}
			if !c.Expires.Equal(tt.expires) {
				t.Errorf("Expires = %v, want %v", c.Expires, tt.expires)
			}
			providertest.CheckRendering(t, c, canary)
		})
	}
}

func TestNotFound(t *testing.T) {
	tests := []struct {
		name, dir, profile string
		errHas             string
	}{
		{"missing dir", "testdata/no-such-dir", provider.DefaultProfile, "directory does not exist"},
		{"no file for profile", "testdata/secrets", "nosuch", "nosuch.json, nosuch.ini, nosuch/"},
		{"default with no field files", "testdata/bad", provider.DefaultProfile, "access_key_id"},
		{"profile with a separator", "testdata", "secrets/team", "invalid profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newDir(tt.dir).Retrieve(context.Background(), tt.profile)
			if !errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err = %v, want ErrNotFound containing %q", err, tt.errHas)
			}
		})
	}
}

func TestBadFiles(t *testing.T) {
	tests := []struct {
		profile, file string
		want          error
		line, col     int // -1: any
		errHas        []string
	}{
		{"syntax", "syntax.json", secretfile.ErrSyntax, 4, 3, []string{"syntax.json:4:3", "invalid JSON syntax"}},
		{"truncated", "truncated.json", secretfile.ErrSyntax, 1, -1, []string{"truncated.json:1:", "unexpected end"}},
		{"number", "number.json", secretfile.ErrNotString, 1, 27, []string{"number.json:1:27", `key "port"`, "not a number"}},
		{"array", "array.json", secretfile.ErrSyntax, 1, 1, []string{"array.json:1:1", "JSON object"}},
		{"dup", "dup.json", secretfile.ErrDuplicate, 1, 23, []string{"dup.json:1:23", "access_key_id"}},
		{"badexp", "badexp.json", secretfile.ErrBadExpiration, 1, 27, []string{"badexp.json:1:27", "key (a 10-byte value, not shown)"}},
		{"broken", "broken.ini", secretfile.ErrSyntax, 3, 0, []string{"broken.ini:3", "no '=' or ':'"}},
		{"unclosed", "unclosed.ini", secretfile.ErrSyntax, 1, 0, []string{"unclosed.ini:1", "unclosed section"}},
		{"nosection", "nosection.ini", secretfile.ErrNoSection, 0, 0, []string{"nosection.ini", `no section for profile "nosection"`}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			_, err := newDir("testdata/bad").Retrieve(context.Background(), tt.profile)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("a malformed file must not read as not found: %v", err)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Provider != "secretfile" || pe.Profile != tt.profile {
				t.Errorf("not a *provider.Error for secretfile/%s: %#v", tt.profile, err)
			}
			// One type for every problem with a file's content, naming the
			// file and position once: the provider.Error adds no locator.
			path := filepath.Join("testdata/bad", tt.file)
			var se *provider.SyntaxError
			if !errors.As(err, &se) || se.Path != path || !errors.Is(se, tt.want) {
				t.Fatalf("err = %#v, want a *provider.SyntaxError for %s wrapping %v", err, path, tt.want)
			}
			if se.Line != tt.line || (tt.col >= 0 && se.Column != tt.col) {
				t.Errorf("position %d:%d, want %d:%d", se.Line, se.Column, tt.line, tt.col)
			}
			if pe != nil && pe.Locator != "" {
				t.Errorf("Locator = %q, want none beside the SyntaxError's path", pe.Locator)
			}
			if n := strings.Count(err.Error(), path); n != 1 {
				t.Errorf("error %q names %s %d times, want once", err, path, n)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			assertNoCanary(t, err)
		})
	}
}

func assertNoCanary(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, canary) || strings.Contains(s, "AKID") {
			t.Fatalf("error reveals file content: %s", s)
		}
	}
}

func TestInvalidProfiles(t *testing.T) {
	dir := t.TempDir()
	// A secret outside Dir that traversal would reach.
	outside := filepath.Join(dir, "outside.json")
	writeFile(t, outside, `{"secret_access_key": "`+canary+`"}`)
	secrets := filepath.Join(dir, "secrets")
	writeFile(t, filepath.Join(secrets, "ok.json"), `{"token": "x"}`)
	for _, profile := range []string{
		"", "../outside", "..", ".", "a/b", `a\b`, "/etc/passwd", "..data", ".hidden", "a..b",
		"x\x00y", "tab\tname", "new\nline", "\x7f", "\u2028", strings.Repeat("a", secretfile.MaxNameLen+1), "\xff\xfe",
	} {
		t.Run(fmt.Sprintf("%q", profile), func(t *testing.T) {
			_, err := newDir(secrets).Retrieve(context.Background(), profile)
			if !errors.Is(err, secretfile.ErrInvalidProfile) || !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("err = %v, want ErrInvalidProfile and ErrNotFound", err)
			}
			if strings.ContainsAny(err.Error(), "\x00\n\t\x7f") {
				t.Fatalf("control characters in error %q", err)
			}
			assertNoCanary(t, err)
		})
	}
	// Long but valid names are fine.
	if err := secretfile.ValidName(strings.Repeat("a", secretfile.MaxNameLen)); err != nil {
		t.Fatal(err)
	}
	// Options.Files with a traversal name is a configuration error.
	p := newDir(secrets, func(o *secretfile.Options) { o.Files = map[string]string{"x": "../outside.json"} })
	_, err := p.Retrieve(context.Background(), "x")
	if err == nil || errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), "Options.Files") {
		t.Fatalf("err = %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks not supported: %v", err)
	}
}

// kubernetesDir builds the layout the kubelet uses for a secret volume:
// ..2031_01_01_00_00_00.000/<key> files, ..data -> that directory, and
// <key> -> ..data/<key> for each key.
func kubernetesDir(t *testing.T, dir, version string, keys map[string]string) {
	t.Helper()
	ts := filepath.Join(dir, "..2031_"+version)
	for k, v := range keys {
		writeFile(t, filepath.Join(ts, k), v)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	symlink(t, filepath.Base(ts), tmp)
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil { // atomic swap, as the kubelet does
		t.Fatal(err)
	}
	for k := range keys {
		link := filepath.Join(dir, k)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		symlink(t, filepath.Join("..data", k), link)
	}
}

func TestKubernetesSymlinksAndRotation(t *testing.T) {
	for _, layout := range []string{"root", "profile dir"} {
		t.Run(layout, func(t *testing.T) {
			secrets := t.TempDir()
			dir, profile := secrets, provider.DefaultProfile
			if layout == "profile dir" {
				dir, profile = filepath.Join(secrets, "prod"), "prod"
			}
			kubernetesDir(t, dir, "v1", map[string]string{"access_key_id": "AKIDV1\n", "secret_access_key": canary + "\n"})
			p := newDir(secrets)
			c, err := p.Retrieve(context.Background(), profile)
			if err != nil || c.Value("access_key_id") != "AKIDV1" || c.Value("secret_access_key") != canary {
				t.Fatalf("v1: %v %v", c, err)
			}
			if c.Len() != 2 {
				t.Fatalf("..data or the timestamped directory read as fields: %v", c.Names())
			}
			// Rotate: the kubelet writes a new directory and swaps ..data.
			kubernetesDir(t, dir, "v2", map[string]string{"access_key_id": "AKIDV2\n", "secret_access_key": canary + "-v2\n"})
			c, err = p.Retrieve(context.Background(), profile)
			if err != nil || c.Value("access_key_id") != "AKIDV2" {
				t.Fatalf("after rotation: %v %v", c, err)
			}
		})
	}
}

func TestSymlinkEscapes(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	writeFile(t, outside, canary)
	writeFile(t, filepath.Join(base, "outside.json"), `{"secret_access_key": "`+canary+`"}`)
	secrets := filepath.Join(base, "secrets")
	writeFile(t, filepath.Join(secrets, "inside"), "AKIDINSIDE\n")

	t.Run("field file, relative", func(t *testing.T) {
		symlink(t, "../outside", filepath.Join(secrets, "secret_access_key"))
		defer os.Remove(filepath.Join(secrets, "secret_access_key"))
		_, err := newDir(secrets).Retrieve(context.Background(), provider.DefaultProfile)
		if !errors.Is(err, secretfile.ErrOutsideDir) {
			t.Fatalf("err = %v, want ErrOutsideDir", err)
		}
		assertNoCanary(t, err)
	})
	t.Run("profile file, absolute", func(t *testing.T) {
		symlink(t, filepath.Join(base, "outside.json"), filepath.Join(secrets, "evil.json"))
		_, err := newDir(secrets).Retrieve(context.Background(), "evil")
		if !errors.Is(err, secretfile.ErrOutsideDir) {
			t.Fatalf("err = %v, want ErrOutsideDir", err)
		}
	})
	t.Run("profile directory", func(t *testing.T) {
		symlink(t, base, filepath.Join(secrets, "up"))
		_, err := newDir(secrets).Retrieve(context.Background(), "up")
		if !errors.Is(err, secretfile.ErrOutsideDir) {
			t.Fatalf("err = %v, want ErrOutsideDir", err)
		}
	})
	t.Run("absolute link inside Dir is fine", func(t *testing.T) {
		symlink(t, filepath.Join(secrets, "inside"), filepath.Join(secrets, "access_key_id"))
		c, err := newDir(secrets, func(o *secretfile.Options) { o.Fields = []string{"access_key_id"} }).
			Retrieve(context.Background(), provider.DefaultProfile)
		if err != nil || c.Value("access_key_id") != "AKIDINSIDE" {
			t.Fatalf("%v %v", c, err)
		}
	})
	t.Run("Dir itself a symlink", func(t *testing.T) {
		link := filepath.Join(base, "secrets-link")
		symlink(t, secrets, link)
		c, err := newDir(link, func(o *secretfile.Options) { o.Fields = []string{"inside"} }).
			Retrieve(context.Background(), provider.DefaultProfile)
		if err != nil || c.Value("inside") != "AKIDINSIDE" {
			t.Fatalf("%v %v", c, err)
		}
	})
}

func TestOversizeAndNonRegular(t *testing.T) {
	secrets := t.TempDir()
	big := `{"secret_access_key": "` + strings.Repeat("A", secretfile.DefaultMaxFileSize) + `"}`
	writeFile(t, filepath.Join(secrets, "big.json"), big)
	writeFile(t, filepath.Join(secrets, "bigdir", "token"), strings.Repeat("B", 100))
	if err := os.MkdirAll(filepath.Join(secrets, "dir.json"), 0o700); err != nil {
		t.Fatal(err)
	}

	_, err := newDir(secrets).Retrieve(context.Background(), "big")
	if !errors.Is(err, secretfile.ErrFileTooLarge) || errors.Is(err, provider.ErrNotFound) || strings.Contains(err.Error(), "AAAA") {
		t.Fatalf("err = %v, want ErrFileTooLarge", err)
	}
	_, err = newDir(secrets, func(o *secretfile.Options) { o.MaxFileSize = 10 }).Retrieve(context.Background(), "bigdir")
	if !errors.Is(err, secretfile.ErrFileTooLarge) || !strings.Contains(err.Error(), filepath.Join("bigdir", "token")) {
		t.Fatalf("err = %v, want ErrFileTooLarge naming the field file", err)
	}
	_, err = newDir(secrets).Retrieve(context.Background(), "dir")
	if !errors.Is(err, secretfile.ErrNotRegular) {
		t.Fatalf("err = %v, want ErrNotRegular", err)
	}
}

func TestUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		// Permission bits do not stop root; TestOversizeAndNonRegular's
		// directory-in-place-of-a-file case covers the failure path.
		t.Skip("running as root: mode 000 files are still readable")
	}
	secrets := t.TempDir()
	writeFile(t, filepath.Join(secrets, "p.json"), `{"token": "`+canary+`"}`)
	os.Chmod(filepath.Join(secrets, "p.json"), 0)
	_, err := newDir(secrets).Retrieve(context.Background(), "p")
	if err == nil || errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	assertNoCanary(t, err)
}

func TestPrecedence(t *testing.T) {
	secrets := t.TempDir()
	writeFile(t, filepath.Join(secrets, "mapped"), "[default]\ntoken = from-mapped\n")
	writeFile(t, filepath.Join(secrets, "default.json"), `{"token": "from-json"}`)
	writeFile(t, filepath.Join(secrets, "default.ini"), "token = from-ini\n")
	writeFile(t, filepath.Join(secrets, "default", "token"), "from-dir\n")
	writeFile(t, filepath.Join(secrets, "token"), "from-root\n")
	steps := []struct {
		want   string
		remove string
		opts   func(*secretfile.Options)
	}{
		{"from-mapped", "mapped", func(o *secretfile.Options) { o.Files = map[string]string{"default": "mapped"} }},
		{"from-json", "default.json", nil},
		{"from-ini", "default.ini", nil},
		{"from-dir", "default", nil},
		{"from-root", "", nil},
	}
	for _, s := range steps {
		var opts []func(*secretfile.Options)
		if s.opts != nil {
			opts = append(opts, s.opts)
		}
		c, err := newDir(secrets, opts...).Retrieve(context.Background(), provider.DefaultProfile)
		if err != nil || c.Value("token") != s.want {
			t.Fatalf("got %q (%v), want %q", c.Value("token"), err, s.want)
		}
		if s.remove != "" {
			os.RemoveAll(filepath.Join(secrets, s.remove))
		}
	}
	// A mapped file that does not exist falls through.
	c, err := newDir(secrets, func(o *secretfile.Options) { o.Files = map[string]string{"default": "gone"} }).
		Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil || c.Value("token") != "from-root" {
		t.Fatalf("%v %v", c, err)
	}
	// Root field files answer only the default profile.
	if _, err := newDir(secrets).Retrieve(context.Background(), "prod"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyValues(t *testing.T) {
	secrets := t.TempDir()
	writeFile(t, filepath.Join(secrets, "a.json"), `{"token": "", "other": null}`)
	writeFile(t, filepath.Join(secrets, "b.ini"), "[b]\ntoken =\n")
	writeFile(t, filepath.Join(secrets, "c", "token"), "\n")
	for _, profile := range []string{"a", "b", "c"} {
		if _, err := newDir(secrets).Retrieve(context.Background(), profile); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", profile, err)
		}
	}
}

func TestContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newDir("testdata/secrets").Retrieve(ctx, "prod")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	// The default Dir is /run/secrets; on a machine without it that is
	// not found, never an error.
	_, err := secretfile.New().Retrieve(context.Background(), "mcpcred-test-nonexistent")
	if err != nil && !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if got := secretfile.New(nil).Name(); got != "secretfile" {
		t.Fatal(got)
	}
}

func TestCanaryInLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := newDir("testdata/secrets", func(o *secretfile.Options) { o.Logger = log })
	for _, profile := range []string{"default", "prod", "sts", "staging", "team", "nosuch"} {
		c, err := p.Retrieve(context.Background(), profile)
		log.Info("result", "creds", c, "err", err)
	}
	if strings.Contains(buf.String(), canary) {
		t.Fatalf("canary in logs:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "secretfile: read credentials") {
		t.Fatalf("no debug record:\n%s", buf.String())
	}
}
