// Package testop runs a real OpenID provider on loopback for tests of
// remote MCP servers: zitadel/oidc's op package (discovery, JWKS, the
// token endpoint, JWT signing) over zitadel's example in-memory storage,
// with the parts that example does not cover replaced:
//
//   - Clients use the client-credentials grant and get JWT access tokens
//     (RFC 9068 shape) whose subject is a person's, so one OP issues tokens
//     for as many subjects as a test registers. The example storage's one
//     service user gets opaque tokens for its own client id.
//   - The audience is the resource server's URL (the MCP server), not the
//     client id, as MCP clients request with RFC 8707's resource parameter.
//   - Tokens carry scope and groups claims, and a client may be given a
//     lifetime (negative: already expired) or another audience.
//   - The signing key rotates on demand; the old key stays published until
//     retired.
//
// The OP serves plain HTTP on 127.0.0.1 and is for tests only.
package testop

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// A Client is an OAuth client registered with the OP: the
// client-credentials grant with ID and Secret gets a token for Subject.
type Client struct {
	ID      string   `json:"id"`
	Secret  string   `json:"secret"`
	Subject string   `json:"subject"`
	Groups  []string `json:"groups,omitempty"`
	// Audience of its tokens; default the OP's resource.
	Audience []string `json:"audience,omitempty"`
	// Lifetime of its tokens; default 5 minutes, negative: issued expired.
	Lifetime time.Duration `json:"lifetime,omitempty"`
}

// OP is a running OpenID provider.
type OP struct {
	// Issuer is the OP's issuer URL, http://127.0.0.1:PORT.
	Issuer string
	// Resource is the default audience of its tokens.
	Resource string

	st        *store
	hs        *http.Server
	keyServed atomic.Int64
}

// Start runs an OP on a loopback port that issues tokens for resource to
// clients.
func Start(resource string, clients ...Client) (*OP, error) {
	return Listen("127.0.0.1:0", resource, clients...)
}

// Listen is Start on addr.
func Listen(addr, resource string, clients ...Client) (*OP, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	o := &OP{Issuer: "http://" + ln.Addr().String(), Resource: resource}
	st, err := newStore(o.Issuer, resource)
	if err != nil {
		ln.Close()
		return nil, err
	}
	o.st = st
	for _, c := range clients {
		st.add(c)
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:      sha256.Sum256([]byte(o.Issuer)),
		CryptoKeyId:    "testop",
		AuthMethodPost: true,
	}, st, op.StaticIssuer(o.Issuer), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, err
	}
	keys := provider.Endpoints().JwksURI.Relative()
	o.hs = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == keys {
			o.keyServed.Add(1)
		}
		provider.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go o.hs.Serve(ln)
	return o, nil
}

// Close stops the OP.
func (o *OP) Close() error { return o.hs.Close() }

// AddClient registers c.
func (o *OP) AddClient(c Client) { o.st.add(c) }

// KeySetFetches is how many times the OP served its key set (JWKS).
func (o *OP) KeySetFetches() int64 { return o.keyServed.Load() }

// RotateKey makes a new signing key current: tokens issued from now on are
// signed with it. The previous keys stay published until RetireKeys.
func (o *OP) RotateKey() error { return o.st.rotate() }

// RetireKeys stops publishing every key but the current one.
func (o *OP) RetireKeys() { o.st.retire() }

// Token gets an access token for a client from the OP's token endpoint
// (client credentials, HTTP basic authentication), as an OAuth client
// does.
func (o *OP) Token(ctx context.Context, clientID, secret string, scopes ...string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		return "", fmt.Errorf("testop: token endpoint: %s: %v", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return "", fmt.Errorf("testop: token endpoint: %s %s", resp.Status, tr.Error)
	}
	return tr.AccessToken, nil
}

// store is zitadel's example storage with client credentials, signing
// keys and claims of its own.
type store struct {
	*storage.Storage
	resource string

	mu      sync.Mutex
	clients map[string]*client
	keys    []*signingKey // published; the last signs
}

func newStore(issuer, resource string) (*store, error) {
	s := &store{
		Storage:  storage.NewStorageWithClients(storage.NewUserStore(issuer), map[string]*storage.Client{}),
		resource: resource,
		clients:  map[string]*client{},
	}
	return s, s.rotate()
}

func (s *store) add(c Client) {
	if len(c.Audience) == 0 {
		c.Audience = []string{s.resource}
	}
	if c.Lifetime == 0 {
		c.Lifetime = 5 * time.Minute
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = &client{c}
}

func (s *store) client(id string) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id]
}

func (s *store) rotate() error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, &signingKey{id: fmt.Sprintf("k%d-%d", len(s.keys)+1, time.Now().UnixNano()), key: k})
	return nil
}

func (s *store) retire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = s.keys[len(s.keys)-1:]
}

// ClientCredentials authenticates a registered client.
func (s *store) ClientCredentials(_ context.Context, clientID, clientSecret string) (op.Client, error) {
	c := s.client(clientID)
	if c == nil || c.Secret != clientSecret {
		return nil, errors.New("testop: wrong client or secret")
	}
	return c, nil
}

// ClientCredentialsTokenRequest is the token a client gets: its subject,
// its audience, the scopes it asked for.
func (s *store) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	c := s.client(clientID)
	if c == nil {
		return nil, errors.New("testop: wrong client or secret")
	}
	return &tokenRequest{c: c, scopes: scopes}, nil
}

// CreateAccessToken gives a client's token its lifetime.
func (s *store) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	if tr, ok := req.(*tokenRequest); ok {
		var id [16]byte
		rand.Read(id[:])
		return fmt.Sprintf("%x", id), time.Now().Add(tr.c.Lifetime), nil
	}
	return s.Storage.CreateAccessToken(ctx, req)
}

// GetPrivateClaimsFromScopes adds scope and the client's groups.
func (s *store) GetPrivateClaimsFromScopes(_ context.Context, _, clientID string, scopes []string) (map[string]any, error) {
	claims := map[string]any{}
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	if c := s.client(clientID); c != nil && len(c.Groups) > 0 {
		claims["groups"] = c.Groups
	}
	return claims, nil
}

// SigningKey is the current key.
func (s *store) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1], nil
}

// SignatureAlgorithms are RS256 only.
func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet publishes every key not retired.
func (s *store) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]op.Key, len(s.keys))
	for i, k := range s.keys {
		keys[i] = publicKey{k}
	}
	return keys, nil
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

type tokenRequest struct {
	c      *client
	scopes []string
}

func (t *tokenRequest) GetSubject() string    { return t.c.Subject }
func (t *tokenRequest) GetAudience() []string { return t.c.Audience }
func (t *tokenRequest) GetScopes() []string   { return t.scopes }

// client is an op.Client for the client-credentials grant with JWT access
// tokens.
type client struct{ Client }

func (c *client) GetID() string                       { return c.ID }
func (c *client) RedirectURIs() []string              { return nil }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType  { return nil }
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}
func (c *client) LoginURL(string) string               { return "" }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return 5 * time.Minute }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(string) bool           { return true }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
