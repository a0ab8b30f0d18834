package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
)

// kvFake speaks the KV v2 parts of Vault's HTTP API that a Store uses
// (data reads and writes with check-and-set, soft deletes, metadata
// deletes), with Vault's status codes and messages. Its error messages echo
// the request body and token, as a careless server might, so tests can see
// that none of it surfaces. Mounts: secret/ (KV v2), strict/ (KV v2 with
// cas_required), kv1/ (KV v1) and aws/ (dynamic). Under either KV v2 mount,
// paths below denied/ are refused (403), below ro/ only writes are refused,
// below wo/ only reads, below sealed/ Vault is sealed and below boom/ it
// fails (500).
type kvFake struct {
	*httptest.Server
	token string

	mu          sync.Mutex
	secrets     map[string][]map[string]any // "secret/mcp/x" -> versions (nil: deleted)
	writes      int                         // data writes that reached a secret
	otherWrites int                         // writes anywhere else (must stay 0)
	rejectNext  bool                        // answer the next request "invalid token"
	logins      int
	beforeWrite func() // run before a data write is applied, outside the lock
}

func newKVFake(t testing.TB) *kvFake {
	f := &kvFake{token: "s.kv-" + canary, secrets: map[string][]map[string]any{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *kvFake) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	var body map[string]any
	raw := ""
	if r.Body != nil {
		var sb strings.Builder
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		_ = dec.Decode(&body)
		b, _ := json.Marshal(body)
		sb.Write(b)
		raw = sb.String()
	}
	// Error messages quote the request, as a careless server might.
	fail := func(code int, msg string) {
		writeJSON(w, code, map[string]any{"errors": []string{msg + " (request: " + raw + ", token " + r.Header.Get("X-Vault-Token") + ")"}})
	}
	if path == "auth/approle/login" {
		f.mu.Lock()
		f.logins++
		f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"auth": map[string]any{"client_token": f.token, "lease_duration": 3600, "renewable": false}})
		return
	}
	f.mu.Lock()
	reject := f.rejectNext
	f.rejectNext = false
	f.mu.Unlock()
	if reject || r.Header.Get("X-Vault-Token") != f.token {
		fail(403, "2 errors occurred:\n\t* permission denied\n\t* invalid token")
		return
	}
	if path == "auth/token/lookup-self" {
		writeJSON(w, 200, map[string]any{"data": map[string]any{"ttl": 0, "renewable": false, "policies": []string{"default"}}})
		return
	}
	if rest, ok := strings.CutPrefix(path, "sys/internal/ui/mounts/"); ok {
		mount, _, _ := strings.Cut(rest, "/")
		switch mount {
		case "secret", "strict":
			writeJSON(w, 200, map[string]any{"data": map[string]any{"path": mount + "/", "type": "kv", "options": map[string]any{"version": "2"}}})
		case "kv1":
			writeJSON(w, 200, map[string]any{"data": map[string]any{"path": "kv1/", "type": "kv", "options": map[string]any{"version": "1"}}})
		case "aws":
			writeJSON(w, 200, map[string]any{"data": map[string]any{"path": "aws/", "type": "aws", "options": nil}})
		default:
			writeJSON(w, 404, map[string]any{"errors": []string{}})
		}
		return
	}
	mount, rest, _ := strings.Cut(path, "/")
	kind, rel, _ := strings.Cut(rest, "/")
	if (mount != "secret" && mount != "strict") || (kind != "data" && kind != "metadata") {
		if r.Method != http.MethodGet {
			f.mu.Lock()
			f.otherWrites++
			f.mu.Unlock()
		}
		fail(404, "no handler")
		return
	}
	write := r.Method != http.MethodGet
	switch first, _, _ := strings.Cut(rel, "/"); {
	case first == "denied", first == "ro" && write, first == "wo" && !write:
		fail(403, "1 error occurred:\n\t* permission denied")
		return
	case first == "sealed":
		writeJSON(w, 503, map[string]any{"errors": []string{"Vault is sealed"}})
		return
	case first == "boom":
		fail(500, "internal error")
		return
	}
	key := mount + "/" + rel
	switch {
	case kind == "metadata" && r.Method == http.MethodDelete:
		f.mu.Lock()
		delete(f.secrets, key)
		f.mu.Unlock()
		w.WriteHeader(204)
	case kind == "data" && r.Method == http.MethodGet:
		f.mu.Lock()
		vs := f.secrets[key]
		f.mu.Unlock()
		switch {
		case len(vs) == 0:
			writeJSON(w, 404, map[string]any{"errors": []string{}})
		case vs[len(vs)-1] == nil:
			writeJSON(w, 404, map[string]any{"data": map[string]any{"data": nil,
				"metadata": map[string]any{"version": len(vs), "deletion_time": "2026-01-01T00:00:00Z", "destroyed": false}}})
		default:
			writeJSON(w, 200, map[string]any{"data": map[string]any{"data": vs[len(vs)-1], "metadata": map[string]any{"version": len(vs)}}})
		}
	case kind == "data" && r.Method == http.MethodDelete:
		f.mu.Lock()
		if vs := f.secrets[key]; len(vs) > 0 {
			vs[len(vs)-1] = nil
		}
		f.mu.Unlock()
		w.WriteHeader(204)
	case kind == "data" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		if f.beforeWrite != nil {
			f.beforeWrite()
		}
		data, _ := body["data"].(map[string]any)
		f.mu.Lock()
		defer f.mu.Unlock()
		cur := len(f.secrets[key])
		opts, _ := body["options"].(map[string]any)
		cas, hasCAS := opts["cas"].(json.Number)
		switch {
		case hasCAS && cas.String() != fmt.Sprint(cur):
			fail(400, "check-and-set parameter did not match the current version")
			return
		case !hasCAS && mount == "strict":
			fail(400, "check-and-set parameter required for this call")
			return
		}
		f.secrets[key] = append(f.secrets[key], data)
		f.writes++
		writeJSON(w, 200, map[string]any{"data": map[string]any{"version": cur + 1}})
	default:
		fail(405, "unsupported")
	}
}

// stored returns the current data at key ("secret/mcp/x"), nil if none.
func (f *kvFake) stored(key string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := f.secrets[key]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// softDelete deletes the current version only, as DELETE MOUNT/data/PATH
// does: the metadata and the version number stay.
func (f *kvFake) softDelete(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if vs := f.secrets[key]; len(vs) > 0 {
		vs[len(vs)-1] = nil
	}
}

// writeCount returns how many writes reached a secret, and anything else.
func (f *kvFake) writeCount() (writes, others int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes, f.otherWrites
}

func (f *kvFake) set(key string, data map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[key] = append(f.secrets[key], data)
}

func newKVProvider(t testing.TB, f *kvFake, optFns ...func(*Options)) *Provider {
	t.Helper()
	fns := append([]func(*Options){func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": f.URL, "VAULT_TOKEN": f.token, "VAULT_MAX_RETRIES": "0", "HOME": t.TempDir()})
	}}, optFns...)
	p, err := New(fns...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func creds(kv ...string) provider.Credentials {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return provider.NewCredentials(m, provider.Source{})
}

// storeUnder is a Store and the profile to give it, with the key of the
// secret it writes in the fake.
type storeUnder struct {
	name    string
	store   provider.Store
	profile string
	key     string
}

// stores returns the two kinds of Store: a Provider writing profiles at its
// PathTemplate, and the Target of a reference from provider.Schemes.
func stores(t *testing.T, f *kvFake, name string) []storeUnder {
	p := newKVProvider(t, f, func(o *Options) { o.PathTemplate = "mcp/users/{profile}" })
	var s provider.Schemes
	s.Register("vault", Scheme(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": f.URL, "VAULT_TOKEN": f.token, "VAULT_MAX_RETRIES": "0", "HOME": t.TempDir()})
	}))
	rs, ref, err := s.Store("vault:secret/data/mcp/refs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if ref.String() != "vault:secret/data/mcp/refs/"+name {
		t.Errorf("Store ref = %s", ref)
	}
	return []storeUnder{
		{"profile", p, name, "secret/mcp/users/" + name},
		{"reference", rs, "ignored-profile", "secret/mcp/refs/" + name},
	}
}

func TestStoreRoundTrip(t *testing.T) {
	f := newKVFake(t)
	ctx := context.Background()
	for _, s := range stores(t, f, "sub-alice") {
		t.Run(s.name, func(t *testing.T) {
			if _, err := s.store.Retrieve(ctx, s.profile); !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("before Put: %v, want ErrNotFound", err)
			}
			first := creds("token", canary, "token_type", "Bearer")
			if err := s.store.Put(ctx, s.profile, first); err != nil {
				t.Fatal(err)
			}
			if got := f.stored(s.key); len(got) != 2 || got["token"] != canary || got["token_type"] != "Bearer" {
				t.Fatalf("stored %d keys, want exactly token and token_type", len(got))
			}
			for i := range 10 {
				// Every read after a write sees that write.
				next := creds("token", fmt.Sprintf("value-%d", i))
				if err := s.store.Put(ctx, s.profile, next); err != nil {
					t.Fatal(err)
				}
				c, err := s.store.Retrieve(ctx, s.profile)
				if err != nil {
					t.Fatal(err)
				}
				if !c.Equal(next) {
					t.Fatalf("after Put %d: Retrieve returned fields %v, not what was written", i, c.Names())
				}
			}
			if err := s.store.Delete(ctx, s.profile); err != nil {
				t.Fatal(err)
			}
			if _, err := s.store.Retrieve(ctx, s.profile); !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("after Delete: %v, want ErrNotFound", err)
			}
			if err := s.store.Delete(ctx, s.profile); err != nil {
				t.Fatalf("deleting nothing: %v", err)
			}
		})
	}
}

func TestStoreCompareAndSwap(t *testing.T) {
	f := newKVFake(t)
	ctx := context.Background()
	for _, s := range stores(t, f, "sub-bob") {
		t.Run(s.name, func(t *testing.T) {
			a, b := creds("token", "a-"+canary), creds("token", "b")
			if err := s.store.CompareAndSwap(ctx, s.profile, provider.Credentials{}, a); err != nil {
				t.Fatalf("create-only: %v", err)
			}
			if err := s.store.CompareAndSwap(ctx, s.profile, provider.Credentials{}, b); !errors.Is(err, provider.ErrConflict) {
				t.Fatalf("second create-only: %v, want ErrConflict", err)
			}
			if err := s.store.CompareAndSwap(ctx, s.profile, b, a); !errors.Is(err, provider.ErrConflict) {
				t.Fatalf("swap from a value never stored: %v, want ErrConflict", err)
			}
			// Old compares fields only: a Retrieve's metadata does not matter.
			got, err := s.store.Retrieve(ctx, s.profile)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.store.CompareAndSwap(ctx, s.profile, got, b); err != nil {
				t.Fatalf("swap from what Retrieve returned: %v", err)
			}
			if c, _ := s.store.Retrieve(ctx, s.profile); !c.Equal(b) {
				t.Fatal("swap not visible to Retrieve")
			}
			// A deleted current version (DELETE data/PATH, metadata kept)
			// is nothing stored: create-only works, at the current version.
			f.softDelete(s.key)
			if err := s.store.CompareAndSwap(ctx, s.profile, b, a); !errors.Is(err, provider.ErrConflict) {
				t.Fatalf("swap from a deleted value: %v, want ErrConflict", err)
			}
			if err := s.store.CompareAndSwap(ctx, s.profile, provider.Credentials{}, a); err != nil {
				t.Fatalf("create-only over a deleted version: %v", err)
			}
			// Deleted with every version: create-only again.
			if err := s.store.Delete(ctx, s.profile); err != nil {
				t.Fatal(err)
			}
			if err := s.store.CompareAndSwap(ctx, s.profile, provider.Credentials{}, b); err != nil {
				t.Fatalf("create-only after Delete: %v", err)
			}
		})
	}
}

// TestStoreCompareAndSwapRace: another writer gets in between the read and
// the write; Vault's check-and-set refuses the second write.
func TestStoreCompareAndSwapRace(t *testing.T) {
	f := newKVFake(t)
	ctx := context.Background()
	p := newKVProvider(t, f)
	old := creds("refresh_token", "r1")
	if err := p.Put(ctx, "race", old); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	f.beforeWrite = func() {
		once.Do(func() { f.set("secret/mcp/race", map[string]any{"refresh_token": "r2-other"}) })
	}
	err := p.CompareAndSwap(ctx, "race", old, creds("refresh_token", "r2-"+canary))
	if !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("lost race: %v, want ErrConflict", err)
	}
	if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "r2-other") {
		t.Error("conflict error reveals a value")
	}
	if got := f.stored("secret/mcp/race"); got["refresh_token"] != "r2-other" {
		t.Error("the winner's value was overwritten")
	}

	// Many at once from one old value: exactly one wins.
	f.beforeWrite = nil
	if err := p.Put(ctx, "race", old); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- p.CompareAndSwap(ctx, "race", old, creds("refresh_token", fmt.Sprintf("new-%d", i))) }()
	}
	wins := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			wins++
		case !errors.Is(err, provider.ErrConflict):
			t.Errorf("loser: %v, want ErrConflict", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners, want 1", wins)
	}
}

// TestStoreCASRequired: a mount with cas_required refuses writes without
// check-and-set; Put reads the version and writes with it.
func TestStoreCASRequired(t *testing.T) {
	f := newKVFake(t)
	ctx := context.Background()
	p := newKVProvider(t, f, func(o *Options) { o.Mount = "strict" })
	for i := range 3 {
		c := creds("token", fmt.Sprint("v", i))
		if err := p.Put(ctx, "x", c); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
		if got, err := p.Retrieve(ctx, "x"); err != nil || !got.Equal(c) {
			t.Fatalf("Retrieve after Put %d: %v", i, err)
		}
	}
	if err := p.CompareAndSwap(ctx, "x", creds("token", "v2"), creds("token", "v3")); err != nil {
		t.Fatal(err)
	}
	if err := p.CompareAndSwap(ctx, "y", provider.Credentials{}, creds("token", "new")); err != nil {
		t.Fatal(err)
	}
}

func TestStoreReadOnly(t *testing.T) {
	f := newKVFake(t)
	ctx := context.Background()
	var s provider.Schemes
	s.Register("vault", Scheme(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": f.URL, "VAULT_TOKEN": f.token, "VAULT_MAX_RETRIES": "0", "HOME": t.TempDir()})
	}))
	type target struct {
		name    string
		store   provider.Store
		profile string
	}
	var targets []target
	for _, ref := range []string{"vault:kv1/mcp/x", "vault:kv1/mcp/x#token", "vault:aws/creds/deploy", "vault:secret/data/mcp/x?version=2", "vault:nomount/x"} {
		st, _, err := s.Store(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		targets = append(targets, target{ref, st, "p"})
	}
	targets = append(targets,
		target{"Engine logical", newKVProvider(t, f, func(o *Options) { o.Engine = EngineLogical }), "p"},
		target{"Engine KV1", newKVProvider(t, f, func(o *Options) { o.Engine = EngineKV1 }), "p"},
		target{"profile to kv1", newKVProvider(t, f, func(o *Options) { o.Profiles = map[string]string{"p": "vault:kv1/mcp/p"} }), "p"},
	)
	c := creds("token", canary)
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			for op, fn := range map[string]func() error{
				"Put":            func() error { return tg.store.Put(ctx, tg.profile, c) },
				"Delete":         func() error { return tg.store.Delete(ctx, tg.profile) },
				"CompareAndSwap": func() error { return tg.store.CompareAndSwap(ctx, tg.profile, provider.Credentials{}, c) },
			} {
				err := fn()
				if !errors.Is(err, provider.ErrReadOnly) {
					t.Errorf("%s: %v, want ErrReadOnly", op, err)
					continue
				}
				if strings.Contains(err.Error(), canary) {
					t.Errorf("%s: error reveals the value", op)
				}
			}
		})
	}
	if w, o := f.writeCount(); w+o != 0 {
		t.Errorf("%d writes reached Vault", w+o)
	}
}

// TestStoreField: a reference to one key writes that key, keeps the
// others, and refuses credentials with other fields.
func TestStoreField(t *testing.T) {
	f := newKVFake(t)
	ctx := context.Background()
	var s provider.Schemes
	s.Register("vault", Scheme(func(o *Options) {
		o.Getenv = env(map[string]string{"VAULT_ADDR": f.URL, "VAULT_TOKEN": f.token, "VAULT_MAX_RETRIES": "0", "HOME": t.TempDir()})
	}))
	st, _, err := s.Store("vault:secret/data/mcp/app#token")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "", creds("token", "t1")); err != nil {
		t.Fatal(err)
	}
	if got := f.stored("secret/mcp/app"); len(got) != 1 || got["token"] != "t1" {
		t.Fatalf("stored %v", len(got))
	}
	f.set("secret/mcp/app", map[string]any{"token": "t1", "url": "https://example.com"})
	if err := st.Put(ctx, "", creds("token", "t2")); err != nil {
		t.Fatal(err)
	}
	if got := f.stored("secret/mcp/app"); got["token"] != "t2" || got["url"] != "https://example.com" {
		t.Fatal("Put through a #field reference lost the other key")
	}
	err = st.Put(ctx, "", creds("token", canary, "refresh_token", canary))
	if err == nil || !strings.Contains(err.Error(), `"refresh_token", "token"`) || !strings.Contains(err.Error(), `key "token"`) {
		t.Fatalf("Put of two fields through #token: %v", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Error("error reveals the value")
	}
	if err := st.CompareAndSwap(ctx, "", creds("token", "t2"), creds("token", "t3")); err != nil {
		t.Fatal(err)
	}
	if err := st.CompareAndSwap(ctx, "", creds("token", "t2"), creds("token", "t4")); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("stale swap: %v", err)
	}
	if got := f.stored("secret/mcp/app"); got["token"] != "t3" || got["url"] != "https://example.com" {
		t.Fatal("CompareAndSwap through a #field reference lost the other key")
	}
	// Deleting every version would destroy the other key: refused.
	if err := st.Delete(ctx, ""); !errors.Is(err, provider.ErrReadOnly) {
		t.Fatalf("Delete with another key: %v, want ErrReadOnly", err)
	}
	f.set("secret/mcp/app", map[string]any{"token": "t3"})
	if err := st.Delete(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if f.stored("secret/mcp/app") != nil {
		t.Fatal("not deleted")
	}
}

// TestStoreFieldMapping: with Options.Fields a profile's fields are
// written under the keys they map to.
func TestStoreFieldMapping(t *testing.T) {
	f := newKVFake(t)
	ctx := context.Background()
	p := newKVProvider(t, f, func(o *Options) {
		o.Fields = map[string]string{"access_key_id": "AWS_ACCESS_KEY_ID", "secret_access_key": "AWS_SECRET_ACCESS_KEY"}
	})
	c := creds("access_key_id", "AKIA1", "secret_access_key", canary)
	if err := p.Put(ctx, "aws", c); err != nil {
		t.Fatal(err)
	}
	if got := f.stored("secret/mcp/aws"); got["AWS_ACCESS_KEY_ID"] != "AKIA1" || got["AWS_SECRET_ACCESS_KEY"] != canary || len(got) != 2 {
		t.Fatal("mapped keys not written")
	}
	if got, err := p.Retrieve(ctx, "aws"); err != nil || !got.Equal(c) {
		t.Fatalf("Retrieve: %v", err)
	}
	if err := p.CompareAndSwap(ctx, "aws", c, creds("access_key_id", "AKIA2", "secret_access_key", "s2")); err != nil {
		t.Fatal(err)
	}
	err := p.Put(ctx, "aws", creds("token", canary))
	if err == nil || !strings.Contains(err.Error(), `"access_key_id", "secret_access_key"`) || !strings.Contains(err.Error(), `hold "token"`) {
		t.Fatalf("Put of unmapped fields: %v", err)
	}
}

func TestStoreErrors(t *testing.T) {
	f := newKVFake(t)
	ctx := context.Background()
	var logs strings.Builder
	var mu sync.Mutex
	p := newKVProvider(t, f, func(o *Options) {
		o.PathTemplate = ProfilePlaceholder
		o.Logger = slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(b)
		}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	f.set("secret/ro/exists", map[string]any{"token": "x"})
	// A hostile profile: a secret where a name belongs. It is a valid path
	// segment, so it reaches Vault, but no error may repeat it.
	const hostile = "ghp_ABCDEFghijkl0123456789xyzXYZ"
	val := creds("token", canary)
	tests := []struct {
		name       string
		profile    string
		op         func(profile string) error
		is         error
		capability string
		contains   string
	}{
		{"put new denied", "ro/new", func(pr string) error { return p.Put(ctx, pr, val) }, ErrPermissionDenied, "create", `"secret/data/ro/new"`},
		{"put existing denied", "ro/exists", func(pr string) error { return p.Put(ctx, pr, val) }, ErrPermissionDenied, "update", `"secret/data/ro/exists"`},
		{"put unknown", "denied/x", func(pr string) error { return p.Put(ctx, pr, val) }, ErrPermissionDenied, "create or update", `"secret/data/denied/x"`},
		{"create-only denied", "ro/new", func(pr string) error { return p.CompareAndSwap(ctx, pr, provider.Credentials{}, val) }, ErrPermissionDenied, "create", ""},
		{"swap denied", "ro/exists", func(pr string) error { return p.CompareAndSwap(ctx, pr, creds("token", "x"), val) }, ErrPermissionDenied, "update", ""},
		{"swap read denied", "wo/x", func(pr string) error { return p.CompareAndSwap(ctx, pr, creds("token", "x"), val) }, ErrPermissionDenied, "read", `"secret/data/wo/x"`},
		{"delete denied", "ro/exists", func(pr string) error { return p.Delete(ctx, pr) }, ErrPermissionDenied, "delete", `"secret/metadata/ro/exists"`},
		{"hostile denied", "denied/" + hostile, func(pr string) error { return p.Put(ctx, pr, val) }, ErrPermissionDenied, "create or update", "secret/data/denied/(a 32-byte value, not shown)"},
		{"hostile sealed", "sealed/" + hostile, func(pr string) error { return p.Put(ctx, pr, val) }, provider.ErrUnavailable, "", "Vault is sealed"},
		{"sealed swap", "sealed/x", func(pr string) error { return p.CompareAndSwap(ctx, pr, provider.Credentials{}, val) }, provider.ErrUnavailable, "", "Vault is sealed"},
		{"sealed delete", "sealed/x", func(pr string) error { return p.Delete(ctx, pr) }, provider.ErrUnavailable, "", "Vault is sealed"},
		{"5xx", "boom/" + hostile, func(pr string) error { return p.Put(ctx, pr, val) }, provider.ErrUnavailable, "", "HTTP 500"},
		{"read hostile denied", "denied/" + hostile, func(pr string) error { _, err := p.Retrieve(ctx, pr); return err }, ErrPermissionDenied, "read", "secret/data/denied/(a 32-byte value, not shown)"},
		{"read hostile 5xx", "boom/" + hostile, func(pr string) error { _, err := p.Retrieve(ctx, pr); return err }, provider.ErrUnavailable, "", "HTTP 500"},
		{"nothing to store", "x", func(pr string) error { return p.Put(ctx, pr, provider.Credentials{}) }, nil, "", "no fields to store"},
		{"bad profile", "../x", func(pr string) error { return p.Put(ctx, pr, val) }, nil, "", "cannot be used in a Vault path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op(tt.profile)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%v does not wrap %v", err, tt.is)
			}
			if tt.capability != "" {
				var pe *PermissionError
				if !errors.As(err, &pe) || pe.Capability != tt.capability {
					t.Errorf("%v: want the %q capability", err, tt.capability)
				}
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("%v does not contain %s", err, tt.contains)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Provider != Name {
				t.Errorf("%T is not a *provider.Error from vault", err)
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				for _, bad := range []string{canary, hostile, "request:"} {
					if strings.Contains(s, bad) {
						t.Errorf("error reveals %q: %s", bad, s)
					}
				}
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, bad := range []string{canary, hostile} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("log reveals %q", bad)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }

func TestStoreUnreachable(t *testing.T) {
	f := newKVFake(t)
	p := newKVProvider(t, f)
	f.Close()
	ctx := context.Background()
	for name, err := range map[string]error{
		"Put":            p.Put(ctx, "x", creds("token", canary)),
		"Delete":         p.Delete(ctx, "x"),
		"CompareAndSwap": p.CompareAndSwap(ctx, "x", provider.Credentials{}, creds("token", canary)),
	} {
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
	}
}

// TestStoreReloginOnInvalidToken: a write refused because the token died is
// retried once with a new login, and happens once.
func TestStoreReloginOnInvalidToken(t *testing.T) {
	f := newKVFake(t)
	ctx := context.Background()
	p := newKVProvider(t, f, func(o *Options) {
		o.Auth = AppRoleAuth(AppRole{RoleID: "role", SecretID: "secret-id"})
	})
	if err := p.Put(ctx, "x", creds("token", "a")); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.rejectNext = true
	f.mu.Unlock()
	if err := p.CompareAndSwap(ctx, "x", creds("token", "a"), creds("token", "b")); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.logins != 2 || f.writes != 2 {
		t.Fatalf("logins %d, writes %d; want 2, 2", f.logins, f.writes)
	}
}

func TestStoreCanceled(t *testing.T) {
	f := newKVFake(t)
	p := newKVProvider(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Put(ctx, "x", creds("token", "a")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v", err)
	}
	if w, _ := f.writeCount(); w != 0 {
		t.Fatal("a canceled Put wrote")
	}
}

func TestShowPath(t *testing.T) {
	for in, want := range map[string]string{
		"secret/data/mcp/users/sub-alice":            "secret/data/mcp/users/sub-alice",
		"secret/data/mcp/ghp_0123456789abcdefABCDEF": "secret/data/mcp/(a 26-byte value, not shown)",
		"secret/data/mcpcred/used/Zm9vYmFyYmF6cXV4":  "secret/data/mcpcred/used/(a 16-byte value, not shown)",
	} {
		if got := showPath(in); got != want {
			t.Errorf("showPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// ExampleProvider_CompareAndSwap stores a user's OAuth credential once
// (create-only) and refreshes it the way replicas do: swap from what was
// read; on a conflict another replica refreshed first, so use what it
// stored.
func ExampleProvider_CompareAndSwap() {
	f := &kvFake{token: "s.example", secrets: map[string][]map[string]any{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	defer f.Close()
	p, err := New(func(o *Options) {
		o.Getenv = func(string) string { return "" }
		o.Address = f.URL
		o.Auth = TokenAuth(f.token)
		o.PathTemplate = "mcp/users/{profile}"
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	ctx := context.Background()

	first := provider.NewCredentials(map[string]string{"token": "at-1", "refresh_token": "rt-1"}, provider.Source{})
	fmt.Println(p.CompareAndSwap(ctx, "sub-alice", provider.Credentials{}, first))
	err = p.CompareAndSwap(ctx, "sub-alice", provider.Credentials{}, first)
	fmt.Println("enrolled twice:", errors.Is(err, provider.ErrConflict))

	old, err := p.Retrieve(ctx, "sub-alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	next := provider.NewCredentials(map[string]string{"token": "at-2", "refresh_token": "rt-2"}, provider.Source{})
	if err := p.CompareAndSwap(ctx, "sub-alice", old, next); errors.Is(err, provider.ErrConflict) {
		next, _ = p.Retrieve(ctx, "sub-alice") // the other replica's refresh
	}
	c, _ := p.Retrieve(ctx, "sub-alice")
	fmt.Println(c.Value("token"), c.Equal(next))
	// Output:
	// <nil>
	// enrolled twice: true
	// at-2 true
}
