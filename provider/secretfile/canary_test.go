package secretfile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/secretfile"
)

// canaries look like secrets: an access key id, a secret key, a 40-char hex
// token and a lower-case 24-char token.
var canaries = []string{
	"AKIAIOSFODNN7EXAMPLE",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
	"q8xk2m4v9r1t7w3z5p0n6b2c",
}

func leaks(s string) []string {
	var out []string
	ls := strings.ToLower(s)
	for _, c := range canaries {
		if strings.Contains(ls, strings.ToLower(c)) {
			out = append(out, c)
		}
	}
	return out
}

// TestCanaryEverywhere puts secret-looking text in every place a secret
// file or a request can put it (JSON and INI keys, values, section names,
// wrapped lines, field file names, profile names) and checks that it never
// shows in an error, in the credentials' renderings or in a log record.
// The header provider.Error writes for a canary profile is its own
// business (the resolver refuses such names first); the locator and the
// reason are this package's.
func TestCanaryEverywhere(t *testing.T) {
	for _, c := range canaries {
		t.Run(c[:8], func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cases := []struct {
				name    string
				files   map[string]string
				profile string
				wantErr bool
			}{
				{"JSON value", map[string]string{"p.json": `{"token": "` + c + `"}`}, "p", false},
				{"JSON key", map[string]string{"p.json": `{"` + c + `": "v"}`}, "p", true},
				{"JSON key, number value", map[string]string{"p.json": `{"` + c + `": 1}`}, "p", true},
				{"JSON key under Credentials", map[string]string{"p.json": `{"Credentials": {"` + c + `": "v"}}`}, "p", true},
				{"JSON expiry", map[string]string{"p.json": `{"token": "v", "Expiration": "` + c + `"}`}, "p", true},
				{"JSON syntax", map[string]string{"p.json": `{"token": "` + c + `" "x"}`}, "p", true},
				{"JSON duplicate", map[string]string{"p.json": `{"aws_access_key_id": "` + c + `", "AccessKeyId": "` + c + `"}`}, "p", true},
				{"INI value", map[string]string{"p.ini": "[p]\ntoken = " + c + "\n"}, "p", false},
				{"INI key", map[string]string{"p.ini": "[p]\n" + c + " = v\n"}, "p", true},
				{"INI wrapped value", map[string]string{"p.ini": "[p]\naws_session_token = IQoJb3JpZ2lu\n" + strings.ToUpper(c[:10]) + "=\n"}, "p", true},
				{"INI value-less line", map[string]string{"p.ini": "[p]\ntoken = v\n" + c + "\n"}, "p", true},
				{"INI section name", map[string]string{"p.ini": "[" + c + "]\ntoken = v\n"}, "p", true},
				{"INI unclosed section", map[string]string{"p.ini": "[p]\n[" + c + "\n"}, "p", true},
				{"field file name", map[string]string{"p/token": "v", "p/" + strings.ReplaceAll(c, "/", "_"): "v"}, "p", false},
				{"field file name only", map[string]string{"p/" + strings.ReplaceAll(c, "/", "_"): "v"}, "p", true},
				{"profile name, missing", map[string]string{"q.json": `{"token": "v"}`}, strings.ReplaceAll(c, "/", "_"), true},
				{"profile name, present", map[string]string{strings.ReplaceAll(c, "/", "_") + ".json": `{"token": "v"}`}, strings.ReplaceAll(c, "/", "_"), false},
			}
			for _, tc := range cases {
				dir := t.TempDir()
				for name, content := range tc.files {
					writeFile(t, filepath.Join(dir, name), content)
				}
				creds, err := newDir(dir, func(o *secretfile.Options) { o.Logger = logger }).Retrieve(context.Background(), tc.profile)
				if (err != nil) != tc.wantErr {
					t.Fatalf("%s: Retrieve = %v, %v; want error %v", tc.name, creds, err, tc.wantErr)
				}
				if err != nil {
					text := fmt.Sprintf("%v\n%+v", err, err)
					var pe *provider.Error
					if tc.profile != "p" && errors.As(err, &pe) {
						text = pe.Locator + "\n" + pe.Err.Error()
					} else {
						logger.Error("retrieve failed", "err", err)
					}
					if l := leaks(text); l != nil {
						t.Errorf("%s: error reveals %v: %s", tc.name, l, text)
					}
					continue
				}
				rendered := fmt.Sprintf("%v %+v %#v %s %q", creds, creds, creds, creds, creds)
				if tc.profile != "p" {
					// The locator names the file the request asked for;
					// with a canary profile that file's name is the canary
					// (the resolver refuses such a profile first).
					rendered = strings.ReplaceAll(rendered, creds.Source.Locator, "")
				}
				if l := leaks(rendered); l != nil {
					t.Errorf("%s: credentials reveal %v: %s", tc.name, l, rendered)
				}
				logger.Info("retrieved", "fields", creds.Names())
			}
			if l := leaks(logs.String()); l != nil {
				t.Errorf("logs reveal %v:\n%s", l, logs.String())
			}
		})
	}
}

// TestWrappedINIValue checks the wrapped-token case in an INI secret file:
// the line, the line it continues and the fix, never the fragment, and no
// field made of it.
func TestWrappedINIValue(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.ini"), "[p]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_session_token = IQoJb3JpZ2luX2VjEJr\nTail0fd3Bm9yZXhh=\n")
	_, err := newDir(dir).Retrieve(context.Background(), "p")
	var pe *provider.SyntaxError
	if !errors.Is(err, secretfile.ErrBadKey) || !errors.As(err, &pe) || pe.Line != 4 || pe.Path != filepath.Join(dir, "p.ini") {
		t.Fatalf("err = %v, want ErrBadKey at line 4", err)
	}
	if !strings.Contains(err.Error(), "p.ini:4") || !strings.Contains(err.Error(), "join the wrapped value onto line 3") ||
		strings.Contains(strings.ToLower(err.Error()), "tail0fd3") {
		t.Errorf("err = %v", err)
	}
	// A JSON key that is no field name is refused, with its position.
	writeFile(t, filepath.Join(dir, "j.json"), "{\n  \"token\": \"v\",\n  \"apiKey\": \"w\"\n}\n")
	_, err = newDir(dir).Retrieve(context.Background(), "j")
	if !errors.Is(err, secretfile.ErrBadKey) || !errors.As(err, &pe) || pe.Line != 3 || strings.Contains(err.Error(), "apiKey") {
		t.Errorf("err = %v, want ErrBadKey at line 3 without the key", err)
	}
}
