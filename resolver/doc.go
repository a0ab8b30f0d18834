// Package resolver composes credential providers into an ordered chain with
// a per-profile cache, so that an MCP server resolves credentials on every
// tool call without asking the user, and picks up rotated credentials
// without a restart.
//
// # Resolution order
//
// For each [Request], [Resolver.Resolve] uses, in order:
//
//  1. credentials passed in the request itself, unless
//     Options.RefuseRequestCredentials is set; they are validated (required
//     fields, field names, lengths, control characters), used for that
//     request only and never cached;
//  2. a credential reference (Request.CredentialID, such as
//     "vault:secret/data/mcp/aws"), opened through Options.References and
//     allowed only if Options.AllowReferences covers every resource its
//     scheme says it reads (see provider.RefPolicy): a policy decides on
//     what a reference reads, never on how it is spelled;
//  3. the profile the request names, only if Options.AllowProfile offers it,
//     else Options.Profile: its cached value while its TTL lasts, else
//  4. the providers of the chain, in order. A provider answering with an
//     error that wraps provider.ErrNotFound or provider.ErrUnavailable, or
//     whose answer lacks a field in Options.Required or has already expired,
//     is skipped and the reason recorded; the first usable answer wins. Any other error (an
//     insecure credentials file, access denied) stops the walk: a broken
//     higher-priority source is reported, never silently bypassed.
//
// Every [Result] says which provider answered (Credentials.Source) and why
// each earlier one was skipped (Skipped). When no provider answers, the
// error is a [*ChainError] listing every provider and its reason; it wraps
// [ErrNoCredentials] and each provider's error.
//
// # Per-request selection
//
// An MCP server is driven by a model, and a model can be steered by whatever
// text it reads: a tool argument must never reach credentials the operator
// did not offer. The policy is the operator's, in [Options], never the
// request's. By default a request may name only the default profile and no
// reference; request credentials are accepted (RefuseRequestCredentials
// turns them off). Refusals wrap [ErrProfileRefused],
// [ErrReferenceRefused] or [ErrRequestCredentialsRefused], say which option
// allows them, and are logged without values. Profile names and references
// with control or invisible characters, path traversal or excessive length
// are refused before any provider is asked. [Selection] is the ready struct
// to embed in a tool's input type.
//
// Nothing a request sends comes back in an error, a log record or a
// Result: profile names and references are rendered with
// provider.Describe, and for a reference the resolver scrubs every piece of
// it that does not read as a name from the errors and locators its
// provider returns, whatever the scheme.
//
// # Caching and rotation
//
// Values are cached per profile for Options.TTL (5 minutes by default),
// shortened by a credential's own Expires. Within Options.RefreshWindow of
// expiry a hit still returns the cached value at once and starts one
// background refresh. Concurrent misses for one profile make a single chain
// walk (singleflight); each waiting caller can still give up through its own
// context. When a refresh fails because a backend is unavailable, the last
// good value is served, marked Stale, for up to Options.MaxStale past its TTL
// (never past its own expiry); then the error surfaces.
//
// [Resolver.Invalidate] and [Resolver.InvalidateAll] drop cached values, for
// example after AWS answers AuthFailure: the next call reads the rotated
// credential.
//
// # Performance
//
// A hit loads an atomic pointer, reads a coarse clock that a background
// ticker updates every 10 ms while the resolver is in use (it stops after a
// second idle), and returns: no lock, no allocation, no call to time.Now.
// BenchmarkHit compares it with aws-sdk-go-v2's CredentialsCache and
// x/oauth2's ReuseTokenSource in the same run.
//
// # Failure containment
//
// Each provider call runs with Options.ProviderTimeout. A provider that
// hangs, even one that ignores its context, is reported unavailable at the
// deadline; a provider that panics is reported with [ErrProviderPanicked]
// and the panic value is withheld, since it could hold a secret. Log records
// (Options.Logger) and errors carry provider names, profile names, field
// names and reasons, never values.
package resolver
