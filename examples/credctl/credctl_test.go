package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/resolver"
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

// sandbox skips (or, under CI=true, fails) a test outside the throwaway
// Secret Service of .ci/keyring-tests.sh.
func sandbox(t *testing.T) {
	t.Helper()
	if os.Getenv("MCPCRED_KEYRING_SANDBOX") != "1" {
		msg := "needs a throwaway Secret Service: run .ci/keyring-tests.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// TestEndToEnd stores a secret piped on stdin and checks it in the real
// keychain; it runs inside .ci/keyring-tests.sh.
func TestEndToEnd(t *testing.T) {
	sandbox(t)
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
	if _, err := kc.Retrieve(ctx, profile); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// TestSetRefusesNamesMcpcredCannotRead: set refuses, before reading any
// value or touching the keychain, a profile or field name that could be
// stored but never read back (by the resolver, which takes the profile name,
// or through a keychain: reference), and does not echo a secret-looking one
// (credctl fails the test on any output holding the canary).
func TestSetRefusesNamesMcpcredCannotRead(t *testing.T) {
	sandbox(t)
	bin := build(t)
	ctx := context.Background()
	kc := keychain.New()
	tests := []struct {
		name    string
		profile string
		fields  []string
	}{
		{"path separator", "Bad/Name", []string{"token"}},
		{"backslash", `Bad\Name`, []string{"token"}},
		{"colon", "a:b", []string{"token"}},
		{"hash", "a#b", []string{"token"}},
		{"question mark", "a?b", []string{"token"}},
		{"space", "a b", []string{"token"}},
		{"leading space", " ab", []string{"token"}},
		{"dot dot", "..", []string{"token"}},
		{"dot", ".", []string{"token"}},
		{"star", "team*", []string{"token"}},
		{"control", "a\x01b", []string{"token"}},
		{"bidi", "a\u202eb", []string{"token"}},
		{"too long", strings.Repeat("p", 129), []string{"token"}},
		{"field with dash", "credctl-names", []string{"Bad-Field"}},
		{"field upper case", "credctl-names", []string{"Token"}},
		{"field with dot", "credctl-names", []string{"a.b"}},
		{"field index name", "credctl-names", []string{"_fields"}},
		{"field underscore first", "credctl-names", []string{"_x"}},
		{"field too long", "credctl-names", []string{strings.Repeat("f", 65)}},
		{"field hash", "credctl-names", []string{"a#b"}},
		{"second field bad", "credctl-names", []string{"token", "Bad-Field"}},
		{"secret as profile", "wJalrXUtnFEMI/K7MDENG/" + canary, []string{"token"}},
		{"secret as field", "credctl-names", []string{"ghp_" + canary}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdin := strings.Repeat(canary+"\n", len(tt.fields))
			r := credctl(t, bin, stdin, append([]string{"set", "--profile", tt.profile}, tt.fields...)...)
			if r.code != 2 || !strings.Contains(r.stderr, "credctl: ") {
				t.Fatalf("set: %+v, want exit 2 with a reason", r)
			}
			if profiles, err := kc.Profiles(ctx); err == nil && slices.Contains(profiles, tt.profile) {
				t.Errorf("profile stored anyway")
			}
			if _, err := kc.Retrieve(ctx, tt.profile); err == nil {
				t.Errorf("profile readable after a refused set")
			}
		})
	}
}

// TestSetReadsBackExactly: what set stores reads back byte for byte through
// the keychain provider, through the keychain:PROFILE and
// keychain:PROFILE#FIELD references, and through a resolver asked for the
// profile, for names at the edges of the rules and values of every shape.
func TestSetReadsBackExactly(t *testing.T) {
	sandbox(t)
	bin := build(t)
	ctx := context.Background()
	scheme := keychain.Scheme()
	values := []string{canary, "  padded  ", "with=equals&amp;#hash", "unicode \u00e9\u4e2d", strings.Repeat("v", keychain.MaxValueBytes)}
	for _, tt := range []struct {
		profile string
		fields  []string
		service string
	}{
		{profile: "credctl-rt", fields: []string{"access_key_id", "secret_access_key", "session_token", "region", "x9_y"}},
		{profile: "Team.A_2-prod", fields: []string{"token"}},
		{profile: "AKIAIOSFODNN7EXAMPLE", fields: []string{"password", "username"}},
		{profile: strings.Repeat("p", 128), fields: []string{strings.Repeat("f", 64)}},
		{profile: "other-service", fields: []string{"token"}, service: "credctl-test"},
	} {
		t.Run(tt.profile[:min(len(tt.profile), 20)], func(t *testing.T) {
			args := []string{"set", "--profile", tt.profile}
			body := tt.profile
			service := keychain.DefaultService
			if tt.service != "" {
				args = append(args, "--service", tt.service)
				body, service = tt.service+"/"+tt.profile, tt.service
			}
			kc := keychain.New(func(o *keychain.Options) { o.Service = service })
			t.Cleanup(func() { kc.Delete(ctx, tt.profile) })
			want := map[string]string{}
			for i, f := range tt.fields {
				v := values[i%len(values)]
				if len(tt.fields) > 1 && len(v) > 200 {
					v = v[:200]
				}
				want[f] = v
				// One field per set: the whole of stdin is the value.
				if r := credctl(t, bin, v, append(slices.Clone(args), f)...); r.code != 0 {
					t.Fatalf("set %s: %+v", f, r)
				}
			}
			check := func(how string, c provider.Credentials, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				for f, v := range want {
					if got := c.Value(f); got != v {
						t.Errorf("%s: field %s reads back %d bytes that differ from the %d stored", how, f, len(got), len(v))
					}
				}
			}
			c, err := kc.Retrieve(ctx, tt.profile)
			check("keychain provider", c, err)

			ref, err := provider.ParseRef("keychain:" + body)
			if err != nil {
				t.Fatalf("keychain:PROFILE does not parse: %v", err)
			}
			target, err := scheme.Open(ref)
			if err != nil {
				t.Fatalf("keychain:PROFILE does not open: %v", err)
			}
			c, err = target.Provider.Retrieve(ctx, "")
			check("keychain:PROFILE", c, err)
			for f, v := range want {
				ref, err := provider.ParseRef("keychain:" + body + "#" + f)
				if err != nil {
					t.Fatalf("keychain:PROFILE#FIELD does not parse: %v", err)
				}
				target, err := scheme.Open(ref)
				if err != nil {
					t.Fatalf("keychain:PROFILE#FIELD does not open: %v", err)
				}
				c, err := target.Provider.Retrieve(ctx, "")
				if err != nil || c.Value(f) != v {
					t.Errorf("keychain:PROFILE#FIELD: %v, value differs: %v", err, c.Value(f) != v)
				}
			}
			if tt.service == "" {
				r, err := resolver.New([]provider.Provider{kc}, func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile })
				if err != nil {
					t.Fatal(err)
				}
				res, err := r.Resolve(ctx, resolver.Request{Profile: tt.profile})
				check("resolver", res.Credentials, err)
			}
		})
	}
}
