package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"
)

// A Caller is the verified identity of whoever made a request: the subject
// and claims of a bearer token that the server's transport checked (issuer,
// audience, expiry, signature), never anything a tool argument says. A
// stdio server has no Caller; a remote server has one per request.
//
// A Caller is immutable once built; its slices must not be modified.
type Caller struct {
	Issuer   string   // the token's iss
	Subject  string   // the token's sub: unique within Issuer
	ClientID string   // the OAuth client the user signed in with (azp or client_id), if known
	Scopes   []string // granted scopes, if known
	Groups   []string // group memberships from the token, if the operator maps a claim to them
}

// MaxSubjectLen bounds a Caller's Subject and Issuer, in bytes.
const MaxSubjectLen = 255

// Validate reports why c cannot identify a caller: an empty or overlong
// Subject or Issuer, or one with control or invisible characters.
func (c *Caller) Validate() error {
	if c == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"subject", c.Subject}, {"issuer", c.Issuer}} {
		switch {
		case f.v == "":
			return errors.New("provider: caller " + f.name + " is empty")
		case len(f.v) > MaxSubjectLen:
			return errors.New("provider: caller " + f.name + " is longer than 255 bytes")
		case !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, hostileRune):
			return errors.New("provider: caller " + f.name + " holds control or invisible characters")
		}
	}
	return nil
}

// ID returns the caller's identity, unique across issuers: Issuer, a NUL
// byte, Subject. It keys whatever is bound to one caller; nil has ID "".
func (c *Caller) ID() string {
	if c == nil {
		return ""
	}
	return c.Issuer + "\x00" + c.Subject
}

// InGroup reports whether c belongs to group.
func (c *Caller) InGroup(group string) bool { return c != nil && slices.Contains(c.Groups, group) }

// HasScope reports whether c was granted scope.
func (c *Caller) HasScope(scope string) bool { return c != nil && slices.Contains(c.Scopes, scope) }

type callerKey struct{}

// ContextWithCaller returns ctx carrying c. A resolver puts the request's
// Caller into the context it hands to providers, so that a provider bound to
// callers (a profile whose source is a per-subject template) can read it
// with CallerFromContext.
func ContextWithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the Caller ctx carries, or nil.
func CallerFromContext(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}
