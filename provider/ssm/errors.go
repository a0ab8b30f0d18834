package ssm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mcpcred/mcpcred/internal/awserr"
	"github.com/mcpcred/mcpcred/provider"
)

const (
	opGetParameter        = "GetParameter"
	opGetParametersByPath = "GetParametersByPath"
)

// ErrAccessDenied is wrapped by an [*AccessError]: the SSM client's AWS
// identity may not read the parameter or path, or may not decrypt it with
// its KMS key.
var ErrAccessDenied = errors.New("ssm: access denied")

// ErrIncompleteWalk means a GetParametersByPath walk could not read the
// whole hierarchy: SSM repeated a NextToken (at once or after other pages),
// served a parameter a second time, or the walk ran past Options.MaxPages.
// No partial result is ever returned. A walk that stopped making progress
// also wraps [provider.ErrUnavailable]; one that hit MaxPages is a definite
// failure (the hierarchy is larger than the provider is allowed to read).
var ErrIncompleteWalk = errors.New("ssm: path walk did not complete")

// AccessError reports a permission SSM or KMS refused. It names the
// operation, the parameter or path, and the IAM action the identity needs.
type AccessError struct {
	Operation string // "GetParameter" or "GetParametersByPath"
	Resource  string // the parameter reference or path
	Action    string // IAM action missing: "ssm:GetParameter", "ssm:GetParametersByPath", "kms:Decrypt"
	Code      string // SSM's error code, such as "AccessDeniedException" or "InvalidKeyId"
	Message   string // SSM's error message (names ARNs, never values)
}

func (e *AccessError) Error() string {
	msg := fmt.Sprintf("ssm: access denied: %s on %s needs %s", e.Operation, e.Resource, e.Action)
	if e.Action == "kms:Decrypt" {
		msg += " on the parameter's KMS key"
	}
	if e.Code != "" {
		msg += " (" + e.Code
		if e.Message != "" {
			msg += ": " + e.Message
		}
		msg += ")"
	}
	return msg
}

// Unwrap returns [ErrAccessDenied].
func (e *AccessError) Unwrap() error { return ErrAccessDenied }

// classify turns an SDK error from op on resource into the provider's error:
// not found, unavailable, access denied, or another failure.
func (p *Provider) classify(ctx context.Context, profile, resource, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &provider.Error{Provider: Name, Profile: profile, Locator: resource, Err: fmt.Errorf("ssm: %s: %w", op, ctxErr)}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
		switch {
		case code == "ParameterNotFound":
			return provider.NotFound(Name, profile, resource, "parameter not found")
		case isKMS(code, msg):
			return &provider.Error{Provider: Name, Profile: profile, Locator: resource,
				Err: &AccessError{Operation: op, Resource: resource, Action: "kms:Decrypt", Code: code, Message: msg}}
		case code == "AccessDeniedException":
			return &provider.Error{Provider: Name, Profile: profile, Locator: resource,
				Err: &AccessError{Operation: op, Resource: resource, Action: "ssm:" + op, Code: code, Message: msg}}
		case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool(),
			code == "InternalServerError", code == "ServiceUnavailable":
			return provider.Unavailable(Name, profile, resource, fmt.Errorf("ssm: %s: %s%s", op, code, attempts(err)))
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() >= 500 {
		return provider.Unavailable(Name, profile, resource, fmt.Errorf("ssm: %s: HTTP %d%s", op, status.HTTPStatusCode(), attempts(err)))
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		return provider.Unavailable(Name, profile, resource, awserr.Opaque(fmt.Sprintf("ssm: %s: cannot reach SSM%s", op, awserr.NetDetail(err)), err))
	}
	if isCredentialsError(err) {
		return provider.Unavailable(Name, profile, resource, awserr.Opaque(fmt.Sprintf(
			"ssm: %s: the SSM client has no usable AWS credentials (check the aws.Config passed to ssm.New, or the SDK's default chain)", op), err))
	}
	if apiErr != nil {
		return &provider.Error{Provider: Name, Profile: profile, Locator: resource, Err: fmt.Errorf("ssm: %s: %s: %s", op, apiErr.ErrorCode(), apiErr.ErrorMessage())}
	}
	return &provider.Error{Provider: Name, Profile: profile, Locator: resource, Err: awserr.Opaque(fmt.Sprintf("ssm: %s failed (%T)", op, awserr.Innermost(err)), err)}
}

// isKMS reports whether an SSM error is a KMS failure to decrypt a
// SecureString: SSM passes them on as InvalidKeyId, as KMS's own exception
// names, or as AccessDeniedException whose message names KMS.
func isKMS(code, msg string) bool {
	switch code {
	case "InvalidKeyId", "KMSAccessDeniedException", "KMSDisabledException", "KMSInvalidStateException", "KMSNotFoundException", "DisabledException", "KeyUnavailableException":
		return true
	case "AccessDeniedException":
		m := strings.ToLower(msg)
		return strings.Contains(m, "kms")
	}
	return false
}

func isCredentialsError(err error) bool {
	// The SDK reports a credential chain that found nothing as
	// "failed to refresh cached credentials" / "failed to retrieve credentials".
	s := err.Error()
	return strings.Contains(s, "failed to refresh cached credentials") || strings.Contains(s, "failed to retrieve credentials")
}

func attempts(err error) string {
	var m *retry.MaxAttemptsError
	if errors.As(err, &m) {
		return fmt.Sprintf(" after %d attempts", m.Attempt)
	}
	return ""
}

// stalled reports a path walk that stopped making progress at page n: an
// outage of the service (a resolver may bridge it with its last good
// value), never a partial answer.
func stalled(profile, locator string, n int, what string) error {
	return provider.Unavailable(Name, profile, locator,
		fmt.Errorf("%w: %s page %d %s; nothing read in this walk is returned", ErrIncompleteWalk, opGetParametersByPath, n, what))
}
