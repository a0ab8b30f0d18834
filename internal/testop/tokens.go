package testop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// refreshLifetime is how long an unused refresh token stays valid.
const refreshLifetime = 24 * time.Hour

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newRefreshToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// issue stores an access token; s.mu is held.
func (s *store) issue(clientID, subject string, audience, scopes []string, lifetime time.Duration, refresh string) *storage.Token {
	t := &storage.Token{
		ID:             newID(),
		ApplicationID:  clientID,
		Subject:        subject,
		RefreshTokenID: refresh,
		Audience:       slices.Clone(audience),
		Expiration:     time.Now().Add(lifetime),
		Scopes:         slices.Clone(scopes),
	}
	s.tokens[t.ID] = t
	return t
}

// spend marks the code of an authorization request as exchanged for
// tokens, once: of concurrent exchanges of one code (each passed the op
// package's checks) only the first gets tokens. A failed exchange (a
// wrong verifier or secret) does not spend the code; a successful one
// also deletes the request, so a later reuse is an unknown code. s.mu is
// held.
func (s *store) spend(req op.TokenRequest) error {
	r, ok := req.(*authRequest)
	if !ok {
		return nil
	}
	if s.exchanged[r.GetID()] {
		return oidc.ErrInvalidGrant().WithDescription("code already used")
	}
	s.exchanged[r.GetID()] = true
	return nil
}

// CreateAccessToken stores an access token of a client-credentials client
// (or of a web client's authorization request without a refresh token)
// with the client's lifetime.
func (s *store) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	var clientID string
	var lifetime time.Duration
	switch r := req.(type) {
	case *tokenRequest:
		clientID, lifetime = r.c.ID, r.c.Lifetime
	case *authRequest:
		c := s.webClient(r.GetClientID())
		if c == nil {
			return "", time.Time{}, oidc.ErrInvalidClient()
		}
		clientID, lifetime = c.c.ID, c.c.AccessTokenLifetime
	default:
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.spend(req); err != nil {
		return "", time.Time{}, err
	}
	t := s.issue(clientID, req.GetSubject(), req.GetAudience(), req.GetScopes(), lifetime, "")
	return t.ID, t.Expiration, nil
}

// CreateAccessAndRefreshTokens stores an access token and a refresh token
// for a web client: after the code exchange, or in exchange for
// currentRefreshToken, which is spent (rotation) atomically, so of two
// requests with the same refresh token one gets invalid_grant.
func (s *store) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	var clientID string
	var authTime time.Time
	var amr []string
	switch r := req.(type) {
	case *authRequest:
		clientID, authTime, amr = r.GetClientID(), r.GetAuthTime(), r.GetAMR()
	case *storage.RefreshTokenRequest:
		clientID, authTime, amr = r.ApplicationID, r.AuthTime, r.AMR
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	c := s.webClient(clientID)
	if c == nil {
		return "", "", time.Time{}, oidc.ErrInvalidClient()
	}
	subject, audience, scopes := req.GetSubject(), req.GetAudience(), req.GetScopes()
	refreshScopes := scopes
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.spend(req); err != nil {
		return "", "", time.Time{}, err
	}
	if currentRefreshToken != "" {
		old, ok := s.refresh[currentRefreshToken]
		if !ok || old.ApplicationID != clientID || old.UserID != subject {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token unknown or already used")
		}
		delete(s.refresh, currentRefreshToken)
		if !time.Now().Before(old.Expiration) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token expired")
		}
		audience, refreshScopes = old.Audience, old.Scopes
		s.refreshes.Add(1)
	}
	value := newRefreshToken()
	t := s.issue(clientID, subject, audience, scopes, c.c.AccessTokenLifetime, value)
	s.refresh[value] = &storage.RefreshToken{
		ID:            value,
		Token:         value,
		AuthTime:      authTime,
		AMR:           slices.Clone(amr),
		Audience:      slices.Clone(audience),
		UserID:        subject,
		ApplicationID: clientID,
		Expiration:    time.Now().Add(refreshLifetime),
		Scopes:        slices.Clone(refreshScopes),
		AccessToken:   t.ID,
	}
	return t.ID, value, t.Expiration, nil
}

// TokenRequestByRefreshToken is what an unspent, unexpired refresh token
// was issued for.
func (s *store) TokenRequestByRefreshToken(_ context.Context, value string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[value]
	if !ok || !time.Now().Before(rt.Expiration) {
		return nil, errors.New("testop: refresh token unknown, used or expired")
	}
	cp := *rt
	cp.AMR, cp.Audience, cp.Scopes = slices.Clone(rt.AMR), slices.Clone(rt.Audience), slices.Clone(rt.Scopes)
	return storage.RefreshTokenRequestFromBusiness(&cp), nil
}

// TerminateSession drops the tokens of a user at a client.
func (s *store) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.Subject == userID && t.ApplicationID == clientID {
			delete(s.tokens, id)
		}
	}
	for v, rt := range s.refresh {
		if rt.UserID == userID && rt.ApplicationID == clientID {
			delete(s.refresh, v)
		}
	}
	return nil
}

// revokeSubject drops every token of subject.
func (s *store) revokeSubject(subject string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, t := range s.tokens {
		if t.Subject == subject {
			delete(s.tokens, id)
			n++
		}
	}
	for v, rt := range s.refresh {
		if rt.UserID == subject {
			delete(s.refresh, v)
			n++
		}
	}
	return n
}

// GetRefreshTokenInfo is the user and ID of a client's refresh token.
func (s *store) GetRefreshTokenInfo(_ context.Context, clientID, value string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[value]
	if !ok || rt.ApplicationID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.UserID, rt.ID, nil
}

// RevokeToken drops a client's access token (by ID) or refresh token.
func (s *store) RevokeToken(_ context.Context, idOrToken, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[idOrToken]; ok {
		if t.ApplicationID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.tokens, idOrToken)
		return nil
	}
	if rt, ok := s.refresh[idOrToken]; ok {
		if rt.ApplicationID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refresh, idOrToken)
	}
	return nil
}

// token is an unexpired access token issued to subject, or nil.
func (s *store) token(id, subject string) *storage.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok || t.Subject != subject || !time.Now().Before(t.Expiration) {
		return nil
	}
	cp := *t
	return &cp
}

// SetUserinfoFromRequest fills an ID token's claims.
func (s *store) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	s.fillUserinfo(info, req.GetSubject(), req.GetClientID(), scopes)
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint for an unexpired
// access token the OP issued.
func (s *store) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t := s.token(tokenID, subject)
	if t == nil {
		return errors.New("testop: access token unknown, revoked or expired")
	}
	s.fillUserinfo(info, t.Subject, t.ApplicationID, t.Scopes)
	return nil
}

// SetIntrospectionFromToken answers the introspection endpoint for an
// unexpired access token the OP issued to, or for, the asking client.
func (s *store) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t := s.token(tokenID, subject)
	if t == nil || (t.ApplicationID != clientID && !slices.Contains(t.Audience, clientID)) {
		return errors.New("testop: access token unknown, revoked, expired or not for this client")
	}
	info := new(oidc.UserInfo)
	s.fillUserinfo(info, t.Subject, t.ApplicationID, t.Scopes)
	resp.SetUserInfo(info)
	resp.Scope = t.Scopes
	resp.ClientID = t.ApplicationID
	resp.Audience = t.Audience
	resp.Expiration = oidc.FromTime(t.Expiration)
	return nil
}

// fillUserinfo sets the subject, the username (scope profile) and the
// groups.
func (s *store) fillUserinfo(info *oidc.UserInfo, subject, clientID string, scopes []string) {
	info.Subject = subject
	if u, ok := s.users.bySubject(subject); ok && slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = u.Username
		info.Name = u.Username
	}
	if g := s.groups(subject, clientID); len(g) > 0 {
		info.AppendClaims("groups", g)
	}
}

// serveUserinfo is the op package's userinfo endpoint with every refusal
// a 401 (the package answers 403 for a token whose signature is valid
// but that is unknown, revoked or expired) carrying a WWW-Authenticate
// challenge and no detail.
func (s *store) serveUserinfo(h http.Handler, w http.ResponseWriter, r *http.Request) {
	uw := &userinfoWriter{ResponseWriter: w, bearer: r.Header.Get("Authorization") != ""}
	h.ServeHTTP(uw, r)
	if uw.status == http.StatusOK {
		s.userinfos.Add(1)
	}
}

type userinfoWriter struct {
	http.ResponseWriter
	bearer  bool
	status  int
	refused bool
}

func (w *userinfoWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		w.refused = true
		h := w.Header()
		h.Del("Content-Length")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		if w.bearer {
			h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			h.Set("WWW-Authenticate", "Bearer")
		}
		w.ResponseWriter.WriteHeader(http.StatusUnauthorized)
		w.ResponseWriter.Write([]byte("access token missing, invalid, revoked or expired\n"))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *userinfoWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.refused {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
