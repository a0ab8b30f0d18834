// Package awstest helps tests point the real aws-sdk-go-v2 clients at a local
// [net/http/httptest] server and check that each request the server receives
// was signed with the credentials the test expects.
//
// # Verifying signatures
//
// [VerifySigV4] recomputes a request's Signature Version 4 signature with
// aws-sdk-go-v2's own signer (aws/signer/v4) over what the server received:
// method, path, query, the headers the client listed in SignedHeaders, the
// SHA-256 of the body and the X-Amz-Date. It compares the result with the
// Authorization header the client sent and checks the credential scope
// (access key ID, date, region, service) and the X-Amz-Security-Token
// header against the expected [aws.Credentials]. No SigV4 arithmetic is
// written by hand here: a mismatch means the SDK, given the expected secret,
// would have produced a different signature.
//
// Errors are [*VerifyError] values that name the access key ID and the scope
// the client used and what differed. They never contain a secret access key
// or a session token.
//
// # Several identities
//
// A server that knows several identities holds them in [Credentials], keyed
// by access key ID; [Credentials.Verify] finds the identity named in the
// request's Authorization header, verifies the signature against it and
// returns it, so a test can assert which credential signed each call.
//
// # Client configuration
//
// [Config] returns an [aws.Config] with static credentials, a region and a
// base endpoint, ready for a service client's NewFromConfig.
package awstest
