package mcptool_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

func TestCheckSources(t *testing.T) {
	write := func(t *testing.T, name, text string, mode os.FileMode) string {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const creds = "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n"
	for _, tc := range []struct {
		name     string
		profiles func(t *testing.T) string // the profiles file's path
		creds    func(t *testing.T) string // the credentials file's path
		want     string                    // in the error; "" for none
	}{
		{name: "all fine", profiles: func(t *testing.T) string { return write(t, "profiles.json", `{"profiles": {}}`, 0o600) },
			creds: func(t *testing.T) string { return write(t, "credentials", creds, 0o600) }},
		{name: "no files at all", profiles: func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.json") },
			creds: func(t *testing.T) string { return filepath.Join(t.TempDir(), "none") }},
		{name: "malformed profiles file", profiles: func(t *testing.T) string { return write(t, "profiles.json", `{"profiles": `, 0o600) },
			creds: func(t *testing.T) string { return write(t, "credentials", creds, 0o600) }, want: "profiles.json"},
		{name: "profiles file others can write", profiles: func(t *testing.T) string { return write(t, "profiles.json", `{"profiles": {}}`, 0o666) },
			creds: func(t *testing.T) string { return write(t, "credentials", creds, 0o600) }, want: "has mode 0666"},
		{name: "credentials file others can read", profiles: func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.json") },
			creds: func(t *testing.T) string { return write(t, "credentials", creds, 0o644) }, want: "has mode 0644"},
		{name: "malformed credentials file", profiles: func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.json") },
			creds: func(t *testing.T) string { return write(t, "credentials", creds+"not INI\n", 0o600) }, want: "credentials:4:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var schemes provider.Schemes
			profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Path = tc.profiles(t) })
			if err != nil {
				t.Fatal(err)
			}
			var remote atomic.Int32 // a source that is not local is never asked
			chain := []provider.Provider{
				profiles,
				file.New(func(o *file.Options) { o.Path = tc.creds(t) }),
				provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
					remote.Add(1)
					return provider.Credentials{}, errors.New("asked")
				}), "keychain"),
				nil,
			}
			err = mcptool.CheckSources(t.Context(), chain, provider.DefaultProfile, "env", file.Name, "secretfile")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckSources: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("CheckSources = %v, want an error holding %q", err, tc.want)
			}
			if remote.Load() != 0 {
				t.Error("CheckSources asked a source that is not local")
			}
		})
	}
}
