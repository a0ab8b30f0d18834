package vaulttest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jwtauth "github.com/hashicorp/vault-plugin-auth-jwt"
	"github.com/hashicorp/vault/api"
	credAppRole "github.com/hashicorp/vault/builtin/credential/approle"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/internalshared/configutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/vault"
)

// server is an in-process Vault: a real core (in-memory storage) behind a
// real HTTP listener that can be stopped and started on the same address.
type server struct {
	t     testing.TB
	core  *vault.Core
	keys  [][]byte
	root  string
	addr  string // "127.0.0.1:port"
	URL   string
	admin *api.Client // root token

	mu  sync.Mutex
	srv *http.Server
	h   http.Handler
}

func startServer(t testing.TB) *server {
	t.Helper()
	conf := &vault.CoreConfig{
		CredentialBackends: map[string]logical.Factory{
			"approle": credAppRole.Factory,
			"jwt":     jwtauth.Factory,
		},
		LogicalBackends: map[string]logical.Factory{
			// Answers carry renewable leases, like a dynamic secrets engine.
			"leased-kv": vault.LeasedPassthroughBackendFactory,
		},
	}
	core, keys, root := vault.TestCoreUnsealedWithConfig(t, conf)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, core: core, keys: keys, root: root, addr: ln.Addr().String()}
	s.URL = "http://" + s.addr
	s.h = vaulthttp.Handler.Handler(&vault.HandlerProperties{
		Core:           core,
		ListenerConfig: &configutil.Listener{Address: "127.0.0.1"},
	})
	s.serve(ln)
	t.Cleanup(s.stop)

	cfg := api.DefaultConfig()
	cfg.Address = s.URL
	cfg.MaxRetries = 0
	s.admin, err = api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.admin.SetToken(root)
	s.setup()
	return s
}

func (s *server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s.h}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// stop closes the listener and every open connection: Vault is gone.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

// restart listens again on the same address.
func (s *server) restart() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

func (s *server) seal() {
	s.t.Helper()
	if err := vault.TestCoreSeal(s.core); err != nil {
		s.t.Fatal(err)
	}
}

func (s *server) unseal() {
	s.t.Helper()
	for _, k := range s.keys {
		if _, err := vault.TestCoreUnseal(s.core, append([]byte(nil), k...)); err != nil {
			s.t.Fatal(err)
		}
	}
	// Wait until the core answers again.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := s.admin.Auth().Token().LookupSelf(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatal("Vault did not come back after unseal")
}

const readPolicy = `
path "secret/data/mcp/*" { capabilities = ["read"] }
path "kv1/mcp/*"         { capabilities = ["read"] }
path "leased/creds/*"    { capabilities = ["read"] }
`

// setup makes the layout the tests read: "secret" upgraded to KV v2, "kv1"
// a KV v1 mount, "leased" a leased engine, a read policy, AppRole and JWT.
func (s *server) setup() {
	t := s.t
	c := s.admin
	// TestCoreUnsealed mounts secret/ as KV v1; upgrade it to v2.
	if err := c.Sys().TuneMount("secret", api.MountConfigInput{Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatalf("upgrade secret/ to KV v2: %v", err)
	}
	if err := c.Sys().Mount("kv1", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().Mount("leased", &api.MountInput{Type: "leased-kv"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().PutPolicy("mcp-read", readPolicy); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().EnableAuthWithOptions("jwt", &api.EnableAuthOptions{Type: "jwt"}); err != nil {
		t.Fatal(err)
	}
	// The KV v2 upgrade runs in the background: retry the first write.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := c.KVv2("secret").Put(context.Background(), "mcp/warmup", map[string]any{"x": "y"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("KV v2 upgrade did not finish: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *server) putKV2(path string, data map[string]any) int {
	s.t.Helper()
	sec, err := s.admin.KVv2("secret").Put(context.Background(), path, data)
	if err != nil {
		s.t.Fatal(err)
	}
	return sec.VersionMetadata.Version
}

func (s *server) write(path string, data map[string]any) *api.Secret {
	s.t.Helper()
	sec, err := s.admin.Logical().Write(path, data)
	if err != nil {
		s.t.Fatalf("write %s: %v", path, err)
	}
	return sec
}

// appRole creates role name with the read policy and returns its role id
// and a fresh secret id.
func (s *server) appRole(name string, data map[string]any) (roleID, secretID string) {
	s.t.Helper()
	d := map[string]any{"token_policies": "mcp-read"}
	for k, v := range data {
		d[k] = v
	}
	s.write("auth/approle/role/"+name, d)
	r, err := s.admin.Logical().Read("auth/approle/role/" + name + "/role-id")
	if err != nil {
		s.t.Fatal(err)
	}
	return r.Data["role_id"].(string), s.secretID(name, false)
}

// secretID returns a new secret id for role, or a response-wrapping token
// that holds one.
func (s *server) secretID(role string, wrapped bool) string {
	s.t.Helper()
	c := s.admin
	if wrapped {
		var err error
		c, err = s.admin.Clone()
		if err != nil {
			s.t.Fatal(err)
		}
		c.SetToken(s.root)
		c.SetWrappingLookupFunc(func(string, string) string { return "120s" })
	}
	sec, err := c.Logical().Write("auth/approle/role/"+role+"/secret-id", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if wrapped {
		return sec.WrapInfo.Token
	}
	return sec.Data["secret_id"].(string)
}

// token creates a token with the read policy.
func (s *server) token(ttl string, renewable bool) string {
	s.t.Helper()
	r := renewable
	sec, err := s.admin.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"mcp-read"}, TTL: ttl, Renewable: &r})
	if err != nil {
		s.t.Fatal(err)
	}
	return sec.Auth.ClientToken
}

func (s *server) revoke(token string) {
	s.t.Helper()
	if err := s.admin.Auth().Token().RevokeTree(token); err != nil {
		s.t.Fatal(err)
	}
}

// jwtIssuer signs JWTs that the jwt auth mount trusts, standing in for a
// Kubernetes service-account token issuer.
type jwtIssuer struct {
	key *rsa.PrivateKey
}

func (s *server) jwtRole(role string) *jwtIssuer {
	s.t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		s.t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		s.t.Fatal(err)
	}
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	s.write("auth/jwt/config", map[string]any{"jwt_validation_pubkeys": []string{pub}})
	s.write("auth/jwt/role/"+role, map[string]any{
		"role_type":       "jwt",
		"bound_audiences": []string{"vault"},
		"user_claim":      "sub",
		"token_policies":  []string{"mcp-read"},
	})
	return &jwtIssuer{key: key}
}

// token returns a signed service-account-like JWT.
func (j *jwtIssuer) token(t testing.TB, sub string, ttl time.Duration) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now()
	head := enc(map[string]any{"alg": "RS256", "typ": "JWT"})
	body := enc(map[string]any{
		"iss": "https://kubernetes.default.svc", "sub": sub, "aud": "vault",
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(ttl).Unix(),
	})
	sum := sha256.Sum256([]byte(head + "." + body))
	sig, err := rsa.SignPKCS1v15(rand.Reader, j.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// logSink collects log output and checks it for leaks.
type logSink struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logSink) count(s string) int { return strings.Count(l.String(), s) }
