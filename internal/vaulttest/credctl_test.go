package vaulttest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The credctl tests drive the operator's tool (examples/credctl, built from
// the library's module) against the in-process Vault: import writes through
// the Vault API client and reads back through provider/vault; doctor and
// explain walk a chain holding provider/vault.

const credctlCanary = "CANARY-credctl-v4ult"

var (
	credctlOnce sync.Once
	credctlBin  string
	credctlErr  error
)

func buildCredctl(t *testing.T) string {
	t.Helper()
	credctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "credctl")
		if err != nil {
			credctlErr = err
			return
		}
		credctlBin = filepath.Join(dir, "credctl")
		cmd := exec.Command("go", "build", "-o", credctlBin, "./examples/credctl")
		cmd.Dir = filepath.Join("..", "..") // the library's module
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			credctlErr = err
			credctlBin = string(out)
		}
	})
	if credctlErr != nil {
		t.Fatalf("build credctl: %v\n%s", credctlErr, credctlBin)
	}
	return credctlBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if credctlErr == nil && credctlBin != "" {
		os.RemoveAll(filepath.Dir(credctlBin))
	}
	os.Exit(code)
}

type credctlResult struct {
	stdout, stderr string
	code           int
}

// credctlHome is a throwaway home with a credentials file, and the
// environment credctl runs with.
type credctlHome struct {
	dir, creds string
	env        []string
}

func newCredctlHome(t *testing.T, s *server) *credctlHome {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	os.Mkdir(filepath.Join(dir, ".mcp"), 0o700)
	h := &credctlHome{dir: dir, creds: filepath.Join(dir, ".mcp", "credentials")}
	h.writeCreds(t, "[default]\naws_access_key_id = AKIACREDCTL1\naws_secret_access_key = "+credctlCanary+"-1\n\n[rotated]\naws_access_key_id = AKIACREDCTL2\naws_secret_access_key = "+credctlCanary+"-2\n")
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "MCP_") || strings.HasPrefix(k, "VAULT_") || k == "HOME" || k == "DBUS_SESSION_BUS_ADDRESS" {
			continue
		}
		h.env = append(h.env, kv)
	}
	// No session bus: the keychain has nothing, quickly.
	h.env = append(h.env, "HOME="+dir, "VAULT_ADDR="+s.URL, "VAULT_TOKEN="+s.root, "VAULT_MAX_RETRIES=0",
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus"))
	return h
}

func (h *credctlHome) writeCreds(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(h.creds, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (h *credctlHome) run(t *testing.T, extraEnv []string, args ...string) credctlResult {
	t.Helper()
	cmd := exec.Command(buildCredctl(t), args...)
	cmd.Env = append(append([]string(nil), h.env...), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run credctl: %v", err)
	}
	r := credctlResult{out.String(), errb.String(), code}
	if strings.Contains(r.stdout+r.stderr, credctlCanary) || strings.Contains(r.stdout+r.stderr, "AKIACREDCTL") {
		t.Fatalf("credctl %v printed a value:\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
	}
	return r
}

func (s *server) kv2(t *testing.T, path string) map[string]any {
	t.Helper()
	sec, err := s.admin.KVv2("secret").Get(context.Background(), path)
	if err != nil {
		t.Fatalf("read secret/%s: %v", path, err)
	}
	return sec.Data
}

// TestCredctlImportVault: import writes a KV v2 and a KV v1 secret, reads
// them back, refuses to overwrite without --force, explains what it cannot
// write, and fails cleanly on a token without write access and a sealed
// Vault.
func TestCredctlImportVault(t *testing.T) {
	s := startServer(t)
	h := newCredctlHome(t, s)

	r := h.run(t, nil, "import", "--from", "~/.mcp/credentials", "--to", "vault:secret/data/mcp/imported")
	if r.code != 0 || !strings.Contains(r.stdout, "read back and compared: identical") || !strings.Contains(r.stdout, "delete lines 1-3 of "+h.creds) ||
		!strings.Contains(r.stdout, `"default": {"source": "vault:secret/data/mcp/imported"}`) {
		t.Fatalf("import: %+v", r)
	}
	if d := s.kv2(t, "mcp/imported"); d["access_key_id"] != "AKIACREDCTL1" || d["secret_access_key"] != credctlCanary+"-1" {
		t.Fatalf("Vault holds %d keys that differ from the file's", len(d))
	}

	// Again, from another section: refused without --force; nothing changes.
	r = h.run(t, nil, "import", "--from", h.creds, "--profile", "rotated", "--to", "vault:secret/data/mcp/imported")
	if r.code != 1 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("overwrite without --force: %+v", r)
	}
	if d := s.kv2(t, "mcp/imported"); d["secret_access_key"] != credctlCanary+"-1" {
		t.Fatal("a refused import changed the secret")
	}
	r = h.run(t, nil, "import", "--from", h.creds, "--profile", "rotated", "--to", "vault:secret/data/mcp/imported", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "previous version stays readable") {
		t.Fatalf("import --force: %+v", r)
	}
	if d := s.kv2(t, "mcp/imported"); d["secret_access_key"] != credctlCanary+"-2" {
		t.Fatal("import --force did not replace the secret")
	}

	// KV v1.
	r = h.run(t, nil, "import", "--from", h.creds, "--to", "vault:kv1/mcp/imported")
	if r.code != 0 {
		t.Fatalf("import to KV v1: %+v", r)
	}
	if sec, err := s.admin.Logical().Read("kv1/mcp/imported"); err != nil || sec.Data["secret_access_key"] != credctlCanary+"-1" {
		t.Fatalf("KV v1 secret: %v", err)
	}
	// From the environment.
	r = h.run(t, []string{"AWS_ACCESS_KEY_ID=AKIACREDCTL3", "AWS_SECRET_ACCESS_KEY=" + credctlCanary + "-3"},
		"import", "--from", "env", "--to", "vault:secret/data/mcp/from-env")
	if r.code != 0 || !strings.Contains(r.stdout, "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("import --from env: %+v", r)
	}
	if d := s.kv2(t, "mcp/from-env"); d["secret_access_key"] != credctlCanary+"-3" {
		t.Fatal("import --from env wrote something else")
	}

	for _, tt := range []struct {
		name string
		env  []string
		to   string
		want string
	}{
		{"KV v2 path without data/", nil, "vault:secret/mcp/other", "vault:secret/data/mcp/other"},
		{"not a KV mount", nil, "vault:leased/creds/x", "not on a KV mount"},
		{"read-only token", []string{"VAULT_TOKEN=" + s.token("1h", false)}, "vault:secret/data/mcp/denied", "HTTP 403"},
		{"no token", []string{"VAULT_TOKEN="}, "vault:secret/data/mcp/notoken", "no token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(t, tt.env, "import", "--from", h.creds, "--to", tt.to)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("%+v, want exit 1 and %q", r, tt.want)
			}
		})
	}

	s.seal()
	r = h.run(t, nil, "import", "--from", h.creds, "--to", "vault:secret/data/mcp/sealed")
	if r.code != 1 || !strings.Contains(r.stderr, "sealed") || !strings.Contains(r.stderr, "vault operator unseal") {
		t.Fatalf("import into a sealed Vault: %+v", r)
	}
}

// TestCredctlDoctorVault: doctor and explain with provider/vault in the
// chain, healthy and sealed.
func TestCredctlDoctorVault(t *testing.T) {
	s := startServer(t)
	h := newCredctlHome(t, s)
	os.Remove(h.creds)
	s.putKV2("mcp/default", map[string]any{"access_key_id": "AKIACREDCTL4", "secret_access_key": credctlCanary + "-4"})
	s.putKV2("mcp/ci", map[string]any{"access_key_id": "AKIACREDCTL5", "secret_access_key": credctlCanary + "-5"})
	doctor := []string{"doctor", "--chain", "env,file,vault", "--required", "access_key_id,secret_access_key", "--timeout", "5s"}

	r := h.run(t, nil, doctor...)
	if r.code != 0 || !strings.Contains(r.stdout, "3. vault      answered") {
		t.Fatalf("doctor with Vault: %+v", r)
	}
	refs := []string{"MCP_ALLOWED_REFERENCES=vault:secret/data/mcp/*"}
	r = h.run(t, refs, "explain", "--chain", "env,vault", "--reference", "vault:secret/data/mcp/ci")
	if r.code != 0 || !strings.Contains(r.stdout, "reads vault:secret/data/mcp/ci: covered by vault:secret/data/mcp/*") || !strings.Contains(r.stdout, "answered") {
		t.Fatalf("explain a Vault reference: %+v", r)
	}
	r = h.run(t, refs, "explain", "--chain", "env,vault", "--reference", "vault:secret/data/other")
	if r.code != 1 || !strings.Contains(r.stdout, "NOT COVERED") {
		t.Fatalf("explain a refused Vault reference: %+v", r)
	}

	s.seal()
	r = h.run(t, nil, doctor...)
	if r.code != 1 || !strings.Contains(r.stdout, "CANNOT RESOLVE") || !strings.Contains(r.stdout, "unsealed (vault status") {
		t.Fatalf("doctor with a sealed Vault: %+v", r)
	}
	// The environment answers: the sealed Vault is a warning, not a failure.
	r = h.run(t, []string{"AWS_ACCESS_KEY_ID=AKIACREDCTL6", "AWS_SECRET_ACCESS_KEY=" + credctlCanary + "-6"}, doctor...)
	if r.code != 0 || !strings.Contains(r.stdout, "WARNING") || !strings.Contains(r.stdout, "vault status") {
		t.Fatalf("doctor with a sealed Vault behind the environment: %+v", r)
	}
	s.unseal()
	if r := h.run(t, nil, doctor...); r.code != 0 {
		t.Fatalf("doctor after unseal: %+v", r)
	}
}
