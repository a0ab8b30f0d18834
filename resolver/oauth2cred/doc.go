// Package oauth2cred authorizes HTTP requests with a bearer token resolved
// through an mcpcred [resolver.Resolver]: the token lives in any backend the
// resolver's chain reads (an environment variable, a credentials file, a
// Kubernetes secret, the OS keychain, Vault, SSM) under a field such as
// "token", and is rotated there without restarting the program.
//
// # Usage
//
// [New] binds a resolver and a [resolver.Request] (which profile or
// reference to resolve) into a [Source]:
//
//	src, err := oauth2cred.New(r, resolver.Request{Profile: "github"})
//	client := &http.Client{Transport: &oauth2cred.Transport{Source: src}}
//
// [Transport] sets "Authorization: Bearer TOKEN" on every request, resolving
// with the request's context. [Source.Token] returns an oauth2.Token for a
// context, and [Source.TokenSource] gives an oauth2.TokenSource for APIs
// that take one. Options.Field names the field that holds the token
// (default "token", for example "access_token"), and Options.TokenType the
// scheme (default "Bearer").
//
// # Contexts
//
// oauth2.TokenSource.Token takes no context. [Source.TokenSource] binds the
// context it is given, as oauth2.Config.TokenSource does: every Token call
// resolves with it, so it should live as long as the TokenSource. Once it is
// done, every Token call that needs the resolver to ask a backend fails. [Transport] has no such context: it uses each
// request's own, so cancelling a request also abandons a resolution it is
// waiting for. Prefer it, or [Source.Token], where a per-call context
// exists.
//
// # Caching, and why not oauth2.ReuseTokenSource
//
// A Source holds no token: every call asks the resolver, whose cache
// answers a fresh credential with a lock-free load, refreshes it in the
// background before its TTL or its Expires, and forgets it when it is
// invalidated. Wrapping a Source's TokenSource in oauth2.ReuseTokenSource
// (which oauth2.NewClient does) would add a second cache that knows only
// Token.Expiry: a token without an expiry would be reused forever, so a
// token rotated in the backend, or invalidated after a 401, would never be
// picked up. Use [Transport] for HTTP clients rather than oauth2.NewClient;
// oauth2.Transport with Source.TokenSource works too, but without the retry
// and without the redirect rule below.
//
// Token.Expiry is the credential's Expires (the zero time when it does not
// expire on its own); the resolver never serves a credential past it.
//
// # Rejected tokens
//
// When a server answers 401 Unauthorized, [Transport] invalidates the
// rejected credential in the resolver (Resolver.InvalidateResult) and
// resolves it again, so the next request never gets the rejected value from
// the cache. It sends the request once more only if the new token differs
// from the rejected one and the request can be replayed: it has no body, or
// GetBody gives the body again. Credentials passed in the resolver request
// itself are never cached and cannot change, so they are never retried.
// Otherwise (also when resolving again fails, for example because the
// request's context is done), and when the retry is answered 401 too, the
// 401 response is returned as it came: Transport retries at most once per
// request. A credential that a concurrent request already replaced is not
// invalidated again, so a burst of 401s after one rotation costs about one
// provider call, not one per request.
//
// Only 401 triggers this. A 403 means the credential was accepted and
// lacks a permission, which a new copy of it would not change.
//
// # Secrets
//
// The token leaves this package only in the Authorization header of the
// request sent and in the oauth2.Token that Source.Token returns. A
// Transport sends it only to the origin (scheme, host and port) of the
// request the caller made: a hop of a redirect to another origin, or from
// https to http, goes without it. Errors and log records (Options.Logger) name the credential's source, the
// field, the method and the host, never the token, the URL's path or its
// query: a token that cannot be sent in a header is reported by its length
// alone, wrapping [ErrInvalidToken].
package oauth2cred
