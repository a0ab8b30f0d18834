// Package vault is a [provider.Provider] that reads credentials from
// HashiCorp Vault through github.com/hashicorp/vault/api.
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
