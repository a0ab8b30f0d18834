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
// as the vault CLI does) or set with Options.Engine. KV v2 reads the latest
// version or the one a reference names; a deleted or destroyed version is
// "not found". Every key of the secret becomes a credential field under its
// own name, unless Options.Fields maps field names to keys. Paths of other
// engines (aws/creds/ROLE, database/creds/ROLE) are read as they are: the
// lease duration becomes the credentials' Expires, so a resolver refreshes
// ahead; the leased secret is cached and renewed with an
// api.LifetimeWatcher while Vault allows, and read anew when less than
// Options.LeaseMargin of its lease is left.
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
// Renewable tokens are renewed with an api.LifetimeWatcher. When renewal
// stops, when a token file changes, and when a request is refused with 403
// and Vault confirms the token itself is no longer valid, the provider logs
// in again and retries once. [Provider.Close] stops the watchers.
//
// # Errors
//
// 404, a deleted version or a missing key wrap [provider.ErrNotFound]. A
// 403 for a valid token is a [*PermissionError] naming the path and the
// capability ("read"). A sealed Vault, a 5xx or 429 answer, and a server
// that cannot be reached wrap [provider.ErrUnavailable], so a resolver can
// serve its last good value. Errors never carry Vault's response bodies
// (which can echo request data), tokens or secret values; log lines carry
// paths, TTLs and policies only.
package vault
