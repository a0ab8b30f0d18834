package vault

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// newRecordingFakeVault is newFakeVault whose server reports every secret
// read to record as the resource vault:PATH, PATH being the logical path
// read. The mount lookups (sys/internal/ui/mounts/...), lease and token
// bookkeeping and logins read no secret and are not reported.
func newRecordingFakeVault(t testing.TB, record func(provider.Resource)) *fakeVault {
	f := &fakeVault{token: "s.fake-" + canary, leases: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/v1/")
		switch {
		case strings.HasPrefix(path, "sys/internal/ui/mounts/"), strings.HasPrefix(path, "sys/leases/"),
			strings.HasPrefix(path, "auth/token/"), path == "auth/approle/login", path == "sys/wrapping/unwrap":
		default:
			record(provider.Resource{Scheme: "vault", Path: path})
		}
		f.serve(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// recordingScheme is the vault Scheme on a recording fake Vault.
func recordingScheme(t *testing.T, record func(provider.Resource)) provider.Scheme {
	f := newRecordingFakeVault(t, record)
	return Scheme(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": f.URL, "VAULT_TOKEN": f.token, "VAULT_MAX_RETRIES": "0", "HOME": "/nonexistent"})
	})
}

// schemeValid lists a reference of every form Scheme documents, on the
// fake's mounts: secret/ (KV v2), kv1/ (KV v1), aws/ (dynamic), logical/
// (KV v2 read as a path) and nomount/ (no mount answer).
var schemeValid = []string{
	"vault:secret/data/mcp/work",
	"vault:secret/data/mcp/work#access_key_id",
	"vault:secret/data/mcp/work?version=3",
	"vault:secret/data/mcp/work?version=3#secret_access_key",
	"vault:secret/data/mcp/absent",
	"vault:secret/data/mcp/deleted",
	"vault:secret/data/mcp/denied",
	"vault:secret/data/mcp/",
	"vault:/secret/data/mcp/default",
	"vault:kv1/mcp/default",
	"vault:kv1/mcp/default#token",
	"vault:aws/creds/deploy",
	"vault:aws/creds/deploy#access_key",
	"vault:logical/data/mcp/live",
	"vault:nomount/x",
	"vault:secret/data/mcp/a,b",
}

var schemeInvalid = []string{
	"vault:",
	"vault:/",
	"vault://",
	"vault:secret/data/mcp/*",
	"vault:secret/data/*/aws",
	"vault:secret/data/mcp/**",
	"vault:secret//data/mcp",
	"vault:secret/./data/mcp",
	"vault:secret/data/mcp/a b",
	`vault:secret\data\mcp`,
	"vault:secret/data/mcp/aws?version=0",
	"vault:secret/data/mcp/aws?version=01",
	"vault:secret/data/mcp/aws?version=x",
	"vault:secret/data/mcp/aws?version=-1",
	"vault:secret/data/mcp/aws?label=current",
	"vault:secret/data/mcp/aws?profile=x",
	"vault:secret/data/mcp/aws?version=1&label=x",
	"vault:secret/data/../aws",
}

func schemeConfig() providertest.SchemeConfig {
	return providertest.SchemeConfig{Name: "vault", New: recordingScheme, Valid: schemeValid, Invalid: schemeInvalid}
}

func TestSchemeConformance(t *testing.T) {
	providertest.RunScheme(t, schemeConfig())
}

func FuzzSchemeRef(f *testing.F) {
	for _, s := range schemeValid {
		f.Add(s)
	}
	for _, s := range schemeInvalid {
		f.Add(s)
	}
	cfg := schemeConfig()
	f.Fuzz(func(t *testing.T, ref string) { providertest.CheckSchemeRef(t, cfg, ref) })
}
