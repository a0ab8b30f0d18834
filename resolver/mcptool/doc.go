// Package mcptool is what every tool handler of an MCP server built on the
// official Go SDK (github.com/modelcontextprotocol/go-sdk) needs to use
// mcpcred credentials safely, in a few lines per tool:
//
//	ct, err := mcptool.New(srv, r, &mcptool.Options{Fields: mcptool.TokenFields, Profiles: true})
//
//	type GetInput struct {
//		mcptool.Selection        // credentials / credential_profile / credential_id
//		Path string `json:"path" jsonschema:"the API path, such as /v1/items"`
//	}
//
//	mcptool.AddTool(ct, &mcp.Tool{Name: "get", Description: "GET an API path"},
//		func(ctx context.Context, c *mcptool.Call, in GetInput) (Out, error) {
//			client, err := c.HTTPClient(ctx, nil) // bearer token; 401 → re-resolve → retry once
//			...
//		})
//
// # Selection
//
// [Selection], embedded in a tool's input, gives the call's credential
// arguments. Which of them a tool advertises is the operator's choice
// ([Options]): a server that refuses credentials in calls (the resolver's
// default) does not show the credentials argument at all, and one that
// allows them shows an object with exactly the fields the server declares
// ([TokenFields], [AWSFields], or its own [Field] list), each a string,
// write-only unless it is plain (a region). A call gives at most one of
// credentials, credential_profile and credential_id; giving none resolves
// the server's active profile. A credentials argument that holds only plain
// fields (a region) passes no credentials: the call resolves the server's
// own, and the handler reads the plain fields. Secret values are held as
// provider.Secret.
//
// # The guard
//
// [New] installs receiving middleware on the mcp.Server that checks every
// tools/call of a tool registered with [AddTool] before the SDK's schema
// validation, whose messages quote the offending value: the size, that the
// arguments are an object, each argument's name and JSON type, the required
// arguments, the credentials object's fields, and the one-of rule. Its
// messages name only the schema's own property names. A value that passes
// it and still fails a finer constraint of the schema (a pattern, an enum,
// a minimum) gets the SDK's message replaced by one that names the argument
// and not its value. An argument the operator does not offer is refused
// with how to enable it ([Hints]).
//
// # Model-facing errors
//
// Errors of [Call.Resolve] and [Call.Do], and resolver errors a handler
// returns, become an [*Error]: short, actionable, without values, and
// without file paths, section or variable names unless
// Options.DetailedErrors is set. The operator's log (Options.Logger) gets
// the resolver's full account, such as its *resolver.ChainError.
//
// # Output scrubbing
//
// Every secret value the server's calls were given (by [Call.Resolve],
// [Call.Do], and every bearer token an [Call.HTTPClient] sent) is
// remembered, and every result of a guarded tool (text, structured
// content, tool errors, JSON-RPC errors) is scrubbed of it, as it is and as
// JSON and URL encodings escape it: an upstream API that echoes a key does
// not get it to the model. Values shorter than [MinScrubLen] are not
// scrubbed. Tool errors are also scrubbed of the call's own argument text
// that does not read as a name. [StdioTransport] and [IOTransport] rewrite
// the JSON-RPC errors the SDK writes before any middleware runs, which
// quote the request.
//
// # Logs
//
// [LogHandler], given as Options.ScrubLogs and made the handler of the
// resolver's, the providers' and Options.Logger's loggers, keeps the
// argument text of the calls in flight out of every record they log: a
// provider written elsewhere may format a profile name or a piece of a
// reference into its message. [SDKLogHandler] is the handler for the SDK's
// own logger (mcp.ServerOptions.Logger), whose debug messages may format
// request data.
//
// # Rotation
//
// When the upstream rejects a credential, [Call.Do] (for an operation that
// returns an error wrapping [ErrCredentialRejected], or that
// Options.Rejected recognises) and [Call.HTTPClient] (on an HTTP 401, with
// resolver/oauth2cred) invalidate it, resolve again, and retry once, only
// if the credential changed (Credentials.Equal): credentials passed in the
// call (Result.FromRequest) are never retried.
//
// # Remote servers and caller identity
//
// [HTTPHandler] serves a server over Streamable HTTP behind the SDK's
// auth.RequireBearerToken, and publishes its Protected Resource Metadata
// (RFC 9728) at /.well-known/oauth-protected-resource:
//
//	verify, err := mcptool.NewOIDCVerifier(ctx, "https://idp.example.com", "https://mcp.example.com/mcp")
//	h, err := mcptool.HTTPHandler(srv, verify, mcptool.HTTPOptions{
//		ResourceURL:          "https://mcp.example.com/mcp",
//		AuthorizationServers: []string{"https://idp.example.com"},
//	})
//	http.ListenAndServeTLS(":443", cert, key, h)
//
// [ServeHTTP] does all of that for a server whose operator configures it
// through the environment ([ReadHTTPEnv]: MCP_OAUTH_ISSUER,
// MCP_RESOURCE_URL, MCP_OAUTH_GROUPS_CLAIM, MCP_OAUTH_SCOPES), and shuts
// down when its context ends:
//
//	cfg, err := mcptool.ReadHTTPEnv(os.Getenv)
//	err = mcptool.ServeHTTP(ctx, srv, "127.0.0.1:8080", cfg)
//
// Resource and authorization server URLs must be https unless their host
// is a loopback address.
//
// [NewOIDCVerifier] checks a bearer token with github.com/coreos/go-oidc:
// the issuer's signature (its JWKS, refetched when it rotates keys), the
// issuer, the audience (the server's resource URL) and expiry; a token it
// refuses is answered 401 with the metadata's URL. Its claims become a
// provider.Caller (subject, issuer, client, scopes, groups), which
// [Call.Caller] returns and [Call.Request] puts in every resolver request,
// so the resolver caches per caller, the profiles file's "allow" and
// per-subject sources apply, and the audit log names the caller. Only the
// transport sets it: no tool argument can. A call over HTTP without a
// verified caller resolves nothing. The client's token is never passed on:
// the credentials a tool uses are the resolver's.
package mcptool
