package profile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zalando/go-keyring"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/provider/ssm"
	"github.com/mcpcred/mcpcred/provider/vault"
	"github.com/mcpcred/mcpcred/resolver"
)

// decoy is the value of every place a subject must never reach: the places
// a naive substitution of the subject would name, and the template's
// neighbours.
const decoy = "DECOY-" + canary

// store is a backend's content by the name it reads, and what was read.
type store struct {
	mu    sync.Mutex
	items map[string]string
	reads []string
}

func newStore() *store { return &store{items: map[string]string{}} }

func (s *store) get(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads = append(s.reads, name)
	v, ok := s.items[name]
	return v, ok
}

func (s *store) set(name, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[name] = v
}

func (s *store) read() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reads)
}

// vaultServer answers KV v2 reads of a mount "secret" from st, in Vault's
// JSON shapes.
func vaultServer(t testing.TB, st *store, token string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write := func(code int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(v)
		}
		if r.Header.Get("X-Vault-Token") != token {
			write(403, map[string]any{"errors": []string{"permission denied"}})
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/v1/")
		switch {
		case path == "auth/token/lookup-self":
			write(200, map[string]any{"data": map[string]any{"ttl": 0, "renewable": false, "policies": []string{"default"}}})
		case strings.HasPrefix(path, "sys/internal/ui/mounts/"):
			write(200, map[string]any{"data": map[string]any{"path": "secret/", "type": "kv", "options": map[string]any{"version": "2"}}})
		default:
			v, ok := st.get(path)
			if !ok {
				write(404, map[string]any{"errors": []string{}})
				return
			}
			write(200, map[string]any{"data": map[string]any{"data": map[string]any{"token": v}, "metadata": map[string]any{"version": 1}}})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// ssmServer answers GetParametersByPath and GetParameter from st (by
// parameter name) in SSM's JSON 1.1 protocol; a read records the path or
// name asked for.
func ssmServer(t testing.TB, st *store) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct{ Name, Path string }
		json.Unmarshal(body, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		param := func(name, v string) map[string]any {
			return map[string]any{"Name": name, "Type": "SecureString", "Value": v, "Version": 1}
		}
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSSM.GetParametersByPath":
			st.get(in.Path)
			st.mu.Lock()
			params := []map[string]any{}
			for name, v := range st.items {
				if rel, ok := strings.CutPrefix(name, strings.TrimSuffix(in.Path, "/")+"/"); ok && !strings.Contains(rel, "/") {
					params = append(params, param(name, v))
				}
			}
			st.mu.Unlock()
			json.NewEncoder(w).Encode(map[string]any{"Parameters": params})
		case "AmazonSSM.GetParameter":
			v, ok := st.get(in.Name)
			if !ok {
				w.WriteHeader(400)
				json.NewEncoder(w).Encode(map[string]any{"__type": "ParameterNotFound"})
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"Parameter": param(in.Name, v)})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// memKeyring is a keyring in memory, by "service/account".
type memKeyring struct{ st *store }

func (k memKeyring) Get(service, account string) (string, error) {
	if v, ok := k.st.get(service + "/" + account); ok {
		return v, nil
	}
	return "", keyring.ErrNotFound
}
func (k memKeyring) Set(service, account, value string) error {
	k.st.set(service+"/"+account, value)
	return nil
}
func (k memKeyring) Delete(string, string) error { return keyring.ErrNotFound }

// world is every scheme of this module registered over test backends, and
// a profiles file with a per-subject profile for each.
type world struct {
	schemes          *provider.Schemes
	vault, ssm, kc   *store
	secrets, credDir string
	home             string
	profiles         string            // the profiles file's path
	perSubject       map[string]string // profile -> template
}

func newWorld(t *testing.T) *world {
	w := &world{vault: newStore(), ssm: newStore(), kc: newStore(), home: t.TempDir()}
	w.secrets = filepath.Join(t.TempDir(), "users")
	w.credDir = filepath.Join(t.TempDir(), "creds")
	for _, d := range []string{w.secrets, w.credDir, filepath.Join(w.home, ".mcp")} {
		require.NoError(t, os.MkdirAll(d, 0o700))
		require.NoError(t, os.Chmod(d, 0o700))
	}
	getenv := func(k string) string { return map[string]string{"HOME": w.home}[k] }
	const vaultToken = "s.test-token"
	vs := vaultServer(t, w.vault, vaultToken)
	ss := ssmServer(t, w.ssm)

	var s provider.Schemes
	s.Register("env", env.Scheme(func(o *env.Options) {
		o.Getenv = func(k string) string { return map[string]string{"sub-alice": decoy}[k] }
		o.Environ = func() []string { return nil }
	}))
	s.Register("file", file.Scheme(func(o *file.Options) { o.Getenv = getenv }))
	s.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir = w.secrets }))
	s.Register("keychain", keychain.Scheme(func(o *keychain.Options) { o.Keyring = memKeyring{w.kc} }))
	s.Register("vault", vault.Scheme(func(o *vault.Options) {
		o.Getenv = func(k string) string {
			return map[string]string{"VAULT_ADDR": vs.URL, "VAULT_TOKEN": vaultToken, "VAULT_MAX_RETRIES": "0", "HOME": w.home}[k]
		}
	}))
	s.Register("ssm", ssm.Scheme(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(ss.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "test"}, nil
		})}))
	w.schemes = &s

	w.perSubject = map[string]string{
		"vault":      "vault:secret/data/mcp/users/{sub}#token",
		"vault-deep": "vault:secret/data/mcp/users/{sub}/api#token",
		"ssm":        "ssm:/mcp/users/{sub}/",
		"ssm-one":    "ssm:/mcp/one/{sub}/token#token",
		"keychain":   "keychain:{sub}#token",
		"kc-team":    "keychain:team/{sub}#token",
		"secretfile": "secretfile:" + w.secrets + "/{sub}",
		"section":    "file:{sub}",
		"file-path":  "file:" + w.credDir + "/{sub}?profile=work",
		"env":        "env:{sub}",
	}
	var b strings.Builder
	b.WriteString(`{"profiles": {"shared": {"source": "vault:secret/data/mcp/shared#token", "allow": {"issuers": ["` + issuer + `"]}}`)
	for name, tmpl := range w.perSubject {
		fmt.Fprintf(&b, `, %q: {"source": %q, "allow": {"issuers": [%q]}}`, name, tmpl, issuer)
	}
	b.WriteString("}}")
	w.profiles = privateFile(t, t.TempDir(), "profiles.json", b.String())

	// Decoys: the shared secret, and every place a subject's raw text
	// would name.
	w.vault.set("secret/data/mcp/shared", decoy)
	for _, raw := range []string{"alice", "Alice", "..", "admin", "x", "users", "sub-"} {
		w.provision(t, raw, decoy)
	}
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(w.secrets), "victim.json"), []byte(`{"token": "`+decoy+`"}`), 0o600))
	return w
}

// provision puts v in every backend at segment seg of each template.
func (w *world) provision(t testing.TB, seg, v string) {
	w.vault.set("secret/data/mcp/users/"+seg, v)
	w.vault.set("secret/data/mcp/users/"+seg+"/api", v)
	w.ssm.set("/mcp/users/"+seg+"/token", v)
	w.ssm.set("/mcp/one/"+seg+"/token", v)
	w.kc.set("mcpcred:"+seg+"/token", v)
	w.kc.set("team:"+seg+"/token", v)
	if secretfile.ValidName(seg) == nil && len(seg) < 200 {
		require.NoError(t, os.WriteFile(filepath.Join(w.secrets, seg+".json"), []byte(`{"token": "`+v+`"}`), 0o600))
	}
	if len(seg) < 120 && !strings.ContainsAny(seg, "[]/.") && seg != "" {
		f, err := os.OpenFile(filepath.Join(w.home, ".mcp", "credentials"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		require.NoError(t, err)
		fmt.Fprintf(f, "[%s]\ntoken = %s\n", seg, v)
		require.NoError(t, f.Close())
		require.NoError(t, os.WriteFile(filepath.Join(w.credDir, seg), []byte("[work]\ntoken = "+v+"\n"), 0o600))
	}
}

func (w *world) provider(t testing.TB) *profile.Provider {
	p, err := profile.New(w.schemes, func(o *profile.Options) {
		o.Path = w.profiles
		o.Getenv = func(k string) string { return map[string]string{"HOME": w.home}[k] }
	})
	require.NoError(t, err)
	return p
}

// TestPerSubjectSources resolves per-subject profiles of every scheme
// through a real resolver: each caller gets its own value, one not
// provisioned gets a definite "empty", and no caller, decoy or neighbour
// is ever served to another.
func TestPerSubjectSources(t *testing.T) {
	w := newWorld(t)
	subjects := []string{"alice", "bob", "Alice", "../x", "a/b", "%2e%2e", "\u0430lice", "alice@example.com"}
	for i, s := range subjects {
		w.provision(t, profile.EncodeSubject(s), fmt.Sprintf("tok-%d", i))
	}
	p := w.provider(t)
	r, err := resolver.New([]provider.Provider{p}, func(o *resolver.Options) { o.AllowProfile = p.Allows })
	require.NoError(t, err)
	ctx := context.Background()
	for name := range w.perSubject {
		t.Run(name, func(t *testing.T) {
			for i, s := range subjects {
				res, err := r.Resolve(ctx, resolver.Request{Caller: caller(s), Profile: name})
				if name == "env" {
					// Variable names take no '-': the env scheme refuses
					// every subject's reference, definitely.
					require.ErrorIs(t, err, profile.ErrSubjectSource)
					require.ErrorIs(t, err, provider.ErrFinal)
					continue
				}
				require.NoError(t, err, "subject %q", s)
				assert.Equal(t, fmt.Sprintf("tok-%d", i), res.Credentials.Value("token"), "subject %q", s)
			}
			// A subject with nothing in its place: a definite refusal.
			_, err := r.Resolve(ctx, resolver.Request{Caller: caller("carol"), Profile: name})
			require.Error(t, err)
			assert.True(t, errors.Is(err, profile.ErrSourceEmpty) || errors.Is(err, profile.ErrSubjectSource), "%v", err)
			assert.NotContains(t, err.Error(), decoy)
			// Another issuer is not offered the profile at all.
			_, err = r.Resolve(ctx, resolver.Request{Caller: &provider.Caller{Issuer: other, Subject: "alice"}, Profile: name})
			require.ErrorIs(t, err, resolver.ErrProfileRefused)
			// Nor is stdio.
			_, err = p.Retrieve(ctx, name)
			require.ErrorIs(t, err, profile.ErrNotOffered)
			require.ErrorIs(t, err, provider.ErrFinal)
		})
	}
	// The backends were asked only for subjects' places.
	for _, st := range []*store{w.vault, w.ssm, w.kc} {
		for _, read := range st.read() {
			assert.Contains(t, read, profile.SubjectPrefix, "read %q", read)
		}
	}
}

// validCaller reports whether a resolver accepts sub as a caller's subject.
func validCaller(sub string) bool { return caller(sub).Validate() == nil }

// TestHostileSubjects gives each of over a hundred hostile subjects its own
// value in every backend and checks that each reads its own value or is
// refused, never a decoy or another subject's value; a subject no resolver
// accepts is refused before anything is read.
func TestHostileSubjects(t *testing.T) {
	w := newWorld(t)
	subjects := hostileSubjects()
	require.GreaterOrEqual(t, len(subjects), 100)
	own := map[string]string{}
	for i, s := range subjects {
		v := fmt.Sprintf("tok-%03d", i)
		own[s] = v
		w.provision(t, profile.EncodeSubject(s), v)
	}
	p := w.provider(t)
	r, err := resolver.New([]provider.Provider{p}, func(o *resolver.Options) { o.AllowProfile = p.Allows })
	require.NoError(t, err)
	ctx := context.Background()
	served := map[string]int{}
	for _, s := range subjects {
		for name := range w.perSubject {
			res, err := r.Resolve(ctx, resolver.Request{Caller: caller(s), Profile: name})
			direct, derr := p.Retrieve(provider.ContextWithCaller(ctx, caller(s)), name)
			if !validCaller(s) {
				require.ErrorIs(t, err, resolver.ErrInvalidCaller, "%q", s)
				require.ErrorIs(t, derr, profile.ErrNotOffered, "%q", s)
				continue
			}
			if err != nil {
				require.ErrorIs(t, err, provider.ErrFinal, "%s for %q", name, s)
				assert.NotContains(t, err.Error(), decoy)
				require.Error(t, derr)
				continue
			}
			require.NoError(t, derr)
			assert.Equal(t, own[s], res.Credentials.Value("token"), "%s for %q", name, s)
			assert.Equal(t, own[s], direct.Value("token"), "%s for %q", name, s)
			served[name]++
		}
	}
	t.Logf("served per profile: %v", served)
	for name := range w.perSubject {
		if name != "env" {
			assert.Greater(t, served[name], 60, "%s serves most valid subjects", name)
		}
	}
}

// TestSubjectsNeverCross has many callers read per-subject profiles at
// once, through a resolver and directly, and checks each gets only its own
// value.
func TestSubjectsNeverCross(t *testing.T) {
	w := newWorld(t)
	var subjects []string
	for i := range 20 {
		subjects = append(subjects, fmt.Sprintf("user%d", i), fmt.Sprintf("User%d", i))
	}
	for _, s := range subjects {
		w.provision(t, profile.EncodeSubject(s), "tok-"+s)
	}
	p := w.provider(t)
	r, err := resolver.New([]provider.Provider{p}, func(o *resolver.Options) { o.AllowProfile = p.Allows })
	require.NoError(t, err)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 80 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := subjects[i%len(subjects)]
			for _, name := range []string{"vault", "ssm", "secretfile", "keychain", "section"} {
				res, err := r.Resolve(ctx, resolver.Request{Caller: caller(s), Profile: name})
				if assert.NoError(t, err) {
					assert.Equal(t, "tok-"+s, res.Credentials.Value("token"), "%s for %s", name, s)
				}
				c, err := p.Retrieve(provider.ContextWithCaller(ctx, caller(s)), name)
				if assert.NoError(t, err) {
					assert.Equal(t, "tok-"+s, c.Value("token"), "%s for %s", name, s)
				}
			}
		}()
	}
	wg.Wait()
}

// jsonString returns s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// reporting wraps a scheme so that its Targets' Providers answer with the
// resources the Target lists instead of reading anything: what a subject
// would read.
func reporting(sc provider.Scheme) provider.Scheme {
	return provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		t, err := sc.Open(ref)
		if err != nil {
			return t, err
		}
		var read []string
		for _, r := range t.Resources {
			read = append(read, r.String())
		}
		t.Provider = provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
			return provider.NewCredentials(map[string]string{"read": strings.Join(read, "\n")}, provider.Source{Provider: "report"}), nil
		}), "report")
		return t, nil
	})
}

// FuzzTemplateSubject opens per-subject profiles of every scheme, and of
// fuzzed templates over a scheme whose resource is its body, for fuzzed
// subjects, and checks what each would read against a policy written by
// hand for each template: it is inside the template's place, and it is the
// subject's own place (its segment decodes to the subject).
func FuzzTemplateSubject(f *testing.F) {
	for _, s := range hostileSubjects() {
		f.Add(s, "mcp/users", "")
	}
	f.Add("alice", "a/b", "/c")
	f.Add("alice", "", "?version=2#token")
	f.Add("x", "a", "/**")
	home := f.TempDir()
	secrets := "/run/secrets/users"
	var s provider.Schemes
	s.Register("file", reporting(file.Scheme(func(o *file.Options) {
		o.Getenv = func(k string) string { return map[string]string{"HOME": home}[k] }
	})))
	s.Register("secretfile", reporting(secretfile.Scheme()))
	s.Register("keychain", reporting(keychain.Scheme(func(o *keychain.Options) { o.Keyring = memKeyring{newStore()} })))
	s.Register("vault", reporting(vault.Scheme(func(o *vault.Options) {
		o.Getenv = func(k string) string { return map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "HOME": home}[k] }
	})))
	s.Register("ssm", reporting(ssm.Scheme(aws.Config{Region: "eu-west-1"})))
	s.Register("mem", testScheme(func(ref provider.Ref) provider.Provider {
		return provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
			return provider.NewCredentials(map[string]string{"read": "mem:" + ref.Body}, provider.Source{Provider: "report"}), nil
		}), "report")
	}))
	fixed := map[string]struct{ tmpl, policy string }{
		"vault":      {"vault:secret/data/mcp/users/{sub}#token", "vault:secret/data/mcp/users/sub-*"},
		"vault-deep": {"vault:secret/data/mcp/users/{sub}/api?version=3", "vault:secret/data/mcp/users/sub-*/api"},
		"ssm":        {"ssm:/mcp/users/{sub}/", "ssm:/mcp/users/sub-*/**"},
		"ssm-one":    {"ssm:/mcp/one/{sub}/token#token", "ssm:/mcp/one/sub-*/token"},
		"keychain":   {"keychain:{sub}#token", "keychain:mcpcred/sub-*"},
		"kc-team":    {"keychain:team/{sub}", "keychain:team/sub-*"},
		"secretfile": {"secretfile:" + secrets + "/{sub}", "secretfile:" + secrets + "/sub-*"},
		"section":    {"file:{sub}", "file:" + filepath.ToSlash(filepath.Join(home, ".mcp", "credentials")) + "/sub-*"},
		"file-path":  {"file:/etc/mcp/{sub}?profile=work", "file:/etc/mcp/sub-*/work"},
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, sub, before, after string) {
		c := caller(sub)
		if c.Validate() != nil {
			return
		}
		seg := profile.EncodeSubject(sub)
		check := func(name, policy, read string) {
			t.Helper()
			pol, err := provider.NewRefPolicy(policy)
			if err != nil {
				t.Fatalf("policy %q: %v", policy, err)
			}
			for _, text := range strings.Split(read, "\n") {
				scheme, path, _ := strings.Cut(text, ":")
				path = strings.TrimSuffix(path, "/**")
				r := provider.Resource{Scheme: scheme, Path: path}
				if strings.HasSuffix(text, "/**") {
					r.Span = provider.Subtree
				}
				if !pol.Covers(r) {
					t.Fatalf("%s for %q read %q, outside %q", name, sub, text, policy)
				}
				if !slices.Contains(strings.Split(path, "/"), seg) {
					t.Fatalf("%s for %q read %q, which is not its own place %q", name, sub, text, seg)
				}
			}
		}
		tmpl := "mem:" + before + "/{sub}" + after
		if !utf8.ValidString(tmpl) {
			return // JSON would change it
		}
		file := func(fuzzed string) string {
			var b strings.Builder
			b.WriteString(`{"profiles": {`)
			for name, fx := range fixed {
				fmt.Fprintf(&b, `%s: {"source": %s, "allow": {"issuers": [%s]}}, `, jsonString(name), jsonString(fx.tmpl), jsonString(issuer))
			}
			fmt.Fprintf(&b, `"fuzzed": {"source": %s, "allow": {"issuers": [%s]}}}}`, jsonString(fuzzed), jsonString(issuer))
			return b.String()
		}
		data := file(tmpl)
		parsed, err := profile.Parse([]byte(data))
		if err != nil {
			// Only the fuzzed template may be refused.
			var se *provider.SyntaxError
			if !errors.As(err, &se) || !strings.Contains(se.Reason, `"fuzzed"`) {
				t.Fatalf("Parse: %v", err)
			}
			data = file("mem:x/{sub}")
		}
		path := filepath.Join(t.TempDir(), "profiles.json")
		require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
		p, err := profile.New(&s, func(o *profile.Options) { o.Path = path })
		require.NoError(t, err)
		cctx := provider.ContextWithCaller(ctx, c)
		for name, fx := range fixed {
			got, err := p.Retrieve(cctx, name)
			if err != nil {
				if !errors.Is(err, provider.ErrFinal) || !errors.Is(err, profile.ErrSubjectSource) {
					t.Fatalf("%s for %q: %v", name, sub, err)
				}
				continue
			}
			check(name, fx.policy, got.Value("read"))
		}
		if parsed == nil {
			return
		}
		// The fuzzed template: its own policy, written from its text.
		body, _, _ := strings.Cut(strings.TrimPrefix(tmpl, "mem:"), "?")
		body, _, _ = strings.Cut(body, "#")
		policy := strings.Replace(body, profile.SubjectPlaceholder, profile.SubjectPrefix+"*", 1)
		if _, err := provider.NewRefPolicy("mem:" + policy); err != nil {
			return // no pattern says the same; the derived check still ran
		}
		got, err := p.Retrieve(cctx, "fuzzed")
		if err != nil {
			if !errors.Is(err, provider.ErrFinal) {
				t.Fatalf("fuzzed %q for %q: %v", tmpl, sub, err)
			}
			return
		}
		check("fuzzed", "mem:"+policy, got.Value("read"))
	})
}

// TestSchemeBoundToTemplate checks the defence that does not rely on the
// encoding: whatever a scheme makes of a subject's reference, the profile
// reads only the template's place for that subject, and refuses otherwise
// before anything is read.
func TestSchemeBoundToTemplate(t *testing.T) {
	var reads []string
	var mu sync.Mutex
	provide := func(res string) provider.Provider {
		return provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
			mu.Lock()
			reads = append(reads, res)
			mu.Unlock()
			return provider.NewCredentials(map[string]string{"token": "value-of-" + res}, provider.Source{Provider: "odd"}), nil
		}), "odd")
	}
	// odd reads what its body names, except as each case bends it.
	odd := func(bend func(body string) []string) provider.Scheme {
		return provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
			var rs []provider.Resource
			for _, p := range bend(ref.Body) {
				rs = append(rs, provider.Resource{Scheme: ref.Scheme, Path: p})
			}
			return provider.Target{Resources: rs, Provider: provide(strings.Join(bend(ref.Body), ","))}, nil
		})
	}
	probe := profile.EncodeSubject("\x00")
	for _, tc := range []struct {
		name string
		bend func(body string) []string
	}{
		{"reads a fixed place", func(string) []string { return []string{"users/shared"} }},
		{"reads a fixed place too", func(b string) []string { return []string{b, "users/shared"} }},
		{"folds case", func(b string) []string { return []string{strings.ToLower(b)} }},
		{"strips the prefix", func(b string) []string { return []string{strings.Replace(b, profile.SubjectPrefix, "", 1)} }},
		{"reads a neighbour for some", func(b string) []string {
			if strings.Contains(b, probe) {
				return []string{b}
			}
			return []string{"users/" + profile.EncodeSubject("alice")}
		}},
		{"climbs for some", func(b string) []string {
			if strings.Contains(b, probe) {
				return []string{b}
			}
			return []string{"admin"}
		}},
		{"reads more for some", func(b string) []string {
			if strings.Contains(b, probe) {
				return []string{b}
			}
			return []string{b, "users/" + profile.EncodeSubject("alice")}
		}},
		{"reads deeper for some", func(b string) []string {
			if strings.Contains(b, probe) {
				return []string{b}
			}
			return []string{b + "/x"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads = nil
			var s provider.Schemes
			s.Register("odd", odd(tc.bend))
			path := write(t, `{"profiles": {"p": {"source": "odd:users/{sub}", "allow": {"issuers": ["`+issuer+`"]}}}}`, 0o600)
			p, err := profile.New(&s, func(o *profile.Options) { o.Path = path })
			require.NoError(t, err)
			_, err = p.Retrieve(provider.ContextWithCaller(context.Background(), caller("Zoë")), "p")
			require.ErrorIs(t, err, profile.ErrSubjectSource)
			require.ErrorIs(t, err, provider.ErrFinal)
			assert.Empty(t, reads, "nothing is read")
		})
	}
	// A scheme that keeps to the template serves the subject's own place.
	var s provider.Schemes
	s.Register("odd", odd(func(b string) []string { return []string{b} }))
	path := write(t, `{"profiles": {"p": {"source": "odd:users/{sub}", "allow": {"issuers": ["`+issuer+`"]}}}}`, 0o600)
	p, err := profile.New(&s, func(o *profile.Options) { o.Path = path })
	require.NoError(t, err)
	c, err := p.Retrieve(provider.ContextWithCaller(context.Background(), caller("Zoë")), "p")
	require.NoError(t, err)
	assert.Equal(t, "value-of-users/sub-_5Ao_C3_AB", c.Value("token"))
}
