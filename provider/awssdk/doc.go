// Package awssdk is an mcpcred provider that resolves a profile with
// aws-sdk-go-v2's own credential chain (config.LoadDefaultConfig), so that
// every source the SDK knows works as it does for the AWS CLI, and none is
// reimplemented here: static keys in ~/.aws/credentials, IAM Identity Center
// (SSO) sessions, role_arn with source_profile or credential_source
// (AssumeRole, chained), credential_process helpers, web identity tokens,
// container credentials and EC2 instance metadata.
//
// # Profiles
//
// [Provider.Retrieve] with a profile name P loads the configuration as
// config.WithSharedConfigProfile(P) does (the AWS CLI's --profile P). A P
// that is in neither the shared config file nor the shared credentials
// file wraps provider.ErrNotFound.
//
// provider.DefaultProfile (and "") is the SDK's default chain, as the AWS
// CLI runs without --profile: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// then AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, then the profile
// AWS_PROFILE names (an error if it does not exist) or [default], then
// container credentials (AWS_CONTAINER_CREDENTIALS_*), then EC2 instance
// metadata. The shared-config profile named "default" is reached this way.
// A chain that finds nothing before instance metadata, with instance
// metadata disabled (AWS_EC2_METADATA_DISABLED=true, which off EC2 avoids
// its timeouts), wraps provider.ErrNotFound; instance metadata that does not
// answer wraps provider.ErrUnavailable. The same holds for a profile that
// exists but names no source of credentials (only a region, say): the SDK
// falls back to container credentials and instance metadata for it.
//
// The shared files are $AWS_CONFIG_FILE and $AWS_SHARED_CREDENTIALS_FILE,
// else ~/.aws/config and ~/.aws/credentials, read through Options.Getenv
// when [New] runs and passed to the SDK explicitly ([Provider.Files]). All
// other variables are read by the SDK from the process environment.
//
// # Result
//
// The credentials hold access_key_id, secret_access_key, session_token
// (temporary credentials), region (the profile's or AWS_REGION, when set)
// and account_id (when the source reports one). Expires is the SDK's
// expiry for temporary credentials (the zero time for long-term keys).
// Source is {Provider: "awssdk", Locator: `profile "P" (KINDS)`} or
// "default chain (KINDS)", KINDS naming the sources the SDK chained, such
// as "source_profile, credential_process, assume role". No value appears in
// it.
//
// # Caching
//
// The provider keeps each profile's loaded configuration (up to
// Options.MaxProfiles), and with it the SDK's credential cache, so an SSO
// role's or an assumed role's temporary credentials are reused until they
// near expiry rather than fetched on every Retrieve. The loaded
// configuration is dropped when a shared file changes (size or
// modification time) or by [Provider.Invalidate]. Credentials that do not
// expire, which the SDK would keep for the life of the process, are asked
// for again on each Retrieve: a resolver's refresh then reaches a
// credential_process helper or a rotated key. Put a resolver in front of
// the provider for request-rate caching.
//
// # credential_process helpers
//
// In a stdio MCP server the process's standard input is the JSON-RPC stream
// and its standard output is the reply stream. The SDK's credential_process
// provider hands the helper this process's stdin and stderr (for MFA
// prompts), and config.WithProcessCredentialOptions cannot change that. So
// the provider replaces it, wherever the SDK's chain puts it (directly, or
// as the source of the STS client of an AssumeRole above it), with the SDK's
// same provider running the same command through a command builder of its
// own: sh -c COMMAND (cmd.exe /C on Windows) with this process's
// environment, stdin from the null device, stdout read by the SDK only,
// stderr to Options.ProcessStderr (discarded by default), in a process
// group of its own on Unix that is killed as a whole when the helper is
// stopped, and with Options.ProcessWaitDelay bounding the wait for output a
// leftover process holds open. A chain that would run a helper the provider
// could not reach to replace fails with [ErrUnsafeProcess] instead of
// running it. The SDK's timeout still applies (one minute by default;
// config.WithProcessCredentialOptions in Options.LoadOptions sets it).
//
// # Errors
//
// The SDK's error text is never copied into an error: a credential_process
// helper's output (which the SDK quotes when it cannot parse it) can hold a
// secret, a shared file's line can, and a profile name can be anything a
// request supplied. Errors are classified by type and described:
//
//   - a missing profile wraps provider.ErrNotFound;
//   - a shared file that exists but cannot be read, a file the SDK rejects,
//     a source_profile naming a missing profile, a role needing an MFA code
//     (mfa_serial), an expired SSO session, an AccessDenied from STS and any
//     other failure are definite errors;
//   - a helper that fails is a [*ProcessError] wrapping [ErrProcess] that
//     gives its exit status or how it failed, never its output; one that runs
//     past its timeout also wraps provider.ErrUnavailable;
//   - an endpoint (STS, SSO, container, instance metadata) that cannot be
//     reached, throttles or answers 5xx after the SDK's retries wraps
//     provider.ErrUnavailable;
//   - errors from AWS services carry the service and operation, the error
//     code and the service's message, which names ARNs, never secrets.
//
// Every error is a *provider.Error naming the provider and profile.
package awssdk
