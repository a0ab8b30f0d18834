// Package testop runs a real OpenID provider on loopback for tests of
// remote MCP servers and of the browser flows around them: zitadel/oidc's
// op package (discovery, JWKS, the authorization and token endpoints,
// userinfo, JWT signing) over zitadel's example in-memory storage, whose
// authorization requests, codes and password check it keeps, with the
// parts that example does not cover replaced:
//
//   - Clients ([Client]) use the client-credentials grant and get JWT access
//     tokens (RFC 9068 shape) whose subject is a person's, so one OP issues
//     tokens for as many subjects as a test registers.
//   - Users ([User]) sign in with a username and password on a plain HTML
//     form the OP serves at /login, for web clients ([WebClient]) doing the
//     authorization code flow with PKCE (S256, required), response type
//     code, ID tokens with the request's nonce, and client authentication by
//     client_secret_basic or client_secret_post (no secret: a public client).
//   - Access tokens are JWTs whose audience is the resource server's URL
//     (the MCP server, as MCP clients request with RFC 8707's resource
//     parameter) or the client's own Audience, not the client id. ID tokens
//     name the client as an audience and authorized party.
//   - Web clients always get a refresh token. Refresh tokens rotate: using
//     one returns a new one and the old one is refused (invalid_grant) from
//     then on, also to a concurrent request that lost the race. Access tokens
//     issued earlier stay valid until they expire, as JWTs do elsewhere.
//   - Each client may be given an access token lifetime, to test expiry and
//     refresh (client credentials: negative means issued expired; web
//     clients: at least 2s); counters ([OP.RefreshCount], [OP.LoginCount],
//     [OP.UserinfoCount]) let tests see what happened, and [OP.Revoke]
//     drops a user's grants.
//   - The userinfo endpoint answers any unexpired access token it issued and
//     refuses an expired, revoked or unknown one with 401, so it can stand
//     in for a third-party API that checks the token.
//   - Tokens carry scope and groups claims.
//   - The signing key rotates on demand; the old key stays published until
//     retired.
//
// [SignIn] is the test browser: it follows a URL that leads to the OP's
// login page, posts the form, and follows the redirects back to the
// client.
//
// The OP serves plain HTTP on 127.0.0.1 and is for tests only: passwords
// and secrets are compared in plain text and nothing is persisted.
package testop
