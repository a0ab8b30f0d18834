// Package vault is a [provider.Provider] that reads credentials from
// HashiCorp Vault through github.com/hashicorp/vault/api, and a
// [provider.Store] that writes them to KV v2 secrets (see "Storing").
//
// # Paths
//
// Profile P is read from Options.Mount (default "secret") at
// Options.PathTemplate with {profile} replaced by P (default
// "mcp/{profile}"), so profile "github" is secret/mcp/github, which is
// secret/data/mcp/github on a KV v2 mount. Options.Profiles points single
// profiles elsewhere with a reference (see [ParseRef]):
//
//	vault:secret/data/mcp/aws#access_key_id
//	vault:secret/data/mcp/aws?version=3
//	vault:aws/creds/deploy
//
// [Provider.RetrieveRef] reads a reference directly, for configuration
// values written as "vault:..." references.
//
// # Engines
//
// The KV version is detected from the mount (sys/internal/ui/mounts/PATH,
// as the vault CLI does) or set with Options.Engine. Mounts are cached by
// mount path (only mounts Vault reported, at most 256). KV v2 reads the
// latest version or the one a reference names; a deleted or destroyed
// version is "not found", also when read as a plain path with
// [EngineLogical]. A reference names the API path it reads: on a KV v2
// mount that is MOUNT/data/PATH, and one written without data/ is refused,
// as is a version pin on a path that is not on a KV v2 mount (errors wrap
// [ErrInvalidRef]). Every key of the secret becomes a
// credential field under its own name, unless Options.Fields maps field
// names to keys. Paths of other engines (aws/creds/ROLE,
// database/creds/ROLE) are read as they are.
//
// # Leases
//
// A dynamic secret is read once per path at a time: concurrent requests
// share one read and one lease. The leased secret is cached (at most
// Options.MaxLeases paths), renewed with an api.LifetimeWatcher while Vault
// allows, and tied to the token that read it. Before a cached lease is
// served again the provider asks Vault about it (sys/leases/lookup, in the
// default policy); it is read anew when Vault no longer knows it, when its
// token was replaced or rejected, and when less than Options.LeaseMargin of
// its duration remains. A lease replaced before its end is revoked
// (sys/leases/revoke/LEASE_ID, which needs "update" on that path; without it
// the replaced lease expires by itself, which is logged).
//
// Expires is the time until which the provider vouches for the credential:
// the earliest of the moment it will replace and revoke the lease, and the
// end of the token that read it (Vault revokes a token's leases with it),
// as far as that is known. It is never later than the lease can live.
//
// # Authentication
//
// The client is configured as the vault CLI configures it (api.DefaultConfig
// and its environment: VAULT_ADDR, VAULT_CACERT, VAULT_NAMESPACE, ...),
// with Options.Getenv supplying the variables listed at [New]. Options.Auth
// chooses how to log in: [TokenAuth], [TokenFileAuth] (~/.vault-token or a
// Vault Agent sink, re-read when it changes), [AppRoleAuth] (secret id from
// a string, file or variable, optionally response-wrapped), [KubernetesAuth]
// (the service-account token is re-read at every login, since projected
// tokens rotate), or any method from github.com/hashicorp/vault/api/auth.
// By default VAULT_TOKEN is used, else ~/.vault-token.
//
// # Token lifecycle
//
// Renewable tokens are renewed with an api.LifetimeWatcher. The provider
// replaces its token only when the token's own life says so:
//
//   - Vault answers a request with "invalid token" (revoked, expired, out of
//     uses): the provider logs in again and retries once. Such re-logins run
//     at most once per Options.ReloginInterval; within it a rejected request
//     fails with [ErrTokenRejected], as unavailable.
//   - the token nears the end of its TTL, or its renewal stops (max TTL): a
//     new token is fetched before the old one ends; if that login fails the
//     old token is used until it ends.
//   - a token file changed.
//
// A plain 403 ("permission denied") is about the path, never about the
// token: it causes no lookup and no login, so a token without the default
// policy (which may not call lookup-self) works. A replaced token is not
// revoked: it is replaced only when it is dead or ending, and revoking an
// ending token early would cut the leases it read before their Expires.
// [Provider.Close] stops the watchers and revokes nothing.
//
// Requests go only to the configured host: a redirect to another host is
// refused before the token or login data is sent there (the api client
// would follow one redirect anywhere); a redirect to the same host is
// followed.
//
// # Storing
//
// [Provider] (profiles at Options.PathTemplate or Options.Profiles) and the
// Provider of a "vault:" reference's Target (the secret the reference
// names, whatever the profile) are [provider.Store]s for KV v2 secrets:
//
//   - Put writes the credentials' fields, exactly those and nothing else,
//     as the secret's new version (MOUNT/data/PATH). Through a reference to
//     one key (vault:secret/data/mcp/app#token) the credentials must hold
//     exactly that field; it is written under that key and the secret's
//     other keys are kept. Options.Fields works the same way: its fields
//     under their keys, other keys kept. Such a Put, and any Put on a mount
//     or secret with cas_required, reads the current version and writes
//     with check-and-set, trying again (five times at most) when another
//     writer got in between.
//   - Delete deletes the secret with every version (DELETE
//     MOUNT/metadata/PATH): revocation is real. Deleting nothing is not an
//     error. Through a reference to some keys of a secret that holds others
//     it is refused, wrapping [provider.ErrReadOnly]: deleting the versions
//     would destroy the other keys.
//   - CompareAndSwap reads the current version, compares its fields (those
//     Retrieve would return) with old by [provider.Credentials.Equal], and
//     writes with options.cas set to that version, 0 for a path that was
//     never written. A zero old means nothing is stored: the path was never
//     written or deleted, or its current version is deleted or destroyed.
//     If the fields differ, or Vault answers that the version moved on
//     ("check-and-set parameter did not match the current version"), the
//     error wraps [provider.ErrConflict] and nothing is written. Of any
//     number of processes swapping from the same old value, exactly one
//     wins.
//
// Only KV v2 is written. A version-pinned reference, a KV v1 mount, a
// dynamic secrets engine, a path on no mount Vault reports and
// Options.Engine = EngineLogical are refused, wrapping
// [provider.ErrReadOnly], before anything is sent. KV v1 is refused for
// Put and Delete too, not only for CompareAndSwap (which it cannot do: it
// keeps no versions): a Store whose CompareAndSwap alone fails would let
// an OAuth refresh lose a rotated token at run time instead of failing at
// configuration.
//
// KV v2 reads are not cached, and every write drops whatever the provider
// holds for the path (a leased answer, a shared read in flight), so a
// Retrieve after a write on the same Provider returns what was written.
//
// A 403 is a [*PermissionError] naming the path and the capability:
// "create" (a path not written yet), "update" (one that exists), "create or
// update" (a Put where the token may not read the path to tell), "read"
// (the read of CompareAndSwap) or "delete" (MOUNT/metadata/PATH). Sealed,
// 5xx and unreachable wrap [provider.ErrUnavailable]; a token Vault rejects
// is replaced once, as for Retrieve. Paths in the errors and logs of
// writes show the segments that read as names ([provider.IsName]); any
// other segment (a secret pasted as a profile name) is described by its
// length.
//
// The least-privilege policy for per-user credentials under
// secret/data/mcp/users/ and the enrollment ledger under
// secret/data/mcpcred/used/ (the tokens of the servers that enroll, read
// and refresh them):
//
//	path "secret/data/mcp/users/*"       { capabilities = ["create", "read", "update"] }
//	path "secret/metadata/mcp/users/*"   { capabilities = ["delete"] }
//	path "secret/data/mcpcred/used/*"     { capabilities = ["create", "read", "update"] }
//	path "secret/metadata/mcpcred/used/*" { capabilities = ["delete"] }
//
// "read" on data is needed by CompareAndSwap and by the Puts above that
// check and set; "delete" on metadata by Delete. The ledger only ever
// creates (a claim is a create-only CompareAndSwap), so its rule can be
// narrowed to ["create", "read"] when claims are expired by other means.
//
// # Errors
//
// 404, a deleted version or a missing key wrap [provider.ErrNotFound]. A
// 403 for a valid token is a [*PermissionError] naming the path and the
// capability ("read"). A sealed Vault, a 5xx or 429 answer, and a server
// that cannot be reached wrap [provider.ErrUnavailable], so a resolver can
// serve its last good value. Errors never carry Vault's response bodies
// (which can echo request data), tokens, secret values or configured URLs
// (a malformed VAULT_ADDR, VAULT_AGENT_ADDR, VAULT_HTTP_PROXY or
// VAULT_PROXY_ADDR is named, not quoted: it may hold a password); log lines
// carry paths, TTLs and policies only.
package vault
