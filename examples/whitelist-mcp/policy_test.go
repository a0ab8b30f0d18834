package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
)

// TestReferencePolicyByResource shows MCP_ALLOWED_REFERENCES deciding on
// what a credential_id reads, never on how it is written: two spellings of
// one resource are allowed or refused together, and a pattern that admits a
// prefix of names or a path's entries admits no list holding something
// else, no broader prefix, no parent and no deeper path. A refused
// reference reads nothing (no variable, no environment listing, no keychain
// item, no AWS call), and the refusal lists the operator's patterns without
// repeating the reference.
func TestReferencePolicyByResource(t *testing.T) {
	dir := t.TempDir()
	file := withFile(t, dir, section("default", fileKey)+section("staging", stagingKey)+section("work", workKey))
	deeper := filepath.Join(file+".d", "credentials") // a file one level below what file:<file>/... names
	if err := os.MkdirAll(filepath.Dir(deeper), 0o700); err != nil {
		t.Fatal(err)
	}
	withFile(t, filepath.Dir(deeper), section("staging", stagingKey))
	secretJSON := `{"aws_access_key_id": "` + secretKey.AccessKeyID + `", "aws_secret_access_key": "` + secretKey.SecretAccessKey + `"}`
	secrets := secretsDir(t, map[string]string{"aws-prod.json": secretJSON, "aws.json": secretJSON, "admin.json": secretJSON})
	if err := os.Mkdir(filepath.Join(secrets, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "sub", "aws-prod.json"), []byte(secretJSON), 0o400); err != nil {
		t.Fatal(err)
	}
	env := plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_SECRETS_DIR", secrets,
		"STAGING_ACCESS_KEY_ID", stagingKey.AccessKeyID, "STAGING_SECRET_ACCESS_KEY", stagingKey.SecretAccessKey)
	keyringOps := func(t *testing.T) *memKeyring {
		kr := &memKeyring{m: map[string]string{}}
		for _, svc := range []string{"mcpcred", "other"} {
			if err := keychain.New(func(o *keychain.Options) { o.Keyring = kr; o.Service = svc }).Store(t.Context(), "ops", secretsOf(keychainKey)); err != nil {
				t.Fatal(err)
			}
		}
		return kr
	}

	type ref struct {
		id      string
		wantKey string // "" means refused by the policy
		wantErr string // allowed, but gave no usable credentials
	}
	tests := []struct {
		name     string
		patterns string
		refs     []ref
	}{
		{"env prefix", "env:STAGING_*", []ref{
			{id: "env:STAGING_*", wantKey: stagingKey.AccessKeyID},
			{id: "env:STAGING_ACCESS_KEY_ID#access_key_id", wantErr: "credential_id: no credentials found"}, // one variable under the prefix
			{id: "env:STAGING_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY"},                                         // a list: one item is outside
			{id: "env:AWS_SECRET_ACCESS_KEY,STAGING_SECRET_ACCESS_KEY"},
			{id: "env:STAGING_KEY,AWS_SECRET_ACCESS_KEY"},
			{id: "env:STAGING*"}, // a broader prefix
			{id: "env:S*"},
			{id: "env:"}, // AWS's variables
			{id: "env:AWS_SECRET_ACCESS_KEY#secret_access_key"},
			{id: "env:STAGING_"}, // "*" is one or more characters
		}},
		{"file sections by prefix", "file:" + file + "/stag*", []ref{
			{id: "file:staging", wantKey: stagingKey.AccessKeyID},
			{id: "file:" + file + "?profile=staging", wantKey: stagingKey.AccessKeyID}, // the same section, by path
			{id: "file:work"},
			{id: "file:"},        // [default] of the same file
			{id: "file:" + file}, // the same
			{id: "file:" + dir + "?profile=credentials"}, // the parent: the directory read as a file
			{id: "file:" + deeper + "?profile=staging"},  // a deeper path
			{id: "file:" + file + ".d?profile=staging"},  // a sibling the prefix does not name
		}},
		{"file: a directory's entries", "file:" + dir + "/*", []ref{
			{id: "file:staging"}, // a file's section is one level below the file: two below dir
			{id: "file:" + deeper + "?profile=staging"},
		}},
		{"file: every depth", "file:" + dir + "/**", []ref{
			{id: "file:staging", wantKey: stagingKey.AccessKeyID},
			{id: "file:" + deeper + "?profile=staging", wantKey: stagingKey.AccessKeyID},
			{id: "file:" + filepath.Dir(dir) + "?profile=x"}, // the parent
		}},
		{"secretfile entries", "secretfile:" + secrets + "/aws-*", []ref{
			{id: "secretfile:aws-prod", wantKey: secretKey.AccessKeyID},
			{id: "secretfile:" + secrets + "/aws-prod", wantKey: secretKey.AccessKeyID},
			{id: "secretfile:aws"}, // "*" is one or more characters
			{id: "secretfile:admin"},
			{id: "secretfile:" + secrets},                   // the parent
			{id: "secretfile:" + secrets + "/sub/aws-prod"}, // a deeper path
		}},
		{"keychain profiles", "keychain:mcpcred/o*", []ref{
			{id: "keychain:ops", wantKey: keychainKey.AccessKeyID},
			{id: "keychain:mcpcred/ops", wantKey: keychainKey.AccessKeyID},
			{id: "keychain:other/ops"}, // another service prefix
			{id: "keychain:staging"},
			{id: "keychain:"}, // the profile default
		}},
		{"one pattern per scheme", "env:STAGING_*,file:" + file + "/staging", []ref{
			{id: "file:staging", wantKey: stagingKey.AccessKeyID},
			{id: "env:STAGING_*", wantKey: stagingKey.AccessKeyID},
			{id: "secretfile:aws"}, // a scheme no pattern names
			{id: "keychain:ops"},
			{id: "vault:secret/data/mcp/aws"}, // a scheme the server does not serve
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr := keyringOps(t)
			h := start(t, plus(env, "MCP_ALLOWED_REFERENCES", tt.patterns), kr)
			for _, r := range tt.refs {
				h.ec2.ResetCalls()
				reads, listed, gets := h.readCounts(kr)
				args := map[string]any{"security_group_id": sg, "credential_id": r.id}
				switch {
				case r.wantKey != "":
					h.ok("whitelist_list", args)
					if got := h.signers(); len(got) != 1 || !strings.HasPrefix(got[0], r.wantKey+" ") {
						t.Errorf("%s: calls = %q, want one signed by %s", r.id, got, r.wantKey)
					}
				case r.wantErr != "":
					h.fails("whitelist_list", args, r.wantErr)
				default:
					// (The patterns are listed, but where the request sent
					// the same text, results show it redacted.)
					msg := h.fails("whitelist_list", args, "credential_id is refused", "does not allow what it reads", "(MCP_ALLOWED_REFERENCES: ")
					if len(r.id) > len("file:") && strings.Contains(msg, r.id) {
						t.Errorf("%s: the refusal repeats the reference: %q", r.id, msg)
					}
					if r2, l2, g2 := h.readCounts(kr); !maps.Equal(r2, reads) || l2 != listed || g2 != gets {
						t.Errorf("%s: refused, but read variables %v (before: %v), listed the environment %d times (before: %d), read the keychain %d times (before: %d)",
							r.id, r2, reads, l2, listed, g2, gets)
					}
					if calls := h.ec2.Calls(); len(calls) != 0 {
						t.Errorf("%s: refused, but reached AWS: %v", r.id, h.signers())
					}
				}
			}
		})
	}
}

// readCounts returns the credentials the server has read so far: getenv
// calls per variable other than its configuration (MCP_*, WHITELIST_*,
// HOME: a scheme builds its provider from those before the policy is
// applied), environ calls, and Get calls on kr.
func (h *harness) readCounts(kr *memKeyring) (map[string]int, int, int) {
	h.mu.Lock()
	reads, listed := maps.Clone(h.reads), h.listed
	h.mu.Unlock()
	maps.DeleteFunc(reads, func(k string, _ int) bool {
		return strings.HasPrefix(k, "MCP_") || strings.HasPrefix(k, "WHITELIST_") || k == "HOME"
	})
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return reads, listed, kr.gets
}

func secretsOf(c aws.Credentials) map[string]provider.Secret {
	return map[string]provider.Secret{"access_key_id": provider.NewSecret(c.AccessKeyID), "secret_access_key": provider.NewSecret(c.SecretAccessKey)}
}

// The schemes MCP_ALLOWED_REFERENCES may name are exactly those the server
// registers, so a pattern is never refused for a scheme that is served, nor
// accepted for one that is not.
func TestReferenceSchemesServed(t *testing.T) {
	for _, scheme := range []string{"env", "file", "keychain", "secretfile", "vault", "ssm", "awssdk"} {
		_, err := startupError(t, map[string]string{"MCP_ALLOWED_REFERENCES": scheme + ":**"})
		if served := scheme != "vault" && scheme != "ssm" && scheme != "awssdk"; served != (err == nil) {
			t.Errorf("%s:** served = %v, want %v (%v)", scheme, err == nil, served, err)
		}
	}
}

// TestReadmePolicyExample runs the worked example of README.md's "Allowing
// credential references": each credential_id is refused by the policy, or
// passes it (and may still fail for want of credentials).
func TestReadmePolicyExample(t *testing.T) {
	home := t.TempDir()
	h := start(t, map[string]string{"HOME": home, "MCP_ALLOWED_REFERENCES": "env:CI_AWS_*,file:" + home + "/.mcp/credentials/*,keychain:mcpcred/*"}, nil)
	for _, tt := range []struct {
		id      string
		allowed bool
	}{
		{"env:CI_AWS_*", true},
		{"env:CI_AWS_ACCESS_KEY_ID,CI_AWS_SECRET_ACCESS_KEY", true},
		{"env:CI_AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY", false},
		{"env:CI_*", false},
		{"env:", false},
		{"file:staging", true},
		{"file:" + home + "/.mcp/credentials?profile=prod", true},
		{"file:~/.mcp/work-credentials?profile=ops", false},
		{"file:" + home + "/.mcp?profile=credentials", false},
		{"keychain:ops", true},
		{"keychain:mcpcred/ci", true},
		{"keychain:team/ops", false},
		{"secretfile:aws-prod", false},
		{"vault:secret/data/mcp/aws", false},
	} {
		msg := h.fails("whitelist_list", map[string]any{"security_group_id": sg, "credential_id": tt.id}) // nothing holds credentials
		if refused := strings.Contains(msg, "credential_id is refused"); refused == tt.allowed {
			t.Errorf("%s: allowed = %v, want %v: %s", tt.id, !refused, tt.allowed, msg)
		}
	}
}
