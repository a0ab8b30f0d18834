package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
)

const canary = "CANARY-SECRET-d3adb33f"

// build compiles credctl once per test.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "credctl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type result struct {
	stdout, stderr string
	code           int
}

func credctl(t *testing.T, bin, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
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
	if strings.Contains(r.stdout+r.stderr, canary) {
		t.Fatalf("credctl %v printed the secret:\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
	}
	return r
}

// TestRefusesValuesInArgv needs no keyring: a value-looking argument is
// refused before anything is touched, and not echoed.
func TestRefusesValuesInArgv(t *testing.T) {
	bin := build(t)
	for _, args := range [][]string{
		{"set", "--profile", "p", "token=" + canary},
		{"set", "--profile", "p", "token:" + canary},
		{"set", "--profile", "p", "--value", canary},
	} {
		r := credctl(t, bin, "", args...)
		if r.code != 2 {
			t.Errorf("credctl %v: exit %d, want 2 (usage)", args[:3], r.code)
		}
	}
	if r := credctl(t, bin, ""); r.code != 2 || !strings.Contains(r.stderr, "usage") {
		t.Errorf("no args: %+v", r)
	}
}

// TestEndToEnd stores a secret piped on stdin and checks it in the real
// keychain; it runs inside .ci/keyring-tests.sh.
func TestEndToEnd(t *testing.T) {
	if os.Getenv("MCPCRED_KEYRING_SANDBOX") != "1" {
		msg := "needs a throwaway Secret Service: run .ci/keyring-tests.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	bin := build(t)
	profile := fmt.Sprintf("credctl-e2e-%d", time.Now().UnixNano())
	ctx := context.Background()
	kc := keychain.New()

	r := credctl(t, bin, canary+"\n", "set", "--profile", profile, "token")
	if r.code != 0 || !strings.Contains(r.stdout, "token = "+provider.Redacted) {
		t.Fatalf("set: %+v", r)
	}
	c, err := kc.Retrieve(ctx, profile)
	if err != nil || c.Value("token") != canary {
		t.Fatalf("stored value: %v, %v (want the piped secret without its newline)", c, err)
	}

	r = credctl(t, bin, "AKIAEXAMPLE\n"+canary+"-2\n", "set", "--profile", profile, "access_key_id", "secret_access_key")
	if r.code != 0 {
		t.Fatalf("set two fields: %+v", r)
	}
	if c, err = kc.Retrieve(ctx, profile); err != nil || c.Value("access_key_id") != "AKIAEXAMPLE" || c.Value("secret_access_key") != canary+"-2" || c.Value("token") != canary {
		t.Fatalf("after second set: %v, %v", c, err)
	}

	r = credctl(t, bin, "", "get", "--profile", profile)
	if r.code != 0 || strings.Count(r.stdout, provider.Redacted) != 3 {
		t.Fatalf("get: %+v", r)
	}
	r = credctl(t, bin, "", "list")
	if r.code != 0 || !strings.Contains(r.stdout, profile+"\n") {
		t.Fatalf("list: %+v", r)
	}
	r = credctl(t, bin, "", "list", "--profile", profile)
	if r.code != 0 || r.stdout != "access_key_id\nsecret_access_key\ntoken\n" {
		t.Fatalf("list --profile: %+v", r)
	}
	// Too many lines for the fields named.
	r = credctl(t, bin, "a\nb\nc\n", "set", "--profile", profile, "x", "y")
	if r.code != 1 || !strings.Contains(r.stderr, "one per field") {
		t.Fatalf("line count mismatch: %+v", r)
	}
	// Over the size limit: refused, nothing printed of the value.
	r = credctl(t, bin, canary+strings.Repeat("z", keychain.MaxValueBytes), "set", "--profile", profile, "big")
	if r.code != 1 || !strings.Contains(r.stderr, "over the limit") {
		t.Fatalf("oversize: %+v", r)
	}

	r = credctl(t, bin, "", "delete", "--profile", profile, "token")
	if r.code != 0 {
		t.Fatalf("delete field: %+v", r)
	}
	r = credctl(t, bin, "", "delete", "--profile", profile)
	if r.code != 0 {
		t.Fatalf("delete profile: %+v", r)
	}
	r = credctl(t, bin, "", "get", "--profile", profile)
	if r.code != 1 || !strings.Contains(r.stderr, "no items") {
		t.Fatalf("get after delete: %+v", r)
	}
	if _, err := kc.Retrieve(ctx, profile); !provider.IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
}
