package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// sharedBin builds credctl once for the tests of this file.
func sharedBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "credctl-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "credctl")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

// home is a throwaway home with ~/.mcp, and the environment credctl runs
// with: this process's, minus every variable the configuration reads.
type home struct {
	dir, creds, profiles string
	env                  map[string]string
}

func newHome(t *testing.T) *home {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	if err := os.Mkdir(filepath.Join(dir, ".mcp"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &home{dir: dir, creds: filepath.Join(dir, ".mcp", "credentials"), profiles: filepath.Join(dir, ".mcp", "profiles.json"),
		env: map[string]string{"HOME": dir}}
}

func (h *home) write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// run runs credctl in h and fails the test if any output holds a value.
func (h *home) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(sharedBin(t), args...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "MCP_") || strings.HasPrefix(k, "VAULT_") || k == "HOME" || k == "MCPCRED_FINGERPRINT_KEY" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run credctl: %v", err)
	}
	r := result{out.String(), errb.String(), code}
	for _, v := range []string{canary, "AKIAENVKEY", "AKIAFILEKEY"} {
		if strings.Contains(r.stdout+r.stderr, v) {
			t.Fatalf("credctl %v printed a value:\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
		}
	}
	return r
}

const credsINI = `[default]
aws_access_key_id = AKIAFILEKEY
aws_secret_access_key = ` + canary + `-default

[production]
aws_access_key_id = AKIAFILEKEY2
aws_secret_access_key = ` + canary + `-production
region = eu-west-1
`

const profilesJSON = `{
  "profiles": {
    "prod": {"source": "file:production"},
    "ops":  {"source": "file:production", "allow": {"groups": ["sre"], "issuers": ["https://idp.example.com"]}}
  }
}
`

func healthyHome(t *testing.T) *home {
	h := newHome(t)
	h.write(t, h.creds, credsINI, 0o600)
	h.write(t, h.profiles, profilesJSON, 0o600)
	h.env["AWS_ACCESS_KEY_ID"] = "AKIAENVKEY"
	h.env["AWS_SECRET_ACCESS_KEY"] = canary + "-env"
	h.env["MCP_ALLOWED_REFERENCES"] = "env:MCP_CI_*"
	h.env["MCP_CI_ACCESS_KEY_ID"] = "AKIAENVKEY2"
	h.env["MCP_CI_SECRET_ACCESS_KEY"] = canary + "-ci"
	h.env["MCP_CREDENTIAL_SOURCE"] = "docker-secrets" // no keychain: these tests need no keyring
	h.env["MCP_SECRETS_DIR"] = filepath.Join(h.dir, "secrets")
	return h
}

func TestDoctorHealthy(t *testing.T) {
	h := healthyHome(t)
	r := h.run(t, "", "doctor")
	if r.code != 0 {
		t.Fatalf("doctor on a healthy setup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"chain profile → env → file → secretfile",
		"credentials file", "mode 0600",
		`profile "default" (default)`, "answered  from env",
		"would answer too, with other values",
		`profile "prod"`, `profile "ops"`, `groups "sre"`,
		"ok: 0 error(s), 0 warning(s)",
		"hmac:",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = h.run(t, "", "doctor", "--json")
	var out struct {
		Failed   bool `json:"failed"`
		Profiles []struct {
			Profile string `json:"profile"`
			Answer  *struct {
				Fingerprints map[string]string `json:"fingerprints"`
			} `json:"answer"`
		} `json:"profiles"`
		Findings []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.Failed || len(out.Profiles) != 3 {
		t.Fatalf("doctor --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	// A key in the environment makes two runs agree; without one they do not.
	fp := func() string {
		r := h.run(t, "", "doctor", "--json")
		json.Unmarshal([]byte(r.stdout), &out)
		return out.Profiles[0].Answer.Fingerprints["secret_access_key"]
	}
	a, b := fp(), fp()
	if a == b || a == "" {
		t.Errorf("random keys, equal fingerprints %q %q", a, b)
	}
	h.env["MCPCRED_FINGERPRINT_KEY"] = "shared key"
	if a, b := fp(), fp(); a != b {
		t.Errorf("a shared key, different fingerprints %q %q", a, b)
	}
}

// TestDoctorBroken: each broken setup exits 1 and says what to do.
func TestDoctorBroken(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, h *home)
		want   []string
	}{
		{"world-readable credentials file", func(t *testing.T, h *home) { h.write(t, h.creds, credsINI, 0o644) },
			[]string{"INSECURE", "mode 0644", "fix: chmod 600 "}},
		{"insecure mode does not hide it", func(t *testing.T, h *home) {
			h.write(t, h.creds, credsINI, 0o644)
			h.env["MCP_INSECURE_MODE"] = "true"
		}, []string{"INSECURE", "fix: chmod 600 ", "WARNING MCP_INSECURE_MODE"}},
		{"group-writable profiles file", func(t *testing.T, h *home) { h.write(t, h.profiles, profilesJSON, 0o664) },
			[]string{"profiles file", "fix: chmod go-w "}},
		{"malformed profiles file", func(t *testing.T, h *home) {
			h.write(t, h.profiles, `{"profiles": {"prod": {"source": "file:production",}}}`, 0o600)
		}, []string{"invalid JSON syntax", "fix: correct line 1 of " + "" /* path follows */}},
		{"malformed credentials file", func(t *testing.T, h *home) {
			h.write(t, h.creds, "[production\naws_access_key_id = AKIAFILEKEY\n", 0o600)
		}, []string{"malformed credentials file", "fix: correct line 1 of "}},
		{"missing section", func(t *testing.T, h *home) {
			h.write(t, h.creds, "[default]\naws_access_key_id = AKIAFILEKEY\naws_secret_access_key = "+canary+"\n", 0o600)
		}, []string{"no section [production]", "CANNOT RESOLVE", `fix: store the credentials where the profile's "source" points`}},
		{"no credentials anywhere", func(t *testing.T, h *home) {
			delete(h.env, "AWS_ACCESS_KEY_ID")
			delete(h.env, "AWS_SECRET_ACCESS_KEY")
			os.Remove(h.creds)
		}, []string{`profile "default" (default)`, "CANNOT RESOLVE", "or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; or add a [default] section"}},
		{"bad active profile", func(t *testing.T, h *home) { h.env["MCP_ACTIVE_PROFILE"] = "../etc" },
			[]string{"ERROR environment: profile: MCP_ACTIVE_PROFILE"}},
		{"malformed reference pattern", func(t *testing.T, h *home) { h.env["MCP_ALLOWED_REFERENCES"] = "env" },
			[]string{"ERROR environment: MCP_ALLOWED_REFERENCES", "has no scheme"}},
		{"pattern that covers nothing", func(t *testing.T, h *home) { h.env["MCP_ALLOWED_REFERENCES"] = "env:MCP_CI_*,file:staging" },
			[]string{"ERROR reference policy", `"file:staging"`}},
		{"retired variable", func(t *testing.T, h *home) { h.env["MCP_ALLOWED_PROFILES"] = "prod" },
			[]string{"ERROR MCP_ALLOWED_PROFILES", "unset MCP_ALLOWED_PROFILES"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := healthyHome(t)
			tt.break_(t, h)
			for _, args := range [][]string{{"doctor"}, {"doctor", "--json"}} {
				r := h.run(t, "", args...)
				if r.code != 1 {
					t.Errorf("%v: exit %d, want 1\n%s%s", args, r.code, r.stdout, r.stderr)
				}
				if len(args) == 2 {
					var out struct{ Failed bool }
					if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !out.Failed {
						t.Errorf("--json: %v, failed=%v", err, out.Failed)
					}
					continue
				}
				for _, w := range tt.want {
					if !strings.Contains(r.stdout, w) {
						t.Errorf("output lacks %q:\n%s", w, r.stdout)
					}
				}
			}
		})
	}
}

func TestExplain(t *testing.T) {
	h := healthyHome(t)
	r := h.run(t, "", "explain", "prod")
	if r.code != 0 || !strings.Contains(r.stdout, "1. profile    answered") || !strings.Contains(r.stdout, "a stdio request may select it") {
		t.Fatalf("explain prod: %+v", r)
	}
	r = h.run(t, "", "explain", "staging")
	if r.code != 1 || !strings.Contains(r.stdout, "no request may select it") {
		t.Fatalf("explain staging: %+v", r)
	}
	r = h.run(t, "", "explain", "--reference", "env:MCP_CI_*")
	if r.code != 0 || !strings.Contains(r.stdout, "reads env:MCP_CI_*: covered by env:MCP_CI_*") || !strings.Contains(r.stdout, "decision: allowed") {
		t.Fatalf("explain an allowed reference: %+v", r)
	}
	r = h.run(t, "", "explain", "--reference", "env:MCP_CI_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY")
	if r.code != 1 || !strings.Contains(r.stdout, "reads env:AWS_SECRET_ACCESS_KEY: NOT COVERED") || !strings.Contains(r.stdout, "decision: refused") ||
		strings.Contains(r.stdout, "answered") {
		t.Fatalf("explain a refused reference: %+v", r)
	}
	r = h.run(t, "", "explain", "--json", "--reference", "env:MCP_CI_*")
	var out struct {
		Reference struct {
			Allowed   bool
			Resources []struct {
				Resource  string `json:"resource"`
				CoveredBy string `json:"covered_by"`
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !out.Reference.Allowed || out.Reference.Resources[0].CoveredBy != "env:MCP_CI_*" {
		t.Fatalf("explain --json: %v %s", err, r.stdout)
	}
	// A secret typed where a profile name belongs is not repeated.
	if r := h.run(t, "", "explain", "ghp_"+canary); r.code != 1 {
		t.Fatalf("explain a secret: %+v", r)
	}
	for _, args := range [][]string{{"doctor", "--chain", "env,nope"}, {"doctor", "--chain", "env", "--server", "whitelist-mcp"}, {"doctor", "--server", "other"}, {"doctor", "extra"}} {
		if r := h.run(t, "", args...); r.code != 2 {
			t.Errorf("%v: %+v, want exit 2", args, r)
		}
	}
	if r := h.run(t, "", "explain"); r.code != 2 {
		t.Fatalf("explain without a profile: %+v", r)
	}
}

// TestImportRefusals need no keyring: each is refused before a store is
// touched.
func TestImportRefusals(t *testing.T) {
	h := healthyHome(t)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import", "--from", h.creds}, 2, "want --from"},
		{[]string{"import", "--from", h.creds, "--to", "somewhere"}, 2, "--to is keychain or vault:PATH"},
		{[]string{"import", "--from", h.creds, "--to", "keychain", "--profile", "a/b"}, 2, "cannot be a profile name"},
		{[]string{"import", "--from", h.creds, "--to", "keychain", "--profile", "staging"}, 1, "no section [staging]"},
		{[]string{"import", "--from", filepath.Join(h.dir, "nope"), "--to", "keychain"}, 1, "no credentials file"},
		{[]string{"import", "--from", h.creds, "--to", "vault:secret/data/x#field"}, 1, "no #field"},
	} {
		r := h.run(t, "", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: %+v, want exit %d and %q", tt.args[1:], r, tt.code, tt.want)
		}
	}
	h.write(t, h.creds, credsINI, 0o644)
	if r := h.run(t, "", "import", "--from", h.creds, "--to", "keychain"); r.code != 1 || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("an insecure source file: %+v", r)
	}
	h.write(t, h.creds, "[default]\naws_access_key_id = AKIAFILEKEY\n  "+canary+"\n", 0o600)
	if r := h.run(t, "", "import", "--from", h.creds, "--to", "keychain"); r.code != 1 || !strings.Contains(r.stderr, "credentials:3: ") {
		t.Errorf("a malformed source file: %+v", r)
	}
}

// TestImportKeychain moves a section of a credentials file and the
// environment into the real keychain; it runs inside .ci/keyring-tests.sh.
func TestImportKeychain(t *testing.T) {
	sandbox(t)
	ctx := context.Background()
	h := healthyHome(t)
	delete(h.env, "MCP_CREDENTIAL_SOURCE") // the keychain is in the chain
	profile := "imp-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "-")
	kc := keychain.New()
	t.Cleanup(func() { kc.Delete(ctx, profile) })
	h.write(t, h.creds, credsINI+"\n["+profile+"]\naws_access_key_id = AKIAFILEKEY3\naws_secret_access_key = "+canary+"-imp\n", 0o600)

	r := h.run(t, "", "import", "--from", h.creds, "--profile", profile, "--to", "keychain")
	if r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	for _, want := range []string{"read back and compared: identical", "delete lines 10-12 of " + h.creds, `"source": "keychain:` + profile + `"`, "credctl doctor"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, r.stdout)
		}
	}
	c, err := kc.Retrieve(ctx, profile)
	if err != nil || c.Value("secret_access_key") != canary+"-imp" || c.Value("access_key_id") != "AKIAFILEKEY3" {
		t.Fatalf("keychain holds %v, %v", c, err)
	}
	// Again: refused without --force, and nothing changes.
	h.write(t, h.creds, "["+profile+"]\naws_access_key_id = AKIAFILEKEY4\naws_secret_access_key = "+canary+"-new\n", 0o600)
	if r := h.run(t, "", "import", "--from", h.creds, "--profile", profile, "--to", "keychain"); r.code != 1 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("overwrite without --force: %+v", r)
	}
	if c, _ := kc.Retrieve(ctx, profile); c.Value("secret_access_key") != canary+"-imp" {
		t.Fatal("a refused import changed the keychain")
	}
	r = h.run(t, "", "import", "--from", h.creds, "--profile", profile, "--to", "keychain", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "shred -u "+h.creds) {
		t.Fatalf("import --force: %+v", r)
	}
	if c, _ := kc.Retrieve(ctx, profile); c.Value("secret_access_key") != canary+"-new" {
		t.Fatal("import --force did not replace the value")
	}
	// From the environment, under another name.
	r = h.run(t, "", "import", "--from", "env", "--profile", profile+"-env", "--to", "keychain")
	t.Cleanup(func() { kc.Delete(ctx, profile+"-env") })
	if r.code != 0 || !strings.Contains(r.stdout, "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("import --from env: %+v", r)
	}
	if c, err := kc.Retrieve(ctx, profile+"-env"); err != nil || c.Value("secret_access_key") != canary+"-env" {
		t.Fatalf("keychain holds %v, %v", c, err)
	}
	// The doctor finds the imported profile through a profiles file
	// pointing at the keychain.
	h.write(t, h.profiles, `{"profiles": {"`+profile+`": {"source": "keychain:`+profile+`"}}}`, 0o600)
	r = h.run(t, "", "doctor")
	if r.code != 0 || !strings.Contains(r.stdout, "via keychain") {
		t.Fatalf("doctor after import: %+v", r)
	}
}

// TestKeychainLocked locks the Secret Service collection: doctor reports
// the keychain unavailable with the fix, a profile whose source is the
// keychain cannot resolve (exit 1), and import fails without storing.
func TestKeychainLocked(t *testing.T) {
	sandbox(t)
	ctx := context.Background()
	h := healthyHome(t)
	delete(h.env, "MCP_CREDENTIAL_SOURCE")
	profile := "locked-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "-")
	kc := keychain.New()
	if err := kc.Store(ctx, profile, map[string]provider.Secret{"access_key_id": provider.NewSecret("AKIAFILEKEY"), "secret_access_key": provider.NewSecret(canary)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kc.Delete(ctx, profile) })
	h.write(t, h.profiles, `{"profiles": {"`+profile+`": {"source": "keychain:`+profile+`"}}}`, 0o600)

	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	if err := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets").Call("org.freedesktop.Secret.Service.Lock", 0,
		[]dbus.ObjectPath{"/org/freedesktop/secrets/collection/login"}).Store(&locked, &prompt); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	conn.Close()
	t.Cleanup(func() { restartKeyring(t) }) // a fresh daemon unlocks with the password

	r := h.run(t, "", "doctor", "--timeout", "3s")
	if r.code != 1 || !strings.Contains(r.stdout, "CANNOT RESOLVE") || !strings.Contains(r.stdout, "unlock the keyring") {
		t.Fatalf("doctor with a locked keyring: %+v", r)
	}
	r = h.run(t, "", "import", "--from", h.creds, "--profile", "production", "--to", "keychain", "--timeout", "5s")
	if r.code != 1 || !(strings.Contains(r.stderr, "locked") || strings.Contains(r.stderr, "deadline")) {
		t.Fatalf("import into a locked keyring: %+v", r)
	}
}

// restartKeyring replaces the keyring daemon with one unlocked with the
// sandbox's password, and waits until it answers.
func restartKeyring(t *testing.T) {
	t.Helper()
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--replace", "--unlock", "--components=secrets")
	cmd.Stdin = strings.NewReader(os.Getenv("MCPCRED_KEYRING_TEST_PASSWORD"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gnome-keyring-daemon: %v", err)
	}
	go cmd.Wait()
	kc := keychain.New()
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := kc.Profiles(ctx)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the keyring daemon did not come back unlocked")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binErr == nil && binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
