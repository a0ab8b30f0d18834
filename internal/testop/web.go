package testop

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// A User is a person who signs in on the OP's login page with Username
// and Password; tokens issued to web clients for the user have Subject as
// their subject and carry Groups.
type User struct {
	Subject  string   `json:"subject"`
	Username string   `json:"username"`
	Password string   `json:"password"`
	Groups   []string `json:"groups,omitempty"`
}

// A WebClient is an OAuth client of the authorization code flow with
// PKCE (S256, required): a confidential client that authenticates with
// Secret (client_secret_basic or client_secret_post), or a public
// (native) client when Secret is empty.
//
// In JSON it is {"id", "secret", "redirect_uris": [...],
// "access_token_lifetime": "2s", "audience": [...]}, the lifetime written
// as a Go duration ("lifetime" is accepted for it too, as in [Client]'s
// JSON in cmd/testop).
type WebClient struct {
	ID     string
	Secret string
	// RedirectURIs are the exact redirect URIs the client may use (a
	// public client may also use another port on a loopback one).
	RedirectURIs []string
	// AccessTokenLifetime of its access tokens; default 5 minutes, else
	// at least 2 seconds: the token response's expires_in is whole
	// seconds rounded down, and x/oauth2 takes 0 for "never expires".
	AccessTokenLifetime time.Duration
	// Audience of its access tokens; default the OP's resource.
	Audience []string
}

// webClientJSON is WebClient's JSON form.
type webClientJSON struct {
	ID                  string   `json:"id"`
	Secret              string   `json:"secret,omitempty"`
	RedirectURIs        []string `json:"redirect_uris"`
	AccessTokenLifetime string   `json:"access_token_lifetime,omitempty"`
	Lifetime            string   `json:"lifetime,omitempty"`
	Audience            []string `json:"audience,omitempty"`
}

// MarshalJSON writes c in the form [WebClient] describes.
func (c WebClient) MarshalJSON() ([]byte, error) {
	j := webClientJSON{ID: c.ID, Secret: c.Secret, RedirectURIs: c.RedirectURIs, Audience: c.Audience}
	if c.AccessTokenLifetime != 0 {
		j.AccessTokenLifetime = c.AccessTokenLifetime.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form [WebClient] describes; unknown fields are
// refused.
func (c *WebClient) UnmarshalJSON(b []byte) error {
	var j webClientJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return &parseError{"web client: " + jsonError(err).Error()}
	}
	lifetime := j.AccessTokenLifetime
	if j.Lifetime != "" {
		if lifetime != "" {
			return &parseError{"web client: both access_token_lifetime and lifetime"}
		}
		lifetime = j.Lifetime
	}
	var d time.Duration
	if lifetime != "" {
		var err error
		if d, err = time.ParseDuration(lifetime); err != nil {
			return &parseError{"web client: access_token_lifetime is not a Go duration (such as 2s or 5m)"}
		}
	}
	*c = WebClient{ID: j.ID, Secret: j.Secret, RedirectURIs: orNil(j.RedirectURIs), AccessTokenLifetime: d, Audience: orNil(j.Audience)}
	return nil
}

// parseError is an error of UnmarshalJSON that tells what is wrong
// without the text of the input.
type parseError struct{ msg string }

func (e *parseError) Error() string { return "testop: " + e.msg }

// jsonError is err without the text of the input: the decoder quotes an
// unknown field's name, a type error's value kind is kept but not the
// field's name.
func jsonError(err error) error {
	var pe *parseError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("wrong type of value at offset %d", te.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("JSON ends early")
	}
	return errors.New("invalid JSON or an unknown field")
}

// ParseUsers reads a JSON array of users, as cmd/testop's TESTOP_USERS:
// [{"subject", "username", "password", "groups": [...]}]. Unknown fields,
// a user without subject, username or password, and two users with the
// same subject or username are refused. Errors name users by position,
// never by what they hold.
func ParseUsers(data []byte) ([]User, error) {
	var us []User
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&us); err != nil {
		return nil, fmt.Errorf("testop: users: %w", jsonError(err))
	}
	if dec.More() {
		return nil, errors.New("testop: users: more than one JSON value")
	}
	subjects, names := map[string]bool{}, map[string]bool{}
	for i := range us {
		u := &us[i]
		u.Groups = orNil(u.Groups)
		if err := u.validate(); err != nil {
			return nil, fmt.Errorf("testop: user %d: %w", i+1, err)
		}
		if subjects[u.Subject] || names[u.Username] {
			return nil, fmt.Errorf("testop: user %d: subject or username of an earlier user", i+1)
		}
		subjects[u.Subject], names[u.Username] = true, true
	}
	return us, nil
}

// ParseWebClients reads a JSON array of web clients in the form
// [WebClient] describes, as cmd/testop's TESTOP_WEB_CLIENTS. Unknown
// fields, invalid clients (see [OP.AddWebClient]) and two clients with
// the same ID are refused. Errors name clients by position, never by what
// they hold.
func ParseWebClients(data []byte) ([]WebClient, error) {
	var cs []WebClient
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cs); err != nil {
		if pe := (*parseError)(nil); errors.As(err, &pe) {
			return nil, pe
		}
		return nil, fmt.Errorf("testop: web clients: %w", jsonError(err))
	}
	if dec.More() {
		return nil, errors.New("testop: web clients: more than one JSON value")
	}
	ids := map[string]bool{}
	for i, c := range cs {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("testop: web client %d: %w", i+1, err)
		}
		if ids[c.ID] {
			return nil, fmt.Errorf("testop: web client %d: ID of an earlier client", i+1)
		}
		ids[c.ID] = true
	}
	return cs, nil
}

func orNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func (u User) validate() error {
	switch {
	case u.Subject == "":
		return errors.New("subject missing")
	case u.Username == "":
		return errors.New("username missing")
	case u.Password == "":
		return errors.New("password missing")
	}
	return nil
}

// minLifetime is the shortest access token lifetime of a web client.
const minLifetime = 2 * time.Second

func (c WebClient) validate() error {
	if c.ID == "" {
		return errors.New("id missing")
	}
	if c.AccessTokenLifetime != 0 && c.AccessTokenLifetime < minLifetime {
		return errors.New("access_token_lifetime below 2s (expires_in is whole seconds, and 0 means no expiry)")
	}
	if len(c.RedirectURIs) == 0 {
		return errors.New("redirect_uris missing")
	}
	for i, r := range c.RedirectURIs {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("redirect URI %d is not an absolute http or https URL without fragment", i+1)
		}
	}
	return nil
}

// equal compares a secret in constant time.
func equal(want, got string) bool {
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// userStore is the example storage's UserStore over the registered users.
type userStore struct {
	mu       sync.RWMutex
	subjects map[string]User
	names    map[string]string // username -> subject
}

func newUserStore() *userStore {
	return &userStore{subjects: map[string]User{}, names: map[string]string{}}
}

func (s *userStore) add(u User) error {
	if err := u.validate(); err != nil {
		return fmt.Errorf("testop: user: %w", err)
	}
	u.Groups = slices.Clone(orNil(u.Groups))
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub, ok := s.names[u.Username]; ok && sub != u.Subject {
		return errors.New("testop: user: another subject has this username")
	}
	if old, ok := s.subjects[u.Subject]; ok {
		delete(s.names, old.Username)
	}
	s.subjects[u.Subject] = u
	s.names[u.Username] = u.Subject
	return nil
}

func (s *userStore) bySubject(sub string) (User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.subjects[sub]
	return u, ok
}

// GetUserByID is the user whose subject is id, or nil.
func (s *userStore) GetUserByID(id string) *storage.User {
	u, ok := s.bySubject(id)
	if !ok {
		return nil
	}
	return &storage.User{ID: u.Subject, Username: u.Username, Password: u.Password}
}

// GetUserByUsername is the user named name, or nil.
func (s *userStore) GetUserByUsername(name string) *storage.User {
	s.mu.RLock()
	sub, ok := s.names[name]
	s.mu.RUnlock()
	if !ok {
		return nil
	}
	return s.GetUserByID(sub)
}

// ExampleClientID names no client: the OP has no service user.
func (s *userStore) ExampleClientID() string { return "" }

func (s *store) addWeb(c WebClient) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("testop: web client: %w", err)
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.Audience = slices.Clone(orNil(c.Audience))
	if len(c.Audience) == 0 && s.resource != "" {
		c.Audience = []string{s.resource}
	}
	if c.AccessTokenLifetime == 0 {
		c.AccessTokenLifetime = defaultLifetime
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.web[c.ID] = &webClient{c}
	return nil
}

func (s *store) webClient(id string) *webClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.web[id]
}

// GetClientByClientID is a web client.
func (s *store) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if c := s.webClient(id); c != nil {
		return c, nil
	}
	return nil, errors.New("testop: unknown client")
}

// AuthorizeClientIDSecret authenticates a confidential web client or a
// client-credentials client.
func (s *store) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if c := s.webClient(id); c != nil {
		if c.c.Secret != "" && equal(c.c.Secret, secret) {
			return nil
		}
	} else if c := s.client(id); c != nil && equal(c.Secret, secret) {
		return nil
	}
	return errors.New("testop: wrong client or secret")
}

// CreateAuthRequest stores an authorization request of a web client:
// PKCE with S256 is required, and offline_access is added to the scopes
// so that every web client gets a refresh token.
func (s *store) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	if s.webClient(req.ClientID) == nil {
		return nil, oidc.ErrInvalidClient()
	}
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method S256 is required")
	}
	if !slices.Contains(req.Scopes, oidc.ScopeOfflineAccess) {
		req.Scopes = append(slices.Clip(req.Scopes), oidc.ScopeOfflineAccess)
	}
	r, err := s.Storage.CreateAuthRequest(ctx, req, userID)
	if err != nil {
		return nil, err
	}
	return s.wrap(r), nil
}

// AuthRequestByID is a stored authorization request.
func (s *store) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	r, err := s.Storage.AuthRequestByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.wrap(r), nil
}

// AuthRequestByCode is the authorization request of a code.
func (s *store) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	return s.wrap(r), nil
}

// wrap gives an authorization request its client's access token audience.
func (s *store) wrap(r op.AuthRequest) op.AuthRequest {
	ar, ok := r.(*storage.AuthRequest)
	if !ok {
		return r
	}
	var aud []string
	if c := s.webClient(ar.ApplicationID); c != nil {
		aud = slices.Clone(c.c.Audience)
	}
	return &authRequest{AuthRequest: ar, audience: aud}
}

// authRequest is the example storage's authorization request with the
// audience of access tokens (ID tokens add the client ID to it).
type authRequest struct {
	*storage.AuthRequest
	audience []string
}

func (a *authRequest) GetAudience() []string { return a.audience }

// webClient is an op.Client for the authorization code flow with JWT
// access tokens and refresh tokens.
type webClient struct{ c WebClient }

func (c *webClient) GetID() string                    { return c.c.ID }
func (c *webClient) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *webClient) PostLogoutRedirectURIs() []string { return nil }
func (c *webClient) ApplicationType() op.ApplicationType {
	if c.c.Secret == "" {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c *webClient) AuthMethod() oidc.AuthMethod {
	if c.c.Secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic // the op package accepts client_secret_post too
}
func (c *webClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *webClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *webClient) LoginURL(id string) string {
	return loginPath + "?" + url.Values{authRequestParam: {id}}.Encode()
}
func (c *webClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *webClient) IDTokenLifetime() time.Duration       { return 5 * time.Minute }
func (c *webClient) DevMode() bool                        { return false }
func (c *webClient) IsScopeAllowed(string) bool           { return true }
func (c *webClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *webClient) ClockSkew() time.Duration             { return 0 }
func (c *webClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *webClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
