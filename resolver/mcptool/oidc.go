package mcptool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/mcpcred/mcpcred/provider"
)

// OIDCOptions configure [NewOIDCVerifier].
type OIDCOptions struct {
	// GroupsClaim names the claim that holds the caller's groups
	// (provider.Caller.Groups), a string or an array of strings. Default
	// "groups"; "-" reads no groups.
	GroupsClaim string

	// Algorithms are the JWS algorithms a token may be signed with.
	// Default: the asymmetric ones among the issuer's discovery document's
	// id_token_signing_alg_values_supported, else RS256. "none" and the
	// HMAC algorithms are never accepted.
	Algorithms []string

	// HTTPClient fetches the discovery document and the issuer's keys.
	// Default http.DefaultClient.
	HTTPClient *http.Client

	// KeyRefreshInterval is the least time between two fetches of the
	// issuer's key set (JWKS). A token signed with a key the verifier has
	// not seen makes it fetch the key set again, so that a rotated key is
	// picked up; a stream of forged tokens makes at most one fetch per
	// interval. Default 10 s; negative: no limit.
	KeyRefreshInterval time.Duration

	// Logger receives one Warn record per refused token, with the reason's
	// kind (expired, wrong audience, bad signature, ...): never the token
	// or a claim the token carries. Default: discard.
	Logger *slog.Logger

	// Now replaces time.Now, for tests.
	Now func() time.Time
}

// MaxGroups bounds the groups a token may carry; a token with more is
// refused.
const MaxGroups = 256

// callerKey is the key of the provider.Caller in auth.TokenInfo.Extra.
const callerKey = "mcpcred.caller"

// ErrNoVerifiedCaller is wrapped by the verifier's refusals of a token
// whose claims give no usable caller (no subject, or one with control or
// invisible characters). It wraps auth.ErrInvalidToken.
var ErrNoVerifiedCaller = fmt.Errorf("mcptool: the token names no usable subject: %w", auth.ErrInvalidToken)

// NewOIDCVerifier returns an auth.TokenVerifier for auth.RequireBearerToken
// that accepts a bearer token only if it is a JWT signed by a key of
// issuerURL's published key set (fetched through OpenID Connect discovery,
// refetched when the issuer rotates its keys), issued by exactly
// issuerURL, for the audience resourceURL (the server's own resource
// identifier, as RFC 8707 and the MCP authorization specification have
// clients request it), and not expired. It uses
// github.com/coreos/go-oidc/v3.
//
// The verified claims become a provider.Caller: Subject from sub, Issuer
// from iss, ClientID from azp (else client_id), Scopes from scope (a
// space-separated string) or scp, Groups from OIDCOptions.GroupsClaim. The
// TokenInfo holds it ([CallerFromTokenInfo]); its UserID is the caller's
// ID (issuer and subject: a subject is unique only within its issuer),
// which the SDK's streamable transport uses to bind a session to its user.
//
// Every refusal wraps auth.ErrInvalidToken, so the middleware answers 401,
// and its text is fixed per kind: it quotes neither the token nor any
// claim. NewOIDCVerifier fetches the discovery document once, with ctx.
func NewOIDCVerifier(ctx context.Context, issuerURL, resourceURL string, optFns ...func(*OIDCOptions)) (auth.TokenVerifier, error) {
	var o OIDCOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if err := checkURL("issuer URL", issuerURL); err != nil {
		return nil, err
	}
	if err := checkURL("resource URL", resourceURL); err != nil {
		return nil, err
	}
	if o.GroupsClaim == "" {
		o.GroupsClaim = "groups"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KeyRefreshInterval == 0 {
		o.KeyRefreshInterval = 10 * time.Second
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), issuerURL)
	if err != nil {
		return nil, fmt.Errorf("mcptool: OpenID discovery for the issuer failed: %w", err)
	}
	var meta struct {
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return nil, errors.New("mcptool: the issuer's discovery document gives no jwks_uri")
	}
	algs := o.Algorithms
	if len(algs) == 0 {
		algs = meta.Algs
	}
	algs = slices.DeleteFunc(slices.Clone(algs), func(a string) bool { return !asymmetric(a) })
	if len(algs) == 0 {
		if len(o.Algorithms) > 0 {
			return nil, errors.New("mcptool: OIDCOptions.Algorithms names no asymmetric JWS algorithm (RS*, PS*, ES*, EdDSA)")
		}
		algs = []string{oidc.RS256}
	}
	// The key set is go-oidc's RemoteKeySet: cached, refetched when a
	// token names a key it does not hold. Its fetches go through a
	// transport that spaces them out, so forged tokens cannot make the
	// verifier hammer the issuer.
	limited := &http.Client{Transport: &jwksLimiter{base: transport(hc), every: o.KeyRefreshInterval, now: o.Now}, Timeout: 30 * time.Second}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.WithoutCancel(ctx), limited), meta.JWKSURI)
	v := &oidcVerifier{
		verifier: oidc.NewVerifier(issuerURL, keys, &oidc.Config{ClientID: resourceURL, SupportedSigningAlgs: algs, Now: o.Now}),
		opts:     o,
	}
	return v.verify, nil
}

func checkURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("mcptool: the %s must be an absolute http(s) URL without a fragment", what)
	}
	return nil
}

// asymmetric reports whether alg is a JWS signature algorithm with a
// public key: never "none" or HMAC, whose key a JWKS would have to publish.
func asymmetric(alg string) bool {
	switch alg {
	case oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA:
		return true
	}
	return false
}

func transport(hc *http.Client) http.RoundTripper {
	if hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}

type oidcVerifier struct {
	verifier *oidc.IDTokenVerifier
	opts     OIDCOptions
}

// tokenClaims are the claims the verifier maps to a provider.Caller.
type tokenClaims struct {
	Subject  string `json:"sub"`
	Issuer   string `json:"iss"`
	AZP      string `json:"azp"`
	ClientID string `json:"client_id"`
	Scope    any    `json:"scope"`
	SCP      any    `json:"scp"`
}

func (v *oidcVerifier) verify(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	tok, err := v.verifier.Verify(ctx, token)
	if err != nil {
		return nil, v.refuse(ctx, refusal(err))
	}
	var tc tokenClaims
	var all map[string]any
	if err := tok.Claims(&tc); err != nil {
		return nil, v.refuse(ctx, "claims that do not decode")
	}
	if err := tok.Claims(&all); err != nil {
		return nil, v.refuse(ctx, "claims that do not decode")
	}
	c := &provider.Caller{Issuer: tc.Issuer, Subject: tc.Subject, ClientID: tc.AZP}
	if c.ClientID == "" {
		c.ClientID = tc.ClientID
	}
	if err := c.Validate(); err != nil {
		return nil, v.refuse(ctx, "no usable subject", ErrNoVerifiedCaller)
	}
	if c.ClientID != "" && !validClaim(c.ClientID) {
		return nil, v.refuse(ctx, "a malformed client id")
	}
	var ok bool
	if c.Scopes, ok = stringList(tc.Scope, true); !ok {
		return nil, v.refuse(ctx, "a malformed scope claim")
	}
	if c.Scopes == nil {
		if c.Scopes, ok = stringList(tc.SCP, true); !ok {
			return nil, v.refuse(ctx, "a malformed scp claim")
		}
	}
	if v.opts.GroupsClaim != "-" {
		if c.Groups, ok = stringList(all[v.opts.GroupsClaim], false); !ok || len(c.Groups) > MaxGroups {
			return nil, v.refuse(ctx, "a malformed groups claim")
		}
	}
	return TokenInfo(c, tok.Expiry), nil
}

// refuse logs why a token was refused (its kind only) and returns the
// error the middleware answers with: a fixed text wrapping
// auth.ErrInvalidToken.
func (v *oidcVerifier) refuse(ctx context.Context, why string, wrap ...error) error {
	v.opts.Logger.WarnContext(ctx, "mcptool: bearer token refused", "reason", why)
	if len(wrap) > 0 {
		return wrap[0]
	}
	return fmt.Errorf("%w: the bearer token was not accepted: %s", auth.ErrInvalidToken, why)
}

// refusal names the kind of a go-oidc verification error. go-oidc's own
// texts quote the token's claims, so they are not repeated.
func refusal(err error) string {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return "expired"
	case strings.Contains(msg, "malformed jwt"):
		return "not a JWT signed with an accepted algorithm"
	case strings.Contains(msg, "issued by a different provider"):
		return "issued by another issuer"
	case strings.Contains(msg, "expected audience"):
		return "issued for another audience"
	case strings.Contains(msg, "verify signature"), strings.Contains(msg, "not signed"), strings.Contains(msg, "multiple signatures"):
		return "signature not verified by the issuer's keys"
	case strings.Contains(msg, "nbf"):
		return "not valid yet"
	}
	return "not verified"
}

// stringList reads a claim that is a list of strings: a JSON array of
// strings, or, where spaced is set (scope), a space-separated string; a
// single string otherwise is one item. Absent is nil; any other shape is
// not ok. Items with control or invisible characters are not ok either.
func stringList(v any, spaced bool) ([]string, bool) {
	var out []string
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		if spaced {
			out = strings.Fields(v)
		} else {
			out = []string{v}
		}
	case []any:
		out = make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
	default:
		return nil, false
	}
	for _, s := range out {
		if !validClaim(s) {
			return nil, false
		}
	}
	return out, true
}

// validClaim reports whether s can stand in a provider.Caller: 1 to
// provider.MaxSubjectLen bytes of UTF-8 without control or invisible
// formatting characters.
func validClaim(s string) bool {
	return s != "" && len(s) <= provider.MaxSubjectLen && utf8.ValidString(s) &&
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) })
}

// TokenInfo returns the auth.TokenInfo a verifier returns for the verified
// caller c and the token's expiry: UserID is c.ID() (issuer and subject, so
// two issuers' equal subjects never share a session), Scopes c.Scopes,
// and Extra holds c, which [Call.Caller] and [Call.Request] read. A
// verifier of another kind (token introspection, say) builds its
// TokenInfo with it.
func TokenInfo(c *provider.Caller, expires time.Time) *auth.TokenInfo {
	return &auth.TokenInfo{UserID: c.ID(), Scopes: c.Scopes, Expiration: expires, Extra: map[string]any{callerKey: c}}
}

// CallerFromTokenInfo returns the verified caller [TokenInfo] stored in
// ti, or nil.
func CallerFromTokenInfo(ti *auth.TokenInfo) *provider.Caller {
	if ti == nil {
		return nil
	}
	c, _ := ti.Extra[callerKey].(*provider.Caller)
	return c
}

// jwksLimiter spaces out fetches of the issuer's key set: a fetch less
// than every after the last one answers with the last response instead.
type jwksLimiter struct {
	base  http.RoundTripper
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	last time.Time
	body []byte
	hdr  http.Header
}

func (l *jwksLimiter) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.body != nil && l.every > 0 && now.Sub(l.last) < l.every && now.Sub(l.last) >= 0 {
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: l.hdr.Clone(), Body: io.NopCloser(strings.NewReader(string(l.body))), Request: req}, nil
	}
	resp, err := l.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	l.last, l.body, l.hdr = now, body, resp.Header.Clone()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp, nil
}
