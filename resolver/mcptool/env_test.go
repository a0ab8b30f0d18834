package mcptool_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	envprovider "github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

func TestReadEnv(t *testing.T) {
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want mcptool.Env
		pats []string
		err  string // "" for none
	}{
		{name: "defaults", want: mcptool.Env{ActiveProfile: "default"}},
		{name: "request credentials", env: map[string]string{"MCP_ALLOW_REQUEST_CREDENTIALS": "true"}, want: mcptool.Env{AllowRequestCredentials: true, ActiveProfile: "default"}},
		{name: "request credentials off", env: map[string]string{"MCP_ALLOW_REQUEST_CREDENTIALS": "0"}, want: mcptool.Env{ActiveProfile: "default"}},
		{name: "request credentials not a bool", env: map[string]string{"MCP_ALLOW_REQUEST_CREDENTIALS": secret},
			err: "MCP_ALLOW_REQUEST_CREDENTIALS=(a 38-byte value, not shown): want true or false"},
		{name: "request credentials yes", env: map[string]string{"MCP_ALLOW_REQUEST_CREDENTIALS": "yes"}, err: `MCP_ALLOW_REQUEST_CREDENTIALS="yes": want true or false`},
		{name: "active profile", env: map[string]string{"MCP_ACTIVE_PROFILE": "prod"}, want: mcptool.Env{ActiveProfile: "prod"}},
		{name: "active profile a path", env: map[string]string{"MCP_ACTIVE_PROFILE": "../" + secret}, err: "MCP_ACTIVE_PROFILE=(a 41-byte value, not shown) is not a profile name"},
		{name: "references", env: map[string]string{"MCP_ALLOWED_REFERENCES": " env:MCP_CI_*, file:/home/u/.mcp/credentials/* ,,"},
			want: mcptool.Env{ActiveProfile: "default"}, pats: []string{"env:MCP_CI_*", "file:/home/u/.mcp/credentials/*"}},
		{name: "only commas", env: map[string]string{"MCP_ALLOWED_REFERENCES": " , ,"}, want: mcptool.Env{ActiveProfile: "default"}},
		{name: "ttl", env: map[string]string{"MCP_CREDENTIAL_TTL": "90s"}, want: mcptool.Env{ActiveProfile: "default", CredentialTTL: 90 * time.Second}},
		{name: "ttl zero", env: map[string]string{"MCP_CREDENTIAL_TTL": "0s"}, err: "MCP_CREDENTIAL_TTL=(a 2-byte value, not shown): want a positive Go duration"},
		{name: "ttl not a duration", env: map[string]string{"MCP_CREDENTIAL_TTL": secret}, err: "MCP_CREDENTIAL_TTL=(a 38-byte value, not shown): want a positive"},
		{name: "bad pattern", env: map[string]string{"MCP_ALLOWED_REFERENCES": "env:A,*"}, err: `MCP_ALLOWED_REFERENCES: provider: reference pattern "*" has no scheme`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mcptool.ReadEnv(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ReadEnv error = %v, want it to hold %q", err, tc.err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("ReadEnv error repeats the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pats := got.AllowedReferences.Patterns(); !slices.Equal(pats, tc.pats) {
				t.Errorf("patterns = %q, want %q", pats, tc.pats)
			}
			got.AllowedReferences = nil
			if got != tc.want {
				t.Errorf("ReadEnv = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A server configured from Env advertises what the operator allows, and
// its refusals name the variable that allows more.
func TestEnvOptions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "profiles.json")
	if err := os.WriteFile(path, []byte(`{"profiles": {"staging": {"source": "env:STAGING_TOKEN#token"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var schemes provider.Schemes
	schemes.Register("env", envprovider.Scheme(func(o *envprovider.Options) { o.Getenv = func(string) string { return "" } }))
	profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Path = path })
	if err != nil {
		t.Fatal(err)
	}

	e, err := mcptool.ReadEnv(func(k string) string { return map[string]string{"MCP_ALLOWED_REFERENCES": "env:MCP_CI_*"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	opts := e.Options(profiles, "the operator sets API_TOKEN")
	if opts.RequestCredentials || !opts.Profiles || !opts.References {
		t.Errorf("Options advertise credentials %v, profiles %v, references %v", opts.RequestCredentials, opts.Profiles, opts.References)
	}
	if got := opts.OfferedProfiles(); !slices.Equal(got, []string{"default", "staging"}) {
		t.Errorf("OfferedProfiles = %q", got)
	}
	s := newEnv(t, &opts, func(o *resolver.Options) {
		e.Resolver(o)
		o.References = &schemes
	})
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"path": "/x", "credentials": map[string]any{"token": "tok-AAAAAAAAAAAAAAAAAAAA"}},
			"this server does not accept credentials in tool calls: leave out credentials and it uses the credentials its operator configured; " +
				"the operator allows them with MCP_ALLOW_REQUEST_CREDENTIALS=true"},
		{map[string]any{"path": "/x", "credential_profile": "prod"},
			`credential_profile names no profile this server offers (offered: "default", "staging"); ` +
				"the operator adds profiles to the profiles file (MCP_PROFILES_PATH, default ~/.mcp/profiles.json)"},
		{map[string]any{"path": "/x", "credential_id": "env:GITHUB_TOKEN"},
			`credential_id is refused: the operator's policy does not allow what it reads; every variable, file section, secret or keychain profile it reads ` +
				`must be covered by a pattern the operator allows (MCP_ALLOWED_REFERENCES: "env:MCP_CI_*"), and a * stays within one name or path segment`},
	} {
		out, isErr := s.call(t, "get", tc.args)
		if !isErr || !strings.Contains(out, tc.want) {
			t.Errorf("call %v = %s, want an error holding %q", tc.args, out, tc.want)
		}
	}

	// Without patterns, the refusal says how the operator sets them; with
	// request credentials allowed, the argument is advertised.
	opts = mcptool.Env{AllowRequestCredentials: true}.Options(nil, "")
	if !opts.RequestCredentials || !strings.Contains(opts.Hints.References, "until its operator sets MCP_ALLOWED_REFERENCES") {
		t.Errorf("Options = %+v", opts)
	}
	if got := opts.OfferedProfiles(); !slices.Equal(got, []string{"default"}) {
		t.Errorf("OfferedProfiles without a profiles file = %q", got)
	}
}
