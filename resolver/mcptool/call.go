package mcptool

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/oauth2cred"
)

// Call is one tools/call of a tool registered with [AddTool], as its
// handler sees it. Its methods resolve the call's credentials, with
// model-facing errors, and record what they resolve for output scrubbing.
type Call struct {
	s    *Server
	tool *tool
	req  *mcp.CallToolRequest
	sel  Selection
	ran  bool // the handler was reached
}

// Tool returns the tool's name.
func (c *Call) Tool() string { return c.tool.name }

// MCPRequest returns the SDK's request.
func (c *Call) MCPRequest() *mcp.CallToolRequest { return c.req }

// Selection returns the credential arguments the call gave.
func (c *Call) Selection() Selection { return c.sel }

// Caller returns the caller's verified identity: the provider.Caller the
// transport's token verifier stored in the request's TokenInfo
// ([NewOIDCVerifier], [TokenInfo]), or nil when there is none, as over
// stdio. Nothing a tool argument says can set or change it.
func (c *Call) Caller() *provider.Caller {
	if c.req == nil || c.req.Extra == nil {
		return nil
	}
	return CallerFromTokenInfo(c.req.Extra.TokenInfo)
}

// remote reports whether the call did not come over a [Local] transport:
// such a call is served only with a verified caller.
func (c *Call) remote() bool {
	return c.req == nil || !isLocal(c.req.Session) ||
		c.req.Extra != nil && (c.req.Extra.TokenInfo != nil || c.req.Extra.Header != nil)
}

// Request returns the resolver request the call makes: its selection, the
// tool's name, and the verified caller ([Call.Caller]), which only the
// transport sets. A call that came over HTTP without a verified caller
// (a server not behind [HTTPHandler]'s bearer-token check, or a verifier
// that did not store one with [TokenInfo]) carries an empty, invalid
// caller, which the resolver refuses (resolver.ErrInvalidCaller): such a
// call is never served as if it were the local user's.
//
// A credentials argument that holds no secret field, only plain ones such
// as a region, passes no credentials: the request resolves the server's
// own, and the handler reads the plain fields from [Call.Selection].
func (c *Call) Request() resolver.Request {
	req := c.sel.Request()
	if !req.Credentials.IsZero() && !c.s.served.holdsSecret(c.sel.Credentials) {
		req.Credentials = provider.Credentials{}
	}
	req.Tool = c.tool.name
	req.Caller = c.Caller()
	if req.Caller == nil && c.remote() {
		req.Caller = &provider.Caller{}
	}
	return req
}

// Resolve resolves the call's credentials. Its error is model-facing (an
// [*Error] wrapping the resolver's); the operator's log gets the full
// account.
func (c *Call) Resolve(ctx context.Context) (resolver.Result, error) {
	res, err := c.s.r.Resolve(ctx, c.Request())
	if err != nil {
		return res, c.s.explain(ctx, c, err)
	}
	c.s.served.record(res.Credentials)
	return res, nil
}

// Do resolves the call's credentials and runs op with them. When op's
// error means the upstream rejected the credential (Options.Rejected;
// by default errors.Is(err, ErrCredentialRejected)), Do invalidates it in
// the resolver, resolves again and runs op once more, only if the
// credential changed: credentials passed in the call, or a source that
// still holds the rejected one, are not retried, and the error says which.
// Do returns the result op last ran with.
func (c *Call) Do(ctx context.Context, op func(context.Context, provider.Credentials) error) (resolver.Result, error) {
	res, err := c.Resolve(ctx)
	if err != nil {
		return res, err
	}
	err = op(ctx, res.Credentials)
	if err == nil || !c.s.opts.Rejected(err) {
		return res, err
	}
	log := c.s.opts.Logger
	if res.FromRequest() {
		return res, &Error{Message: err.Error() + "; the credentials passed in this call were rejected", Err: err}
	}
	cur, rerr := c.again(ctx, res)
	switch {
	case rerr != nil:
		e := c.s.explain(ctx, c, rerr)
		return res, &Error{Message: err.Error() + "; resolving the credentials again failed: " + e.Message, Err: errors.Join(err, rerr)}
	case cur.Credentials.Equal(res.Credentials):
		log.WarnContext(ctx, "mcptool: the upstream rejected the credentials and the source still holds the same ones",
			"tool", c.tool.name, "source", res.Credentials.Source.String())
		return res, &Error{Message: err.Error() + "; the credential source (" + c.s.source(res) + ") still holds the same credential: " +
			"its operator must replace it there (the server reads it again on the next call)", Err: err}
	}
	log.InfoContext(ctx, "mcptool: the upstream rejected the cached credentials; retrying once with the new ones",
		"tool", c.tool.name, "rejected_source", res.Credentials.Source.String(), "source", cur.Credentials.Source.String())
	if err = op(ctx, cur.Credentials); err != nil && c.s.opts.Rejected(err) {
		return cur, &Error{Message: err.Error() + "; the credential read again from " + c.s.source(cur) + " was rejected too", Err: err}
	}
	return cur, err
}

// again returns the credential the resolver holds after res was rejected:
// res is dropped from the cache unless a concurrent call has already
// replaced it, so a burst of rejections for one rotation does not throw
// away the credential that replaced it.
func (c *Call) again(ctx context.Context, res resolver.Result) (resolver.Result, error) {
	req := c.Request()
	cur, err := c.s.r.Resolve(ctx, req)
	if err == nil && cur.Credentials.Equal(res.Credentials) {
		c.s.r.InvalidateResult(cur)
		cur, err = c.s.r.Resolve(ctx, req)
	}
	if err == nil {
		c.s.served.record(cur.Credentials)
	}
	return cur, err
}

// source names where res came from for a model: the provider, and its
// locator only with Options.DetailedErrors.
func (s *Server) source(res resolver.Result) string {
	if s.opts.DetailedErrors {
		return res.Credentials.Source.String()
	}
	return res.Credentials.Source.Provider
}

// HTTPClient returns an HTTP client that sends the call's bearer token
// (oauth2cred.Transport over base, http.DefaultTransport if nil): on a 401
// it invalidates the token, resolves again and retries once if it changed.
// It resolves first, so a call without credentials fails here with a
// model-facing error, and every token it sends is recorded for output
// scrubbing. optFns adjust oauth2cred's options (the field, the scheme).
func (c *Call) HTTPClient(ctx context.Context, base http.RoundTripper, optFns ...func(*oauth2cred.Options)) (*http.Client, error) {
	if _, err := c.Resolve(ctx); err != nil {
		return nil, err
	}
	src, err := oauth2cred.New(c.s.r, c.Request(), optFns...)
	if err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Transport: &oauth2cred.Transport{Source: src, Base: recorder{base, &c.s.served}}}, nil
}

// recorder records the credential of every request's Authorization header
// for output scrubbing.
type recorder struct {
	base   http.RoundTripper
	served *served
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, cred, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
		r.served.recordValue(cred)
	}
	return r.base.RoundTrip(req)
}
