//go:build unix

package secretfile_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/secretfile"
)

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestPathTrust checks that secret files are trusted only when nobody else
// can replace them: the secrets directory, every directory on the way to it
// and to each file (the directory holding each symlink included), and the
// files themselves must not be writable by group or others, as for the
// credentials file (internal/securefile). Readable files (Docker's 0444,
// Kubernetes' 0644) are fine.
func TestPathTrust(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		build   func(t *testing.T, base string) (dir, bad string)
		profile string
	}{
		{"secrets directory reached through a symlink in a world-writable directory", func(t *testing.T, base string) (string, string) {
			real := filepath.Join(base, "real")
			writeFile(t, filepath.Join(real, "token"), "tok")
			ww := filepath.Join(base, "ww")
			if err := os.Mkdir(ww, 0o700); err != nil {
				t.Fatal(err)
			}
			chmod(t, ww, 0o777)
			symlink(t, real, filepath.Join(ww, "link"))
			return filepath.Join(ww, "link"), ww
		}, provider.DefaultProfile},
		{"group-writable ancestor of the secrets directory", func(t *testing.T, base string) (string, string) {
			a := filepath.Join(base, "a")
			writeFile(t, filepath.Join(a, "secrets", "token"), "tok")
			chmod(t, a, 0o775)
			return filepath.Join(a, "secrets"), a
		}, provider.DefaultProfile},
		{"group-writable secret file", func(t *testing.T, base string) (string, string) {
			f := filepath.Join(base, "secrets", "prod.json")
			writeFile(t, f, `{"token": "tok"}`)
			chmod(t, f, 0o664)
			return filepath.Join(base, "secrets"), f
		}, "prod"},
		{"symlink's target directory inside the secrets directory is world-writable", func(t *testing.T, base string) (string, string) {
			secrets := filepath.Join(base, "secrets")
			kubernetesDir(t, secrets, "v1", map[string]string{"token": "tok"})
			ts := filepath.Join(secrets, "..2031_v1")
			chmod(t, ts, 0o777)
			// A link of the writable directory's: its directory is the
			// problem, met while resolving token -> ..data/token.
			return secrets, ts
		}, provider.DefaultProfile},
		{"per-field directory writable by others", func(t *testing.T, base string) (string, string) {
			team := filepath.Join(base, "secrets", "team")
			writeFile(t, filepath.Join(team, "token"), "tok")
			chmod(t, team, 0o777)
			return filepath.Join(base, "secrets"), team
		}, "team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			dir, bad := tt.build(t, base)
			_, err = newDir(dir).Retrieve(ctx, tt.profile)
			if !errors.Is(err, secretfile.ErrInsecurePermissions) || errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("err = %v, want ErrInsecurePermissions naming %s", err, bad)
			}
			if !strings.Contains(err.Error(), " "+bad+" has mode ") || !strings.Contains(err.Error(), "fix with: chmod go-w "+bad) {
				t.Errorf("err = %v, want it to name %s and its fix", err, bad)
			}

			var logs bytes.Buffer
			p := newDir(dir, func(o *secretfile.Options) {
				o.Getenv = func(k string) string { return map[string]string{"MCP_INSECURE_MODE": "1"}[k] }
				o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			})
			c, err := p.Retrieve(ctx, tt.profile)
			if err != nil || c.Value("token") != "tok" {
				t.Fatalf("insecure mode: %v, %v", c, err)
			}
			if !strings.Contains(logs.String(), "insecure permissions because MCP_INSECURE_MODE is set") || !strings.Contains(logs.String(), bad) {
				t.Errorf("no warning naming %s:\n%s", bad, logs.String())
			}
		})
	}

	t.Run("sticky world-writable mount with entries owned by root or this user", func(t *testing.T) {
		secrets := filepath.Join(t.TempDir(), "secrets")
		kubernetesDir(t, secrets, "v1", map[string]string{"token": "tok"})
		chmod(t, secrets, 0o777|os.ModeSticky) // as a tmpfs secret volume may be mounted
		chmod(t, filepath.Join(secrets, "..2031_v1"), 0o755)
		chmod(t, filepath.Join(secrets, "..2031_v1", "token"), 0o644)
		c, err := newDir(secrets).Retrieve(ctx, provider.DefaultProfile)
		if err != nil || c.Value("token") != "tok" {
			t.Fatalf("Retrieve = %v, %v", c, err)
		}
	})
}
