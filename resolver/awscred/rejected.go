package awscred

// Rejected reports whether err, or an error it wraps, is an AWS API error
// whose code says that AWS did not accept the credentials that signed the
// request: they are unknown, revoked, expired, or their secret does not
// match the signature. Such a call may succeed with credentials read again
// from their source (see [Provider.Do]).
//
// The codes, across AWS's protocols (EC2 and query, JSON, REST-XML):
//
//	AuthFailure                   EC2: unknown or inactive key, wrong secret, bad signature
//	InvalidClientTokenId          query and JSON services (STS, IAM, SNS, SQS, ...): unknown key
//	UnrecognizedClientException   JSON services (SSM, DynamoDB, KMS, ...): unknown key or token
//	SignatureDoesNotMatch         the secret does not match the signature (query, S3)
//	InvalidSignatureException     the same, in JSON services
//	IncompleteSignature           the signature lacks parts (common to query and JSON services)
//	IncompleteSignatureException  the same, as some JSON services spell it
//	InvalidAccessKeyId            S3: unknown key
//	ExpiredToken                  the session token has expired (EC2, query services, S3)
//	ExpiredTokenException         the same, in JSON services and STS
//	TokenRefreshRequired          S3: the session token must be refreshed
//	InvalidToken                  S3: the session token is malformed or invalid
//	RequestExpired                the request's timestamp is too old, or the temporary credentials expired
//
// Authorization errors (AccessDenied, AccessDeniedException,
// UnauthorizedOperation) are not rejections: the credentials were accepted
// and their policy does not allow the call, which other credentials from the
// same source would not change. Neither are throttling, clock-skew
// (RequestTimeTooSkewed, which the SDK corrects and retries) or transport
// errors.
func Rejected(err error) bool {
	switch ErrorCode(err) {
	case "AuthFailure",
		"InvalidClientTokenId",
		"UnrecognizedClientException",
		"SignatureDoesNotMatch",
		"InvalidSignatureException",
		"IncompleteSignature",
		"IncompleteSignatureException",
		"InvalidAccessKeyId",
		"ExpiredToken",
		"ExpiredTokenException",
		"TokenRefreshRequired",
		"InvalidToken",
		"RequestExpired":
		return true
	}
	return false
}
