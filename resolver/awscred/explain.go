package awscred

import (
	"context"
	"errors"
	"net/url"

	"github.com/aws/smithy-go"
)

// explanations say in plain words what common AWS error codes mean.
var explanations = map[string]string{
	"AuthFailure":                        "AWS did not accept the credentials: the access key is wrong, deleted or inactive, the secret does not match it, or this machine's clock is off",
	"InvalidClientTokenId":               "AWS does not recognise the access key, or the session token does not belong to it",
	"UnrecognizedClientException":        "AWS does not recognise the access key",
	"SignatureDoesNotMatch":              "the secret access key does not match the access key",
	"InvalidSignatureException":          "the secret access key does not match the access key",
	"ExpiredToken":                       "the session token has expired; get new temporary credentials",
	"ExpiredTokenException":              "the session token has expired; get new temporary credentials",
	"RequestExpired":                     "the request's timestamp is too old; check this machine's clock, or the temporary credentials expired",
	"UnauthorizedOperation":              "the credentials are valid but their IAM policy does not allow this action on this resource",
	"AccessDenied":                       "the credentials are valid but their IAM policy does not allow this action on this resource",
	"AccessDeniedException":              "the credentials are valid but their IAM policy does not allow this action on this resource",
	"OptInRequired":                      "the account is not subscribed to this service in this region",
	"Blocked":                            "the account is blocked; contact AWS support",
	"RequestLimitExceeded":               "AWS is throttling requests from this account; try again shortly",
	"Throttling":                         "AWS is throttling requests from this account; try again shortly",
	"ThrottlingException":                "AWS is throttling requests from this account; try again shortly",
	"InvalidParameterValue":              "AWS rejected a parameter value",
	"InvalidGroup.NotFound":              "no security group with this ID exists in this region for this account; check the ID and the region",
	"InvalidGroupId.Malformed":           "EC2 does not accept this security group ID",
	"InvalidPermission.Malformed":        "EC2 rejected the rule as malformed",
	"RulesPerSecurityGroupLimitExceeded": "the security group has reached its rule limit; remove rules or raise the quota",
}

// ErrorCode returns the code of the AWS API error err is or wraps, such as
// "InvalidPermission.Duplicate", or "" when it is none.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Explain returns err, an aws-sdk-go-v2 operation's error, as a message
// for a person or a model to act on:
//
//   - an AWS API error: "EC2 error CODE: AWS's message", then, for the
//     common codes, "What it means: ..." in plain words, then the request ID;
//   - a call that was cancelled or timed out: that;
//   - a call that did not reach AWS: the endpoint and the network's reason.
//
// It returns "" for nil. AWS's message is quoted as it is and may echo
// parts of the request (never the secret key, which is not sent); a server
// that returns it to a model should scrub it as resolver/mcptool does with
// every tool error.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	service := "AWS"
	var oe *smithy.OperationError
	if errors.As(err, &oe) && oe.ServiceID != "" {
		service = oe.ServiceID
	}
	var ae smithy.APIError
	var ue *url.Error
	switch {
	case errors.As(err, &ae):
		msg := service + " error " + ae.ErrorCode() + ": " + ae.ErrorMessage()
		if e, ok := explanations[ae.ErrorCode()]; ok {
			msg += "\nWhat it means: " + e + "."
		}
		var re interface{ ServiceRequestID() string }
		if errors.As(err, &re) && re.ServiceRequestID() != "" {
			msg += "\nRequest ID: " + re.ServiceRequestID()
		}
		return msg
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "the " + service + " call was cancelled or timed out"
	case errors.As(err, &ue):
		where := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			where = u.Scheme + "://" + u.Host
		}
		return "could not reach " + service + " at " + where + ": " + ue.Err.Error()
	}
	return "the " + service + " call failed: " + err.Error()
}
