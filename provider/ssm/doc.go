// Package ssm is an mcpcred provider that reads credentials from AWS Systems
// Manager Parameter Store with aws-sdk-go-v2.
//
// # Profiles and parameters
//
// By default a profile P is the hierarchy Prefix/P/ (Prefix defaults to
// "/mcp"): every parameter under it, read recursively and decrypted,
// becomes one field named by its path relative to the hierarchy, so
// /mcp/prod/access_key_id and /mcp/prod/secret_access_key are the fields
// access_key_id and secret_access_key of profile "prod", and
// /mcp/prod/db/password is the field db/password. Options.Paths gives a
// profile another hierarchy; Options.Label keeps only parameter versions
// that carry a label.
//
// Options.Parameters maps a profile's fields to single parameters instead,
// each read with GetParameter. A reference may select a version or a label
// exactly as SSM defines them: "/shared/token:3", "/shared/token:current"
// (see [ParseRef]). [Provider.RetrievePath] and [Provider.RetrieveParameters]
// do the same for a path or a mapping given at call time, which is how a
// reference such as ssm:/mcp/prod/ resolves through this provider.
//
// Every call sets WithDecryption, so SecureString values arrive in clear
// text over TLS and are held in [provider.Secret] values from then on.
//
// # References
//
// [Scheme] (or [SchemeFromDefaultConfig]) serves credential references
// (see provider.ParseRef) in a provider.Schemes, for the "source" of a
// profile in a profiles file and a request's credential_id:
//
//	ssm:/mcp/prod/                       every parameter under /mcp/prod/, one path walk
//	ssm:/mcp/prod/token#token            the parameter /mcp/prod/token as the field token
//	ssm:/mcp/prod/token?version=3#token  version 3 of it
//	ssm:/mcp/prod/token?label=current#token  the version labelled current
//	ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/mcp/prod/token#token
//
// A body ending in "/" is a path and takes no #field; any other body is
// one parameter and needs #FIELD (a-z, 0-9, '_') to name its field.
// "ssm:/" is refused: it would read the whole account and region. All
// references share one Provider and so one SSM client; the provider built
// for a reference answers with it whatever profile it is asked for.
// Malformed references are refused with an error wrapping
// provider.ErrInvalidRef (and [ErrInvalidName] for a bad name) that names
// the part (body or fragment) that is wrong.
//
// # The SSM client's own credentials
//
// The SSM client signs its calls with the AWS credentials of the aws.Config
// given to [New], or of the SDK's default chain with [NewFromDefaultConfig]
// (environment, shared files, SSO, web identity, container or instance
// role). It never asks a mcpcred resolver for them: the resolver may hold
// this very provider, so asking it would recurse (resolving "prod" would
// need SSM credentials, which would need "prod"...), and the credentials
// that unlock a secret store belong to the platform the program runs on,
// not to the secrets it stores. Give the program an IAM role that may read
// its own hierarchy and nothing else (see the README for the policy).
//
// # Errors
//
// ParameterNotFound and an empty hierarchy wrap [provider.ErrNotFound], so
// a resolver moves on to the next provider. AccessDeniedException is an
// [*AccessError] wrapping [ErrAccessDenied] that names the parameter or
// path and the IAM action that is missing: ssm:GetParameter,
// ssm:GetParametersByPath, or kms:Decrypt when SSM reports that KMS refused
// to decrypt a SecureString (InvalidKeyId, or an access-denied message
// naming KMS). Throttling and 5xx answers are retried by the SDK's standard
// retryer with exponential backoff and jitter (Options.MaxAttempts, default
// 4 attempts; Options.MaxBackoff, default 2s between attempts); a call that
// still fails, and a network error, wraps [provider.ErrUnavailable], so a
// resolver serves its last good value while its stale rule allows. Errors
// carry SSM's error code and message, which name parameters and ARNs;
// parameter values never appear in errors or logs.
//
// # Whole walks or nothing
//
// A path walk either reads the whole hierarchy or fails: what was read
// before a failure is never returned as if it were the profile. A page that
// fails after SSM's retries fails the walk as any call does. A server that
// stops making progress (a NextToken it already sent, at once or after
// other pages, or a parameter served a second time) fails it with an error
// wrapping [ErrIncompleteWalk] and [provider.ErrUnavailable], so a resolver
// may bridge it with its last good value. A walk that still has more after
// Options.MaxPages pages (default [DefaultMaxPages], 50 pages of 10) fails
// with [ErrIncompleteWalk] alone, a definite failure: the hierarchy is
// larger than the provider may read. Empty pages that carry a new NextToken
// are progress (SSM sends them for filtered walks).
//
// # Cost and throughput
//
// One refresh of a profile read by path costs one GetParametersByPath call
// per page of 10 parameters (one call for a typical profile of a few
// fields), never one call per field; a profile mapped with
// Options.Parameters costs one GetParameter per field. The resolver's TTL
// sets the rate: with a 5-minute TTL one process makes about 12 calls an
// hour per profile, 100 processes about 1,200.
//
// At the standard throughput setting, which is free for standard
// parameters, GetParameter, GetParameters and GetParametersByPath share a
// quota of 40 transactions per second per account and region; past it SSM
// answers ThrottlingException. Enabling higher throughput raises the quota
// (GetParameter and GetParameters to thousands of transactions per second,
// GetParametersByPath to 100) and makes every API interaction billable, at
// USD 0.05 per 10,000 at the time of writing; advanced parameters are
// billed per interaction as well. Check the AWS Systems Manager pricing and
// quota pages for current figures. A short TTL across many processes is
// what reaches the quota: keep the TTL in minutes, not seconds, and let the
// resolver's refresh window and stale rule absorb throttling.
package ssm
