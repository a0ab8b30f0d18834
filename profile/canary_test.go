package profile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/profile"
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

// TestCanaryEverywhere puts secret-looking text in every place a profiles
// file or a request can put it (unknown keys, profile names, field and
// setting names, values, regions, descriptions, source references, requested
// profile names) and checks that it never shows in an error, in the
// credentials' renderings or in a log record. The header provider.Error
// writes for a canary profile requested is its own business (the resolver
// refuses such names first); the locator and reason are this package's.
func TestCanaryEverywhere(t *testing.T) {
	for _, c := range canaries {
		t.Run(c[:8], func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			js := strings.ReplaceAll(c, "/", `\/`)  // JSON may escape '/'
			name := strings.ReplaceAll(c, "/", "_") // a valid profile name
			cases := []struct {
				name, file, profile string
				wantErr             bool
			}{
				{"unknown top-level key", `{"profiles": {}, "` + c + `": 1}`, "prod", true},
				{"unknown profile key", `{"profiles": {"prod": {"source": "static:x", "` + c + `": "v"}}}`, "prod", true},
				{"unknown key, escaped", `{"profiles": {"prod": {"source": "static:x", "` + js + `": "v"}}}`, "prod", true},
				{"profile name in the file", `{"profiles": {"` + c + `": {"source": "static:x"}, "p": {"sorce": 1}}}`, "prod", true},
				{"profile name, invalid", `{"profiles": {"` + c + `\n": {"source": "static:x"}}}`, "prod", true},
				{"profile lacking a source", `{"profiles": {"` + c + `": {"region": "us-east-1"}}}`, "prod", true},
				{"inline field name", `{"profiles": {"p": {"credentials": {"` + c + `": "v"}}}}`, "p", true},
				{"inline field, empty", `{"profiles": {"p": {"credentials": {"` + strings.ToLower(strings.ReplaceAll(c, "/", "_")) + `": ""}}}}`, "p", true},
				{"inline value", `{"profiles": {"p": {"credentials": {"token": "` + c + `"}}}}`, "p", false},
				{"inline value, wrong type", `{"profiles": {"p": {"credentials": {"token": 1}}, "` + c + `": 1}}`, "p", true},
				{"setting name", `{"profiles": {"p": {"source": "static:x", "settings": {"` + c + `": "v"}}}}`, "p", true},
				{"setting value", `{"profiles": {"p": {"source": "static:x", "settings": {"note": "` + c + `"}}}}`, "p", false},
				{"region", `{"profiles": {"p": {"source": "static:x", "region": "` + c + `"}}}`, "p", true},
				{"description", `{"profiles": {"p": {"source": "static:x", "description": "` + c + `"}}}`, "p", false},
				{"source reference, malformed", `{"profiles": {"p": {"source": "` + c + `"}}}`, "p", true},
				{"source reference, unknown scheme", `{"profiles": {"p": {"source": "nosuch:` + c + `"}}}`, "p", true},
				{"source reference, source has nothing", `{"profiles": {"p": {"source": "static:nothing", "description": "` + c + `"}}}`, "p", true},
				{"requested profile, not defined", `{"profiles": {"p": {"source": "static:x"}}}`, c, true},
				{"requested profile, defined", `{"profiles": {"` + name + `": {"source": "static:x"}}}`, name, false},
				{"allow key", `{"profiles": {"p": {"source": "static:x", "allow": {"` + c + `": ["a"]}}}}`, "p", true},
				{"allow subject, invalid", `{"profiles": {"p": {"source": "static:x", "allow": {"subjects": ["` + js + `\n"]}}}}`, "p", true},
				{"allow group, spaced", `{"profiles": {"p": {"source": "static:x", "allow": {"groups": [" ` + js + `"]}}}}`, "p", true},
				{"allow subject, refused on stdio", `{"profiles": {"p": {"source": "static:x", "allow": {"subjects": ["` + js + `"], "groups": ["` + js + `"]}}}}`, "p", true},
				{"allow subject, other profile", `{"profiles": {"p": {"source": "static:x"}, "` + name + `": {"source": "static:x", "allow": {"subjects": ["` + js + `"]}}}}`, "q", true},
				{"template inside a segment", `{"profiles": {"p": {"source": "static:` + js + `{sub}", "allow": {"issuers": ["i"]}}}}`, "p", true},
				{"template, other placeholder", `{"profiles": {"p": {"source": "static:users/{` + name + `}", "allow": {"issuers": ["i"]}}}}`, "p", true},
				{"template, no issuer", `{"profiles": {"p": {"source": "static:users/{sub}", "allow": {"subjects": ["` + js + `"]}}}}`, "p", true},
				{"template, on stdio", `{"profiles": {"p": {"source": "static:users/{sub}", "allow": {"issuers": ["` + js + `"]}}}}`, "p", true},
				{"syntax error after a secret", `{"profiles": {"p": {"credentials": {"token": "` + c + `" "x"}}}}`, "p", true},
			}
			for _, tc := range cases {
				path := write(t, tc.file, 0o600)
				p := newProvider(t, path, nil, logger)
				p.Has(tc.profile)
				creds, err := p.Retrieve(context.Background(), tc.profile)
				// A region that happens to be valid is a value: never shown.
				if (err != nil) != tc.wantErr && tc.name != "region" {
					t.Fatalf("%s: Retrieve = %v, %v; want error %v", tc.name, creds, err, tc.wantErr)
				}
				if err != nil {
					text := fmt.Sprintf("%v\n%+v", err, err)
					var pe *provider.Error
					if (tc.profile == c || tc.profile == name) && errors.As(err, &pe) {
						text = pe.Locator + "\n" + pe.Err.Error()
					} else {
						logger.Error("retrieve failed", "err", err)
					}
					if strings.Contains(strings.ToLower(text), strings.ToLower(c)) || strings.Contains(text, js) || strings.Contains(text, name) {
						t.Errorf("%s: error reveals the canary: %s", tc.name, text)
					}
					if _, perr := profile.Parse([]byte(tc.file)); perr != nil && strings.Contains(strings.ToLower(perr.Error()), strings.ToLower(c)) {
						t.Errorf("%s: Parse error reveals the canary: %v", tc.name, perr)
					}
					continue
				}
				rendered := fmt.Sprintf("%v %+v %#v %s %q", creds, creds, creds, creds, creds)
				if strings.Contains(strings.ToLower(rendered), strings.ToLower(c)) || strings.Contains(rendered, name) {
					t.Errorf("%s: credentials reveal the canary: %s", tc.name, rendered)
				}
				logger.Info("retrieved", "creds", creds)
			}
			if s := logs.String(); strings.Contains(strings.ToLower(s), strings.ToLower(c)) || strings.Contains(s, js) || strings.Contains(s, name) {
				t.Errorf("logs reveal the canary:\n%s", s)
			}
		})
	}
}
