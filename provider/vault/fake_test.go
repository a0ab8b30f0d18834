package vault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// canary must never appear in an error, log line or rendering.
const canary = "CANARY-SECRET-d3adb33f"

// fakeVault speaks the parts of Vault's HTTP API the provider uses, with
// Vault's JSON shapes, for tests that need no server. The real server is
// exercised by the test module in internal/vaulttest.
type fakeVault struct {
	*httptest.Server
	token   string
	reads   atomic.Int64
	revoked atomic.Bool
	// noDefault makes the token act without the default policy: no
	// lookup-self, no sys/leases/*.
	noDefault atomic.Bool
	logins    atomic.Int64

	// Dynamic secrets: each read of aws/creds/* mints a lease.
	mu            sync.Mutex
	minted        int
	leases        map[string]bool // lease id -> alive
	revokedLeases []string
	unwrap        func(w http.ResponseWriter) // answers sys/wrapping/unwrap
}

func newFakeVault(t testing.TB) *fakeVault {
	f := &fakeVault{token: "s.fake-" + canary, leases: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	switch path {
	case "sys/wrapping/unwrap":
		if f.unwrap != nil {
			f.unwrap(w)
			return
		}
	case "auth/approle/login":
		f.logins.Add(1)
		writeJSON(w, 200, map[string]any{"auth": map[string]any{"client_token": f.token, "lease_duration": 3600, "renewable": false}})
		return
	}
	if r.Header.Get("X-Vault-Token") != f.token || f.revoked.Load() {
		// Vault's answer for a revoked, expired or unknown token (with the
		// token echoed, which must never surface).
		writeJSON(w, 403, map[string]any{"errors": []string{"2 errors occurred:\n\t* permission denied\n\t* invalid token " + r.Header.Get("X-Vault-Token") + "\n\n"}})
		return
	}
	if f.noDefault.Load() && (path == "auth/token/lookup-self" || strings.HasPrefix(path, "sys/leases/")) {
		// A token without the default policy.
		writeJSON(w, 403, map[string]any{"errors": []string{"1 error occurred:\n\t* permission denied\n\n"}})
		return
	}
	switch {
	case path == "auth/token/lookup-self":
		writeJSON(w, 200, map[string]any{"data": map[string]any{"ttl": 0, "renewable": false, "policies": []string{"default"}}})
		return
	case strings.HasPrefix(path, "sys/internal/ui/mounts/kv1/"):
		writeJSON(w, 200, map[string]any{"data": map[string]any{"path": "kv1/", "type": "kv", "options": map[string]any{"version": "1"}}})
		return
	case strings.HasPrefix(path, "sys/internal/ui/mounts/aws/"):
		writeJSON(w, 200, map[string]any{"data": map[string]any{"path": "aws/", "type": "aws", "options": nil}})
		return
	case strings.HasPrefix(path, "sys/internal/ui/mounts/logical/"):
		writeJSON(w, 200, map[string]any{"data": map[string]any{"path": "logical/", "type": "kv", "options": map[string]any{"version": "2"}}})
		return
	case strings.HasPrefix(path, "sys/internal/ui/mounts/nomount/"):
		writeJSON(w, 404, map[string]any{"errors": []string{}})
		return
	case strings.HasPrefix(path, "sys/internal/ui/mounts/"):
		writeJSON(w, 200, map[string]any{"data": map[string]any{"path": "secret/", "type": "kv", "options": map[string]any{"version": "2"}}})
		return
	case path == "sys/leases/lookup":
		var body struct {
			LeaseID string `json:"lease_id"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		alive := f.leases[body.LeaseID]
		f.mu.Unlock()
		if !alive {
			writeJSON(w, 400, map[string]any{"errors": []string{"invalid lease"}})
			return
		}
		writeJSON(w, 200, map[string]any{"data": map[string]any{"id": body.LeaseID, "ttl": 900, "renewable": false}})
		return
	case strings.HasPrefix(path, "sys/leases/revoke/"):
		id := strings.TrimPrefix(path, "sys/leases/revoke/")
		f.mu.Lock()
		f.leases[id] = false
		f.revokedLeases = append(f.revokedLeases, id)
		f.mu.Unlock()
		w.WriteHeader(204)
		return
	}
	f.reads.Add(1)
	switch path {
	case "secret/data/mcp/default", "secret/data/mcp/work":
		writeJSON(w, 200, map[string]any{"data": map[string]any{
			"data":     map[string]any{"access_key_id": "AKIAFAKE", "secret_access_key": canary, "port": 5432, "tls": true},
			"metadata": map[string]any{"version": 3, "created_time": "2026-01-01T00:00:00Z"},
		}})
	case "secret/data/mcp/deleted":
		writeJSON(w, 404, map[string]any{"data": map[string]any{
			"data":     nil,
			"metadata": map[string]any{"version": 2, "deletion_time": "2026-01-01T00:00:00Z"},
		}})
	case "kv1/mcp/default":
		writeJSON(w, 200, map[string]any{"lease_duration": 2764800, "data": map[string]any{"token": canary}})
	case "aws/creds/deploy", "aws/creds/other":
		f.mu.Lock()
		f.minted++
		id := fmt.Sprintf("%s/lease-%d", path, f.minted)
		f.leases[id] = true
		f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"lease_id": id, "lease_duration": 900, "renewable": false,
			"data": map[string]any{"access_key": "AKIADYN", "secret_key": canary, "security_token": nil}})
	case "logical/data/mcp/deleted":
		// KV v2's answer for a deleted latest version, read as a path.
		writeJSON(w, 404, map[string]any{"data": map[string]any{
			"data":     nil,
			"metadata": map[string]any{"version": 2, "deletion_time": "2026-01-01T00:00:00Z", "destroyed": false},
		}})
	case "logical/data/mcp/live":
		writeJSON(w, 200, map[string]any{"data": map[string]any{
			"data":     map[string]any{"token": canary},
			"metadata": map[string]any{"version": 5},
		}})
	case "secret/data/mcp/denied":
		writeJSON(w, 403, map[string]any{"errors": []string{"1 error occurred:\n\t* permission denied " + canary}})
	case "secret/data/mcp/sealed":
		writeJSON(w, 503, map[string]any{"errors": []string{"Vault is sealed"}})
	case "secret/data/mcp/boom":
		writeJSON(w, 500, map[string]any{"errors": []string{"internal error " + canary}})
	case "secret/data/mcp/standby":
		writeJSON(w, 429, map[string]any{"errors": []string{"standby " + canary}})
	case "secret/data/mcp/bad":
		writeJSON(w, 400, map[string]any{"errors": []string{"bad request " + canary}})
	case "secret/data/mcp/garbage":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"data": ` + canary))
	default:
		if strings.HasPrefix(path, "aws/creds/") {
			// Any other role: a lease per read.
			f.mu.Lock()
			f.minted++
			id := fmt.Sprintf("%s/lease-%d", path, f.minted)
			f.leases[id] = true
			f.mu.Unlock()
			writeJSON(w, 200, map[string]any{"lease_id": id, "lease_duration": 900, "renewable": false,
				"data": map[string]any{"access_key": "AKIADYN"}})
			return
		}
		writeJSON(w, 404, map[string]any{"errors": []string{}})
	}
}

// expire ends every lease, as Vault does when their token is revoked.
func (f *fakeVault) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := range f.leases {
		f.leases[id] = false
	}
}

func (f *fakeVault) counts() (minted, revoked int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.minted, len(f.revokedLeases)
}

// env returns a Getenv that answers from m only, so the test never sees the
// developer's own VAULT_* variables.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func newTestProvider(t testing.TB, f *fakeVault, optFns ...func(*Options)) *Provider {
	t.Helper()
	fns := append([]func(*Options){func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": f.URL, "VAULT_TOKEN": f.token, "VAULT_MAX_RETRIES": "0", "HOME": t.TempDir()})
	}}, optFns...)
	p, err := New(fns...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
