// Package enroll lets the verified users of a remote MCP server add their
// own credentials in the browser, through MCP URL-mode elicitation
// (specification 2025-11-25), into a store that every replica of the
// server shares; refreshes OAuth-connected credentials across replicas
// ([Refresh]); and removes them ([Enroller.Remove]).
//
// A profile whose source is per subject (profiles.json:
// "mine": {"source": "vault:secret/data/mcp/users/{sub}", "allow": {"issuers": [ISSUER]}},
// see package profile) has nothing for a user who never added a
// credential: resolving it fails with profile.ErrSourceEmpty. The server
// (resolver/mcptool, with Options.Enroll) then asks [Enroller.Enroll] for
// a link, and the client shows it to the user:
//
//	e, err := enroll.New(ctx, profiles, enroll.Options{
//		BaseURL:  "https://mcp.example.com/enroll",
//		Key:      key, // 32+ random bytes, the same on every replica
//		Issuer:   "https://idp.example.com", // the issuer of the MCP callers' tokens
//		ClientID: "mcp-enroll", ClientSecret: secret,
//		Profiles: map[string]enroll.Profile{"mine": {Title: "Example API", Fields: []enroll.Field{{Name: "token", Label: "API token"}}}},
//		Ledger:   enroll.StoreLedger(ledgerSchemes, "vault:secret/data/mcpcred/used/"),
//		Resolver: r,
//	})
//	mux.Handle("/enroll/", e.Handler()) // beside MCP, without bearer authentication
//
// [ReadEnv] reads the operator's part from MCP_ENROLL_URL, MCP_ENROLL_KEY
// (or MCP_ENROLL_KEY_FILE), MCP_ENROLL_CLIENT_ID, MCP_ENROLL_CLIENT_SECRET
// and MCP_ENROLL_LEDGER.
//
// # The flow
//
// Every step runs on any replica: nothing lives only in one process but
// the watchers of step 1, which only speed things up.
//
//  1. Enroll (for a verified caller) checks that the profile is in
//     Options.Profiles, that the caller's issuer is Options.Issuer, and
//     that the profiles file lets the caller store it
//     (profile.Provider.StoreFor). It seals a ticket {id (128 random bits),
//     issuer, subject, client, groups, profile} that expires after
//     TicketTTL, and returns the elicitation: mode "url", URL
//     BASE/start?t=TICKET, elicitationId the ticket id. A watcher per
//     session, caller and profile polls the store every PollInterval; when
//     the credential is there it invalidates the resolver and sends the
//     session notifications/elicitation/complete.
//  2. GET BASE/start?t=TICKET sets the mcpcred_login cookie (sealed: the
//     ticket, a state, a nonce, a PKCE verifier) and redirects to the
//     issuer's authorization endpoint (code flow, S256 PKCE, nonce, scope
//     openid). It consumes nothing: a link preview that fetches it does no
//     harm.
//  3. GET BASE/callback checks the state against the cookie's (constant
//     time), exchanges the code with the verifier, verifies the ID token
//     with go-oidc (signature by the issuer's keys, issuer, audience
//     ClientID, expiry; then the nonce and azp: this client whenever
//     present, and present with several audiences),
//     and requires its issuer and subject to be the ticket's. It replaces
//     the login cookie with mcpcred_enroll (sealed: the ticket, a csrf
//     value) and redirects to BASE/.
//  4. GET BASE/ renders the form of the ticket's profile: an input per
//     Field (a password input unless Plain), a sealed csrf token, and a
//     Connect button when the profile has OAuth.
//  5. POST BASE/ stores the fields, after the checks below, claiming the
//     ticket in the Ledger first: the caller and profile are the ticket's,
//     never anything the browser sends.
//  6. POST BASE/connect sets mcpcred_connect (sealed: the ticket, the
//     client, a state, a PKCE verifier) and redirects to the third party's
//     AuthURL; GET BASE/connected checks state and cookies, exchanges the
//     code with the verifier, claims the ticket and stores the OAuth shape:
//     token (the access token), refresh_token, expiry (RFC 3339), token_type
//     and oauth_client (OAuth.Name, which tells every replica's [Refresh]
//     which client refreshes it).
//
// # Threat model: what each check stops
//
//   - The link is not a credential. It carries no secret and grants
//     nothing by itself: whoever opens it must sign in at the issuer as the
//     ticket's issuer and subject, else 403 and nothing is stored. A link
//     that leaks (chat history, a proxy log, a model's context) cannot be
//     used to plant a credential in another user's name, nor to read one.
//   - Sealing. Tickets, cookies and csrf tokens are AES-256-GCM sealed
//     with a key derived per purpose (HKDF-SHA256 of Options.Key), the
//     purpose as additional data, each with its own expiry: a forged,
//     altered or truncated value is 400, an expired one 410, and a value
//     sealed for one purpose (a csrf token) never opens as another (a
//     ticket). Rotation: Options.OldKeys still open.
//   - Replay. The Ledger claims a ticket's id once, across replicas
//     (StoreLedger: a create-only CompareAndSwap): a used link, or a
//     replayed session cookie, is 409 and stores nothing more. The claim
//     comes before the store's write, so a write that fails spends the
//     link: that page says nothing was saved and to ask for a new link,
//     and ends the session (a ledger that fails spends nothing).
//   - Login CSRF and code injection. The state, nonce and PKCE verifier
//     live in this browser's sealed cookie, so an answer started in
//     another browser (an attacker's code) does not match (400), and a
//     stolen code cannot be exchanged without the verifier.
//   - Planted cookies. Exactly one cookie of each name is accepted: a
//     cookie a sibling subdomain sets beside this server's (cookie
//     tossing, which could otherwise slip an attacker's own session under
//     a victim's form) makes the request fail. Serve BASE on a host whose
//     sibling subdomains you trust nonetheless.
//   - Cross-site posts. Posts must come from the form: no query string,
//     Sec-Fetch-Site same-origin and Origin BaseURL's origin when the
//     browser sends them, a SameSite=Lax session cookie, and a csrf token
//     bound to that session's ticket (403 otherwise). A page opened for
//     one link cannot post into another link's session, so a value typed
//     for one profile is never stored as another's.
//   - Secrets in addresses. A POST or GET of the form with a query string
//     is refused (400) before anything else, without echoing it, and the
//     page says to rotate what may have been logged on the way.
//   - Open redirects. Redirects go only to the issuer's discovered
//     authorization endpoint, the profile's configured AuthURL, and BASE
//     paths. No route takes a return, redirect or next parameter: a query
//     parameter a route does not know is 400, so the class is closed by
//     construction.
//   - Clickjacking, leaks through Referer and caches. Every response has
//     Content-Security-Policy default-src 'none' (no script at all; forms
//     post only here, or to the third party for Connect), X-Frame-Options
//     DENY and frame-ancestors 'none', Referrer-Policy no-referrer (the
//     ticket in /start's address never reaches the issuer), Cache-Control
//     no-store, nosniff.
//   - Resource exhaustion. Bodies are at most 16 KiB, values 4096 bytes,
//     only the profile's declared fields are accepted (an unknown one is
//     400 and nothing is stored); at most Options.MaxPending watchers,
//     one per session, caller and profile, at most 8 per caller (so one
//     user's many sessions do not take them all), each ending at its
//     link's expiry, when its session closes, or when the credential
//     arrives.
//   - Disclosure. Pages, errors and logs never show a subject, a value,
//     a ticket or request text. Logs name the event, the profile
//     (provider.Label), the ticket id's first 8 characters, the outcome,
//     and the verified caller's issuer and subject as the resolver's audit
//     log does.
//
// Not covered: a user who signs in at the issuer as themself and pastes a
// credential that is not theirs stores it for their own account only.
// Whoever holds Options.Key can forge tickets for any user; keep it with
// the same care as the store's own credentials.
//
// # Stores and least privilege
//
// Credentials go where the profile's per-subject source points
// (profile.Provider.StoreFor): a provider.Store such as vault (KV v2),
// keychain or encfile. The Vault policy of a server that enrolls
// (see provider/vault) needs no more than:
//
//	path "secret/data/mcp/users/*"     { capabilities = ["create", "read", "update"] }
//	path "secret/metadata/mcp/users/*" { capabilities = ["delete"] }
//	path "secret/data/mcpcred/used/*"  { capabilities = ["create", "read"] }
//
// # Refresh
//
// [Refresh] wraps the scheme of the store (register it in the Schemes the
// profiles use) so that an OAuth-connected credential is refreshed before
// it expires, under a lease that makes one replica the refresher, and
// stored with CompareAndSwap: a rotating refresh token is presented once,
// and no replica loses the new one. A credential that cannot be refreshed
// is not found once it expires, so enrollment starts again.
package enroll
