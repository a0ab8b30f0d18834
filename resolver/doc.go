// Package resolver composes credential providers into an ordered chain with
// a per-profile cache, so that an MCP server resolves credentials on every
// tool call without asking the user, and picks up rotated credentials
// without a restart.
//
// # Resolution order
//
// For each [Request], [Resolver.Resolve] uses, in order:
//
//  1. credentials passed in the request itself, only if
//     Options.AllowRequestCredentials is set; they are validated (required
//     fields, field names, lengths, control characters), used for that
//     request only and never cached;
//  2. a credential reference (Request.CredentialID, such as
//     "vault:secret/data/mcp/aws"), opened through Options.References and
//     allowed only if Options.AllowReferences covers every resource its
//     scheme says it reads (see provider.RefPolicy): a policy decides on
//     what a reference reads, never on how it is spelled;
//  3. the profile the request names (refused with [ErrProfileRefused]
//     unless Options.AllowProfile offers it; a refused profile never falls
//     back to another), or Options.Profile when the request names none: its
//     cached value, else
//  4. the providers of the chain, in order. A provider answering with an
//     error that wraps provider.ErrNotFound or provider.ErrUnavailable, or
//     whose answer lacks a field in Options.Required or has already
//     expired, is skipped and the reason recorded; the first usable answer
//     wins. Any other error (an insecure credentials file, access denied),
//     or one marked provider.Final, stops the walk: a broken
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
// reference, and credentials in the request are refused
// (AllowRequestCredentials accepts them). Refusals wrap [ErrProfileRefused],
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
// Each profile and each reference has its own cache entry:
//
//	state of the cached value          a read
//	before its refresh time            returns it (no lock, no allocation)
//	past it, servable                  returns it at once and starts one background walk
//	last walk failed, within backoff   returns it if servable (Stale set), else the recorded error, at once
//	none, or not servable              joins the one walk in flight, or starts it, and waits (cancellable)
//
// A value without its own expiry is refreshed once per Options.TTL
// (stale-while-revalidate) and stays servable for Options.MaxStale past
// it while the backend is unavailable; a value with an Expires refreshes
// Options.RefreshWindow ahead of it and is never served past it. A
// definite failure (not found, permission denied) ends serving at once.
// After a failed walk no walk for that key starts before a jittered
// backoff (Options.MinRetry doubling to Options.MaxRetry) ends; a success
// resets it.
//
// [Resolver.Invalidate] (a profile), [Resolver.InvalidateResult] (the
// profile or reference a Result came from; use it after AWS answers
// AuthFailure) and [Resolver.InvalidateAll] make one promise: a Resolve that
// starts after they return never gets a value fetched before. A walk that
// was in flight still answers the callers already waiting for it, but its
// answer is not kept, and the next caller starts a new walk beside it: so
// right after an invalidation two walks of one key may run at once.
//
// # Performance
//
// A hit on the default profile loads an atomic pointer; a hit on another
// profile or a reference looks it up in a sync.Map (a lock-free hash trie
// that never copies on insert). A value without its own expiry is compared
// with a coarse clock that a background ticker updates every 10 ms while the
// resolver is in use (it stops after a second idle); since a starved ticker
// may lag, a value with an Expires is compared with time.Now on every hit.
// BenchmarkHit compares hits with aws-sdk-go-v2's CredentialsCache and
// x/oauth2's ReuseTokenSource in the same run.
//
// # Failure containment
//
// Each provider call runs with Options.ProviderTimeout. A provider that
// hangs, even one that ignores its context, is reported unavailable at the
// deadline; while Options.MaxAbandoned of its calls are still stuck past
// their deadline it is reported unavailable without being called, so a
// stuck backend pins a bounded number of goroutines. A provider that panics is reported with [ErrProviderPanicked]
// and the panic value is withheld, since it could hold a secret. Log records
// (Options.Logger) and errors carry provider names, profile names, field
// names and reasons, never values.
package resolver
