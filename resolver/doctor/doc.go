// Package doctor checks a resolver's configuration the way the resolver
// will use it, and says what is wrong and how to fix it, before the first
// request fails.
//
// A server passes the pieces it builds its resolver from ([Config]: the
// chain, the profiles file, the reference schemes and policy, the required
// fields and the default profile) and logs what [Check] finds, once, at
// start-up:
//
//	doctor.Log(ctx, logger, doctor.Check(ctx, doctor.Config{
//		Chain: chain, Profiles: profiles, Schemes: schemes,
//		Required: required, DefaultProfile: active, AllowReferences: policy,
//	}))
//
// An operator's tool (examples/credctl) renders the whole [Report] of
// [Inspect], or one selection's walk with [Explain] and [ExplainReference].
//
// # What is checked
//
// For the default profile and every profile of the profiles file, the walk
// is the resolver's own: a fresh [resolver.Resolver] over the same chain
// resolves the profile, so the providers asked, skipped and answering, and
// the reasons, are exactly those a request would meet. A profile whose
// "allow" names verified callers is walked as a caller that "allow" matches
// (the first subject, else the first group, with the first issuer and
// client), since a stdio request could never select it. The providers after
// the one that answered are then asked too, so a broken source that is
// shadowed today (an insecure credentials file behind the environment) is
// reported before it is needed. Every file a provider of the chain names
// (Path() string: the credentials file, the profiles file) is checked for
// permissions and owner along its whole path (internal/securefile's rules,
// whatever MCP_INSECURE_MODE says), and its age is reported.
//
// # Findings
//
// Each problem is one [Finding] with a [Severity], the profiles it affects,
// the source, what is wrong and the exact fix (a chmod command, a line of a
// file to correct, a credctl command). [SeverityError] means a profile
// cannot resolve or a source is insecure: [Failed] reports it, and an
// operator's tool exits non-zero on it so that it can gate CI and container
// health checks.
//
// # Values
//
// Nothing the doctor returns holds a credential value: problems are the
// providers' own error texts, which never do, and names read from files are
// rendered with provider.Describe. Where an operator needs to tell two
// values apart (is the key in the environment the one in the file?) the
// report gives a [Fingerprinter]'s fingerprint: the first 12 hex digits of
// HMAC-SHA256 of the value under a key. With a random key, made per run,
// fingerprints compare values within one report and mean nothing outside
// it. With a key the operator sets (MCPCRED_FINGERPRINT_KEY, see
// [FingerprinterFromEnv]) two runs, or two machines, agree; a fingerprint
// then lets whoever holds the key test guesses of a value offline, so keep
// that key as secret as the credentials, or leave it unset.
package doctor
