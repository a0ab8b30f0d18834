package vaulttest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/mcpcred/mcpcred/internal/testop"
)

// enrollPolicy is the least privilege of a server that enrolls per-user
// credentials (the policy provider/vault documents): it reads, writes and
// removes the users' own secrets and the enrollment ledger, and nothing
// else.
const enrollPolicy = `
path "secret/data/mcp/users/*"     { capabilities = ["create", "read", "update"] }
path "secret/metadata/mcp/users/*" { capabilities = ["delete"] }
path "secret/data/mcp/tp/*"        { capabilities = ["create", "read", "update"] }
path "secret/metadata/mcp/tp/*"    { capabilities = ["delete"] }
path "secret/data/mcpcred/used/*"  { capabilities = ["create", "read", "update"] }
`

// TestEnrollEndToEnd runs examples/token-mcp/e2e/enroll.mjs: the official
// TypeScript MCP SDK against two token-mcp replicas (--http, built from
// the library's module) behind a load balancer, sharing this real Vault,
// with callers verified by a real OpenID provider (internal/testop) that
// is also the third party of the OAuth connect flow. The replicas hold a
// Vault token with enrollPolicy only.
func TestEnrollEndToEnd(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed: the enrollment end-to-end test needs Node.js 20+ and npm")
		}
		t.Skip("node is not installed")
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	e2eDir := filepath.Join(root, "examples", "token-mcp", "e2e")
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		cmd.Dir = e2eDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	bin := filepath.Join(t.TempDir(), "token-mcp")
	build := exec.Command("go", "build", "-o", bin, "./examples/token-mcp")
	build.Dir = root
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build token-mcp: %v\n%s", err, out)
	}

	s := startServer(t)
	if err := s.admin.Sys().PutPolicy("mcp-enroll", enrollPolicy); err != nil {
		t.Fatal(err)
	}
	tok, err := s.admin.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"mcp-enroll"}, NoDefaultPolicy: true, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	serverToken := tok.Auth.ClientToken

	// The balancer: /mcp to the replica X-Replica names (sticky sessions),
	// everything else (the enrollment pages) round robin, so a user who
	// starts on one replica finishes on the other.
	lbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := "http://" + lbLn.Addr().String()
	resource := lb + "/mcp"
	ports := []string{freeAddr(t), freeAddr(t)}
	var rr atomic.Int64
	proxy := &httputil.ReverseProxy{FlushInterval: -1, Rewrite: func(r *httputil.ProxyRequest) {
		i := int(rr.Add(1) % 2)
		switch r.In.Header.Get("X-Replica") {
		case "a":
			i = 0
		case "b":
			i = 1
		}
		r.SetURL(&url.URL{Scheme: "http", Host: ports[i]})
		r.Out.Host = r.In.Host
	}}
	lbSrv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go lbSrv.Serve(lbLn)
	t.Cleanup(func() { lbSrv.Close() })

	secret := func(prefix string) string { return prefix + "-" + rand.Text() }
	users := map[string]map[string]string{
		"alice": {"username": "alice@example.com", "password": secret("pw-alice")},
		"bob":   {"username": "bob@example.com", "password": secret("pw-bob")},
	}
	tpUsers := map[string]map[string]string{"alice": {"username": "alice@thirdparty.example", "password": secret("pw-tp-alice")}}
	pasted := map[string]string{"alice": secret("key-alice"), "bob": secret("key-bob")}
	enrollSecret, tpSecret := secret("cs-enroll"), secret("cs-tp")
	const tpLifetime, margin, ttl = 6 * time.Second, 2 * time.Second, 3 * time.Second

	idp, err := testop.Start(resource,
		testop.Client{ID: "cli-alice", Secret: "cs-alice-mcp", Subject: "alice"},
		testop.Client{ID: "cli-bob", Secret: "cs-bob-mcp", Subject: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	for sub, u := range users {
		mustOK(t, idp.AddUser(testop.User{Subject: sub, Username: u["username"], Password: u["password"]}))
	}
	mustOK(t, idp.AddWebClient(testop.WebClient{ID: "mcp-enroll", Secret: enrollSecret, RedirectURIs: []string{lb + "/enroll/callback"}}))
	tp, err := testop.Start("https://api.thirdparty.example")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	mustOK(t, tp.AddUser(testop.User{Subject: "alice-tp", Username: tpUsers["alice"]["username"], Password: tpUsers["alice"]["password"]}))
	mustOK(t, tp.AddWebClient(testop.WebClient{ID: "tp-app", Secret: tpSecret, RedirectURIs: []string{lb + "/enroll/connected"}, AccessTokenLifetime: tpLifetime}))

	// Tokens of each user's MCP client (client credentials, audience the resource).
	mcpTokens := map[string]string{}
	for _, sub := range []string{"alice", "bob"} {
		tok, err := idp.Token(context.Background(), "cli-"+sub, "cs-"+sub+"-mcp")
		if err != nil {
			t.Fatal(err)
		}
		mcpTokens[sub] = tok
	}

	// The upstream API token-mcp calls: /v1/me knows the pasted keys;
	// /userinfo is the third party's, which checks its access tokens.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch r.URL.Path {
		case "/v1/me":
			for who, k := range pasted {
				if auth == k {
					json.NewEncoder(w).Encode(map[string]string{"user": who})
					return
				}
			}
			http.Error(w, "unknown key", http.StatusUnauthorized)
		case "/userinfo":
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, tp.Issuer+"/userinfo", nil)
			req.Header.Set("Authorization", r.Header.Get("Authorization"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				http.Error(w, "third party unreachable", http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	stats := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]int64{"tp_refreshes": tp.RefreshCount()})
	}))
	t.Cleanup(stats.Close)

	home := t.TempDir()
	os.Chmod(home, 0o700)
	profiles := filepath.Join(home, "profiles.json")
	doc, _ := json.Marshal(map[string]any{"profiles": map[string]any{
		"default": map[string]any{"source": "vault:secret/data/mcp/users/{sub}", "allow": map[string]any{"issuers": []string{idp.Issuer}},
			"description": "each user's own API key, enrolled in the browser"},
		"tp": map[string]any{"source": "vault:secret/data/mcp/tp/{sub}", "allow": map[string]any{"issuers": []string{idp.Issuer}},
			"description": "each user's third-party OAuth token, connected in the browser"},
	}})
	mustOK(t, os.WriteFile(profiles, doc, 0o600))
	key := make([]byte, 32)
	rand.Read(key)
	replicaEnv := []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"MCP_PROFILES_PATH=" + profiles,
		"MCP_OAUTH_ISSUER=" + idp.Issuer, "MCP_RESOURCE_URL=" + resource,
		"MCP_CREDENTIAL_TTL=" + ttl.String(),
		"VAULT_ADDR=" + s.URL, "VAULT_TOKEN=" + serverToken,
		"MCP_ENROLL_URL=" + lb + "/enroll", "MCP_ENROLL_KEY=" + base64.StdEncoding.EncodeToString(key),
		"MCP_ENROLL_CLIENT_ID=mcp-enroll", "MCP_ENROLL_CLIENT_SECRET=" + enrollSecret,
		"MCP_ENROLL_LEDGER=vault:secret/data/mcpcred/used/",
		"TOKEN_MCP_API_URL=" + api.URL,
		"TOKEN_MCP_OAUTH_ISSUER=" + tp.Issuer, "TOKEN_MCP_OAUTH_CLIENT_ID=tp-app", "TOKEN_MCP_OAUTH_CLIENT_SECRET=" + tpSecret,
		"TOKEN_MCP_OAUTH_SCOPES=openid offline_access", "TOKEN_MCP_OAUTH_PROFILES=tp", "TOKEN_MCP_OAUTH_REFRESH_MARGIN=" + margin.String(),
	}
	logs := make([]*logSink, 2)
	for i, addr := range ports {
		logs[i] = startReplica(t, bin, addr, replicaEnv)
	}

	script := exec.Command(node, filepath.Join(e2eDir, "enroll.mjs"))
	script.Dir = e2eDir
	jsonEnv := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	script.Env = append(os.Environ(),
		"MCP_URL="+resource, "ENROLL_BASE="+lb+"/enroll",
		"TOKENS="+jsonEnv(mcpTokens), "IDP_USERS="+jsonEnv(users), "TP_USERS="+jsonEnv(tpUsers), "PASTED="+jsonEnv(pasted),
		"STATS_URL="+stats.URL, "IDP_ORIGIN="+idp.Issuer, "TP_ORIGIN="+tp.Issuer,
		fmt.Sprintf("TTL_MS=%d", ttl.Milliseconds()), fmt.Sprintf("MARGIN_MS=%d", margin.Milliseconds()), fmt.Sprintf("TP_LIFETIME_MS=%d", tpLifetime.Milliseconds()))
	out, _ := script.StdoutPipe()
	script.Stderr = os.Stderr
	mustOK(t, script.Start())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		name, ok := strings.CutPrefix(line, "ok   ")
		bad, isFail := strings.CutPrefix(line, "FAIL ")
		switch {
		case ok:
			t.Run(name, func(*testing.T) {})
		case isFail:
			t.Run(bad, func(t *testing.T) { t.Error(bad) })
		default:
			t.Log(line)
		}
	}
	if err := script.Wait(); err != nil {
		t.Errorf("enroll.mjs: %v", err)
	}

	// What Vault holds: bob's key, alice's third-party tokens, no alice key.
	if sec, err := s.admin.KVv2("secret").Get(context.Background(), "mcp/users/sub-alice"); err == nil && sec != nil {
		t.Errorf("alice's removed key is still in Vault (version %d)", sec.VersionMetadata.Version)
	}
	var stored []string
	if sec, err := s.admin.KVv2("secret").Get(context.Background(), "mcp/tp/sub-alice"); err == nil {
		for k, v := range sec.Data {
			if s, ok := v.(string); ok && len(s) >= 8 && k != "oauth_client" && k != "token_type" && k != "expiry" {
				stored = append(stored, s)
			}
		}
	} else {
		t.Errorf("alice's third-party tokens are not in Vault: %v", err)
	}
	// Nothing secret in the replicas' logs.
	never := append(stored, pasted["alice"], pasted["bob"], enrollSecret, tpSecret, serverToken, base64.StdEncoding.EncodeToString(key),
		users["alice"]["password"], users["bob"]["password"], tpUsers["alice"]["password"], mcpTokens["alice"], mcpTokens["bob"])
	for i, l := range logs {
		text := l.String()
		for _, v := range never {
			if strings.Contains(text, v) {
				t.Errorf("replica %d's log holds a secret (%d bytes)", i, len(v))
			}
		}
		if t.Failed() {
			t.Logf("replica %d log:\n%s", i, text)
		}
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startReplica runs token-mcp --http on addr and waits until it serves.
func startReplica(t *testing.T, bin, addr string, env []string) *logSink {
	t.Helper()
	log := &logSink{}
	cmd := exec.Command(bin, "--http", addr)
	cmd.Env = env
	cmd.Stderr = log
	mustOK(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "serving MCP over Streamable HTTP") {
		if time.Now().After(deadline) {
			t.Fatalf("replica on %s did not start:\n%s", addr, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return log
}
