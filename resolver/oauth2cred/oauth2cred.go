package oauth2cred

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// DefaultTokenType is the token type used when Options.TokenType is empty.
const DefaultTokenType = "Bearer"

var (
	// ErrNoToken is wrapped when the resolved credentials lack the field
	// that holds the token (Options.Field).
	ErrNoToken = errors.New("oauth2cred: no token in the credentials")

	// ErrInvalidToken is wrapped when the token holds a character that
	// cannot appear in an HTTP Authorization header (a control character,
	// a space, or a byte outside printable ASCII). The value is not shown.
	ErrInvalidToken = errors.New("oauth2cred: the token cannot be sent in an HTTP header")
)

// Options configure a [Source].
type Options struct {
	// Field is the credential field that holds the token. Default
	// provider.FieldToken ("token"); set it to, say, "access_token" when the
	// backend stores the token under that name. Listing it in the
	// resolver's Options.Required makes the chain skip providers that lack
	// it.
	Field string

	// TokenType is the authorization scheme written before the token in the
	// Authorization header and returned as oauth2.Token.TokenType. Default
	// DefaultTokenType ("Bearer").
	TokenType string

	// Logger receives a record when a Transport's request is answered 401
	// (Debug when it retries with a new credential, Warn when it cannot)
	// and a Debug record for a redirect hop sent without the token.
	// Records carry the method, the host, the credential's source and the
	// reason, never a token, a path or a query. Default: discard.
	Logger *slog.Logger
}

// Source resolves an access token through a [resolver.Resolver] for one
// [resolver.Request]. It is safe for concurrent use and holds no token
// itself: every call asks the resolver, whose cache makes that a lock-free
// load while the credential is fresh, and which picks up rotated and
// invalidated credentials.
//
// Source does not implement oauth2.TokenSource, whose Token method takes no
// context: [Source.Token] takes one, and [Source.TokenSource] binds a
// context to give an oauth2.TokenSource.
type Source struct {
	r      *resolver.Resolver
	req    resolver.Request
	field  string
	typ    string
	logger *slog.Logger
}

// New returns a Source that resolves req through r. optFns adjust the
// [Options]; New returns an error naming the option when they are invalid.
func New(r *resolver.Resolver, req resolver.Request, optFns ...func(*Options)) (*Source, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Field == "" {
		o.Field = provider.FieldToken
	}
	if o.TokenType == "" {
		o.TokenType = DefaultTokenType
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if r == nil {
		errs = append(errs, errors.New("oauth2cred: the resolver is nil"))
	}
	if !provider.ValidField(o.Field) {
		errs = append(errs, fmt.Errorf("oauth2cred: Options.Field %s is not a field name (1-%d of a-z, 0-9 and _)",
			provider.Describe(o.Field), provider.MaxFieldLen))
	}
	if !validScheme(o.TokenType) {
		errs = append(errs, fmt.Errorf("oauth2cred: Options.TokenType %s is not an HTTP authentication scheme name",
			provider.Describe(o.TokenType)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Source{r: r, req: req, field: o.Field, typ: o.TokenType, logger: o.Logger}, nil
}

// Token resolves the credential and returns its token field as an
// oauth2.Token: AccessToken is the field's value, TokenType is
// Options.TokenType and Expiry is the credential's Expires (zero when it
// does not expire on its own). ctx bounds the resolution only.
//
// Every call asks the resolver; do not wrap the result in
// oauth2.ReuseTokenSource (see the package documentation).
func (s *Source) Token(ctx context.Context) (*oauth2.Token, error) {
	res, tok, err := s.resolve(ctx)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: tok.Reveal(), TokenType: s.typ, Expiry: res.Credentials.Expires}, nil
}

// TokenSource returns an oauth2.TokenSource whose Token method calls
// s.Token(ctx) with the ctx given here, as oauth2.Config.TokenSource binds
// its ctx: use a context that lives as long as the TokenSource (typically
// the program's or the client's), not one request's: once ctx is done,
// every Token call that needs the resolver to ask a backend fails. A nil ctx means context.Background(). For
// per-request contexts use [Transport], which resolves with each request's
// context, or call [Source.Token] directly.
func (s *Source) TokenSource(ctx context.Context) oauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	return tokenSource{s: s, ctx: ctx}
}

type tokenSource struct {
	s   *Source
	ctx context.Context
}

func (ts tokenSource) Token() (*oauth2.Token, error) { return ts.s.Token(ts.ctx) }

// resolve returns the result and its token, checked.
func (s *Source) resolve(ctx context.Context) (resolver.Result, provider.Secret, error) {
	res, err := s.r.Resolve(ctx, s.req)
	if err != nil {
		return resolver.Result{}, "", fmt.Errorf("oauth2cred: %w", err)
	}
	tok := res.Credentials.Get(s.field)
	if tok.IsZero() {
		return resolver.Result{}, "", fmt.Errorf("%w: %s have no field %q (they have %s)",
			ErrNoToken, describeSource(res), s.field, strings.Join(res.Credentials.Names(), ", "))
	}
	if v := tok.Reveal(); !validToken(v) {
		return resolver.Result{}, "", fmt.Errorf("%w: field %q of %s holds a control character, a space or a non-ASCII byte (a %d-byte value, not shown)",
			ErrInvalidToken, s.field, describeSource(res), len(v))
	}
	return res, tok, nil
}

// setAuth sets the Authorization header of r, which the caller owns.
func (s *Source) setAuth(r *http.Request, tok provider.Secret) {
	r.Header.Set("Authorization", s.typ+" "+tok.Reveal())
}

// describeSource names where the credential came from; the resolver keeps
// request text and values out of it.
func describeSource(res resolver.Result) string {
	if res.Credentials.Source.Provider == "" {
		return "the credentials"
	}
	return "the credentials from " + res.Credentials.Source.String()
}

// validToken reports whether v can follow the scheme in an Authorization
// header: one or more printable ASCII characters other than space.
func validToken(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validScheme reports whether s is an HTTP token (RFC 9110 tchar), the
// grammar of an authentication scheme name.
func validScheme(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
