package mcptool

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpcred/mcpcred/provider"
)

// HTTPOptions configure [HTTPHandler].
type HTTPOptions struct {
	// ResourceURL is the server's resource identifier: the URL clients
	// connect to (such as https://mcp.example.com/mcp), which the verifier
	// requires as the token's audience. The handler serves MCP at its path.
	// Required.
	ResourceURL string

	// AuthorizationServers are the issuer URLs of the authorization
	// servers whose tokens the server accepts, published in the Protected
	// Resource Metadata for clients to discover. Required.
	AuthorizationServers []string

	// Scopes, if any, must all be granted to a token (403 otherwise); they
	// are published as scopes_supported.
	Scopes []string

	// ResourceName is the metadata's human-readable name of the server.
	ResourceName string

	// Streamable are the SDK's options of the streamable transport.
	Streamable *mcp.StreamableHTTPOptions

	// Pages are served beside MCP, outside the bearer-token check: pages
	// for a person's browser, such as resolver/enroll's, which sign the
	// browser in themselves. Keys are http.ServeMux patterns (such as
	// "/enroll/"); one that would shadow MCP's path or the metadata is
	// refused.
	Pages map[string]http.Handler
}

// WellKnownPRM is the well-known path of OAuth 2.0 Protected Resource
// Metadata (RFC 9728).
const WellKnownPRM = "/.well-known/oauth-protected-resource"

// HTTPHandler serves srv over MCP's Streamable HTTP transport for remote
// clients, each request behind the SDK's auth.RequireBearerToken with
// verifier (such as [NewOIDCVerifier]'s):
//
//   - MCP at the path of opts.ResourceURL. A request without a bearer
//     token, or with one verifier refuses, is answered 401 with
//     WWW-Authenticate: Bearer resource_metadata="<metadata URL>", so a
//     client can discover where to get a token.
//   - The Protected Resource Metadata (RFC 9728: the resource and its
//     authorization servers) at /.well-known/oauth-protected-resource
//     followed by the resource's path, and at the bare well-known path.
//
// The client's bearer token is verified and then dropped: it is never
// passed upstream or to a provider, which get the credentials the
// resolver serves for the verified caller (the MCP specification forbids
// token passthrough). Each tool call's [Call.Request] carries that caller.
// As over [StdioTransport], JSON-RPC error responses are rewritten to a
// fixed text per code, since the SDK's quote the request.
//
// The resource and authorization server URLs must be https unless their
// host is a loopback address, since clients send tokens and secrets to
// them: serve it over TLS, or behind a proxy that terminates TLS. [ServeHTTP]
// serves it on an address until a context ends.
func HTTPHandler(srv *mcp.Server, verifier auth.TokenVerifier, opts HTTPOptions) (http.Handler, error) {
	if verifier == nil {
		return nil, errors.New("mcptool: HTTPHandler needs a token verifier")
	}
	if len(opts.AuthorizationServers) == 0 {
		return nil, errors.New("mcptool: HTTPOptions.AuthorizationServers must name the issuer of the tokens the server accepts")
	}
	for i, u := range append([]string{opts.ResourceURL}, opts.AuthorizationServers...) {
		what := "resource URL"
		if i > 0 {
			what = "authorization server URL"
		}
		if err := checkURL(what, u); err != nil {
			return nil, err
		}
		if err := plainHTTPOnLoopback(what, u); err != nil {
			return nil, err
		}
	}
	u, _ := url.Parse(opts.ResourceURL)
	if u.RawQuery != "" {
		return nil, errors.New("mcptool: the resource URL must not have a query")
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	origin := u.Scheme + "://" + u.Host
	metaURL := origin + WellKnownPRM + path

	meta := auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:               opts.ResourceURL,
		AuthorizationServers:   slices.Clone(opts.AuthorizationServers),
		ScopesSupported:        slices.Clone(opts.Scopes),
		BearerMethodsSupported: []string{"header"},
		ResourceName:           opts.ResourceName,
	})
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, opts.Streamable)
	protected := auth.RequireBearerToken(verifier, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: metaURL,
		Scopes:              slices.Clone(opts.Scopes),
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamable.ServeHTTP(errorRewriter{w}, r)
	}))

	mux := http.NewServeMux()
	for pattern, h := range opts.Pages {
		p := pattern
		if _, rest, ok := strings.Cut(p, " "); ok { // "GET /path"
			p = rest
		}
		if h == nil || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, WellKnownPRM) || p == path || p == path+"/{$}" {
			return nil, fmt.Errorf("mcptool: HTTPOptions.Pages: %s would shadow MCP or its metadata, or has no handler", provider.Describe(pattern))
		}
		if err := handle(mux, pattern, h); err != nil {
			return nil, err
		}
	}
	mux.Handle(WellKnownPRM, meta)
	if path != "" {
		mux.Handle(WellKnownPRM+path, meta)
		mux.Handle(path, protected)
	} else {
		mux.Handle("/{$}", protected)
	}
	return mux, nil
}

// errorRewriter rewrites the JSON-RPC error responses the streamable
// transport writes: each Write is one JSON message, one JSON batch, or one
// server-sent event whose data line is one.
type errorRewriter struct{ http.ResponseWriter }

func (w errorRewriter) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte(`"error"`)) {
		return w.ResponseWriter.Write(p)
	}
	var out []byte
	if t := bytes.TrimSpace(p); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		out = rewriteErrors(t)
	} else {
		lines := bytes.Split(p, []byte("\n"))
		for i, l := range lines {
			if data, ok := bytes.CutPrefix(l, []byte("data: ")); ok {
				lines[i] = append([]byte("data: "), rewriteErrors(data)...)
			}
		}
		out = bytes.Join(lines, []byte("\n"))
	}
	if _, err := w.ResponseWriter.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Unwrap lets http.ResponseController reach the connection's Flush.
func (w errorRewriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handle is mux.Handle, with its panic on a malformed or conflicting
// pattern returned as an error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mcptool: HTTPOptions.Pages: pattern %s: %v", provider.Describe(pattern), r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}
