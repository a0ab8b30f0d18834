// Package providertest is a conformance suite for [provider.Provider]
// implementations, in the spirit of testing/slogtest: a provider author calls
// [Run] from a test with a provider that has data for one profile, and the
// suite checks the contract every resolver relies on.
//
// # What it checks
//
// The suite checks that the provider:
//   - returns non-empty credentials with a Source naming the provider for
//     the profile that has data;
//   - answers a profile it has nothing for with an error wrapping
//     provider.ErrNotFound (unless Options.MissingProfile is empty);
//   - returns promptly with an error wrapping context.Canceled or
//     context.DeadlineExceeded when its context is done;
//   - is safe for concurrent use and gives every caller the same fields;
//   - never shows a secret value in an error, or when its credentials are
//     printed with any fmt verb, encoded as JSON, or logged with log/slog.
//
// # Rendering checks
//
// [CheckRendering] runs the secret-hygiene part alone on any Credentials,
// for tests of code that builds or transforms them.
package providertest
