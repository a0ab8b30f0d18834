package mcptool_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/internal/testop"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// canaryPrefix begins every per-subject secret; no response may hold it.
const canaryPrefix = "cnry-"

// canaryFor is subject's own secret.
func canaryFor(sub string) string {
	h := sha256.Sum256([]byte("canary/" + sub))
	return canaryPrefix + hex.EncodeToString(h[:12])
}

// fingerprint proves which secret a tool used without showing it.
func fingerprint(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:6])
}

// perSubject is a credential source keyed by the verified caller in the
// context: each subject's own canary token, nothing for anyone else.
func perSubject(calls *atomic.Int64) provider.Provider {
	return provider.WithName(provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
		calls.Add(1)
		c := provider.CallerFromContext(ctx)
		if c == nil {
			return provider.Credentials{}, provider.NotFound("per-subject", profile, "", "no verified caller")
		}
		return provider.NewCredentials(map[string]string{provider.FieldToken: canaryFor(c.Subject)},
			provider.Source{Locator: "users/" + c.Subject}), nil
	}), "per-subject")
}

// WhoInput tries to name a subject through arguments.
type WhoInput struct {
	mcptool.Selection
	Subject string         `json:"subject,omitempty" jsonschema:"ignored: the caller is the token's"`
	Caller  map[string]any `json:"caller,omitempty" jsonschema:"ignored: the caller is the token's"`
	Sub     string         `json:"sub,omitempty" jsonschema:"ignored"`
	UserID  string         `json:"user_id,omitempty" jsonschema:"ignored"`
}

// WhoOutput says whose credential the call got, without showing it.
type WhoOutput struct {
	Caller      string `json:"caller"`
	Fingerprint string `json:"fingerprint" jsonschema:"whose secret the call got, without showing it"`
}

// remote is an MCP server behind HTTPHandler and a real OP.
type remote struct {
	op       *testop.OP
	url      string // the resource URL: the MCP endpoint
	r        *resolver.Resolver
	calls    atomic.Int64
	audit    *lockedBuf
	verifier auth.TokenVerifier
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newRemote(t testing.TB, clients []testop.Client, vo ...func(*mcptool.OIDCOptions)) *remote {
	t.Helper()
	rm := &remote{audit: &lockedBuf{}}
	var h http.Handler
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	rm.url = "http://" + ts.Listener.Addr().String() + "/mcp"
	var err error
	if rm.op, err = testop.Start(rm.url, clients...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.op.Close() })
	if rm.verifier, err = mcptool.NewOIDCVerifier(context.Background(), rm.op.Issuer, rm.url, vo...); err != nil {
		t.Fatal(err)
	}
	rm.r, err = resolver.New([]provider.Provider{perSubject(&rm.calls)}, func(o *resolver.Options) {
		o.Required = []string{provider.FieldToken}
		o.Audit = slogText(rm.audit)
		o.AllowProfile = resolver.AnyProfile // every verified caller has its own default (perSubject)
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "remote", Version: "0"}, nil)
	ct, err := mcptool.New(srv, rm.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	mcptool.AddTool(ct, &mcp.Tool{Name: "whoami", Description: "whose credential a call gets"}, func(ctx context.Context, c *mcptool.Call, in WhoInput) (WhoOutput, error) {
		res, err := c.Resolve(ctx)
		if err != nil {
			return WhoOutput{}, err
		}
		return WhoOutput{Caller: c.Caller().Subject, Fingerprint: fingerprint(res.Credentials.Value(provider.FieldToken))}, nil
	})
	if h, err = mcptool.HTTPHandler(srv, rm.verifier, mcptool.HTTPOptions{ResourceURL: rm.url, AuthorizationServers: []string{rm.op.Issuer}, ResourceName: "test"}); err != nil {
		t.Fatal(err)
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return rm
}

// connect opens an MCP session with a bearer token.
func (rm *remote) connect(t testing.TB, tok string) *mcp.ClientSession {
	t.Helper()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: rm.url, HTTPClient: &http.Client{Transport: bearer{tok}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func whoami(t testing.TB, cs *mcp.ClientSession, args map[string]any) (WhoOutput, string) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: args})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res)
	if res.IsError {
		return WhoOutput{}, string(raw)
	}
	var out WhoOutput
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out, string(raw)
}

func user(sub string) testop.Client {
	return testop.Client{ID: "cli-" + sub, Secret: "secret-" + sub, Subject: sub}
}

func (rm *remote) token(t testing.TB, c testop.Client, scopes ...string) string {
	t.Helper()
	tok, err := rm.op.Token(context.Background(), c.ID, c.Secret, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOIDCVerifierCallerFromClaims: a token the real OP issued becomes a
// provider.Caller with the claims the policy reads.
func TestOIDCVerifierCallerFromClaims(t *testing.T) {
	alice := testop.Client{ID: "claude-desktop-alice", Secret: "s3cret-alice", Subject: "alice", Groups: []string{"sre", "dev"}}
	rm := newRemote(t, []testop.Client{alice})
	ti, err := rm.verifier(context.Background(), rm.token(t, alice, "mcp.tools", "mcp.admin"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := mcptool.CallerFromTokenInfo(ti)
	want := provider.Caller{Issuer: rm.op.Issuer, Subject: "alice", ClientID: "claude-desktop-alice", Scopes: []string{"mcp.tools", "mcp.admin"}, Groups: []string{"sre", "dev"}}
	if c == nil || fmt.Sprint(*c) != fmt.Sprint(want) {
		t.Fatalf("caller = %+v, want %+v", c, want)
	}
	if ti.UserID != want.ID() || ti.Expiration.IsZero() {
		t.Fatalf("TokenInfo = %+v", ti)
	}
}

// TestRemoteCallerComesFromTheToken: each caller gets its own credential,
// and no argument (subject, caller, sub, user_id, a credential_profile)
// changes whose it is.
func TestRemoteCallerComesFromTheToken(t *testing.T) {
	rm := newRemote(t, []testop.Client{user("alice"), user("bob")})
	alice := rm.connect(t, rm.token(t, user("alice")))
	for _, args := range []map[string]any{
		{},
		{"subject": "bob"},
		{"sub": "bob"},
		{"user_id": "bob"},
		{"caller": map[string]any{"Subject": "bob", "subject": "bob", "iss": rm.op.Issuer, "sub": "bob"}},
		{"subject": "bob", "caller": map[string]any{"subject": "bob"}, "sub": "bob", "user_id": "bob"},
	} {
		out, raw := whoami(t, alice, args)
		if out.Caller != "alice" || out.Fingerprint != fingerprint(canaryFor("alice")) {
			t.Errorf("args %v: got %+v (%s), want alice's", args, out, raw)
		}
		if strings.Contains(raw, canaryPrefix) {
			t.Errorf("args %v: a canary leaked: %s", args, raw)
		}
	}
	// Arguments the tool does not declare are refused, not read.
	res, err := alice.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{"issuer": "https://evil", "token_info": map[string]any{"UserID": "bob"}}})
	if err != nil || !res.IsError {
		t.Errorf("undeclared identity arguments: %v %v, want a tool error", res, err)
	}
	bob := rm.connect(t, rm.token(t, user("bob")))
	if out, raw := whoami(t, bob, map[string]any{"subject": "alice"}); out.Caller != "bob" || out.Fingerprint != fingerprint(canaryFor("bob")) {
		t.Errorf("bob asking as alice: %+v %s", out, raw)
	}
	if a := rm.audit.String(); !strings.Contains(a, "subject=alice") || !strings.Contains(a, "subject=bob") || strings.Contains(a, canaryPrefix) {
		t.Errorf("audit log:\n%s", a)
	}
}

// TestRemoteSessionBoundToItsUser: another user's token cannot use a
// session (the SDK compares TokenInfo.UserID, the subject).
func TestRemoteSessionBoundToItsUser(t *testing.T) {
	rm := newRemote(t, []testop.Client{user("alice"), user("bob")})
	alice := rm.connect(t, rm.token(t, user("alice")))
	body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
	req, _ := http.NewRequest(http.MethodPost, rm.url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+rm.token(t, user("bob")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", alice.ID())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), canaryPrefix) {
		t.Fatalf("bob on alice's session: %s %s", resp.Status, b)
	}
}

// TestRemoteRefusesTokens: every token that is not the issuer's, for this
// resource, unexpired and signed by its keys is answered 401 with the
// metadata URL, and the answer quotes nothing of the token.
func TestRemoteRefusesTokens(t *testing.T) {
	expired := testop.Client{ID: "cli-old", Secret: "s-old", Subject: "alice", Lifetime: -time.Minute}
	other := testop.Client{ID: "cli-other", Secret: "s-other", Subject: "alice", Audience: []string{"https://other.example/mcp"}}
	rm := newRemote(t, []testop.Client{user("alice"), expired, other})
	good := rm.token(t, user("alice"))
	// Another real OP, issuing tokens for the same resource.
	rogue, err := testop.Start(rm.url, user("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	rogueTok, err := rogue.Token(context.Background(), "cli-alice", "secret-alice")
	if err != nil {
		t.Fatal(err)
	}
	hdr, payload, sig := split(t, good)
	var h map[string]any
	decode(t, hdr, &h)
	var claims map[string]any
	decode(t, payload, &claims)
	claims["sub"] = "bob"
	asBob := encode(claims)
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER := opPublicKeyDER(t, rm.op.Issuer)

	for _, tc := range []struct{ name, auth string }{
		{"no Authorization header", ""},
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("cli-alice:secret-alice"))},
		{"not a JWT", "Bearer not-a-jwt"},
		{"claims changed, signature kept", "Bearer " + hdr + "." + asBob + "." + sig},
		{"signature stripped", "Bearer " + hdr + "." + payload + "."},
		{"alg none", "Bearer " + encode(map[string]any{"alg": "none", "typ": "JWT", "kid": h["kid"]}) + "." + asBob + "."},
		{"alg none, no signature part", "Bearer " + encode(map[string]any{"alg": "none"}) + "." + payload},
		{"HS256 keyed with the OP's public key", "Bearer " + hs256(map[string]any{"alg": "HS256", "typ": "JWT", "kid": h["kid"]}, claims, pubDER)},
		{"signed by another key under the OP's kid", "Bearer " + signRS256(t, attacker, fmt.Sprint(h["kid"]), claims)},
		{"signed by another key, no kid", "Bearer " + signRS256(t, attacker, "", claims)},
		{"expired", "Bearer " + rm.token(t, expired)},
		{"another audience", "Bearer " + rm.token(t, other)},
		{"another issuer", "Bearer " + rogueTok},
		{"two tokens", "Bearer " + good + " " + good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, rm.url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"0"}}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %s, want 401: %s", resp.Status, b)
			}
			want := `Bearer resource_metadata="` + strings.TrimSuffix(rm.url, "/mcp") + `/.well-known/oauth-protected-resource/mcp"`
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
			for _, leak := range []string{"bob", "alice", rm.op.Issuer, rogue.Issuer, "other.example", payload[:20]} {
				if strings.Contains(string(b), leak) {
					t.Errorf("the 401 body quotes %q: %s", leak, b)
				}
			}
		})
	}
	if rm.calls.Load() != 0 {
		t.Errorf("a refused request reached the credential source %d times", rm.calls.Load())
	}
	// The good token passes the same check.
	if out, _ := whoami(t, rm.connect(t, good), nil); out.Fingerprint != fingerprint(canaryFor("alice")) {
		t.Fatalf("good token: %+v", out)
	}
}

// TestRemoteProtectedResourceMetadata: RFC 9728 metadata names the
// resource and its authorization server, at the path-aware and the bare
// well-known URL.
func TestRemoteProtectedResourceMetadata(t *testing.T) {
	rm := newRemote(t, nil)
	origin := strings.TrimSuffix(rm.url, "/mcp")
	for _, path := range []string{mcptool.WellKnownPRM + "/mcp", mcptool.WellKnownPRM} {
		resp, err := http.Get(origin + path)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		err = json.NewDecoder(resp.Body).Decode(&meta)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || meta.Resource != rm.url || len(meta.AuthorizationServers) != 1 || meta.AuthorizationServers[0] != rm.op.Issuer {
			t.Errorf("%s: %s %+v %v", path, resp.Status, meta, err)
		}
	}
	if resp, err := http.Get(origin + "/other"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("/other: %v %v", resp, err)
	}
}

// TestRemoteKeyRotation: after the OP rotates its signing key, tokens
// signed with the new key are accepted (go-oidc's RemoteKeySet fetches the
// new key set), and a stream of forged tokens does not make the verifier
// fetch the key set once per token.
func TestRemoteKeyRotation(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	rm := newRemote(t, []testop.Client{user("alice")}, func(o *mcptool.OIDCOptions) { o.Now = clock })
	ctx := context.Background()
	if _, err := rm.verifier(ctx, rm.token(t, user("alice")), nil); err != nil {
		t.Fatal(err)
	}
	fetches := rm.op.KeySetFetches()
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	for i := range 50 {
		forged := signRS256(t, attacker, fmt.Sprintf("unknown-kid-%d", i), map[string]any{"iss": rm.op.Issuer, "sub": "bob", "aud": rm.url, "exp": time.Now().Add(time.Hour).Unix()})
		if _, err := rm.verifier(ctx, forged, nil); err == nil {
			t.Fatal("forged token accepted")
		}
	}
	if got := rm.op.KeySetFetches() - fetches; got > 1 {
		t.Errorf("50 forged tokens made %d key set fetches, want at most 1", got)
	}
	if err := rm.op.RotateKey(); err != nil {
		t.Fatal(err)
	}
	rm.op.RetireKeys()
	advance(11 * time.Second) // past the fetch interval
	tok := rm.token(t, user("alice"))
	ti, err := rm.verifier(ctx, tok, nil)
	if err != nil || mcptool.CallerFromTokenInfo(ti).Subject != "alice" {
		t.Fatalf("token signed with the rotated key: %v", err)
	}
	if out, _ := whoami(t, rm.connect(t, tok), nil); out.Fingerprint != fingerprint(canaryFor("alice")) {
		t.Fatalf("over HTTP after rotation: %+v", out)
	}
}

// TestRemoteUnverifiedHTTPRefused: a call over HTTP whose TokenInfo holds
// no verified caller (a verifier that sets only UserID), or that came
// without any, is never served as the local user.
func TestRemoteUnverifiedHTTPRefused(t *testing.T) {
	var calls atomic.Int64
	r, err := resolver.New([]provider.Provider{provider.WithName(provider.Func(func(ctx context.Context, p string) (provider.Credentials, error) {
		calls.Add(1)
		return provider.NewCredentials(map[string]string{provider.FieldToken: canaryFor("operator")}, provider.Source{}), nil
	}), "operator")}, func(o *resolver.Options) { o.Required = []string{provider.FieldToken} })
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "remote", Version: "0"}, nil)
	ct, err := mcptool.New(srv, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	mcptool.AddTool(ct, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, c *mcptool.Call, in WhoInput) (WhoOutput, error) {
		res, err := c.Resolve(ctx)
		return WhoOutput{Fingerprint: fingerprint(res.Credentials.Value(provider.FieldToken))}, err
	})
	userIDOnly := func(context.Context, string, *http.Request) (*auth.TokenInfo, error) {
		return &auth.TokenInfo{UserID: "alice", Expiration: time.Now().Add(time.Hour)}, nil
	}
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	for name, h := range map[string]http.Handler{
		"TokenInfo without a caller": auth.RequireBearerToken(userIDOnly, nil)(streamable),
		"no token at all":            streamable,
	} {
		t.Run(name, func(t *testing.T) {
			hs := httptest.NewServer(h)
			defer hs.Close()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(context.Background(),
				&mcp.StreamableClientTransport{Endpoint: hs.URL, HTTPClient: &http.Client{Transport: bearer{"x"}}, DisableStandaloneSSE: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			out, raw := whoami(t, cs, nil)
			if out.Fingerprint != "" || !strings.Contains(raw, "only to callers it verified") || strings.Contains(raw, canaryPrefix) {
				t.Fatalf("got %+v %s", out, raw)
			}
		})
	}
	if calls.Load() != 0 {
		t.Fatalf("the operator's source was asked %d times", calls.Load())
	}
}

// TestRemoteJSONRPCErrorsQuoteNothing: over HTTP too, the SDK's JSON-RPC
// errors that quote a request are rewritten.
func TestRemoteJSONRPCErrorsQuoteNothing(t *testing.T) {
	rm := newRemote(t, []testop.Client{user("alice")})
	tok := rm.token(t, user("alice"))
	cs := rm.connect(t, tok)
	const secret = "AKIAIOSFODNN7EXAMPLE-wJalrXUtnFEMI"
	body := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":["` + secret + `"],"arguments":"` + secret + `"}}`
	req, _ := http.NewRequest(http.MethodPost, rm.url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), secret) || strings.Contains(string(b), "AKIA") {
		t.Fatalf("the error response quotes the request: %s %s", resp.Status, b)
	}
	if !strings.Contains(string(b), `"error"`) {
		t.Fatalf("no JSON-RPC error: %s %s", resp.Status, b)
	}
}

// JWT crafting for the attacks.

func split(t testing.TB, tok string) (string, string, string) {
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("not a JWS: %d parts", len(p))
	}
	return p[0], p[1], p[2]
}

func decode(t testing.TB, part string, v any) {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func encode(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hs256(hdr, claims map[string]any, key []byte) string {
	in := encode(hdr) + "." + encode(claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func signRS256(t testing.TB, k *rsa.PrivateKey, kid string, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// opPublicKeyDER is the OP's signing key as PKIX DER, what an algorithm
// confusion attack would use as an HMAC key.
func opPublicKeyDER(t testing.TB, issuer string) []byte {
	resp, err := http.Get(issuer + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ks jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&ks); err != nil || len(ks.Keys) == 0 {
		t.Fatal("no keys", err)
	}
	der, err := x509.MarshalPKIXPublicKey(ks.Keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func slogText(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
