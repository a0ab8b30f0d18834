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

// defaultLifetime is the lifetime of access tokens when a client sets none.
const defaultLifetime = 5 * time.Minute

// OP is a running OpenID provider.
type OP struct {
	// Issuer is the OP's issuer URL, http://127.0.0.1:PORT.
	Issuer string
	// Resource is the default audience of its access tokens.
	Resource string

	st        *store
	hs        *http.Server
	keyServed atomic.Int64
}

// Start runs an OP on a loopback port that issues tokens for resource to
// clients. Users and web clients are added with [OP.AddUser] and
// [OP.AddWebClient].
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
	st, err := newStore(resource)
	if err != nil {
		ln.Close()
		return nil, err
	}
	o.st = st
	for _, c := range clients {
		st.add(c)
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:             sha256.Sum256([]byte(o.Issuer)),
		CryptoKeyId:           "testop",
		AuthMethodPost:        true,
		CodeMethodS256:        true,
		GrantTypeRefreshToken: true,
	}, st, op.StaticIssuer(o.Issuer), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, err
	}
	keys := provider.Endpoints().JwksURI.Relative()
	userinfo := provider.Endpoints().Userinfo.Relative()
	login := &loginPage{st: st, callback: op.AuthCallbackURL(provider)}
	mux := http.NewServeMux()
	mux.Handle(loginPath, op.NewIssuerInterceptor(provider.IssuerFromRequest).Handler(login))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case keys:
			o.keyServed.Add(1)
		case userinfo:
			st.serveUserinfo(provider, w, r)
			return
		}
		provider.ServeHTTP(w, r)
	}))
	o.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go o.hs.Serve(ln)
	return o, nil
}

// Close stops the OP.
func (o *OP) Close() error { return o.hs.Close() }

// AddClient registers c for the client-credentials grant.
func (o *OP) AddClient(c Client) { o.st.add(c) }

// AddUser registers u, who can then sign in on the login page. It
// replaces a user with the same subject; a username another subject has
// is refused, as is a user without subject, username or password.
func (o *OP) AddUser(u User) error { return o.st.users.add(u) }

// AddWebClient registers c for the authorization code flow. It replaces a
// web client with the same ID; one without ID or redirect URIs, or with
// a redirect URI that is not an absolute http or https URL, is refused.
func (o *OP) AddWebClient(c WebClient) error { return o.st.addWeb(c) }

// KeySetFetches is how many times the OP served its key set (JWKS).
func (o *OP) KeySetFetches() int64 { return o.keyServed.Load() }

// RefreshCount is how many refresh tokens the OP has exchanged (and so
// rotated) successfully.
func (o *OP) RefreshCount() int64 { return o.st.refreshes.Load() }

// LoginCount is how many times a user signed in on the login page.
func (o *OP) LoginCount() int64 { return o.st.logins.Load() }

// UserinfoCount is how many requests the userinfo endpoint answered with
// a user's claims.
func (o *OP) UserinfoCount() int64 { return o.st.userinfos.Load() }

// Revoke drops every access and refresh token issued to subject, as an
// administrator revoking a user's grants does: the userinfo endpoint
// refuses the access tokens and the token endpoint the refresh tokens
// (invalid_grant). It returns how many tokens it dropped.
func (o *OP) Revoke(subject string) int { return o.st.revokeSubject(subject) }

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

// store is zitadel's example storage (authorization requests, codes, the
// password check) with clients, users, tokens, signing keys and claims of
// its own.
type store struct {
	*storage.Storage
	resource string
	users    *userStore

	refreshes atomic.Int64
	logins    atomic.Int64
	userinfos atomic.Int64

	mu        sync.Mutex
	clients   map[string]*client
	web       map[string]*webClient
	tokens    map[string]*storage.Token        // access tokens by ID
	refresh   map[string]*storage.RefreshToken // refresh tokens by value
	exchanged map[string]bool                  // authorization requests whose code got tokens
	keys      []*signingKey                    // published; the last signs
}

func newStore(resource string) (*store, error) {
	users := newUserStore()
	s := &store{
		Storage:   storage.NewStorageWithClients(users, map[string]*storage.Client{}),
		resource:  resource,
		users:     users,
		clients:   map[string]*client{},
		web:       map[string]*webClient{},
		tokens:    map[string]*storage.Token{},
		refresh:   map[string]*storage.RefreshToken{},
		exchanged: map[string]bool{},
	}
	return s, s.rotate()
}

func (s *store) add(c Client) {
	if len(c.Audience) == 0 {
		c.Audience = []string{s.resource}
	}
	if c.Lifetime == 0 {
		c.Lifetime = defaultLifetime
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
	if c == nil || !equal(c.Secret, clientSecret) {
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

// GetPrivateClaimsFromScopes adds scope and the groups of the client
// (client credentials) or of the user (web clients).
func (s *store) GetPrivateClaimsFromScopes(_ context.Context, subject, clientID string, scopes []string) (map[string]any, error) {
	claims := map[string]any{}
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	if g := s.groups(subject, clientID); len(g) > 0 {
		claims["groups"] = g
	}
	return claims, nil
}

// groups are the groups of a client-credentials client, or else of the
// user subject.
func (s *store) groups(subject, clientID string) []string {
	if c := s.client(clientID); c != nil {
		return c.Groups
	}
	if u, ok := s.users.bySubject(subject); ok {
		return u.Groups
	}
	return nil
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

// GetKeyByIDAndClientID refuses: the OP has no clients that authenticate
// with keys (the example storage's service user has a published one).
func (s *store) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("testop: no client authenticates with a key")
}

// ValidateTokenExchangeRequest refuses: the OP does no token exchange.
func (s *store) ValidateTokenExchangeRequest(context.Context, op.TokenExchangeRequest) error {
	return oidc.ErrUnauthorizedClient().WithDescription("token exchange is not supported")
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
