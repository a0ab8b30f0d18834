// Package provider defines the contract between mcpcred's resolver and the
// backends that hold credentials, and the values that cross it.
//
// A [Provider] has one method, Retrieve(ctx, profile), like
// aws.CredentialsProvider and oauth2.TokenSource; [Func] adapts a plain
// function. Each backend lives in its own subpackage so that a program
// compiles only the backends it imports:
//
//   - provider/env: environment variables, with NAME_FILE indirection
//   - provider/file: the INI file ~/.mcp/credentials
//   - provider/secretfile: Docker and Kubernetes secret files
//   - provider/keychain: macOS Keychain, Windows Credential Manager, Secret Service
//   - provider/vault: HashiCorp Vault KV and dynamic secrets
//   - provider/ssm: AWS SSM Parameter Store
//   - provider/static: fixed values, for tests and code-wired credentials
//
// [Pin] fixes a provider to one profile; [WithName] names one for
// attribution.
//
// # Secrets
//
// Every credential value is held in a [Secret], whose String, GoString,
// Format, MarshalJSON, MarshalText and LogValue all print [Redacted]. Only
// [Secret.Reveal] gives the value back. [Credentials] groups named Secrets
// with their [Source] (provider name and a locator such as a file and
// section, never a value), the time they were fetched and their expiry.
//
// # Errors
//
// Providers report "nothing for this profile" with an error wrapping
// [ErrNotFound], and "backend unreachable now" with one wrapping
// [ErrUnavailable]; a resolver moves past both. Every other error is a
// failure worth surfacing. Errors are [*Error] values that name the
// provider, profile and locator and unwrap to the cause; they never contain
// secret values.
//
// # References
//
// A [Ref] points at credentials without holding them, in one grammar for
// every backend, scheme:body[?params][#field], with one meaning per piece of
// syntax (the table is on [Ref]), such as "file:production" or
// "vault:secret/data/mcp/aws#access_key_id" ([ParseRef]). A [Scheme] turns a
// reference into a [Target]: its provider and the exact [Resource] values it
// reads, on which a [RefPolicy] decides, never on the reference's text. Each provider package exports a
// Scheme function; a program registers the ones it imports in a [Schemes]
// (no global registry), which builds and reuses the provider a reference
// names. Profiles files and per-request credential_id values resolve
// through it.
//
// # Conformance
//
// Package provider/providertest checks that a Provider, ours or yours,
// honours this contract: concurrency, context cancellation, not-found
// semantics and secret hygiene.
package provider
