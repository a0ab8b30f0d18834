package env_test

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

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
)

// canaries look like secrets: an access key id, a secret key, a 40-char hex
// token and a lower-case 24-char token.
var canaries = []string{
	"AKIAIOSFODNN7EXAMPLE",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
	"q8xk2m4v9r1t7w3z5p0n6b2c",
}

// TestCanaryEverywhere puts secret-looking text in every place the
// environment or a request can put it (values, _FILE contents, variable
// names under a prefix, profile names) and checks that it never shows in an
// error, in the credentials' renderings or in a log record. The header
// provider.Error writes for a canary profile is its own business (the
// resolver refuses such names first); the reason is this package's.
func TestCanaryEverywhere(t *testing.T) {
	for _, c := range canaries {
		t.Run(c[:8], func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			file := filepath.Join(t.TempDir(), "value")
			if err := os.WriteFile(file, []byte(c+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			nameRest := strings.ToUpper(strings.NewReplacer("/", "_").Replace(c))
			prefix := func(o *env.Options) { o.Prefix = "MCP_CI_" }
			cases := []struct {
				name    string
				vars    map[string]string
				opts    func(*env.Options)
				profile string
				wantErr error
			}{
				{"values", map[string]string{"AWS_ACCESS_KEY_ID": c, "AWS_SECRET_ACCESS_KEY": c}, nil, "default", nil},
				{"half a key pair", map[string]string{"AWS_ACCESS_KEY_ID": c}, nil, "default", env.ErrIncomplete},
				{"value and _FILE both set", map[string]string{"AWS_ACCESS_KEY_ID": c, "AWS_ACCESS_KEY_ID_FILE": file}, nil, "default", env.ErrConflict},
				{"_FILE content", map[string]string{"AWS_ACCESS_KEY_ID_FILE": file, "AWS_SECRET_ACCESS_KEY": c}, nil, "default", nil},
				{"prefix value", map[string]string{"MCP_CI_TOKEN": c}, prefix, "default", nil},
				{"prefix: token as a variable name", map[string]string{"MCP_CI_TOKEN": "v", "MCP_CI_" + nameRest: c}, prefix, "default", env.ErrBadName},
				{"prefix: token as a mixed-case variable name", map[string]string{"MCP_CI_" + strings.NewReplacer("/", "_").Replace(c): "v"}, prefix, "default", env.ErrBadName},
				{"prefix: token as a _FILE variable name", map[string]string{"MCP_CI_" + nameRest + "_FILE": file}, prefix, "default", env.ErrBadName},
				{"profile name", map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}, nil, c, provider.ErrNotFound},
			}
			for _, tc := range cases {
				opts := []func(*env.Options){func(o *env.Options) { o.Logger = logger }}
				if tc.opts != nil {
					opts = append(opts, tc.opts)
				}
				creds, err := newEnv(tc.vars, opts...).Retrieve(context.Background(), tc.profile)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
					}
					text := fmt.Sprintf("%v\n%+v", err, err)
					var pe *provider.Error
					if tc.profile == c && errors.As(err, &pe) {
						text = pe.Locator + "\n" + pe.Err.Error()
					} else {
						logger.Error("retrieve failed", "err", err)
					}
					if strings.Contains(strings.ToLower(text), strings.ToLower(c)) {
						t.Errorf("%s: error reveals the canary: %s", tc.name, text)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				for _, s := range []string{creds.String(), fmt.Sprintf("%v %+v %#v %s %q", creds, creds, creds, creds, creds)} {
					if strings.Contains(strings.ToLower(s), strings.ToLower(c)) {
						t.Errorf("%s: credentials reveal the canary: %s", tc.name, s)
					}
				}
				logger.Info("retrieved", "creds", creds)
			}
			if strings.Contains(strings.ToLower(logs.String()), strings.ToLower(c)) {
				t.Errorf("logs reveal the canary:\n%s", logs.String())
			}
		})
	}
}
