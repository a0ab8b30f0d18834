package oauth2cred

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// maxDrain bounds how much of a rejected response's body is read before it
// is closed, so its connection can be reused without reading a large body.
const maxDrain = 64 << 10

// Transport is an http.RoundTripper that sets the Authorization header of
// each request to a token resolved through Source, with the request's
// context, and sends it through Base. It is safe for concurrent use.
//
// When the answer is 401 Unauthorized, Transport invalidates the rejected
// credential in the resolver (Resolver.InvalidateResult) and resolves it
// again. It retries the request once, and only if the new token differs
// from the rejected one and the request can be sent again: it has no body,
// or its GetBody replays it (http.NewRequest sets GetBody for
// *bytes.Buffer, *bytes.Reader and *strings.Reader bodies). Otherwise
// (also when resolving again fails, as it does once the request's context
// is done), and for credentials passed in the resolver request itself,
// which cannot change, the 401 response is returned as it came. A retry
// that is answered 401 again is returned as it came too.
//
// The token goes only to the origin (scheme, host and port) of the request
// the caller sent: when http.Client follows a redirect to another origin,
// or from https to http, that request is sent without it. (x/oauth2's
// Transport sends its token to every hop.)
//
// Transport never modifies the caller's *http.Request: it sends a clone,
// and replaces an Authorization header the request already has on the
// clone only. Its errors and log records never contain the token.
type Transport struct {
	// Source supplies the token. It must not be nil.
	Source *Source

	// Base sends the requests. If nil, http.DefaultTransport is used.
	Base http.RoundTripper
}

// RoundTrip authorizes req with the resolved token and sends it, retrying
// once on a 401 as described on [Transport].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper closes the request body, even on errors; once the
	// request is handed to Base, Base does.
	bodyOwned := req.Body != nil
	defer func() {
		if bodyOwned {
			req.Body.Close()
		}
	}()
	s := t.Source
	if s == nil {
		return nil, errors.New("oauth2cred: Transport.Source is nil")
	}
	ctx := req.Context()
	if !sameOrigin(req) {
		// A redirect to another origin: the token is not for it.
		s.logger.DebugContext(ctx, "oauth2cred: redirected to another origin; sent without the token",
			"method", req.Method, "host", req.URL.Host)
		bodyOwned = false
		return t.send(req)
	}
	res, tok, err := s.resolve(ctx)
	if err != nil {
		return nil, err
	}
	first := req.Clone(ctx)
	s.setAuth(first, tok)
	bodyOwned = false
	resp, err := t.send(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || res.FromRequest() {
		return resp, err
	}
	return t.retry(ctx, req, resp, res, tok)
}

// send sends req through Base, and makes sure the response names the
// request it answers, which sameOrigin follows on the next redirect hop.
func (t *Transport) send(req *http.Request) (*http.Response, error) {
	resp, err := t.base().RoundTrip(req)
	if resp != nil && resp.Request == nil {
		resp.Request = req
	}
	return resp, err
}

// maxHops bounds the redirect chain sameOrigin follows; http.Client stops
// after 10 redirects.
const maxHops = 64

// sameOrigin reports whether req goes to the origin (scheme, host and port)
// of the request that started its chain of redirects: http.Client sets
// Response on each hop it follows, and the Transport that answered set the
// response's Request. A chain that cannot be followed to its start counts
// as another origin.
func sameOrigin(req *http.Request) bool {
	first := req
	for i := 0; first.Response != nil; i++ {
		if first.Response.Request == nil || i == maxHops {
			return false
		}
		first = first.Response.Request
	}
	return first == req || origin(first.URL) == origin(req.URL)
}

// origin renders u's scheme, host and port, the port made explicit.
func origin(u *url.URL) string {
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// retry handles a 401 answer resp to req, which was sent with tok from res.
func (t *Transport) retry(ctx context.Context, req *http.Request, resp *http.Response, res resolver.Result, tok provider.Secret) (*http.Response, error) {
	s := t.Source
	log := func(msg string, err error) {
		args := []any{"method", req.Method, "host", req.URL.Host, "source", res.Credentials.Source.String()}
		if err != nil {
			args = append(args, "error", err)
		}
		s.logger.WarnContext(ctx, "oauth2cred: request rejected (401); "+msg, args...)
	}
	if !replayable(req) {
		s.drop(ctx, tok) // for the next request
		log("not retried: the request body cannot be sent again (no GetBody)", nil)
		return resp, nil
	}
	cur, curTok, err := s.drop(ctx, tok)
	if err == nil && curTok.Equal(tok) {
		cur, curTok, err = s.resolve(ctx)
	}
	switch {
	case err != nil:
		log("not retried: resolving a new credential failed", err)
		return resp, nil
	case curTok.Equal(tok):
		log("not retried: the resolver has no other credential", nil)
		return resp, nil
	}
	again := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			log("not retried: GetBody failed", err)
			return resp, nil
		}
		again.Body = body
	}
	s.setAuth(again, curTok)
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	resp.Body.Close()
	s.logger.DebugContext(ctx, "oauth2cred: request rejected (401); retrying once with a new credential",
		"method", req.Method, "host", req.URL.Host, "source", cur.Credentials.Source.String())
	return t.send(again)
}

// drop removes the rejected token tok from the resolver's cache, unless a
// concurrent request already replaced it: a burst of 401s for one rotation
// then does not throw away the credential that replaced it. It returns the
// credential the resolver holds now: tok itself when it was dropped.
func (s *Source) drop(ctx context.Context, tok provider.Secret) (resolver.Result, provider.Secret, error) {
	cur, curTok, err := s.resolve(ctx)
	if err == nil && curTok.Equal(tok) {
		s.r.InvalidateResult(cur)
	}
	return cur, curTok, err
}

// replayable reports whether req can be sent a second time.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}
