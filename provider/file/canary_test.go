package file

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

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// canaries look like secrets: an access key id, a secret key, a 40-char hex
// token and a lower-case 24-char token.
var canaries = []string{
	"AKIAIOSFODNN7EXAMPLE",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
	"q8xk2m4v9r1t7w3z5p0n6b2c",
}

// leaks returns the canaries s contains, also lower-cased (keys are
// lower-cased into field names).
func leaks(s string) []string {
	var out []string
	ls := strings.ToLower(s)
	for _, c := range canaries {
		if strings.Contains(s, c) || strings.Contains(ls, strings.ToLower(c)) {
			out = append(out, c)
		}
	}
	return out
}

// errText is everything an error shows. The header provider.Error writes
// for the requested profile is left out when the profile itself is the
// canary: rendering it is provider.Error's business (the resolver refuses
// such names before any provider is asked); the locator and reason are
// this package's.
func errText(err error, profileIsCanary bool) string {
	var pe *provider.Error
	if profileIsCanary && errors.As(err, &pe) {
		return pe.Locator + "\n" + fmt.Sprintf("%v\n%+v", pe.Err, pe.Err)
	}
	return fmt.Sprintf("%v\n%+v\n%#v", err, err, err)
}

// TestCanaryEverywhere drives every error path of the provider with
// secret-looking text in every place a file or a request can put it
// (values, keys, section names, wrapped lines, profile names, the section
// named by MCP_CREDENTIAL_PROFILE), and checks that no canary appears in an
// error, in the credentials' renderings or in any log record.
func TestCanaryEverywhere(t *testing.T) {
	for _, c := range canaries {
		t.Run(c[:8], func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			wrapped := strings.ToUpper(c[:len(c)/2]) + "="
			cases := []struct {
				name, data, profile string
				env                 map[string]string
				mode                os.FileMode
				wantErr             bool
			}{
				{"value", "[default]\ntoken = " + c + "\n", "default", nil, 0o600, false},
				{"value with insecure mode", "[default]\ntoken = " + c + "\n", "default", map[string]string{EnvInsecure: "1"}, 0o644, false},
				{"value, insecure file", "[default]\ntoken = " + c + "\n", "default", nil, 0o644, true},
				{"key", "[default]\n" + c + " = v\n", "default", nil, 0o600, true},
				{"key, empty value", "[default]\ntoken = v\n" + c + " =\n", "default", nil, 0o600, true},
				{"key with colon", "[default]\n" + c + ": v\n", "default", nil, 0o600, true},
				{"wrapped value", "[default]\naws_session_token = IQoJb3JpZ2lu\n" + wrapped + "\n", "default", nil, 0o600, true},
				{"wrapped value, indented", "[default]\naws_session_token = IQoJb3JpZ2lu\n    " + c + "==\n", "default", nil, 0o600, true},
				{"value-less line", "[default]\ntoken = v\n" + c + "\n", "default", nil, 0o600, true},
				{"section name, other requested", "[" + c + "]\ntoken = v\n", "default", nil, 0o600, true},
				{"section name, requested", "[" + c + "]\ntoken = v\n", c, nil, 0o600, false},
				{"profile section, requested", "[profile " + c + "]\ntoken = v\n", c, nil, 0o600, false},
				{"both spellings of a section", "[" + c + "]\ntoken = v\n[profile " + c + "]\ntoken = w\n", c, nil, 0o600, true},
				{"empty section", "[" + c + "]\n", c, nil, 0o600, true},
				{"section of empty values", "[" + c + "]\ntoken =\n", c, nil, 0o600, true},
				{"conflicting spellings", "[default]\naws_region = " + c + "\nregion = " + c + "\n", "default", nil, 0o600, true},
				{"unclosed header", "[default]\n[" + c + "\n", "default", nil, 0o600, true},
				{"backtick value", "[default]\ntoken = `" + c + "\n", "default", nil, 0o600, true},
				{"key outside sections", c + " = x\n[default]\n", "default", nil, 0o600, true},
				{"requested profile", "[default]\ntoken = v\n", c, nil, 0o600, true},
				{"MCP_CREDENTIAL_PROFILE", "[default]\ntoken = v\n", "default", map[string]string{EnvProfile: c}, 0o600, true},
				{"required field missing", "[default]\ntoken = " + c + "\n", "default", map[string]string{"required": "1"}, 0o600, true},
			}
			for _, tc := range cases {
				path := installBytes(t, []byte(tc.data))
				chmod(t, path, tc.mode)
				p := New(func(o *Options) {
					o.Path, o.Getenv, o.Logger = path, env(tc.env), logger
					if tc.env["required"] != "" {
						o.Required = []string{provider.FieldAccessKeyID}
					}
				})
				for range 2 { // a second, cached answer too
					creds, err := p.Retrieve(context.Background(), tc.profile)
					if (err != nil) != tc.wantErr {
						t.Fatalf("%s: Retrieve = %v, %v; want error %v", tc.name, creds, err, tc.wantErr)
					}
					if err != nil {
						if l := leaks(errText(err, tc.profile == c)); l != nil {
							t.Errorf("%s: error reveals %v: %v", tc.name, l, err)
						}
						if tc.profile != c {
							logger.Error("retrieve failed", "err", err)
						}
						continue
					}
					for _, s := range []string{creds.String(), fmt.Sprintf("%v %+v %#v %s %q", creds, creds, creds, creds, creds)} {
						if l := leaks(s); l != nil {
							t.Errorf("%s: credentials reveal %v: %s", tc.name, l, s)
						}
					}
					logger.Info("retrieved", "creds", creds)
				}
			}
			if l := leaks(logs.String()); l != nil {
				t.Errorf("logs reveal %v:\n%s", l, logs.String())
			}
		})
	}
}

// TestWrappedValue checks the case: a session token wrapped onto a
// second line is refused with the line, the line it continues and the fix,
// and no fragment of it becomes a field.
func TestWrappedValue(t *testing.T) {
	const head = "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_session_token = IQoJb3JpZ2luX2VjEJr//////////wEaCXVz\n"
	for _, tc := range []struct {
		name, tail string
		line       int
		reason     string
	}{
		{"tail ending in one =", "Tail0fd3Bm9yZXhhbXBsZQ=\n", 4, "the text before = is not a key"},
		{"tail ending in ==", "tail0fd3bm9yzxhhbxbszq==\n", 4, "the text before = is not a key"},
		{"tail with / and +", "Zm9y/ZXhh+bXBsZQ=abc\n", 4, "the text before = is not a key"},
		{"tail without =", "Zm9yZXhhbXBsZQ\n", 4, "expected KEY = VALUE"},
		{"indented tail", "   Zm9yZXhhbXBsZQ==\n", 4, "the text before = is not a key"},
		{"upper-case tail with digits", "TAIL0FD3ABC=\n", 4, "the text before = is not a key"},
		{"tail of letters, one =", "TAILFDABCDEF=\n", 4, "the key is not a known field name and has no value"},
		{"tail of letters, ==", "tailfdabcdef==\n", 4, "the value is only = signs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			path := installBytes(t, []byte(head+tc.tail+"region = us-east-1\n"))
			p := newAt(path, func(o *Options) {
				o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			c, err := p.Retrieve(context.Background(), "default")
			var se *provider.SyntaxError
			if !errors.As(err, &se) || se.Line != tc.line || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Retrieve = %v, %v; want a *provider.SyntaxError at line %d", c, err, tc.line)
			}
			want := fmt.Sprintf("file: malformed credentials file: %s:%d: %s", path, tc.line, tc.reason)
			hint := fmt.Sprintf("join the wrapped value onto line %d", tc.line-1)
			if !strings.HasPrefix(se.Error(), want) || !strings.HasSuffix(se.Error(), hint) {
				t.Errorf("err = %q, want %q ... %q", se, want, hint)
			}
			frag := strings.ToLower(strings.TrimSpace(strings.TrimRight(tc.tail, "=\n")))
			for _, s := range []string{err.Error(), logs.String()} {
				if strings.Contains(strings.ToLower(s), frag[:8]) || strings.Contains(s, "AKIAIOSFODNN7EXAMPLE") {
					t.Errorf("the wrapped fragment or a value shows: %s", s)
				}
			}
		})
	}
	// A key name no field has is refused the same way, wherever it is.
	for _, key := range []string{"aws-secret-key", "token.name", "Tóken", "q8xk2m4v9r1t7w3z5p0n6b2c", strings.Repeat("a", 65)} {
		_, err := newAt(installBytes(t, []byte("[default]\n"+key+" = x\n"))).Retrieve(context.Background(), "default")
		var se *provider.SyntaxError
		if !errors.As(err, &se) || se.Line != 2 || strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "join") {
			t.Errorf("key %q: err = %v", key, err)
		}
	}
	// Keys that are names still work, in any of the usual cases.
	c, err := newAt(installBytes(t, []byte("[default]\nAWS_Access_Key_ID = A\nAWS_SECRET_ACCESS_KEY = B\nx509_cert = C\n  role_arn = D\n"))).Retrieve(context.Background(), "default")
	if err != nil || c.Value("access_key_id") != "A" || c.Value("secret_access_key") != "B" || c.Value("x509_cert") != "C" || c.Value("role_arn") != "D" {
		t.Errorf("Retrieve = %v, %v", c, err)
	}
}

// TestPathTrust checks the case through the provider: a
// credentials file reached through a symlink in a world-writable
// directory is refused, naming that directory and the fix.
func TestPathTrust(t *testing.T) {
	if !securefile.PermChecks {
		t.Skip("no permission checks on this platform")
	}
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Dir(installBytes(t, []byte("[default]\ntoken = v\n")))
	ww := filepath.Join(base, "ww")
	if err := os.Mkdir(ww, 0o700); err != nil {
		t.Fatal(err)
	}
	chmod(t, ww, 0o777)
	if err := os.Symlink(real, filepath.Join(ww, "link")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ww, "link", "credentials")
	_, err = New(func(o *Options) { o.Getenv = env(map[string]string{EnvFile: path}) }).Retrieve(context.Background(), "default")
	var perr *PermissionError
	if !errors.As(err, &perr) || perr.Path != ww || !errors.Is(err, ErrInsecurePermissions) || errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("err = %v, want a *PermissionError naming %s", err, ww)
	}
	if !strings.HasSuffix(err.Error(), "fix with: chmod go-w "+ww) {
		t.Errorf("err = %v, want the fix for %s", err, ww)
	}
	c, err := New(func(o *Options) { o.Getenv = env(map[string]string{EnvFile: path, EnvInsecure: "true"}) }).Retrieve(context.Background(), "default")
	if err != nil || c.Value("token") != "v" {
		t.Errorf("insecure mode: %v, %v", c, err)
	}
}
