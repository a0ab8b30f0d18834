package awssdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mcpcred/mcpcred/internal/awserr"
	"github.com/mcpcred/mcpcred/provider"
)

// imdsServiceID is the ServiceID of the SDK's EC2 instance metadata client.
const imdsServiceID = "ec2imds"

// ErrProcess is wrapped by a [*ProcessError].
var ErrProcess = errors.New("awssdk: credential_process failed")

// ProcessError reports a credential_process helper that failed. It says
// how (exit status, signal, timeout, unusable output), never what the
// helper printed: a helper's output or its error message can hold a
// secret, and the SDK's own error text quotes it.
type ProcessError struct {
	// Reason is how the helper failed, such as "exited with status 1".
	Reason string
	// ExitCode is the helper's exit status, or -1 if it did not exit
	// normally or did not run.
	ExitCode int
	// TimedOut is set when the helper ran past the SDK's timeout
	// (processcreds.Options.Timeout, one minute by default).
	TimedOut bool

	err error // the SDK's error; its text is never shown
}

// Error returns "awssdk: credential_process REASON".
func (e *ProcessError) Error() string { return "awssdk: credential_process " + e.Reason }

// Unwrap returns [ErrProcess] and the SDK's error, so errors.As finds an
// *exec.ExitError or a *processcreds.ProviderError. Do not print the SDK's
// error: it can hold the helper's output.
func (e *ProcessError) Unwrap() []error { return []error{ErrProcess, e.err} }

// Fixed texts the SDK's process provider uses for output it rejects; they
// quote nothing, so they are repeated.
var processMessages = []string{
	"wrong version in process output (not 1)",
	"missing AccessKeyId in process output",
	"missing SecretAccessKey in process output",
}

func processError(pe *processcreds.ProviderError) *ProcessError {
	e := &ProcessError{ExitCode: -1, err: pe}
	var exitErr *exec.ExitError
	var execErr *exec.Error
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	inner := ""
	if pe.Err != nil {
		inner = pe.Err.Error() // compared with fixed texts only, never shown
	}
	switch {
	case strings.HasPrefix(inner, "credential process timed out"):
		e.TimedOut = true
		e.Reason = "ran past its timeout and was stopped"
	case errors.As(pe, &exitErr) && exitErr.Exited():
		e.ExitCode = exitErr.ExitCode()
		e.Reason = fmt.Sprintf("exited with status %d (its output is not shown; set Options.ProcessStderr to see its standard error)", e.ExitCode)
	case errors.As(pe, &exitErr):
		e.Reason = "was stopped by a signal"
	case errors.As(pe, &execErr):
		e.Reason = "could not be started (the shell was not found)"
	case errors.Is(pe, exec.ErrWaitDelay):
		e.Reason = "left its output open after it exited (a process it started still holds it)"
	case errors.As(pe, &syntaxErr), errors.As(pe, &typeErr):
		e.Reason = "printed output that is not credential JSON (the output is not shown)"
	default:
		e.Reason = fmt.Sprintf("failed (%T)", awserr.Innermost(pe))
		for _, m := range processMessages {
			if inner == m {
				e.Reason = "output rejected: " + m
			}
		}
	}
	return e
}

// loadError classifies an error of config.LoadDefaultConfig for profile.
// The SDK's text is never copied: a parse error can quote a line of a file,
// and a profile name can be anything a request supplied.
func (p *Provider) loadError(profile string, named bool, err error) error {
	files := strings.Join(p.files, ", ")
	var notExist config.SharedConfigProfileNotExistError
	var loadErr config.SharedConfigLoadError
	var roleErr config.SharedConfigAssumeRoleError
	var arnErr config.CredentialRequiresARNError
	var mfaErr config.AssumeRoleTokenProviderNotSetError
	if f, why := p.unreadable(); f != "" {
		// The SDK skips a file it cannot open, so a profile in it reads as
		// missing; and it reports one it cannot read without the cause.
		return &provider.Error{Provider: Name, Profile: profile, Locator: f,
			Err: awserr.Opaque(fmt.Sprintf("awssdk: cannot read the file: %v", why), err)}
	}
	switch {
	case errors.As(err, &notExist) && named && notExist.Profile == profile:
		return provider.NotFound(Name, profile, files, "awssdk: no such profile in the shared config or credentials files")
	case errors.As(err, &notExist) && !named:
		return &provider.Error{Provider: Name, Profile: profile, Locator: files,
			Err: awserr.Opaque(fmt.Sprintf("awssdk: the default chain's profile %s (AWS_PROFILE) is in neither file", provider.Describe(notExist.Profile)), err)}
	case errors.As(err, &notExist):
		return &provider.Error{Provider: Name, Profile: profile, Locator: files,
			Err: awserr.Opaque(fmt.Sprintf("awssdk: source_profile names profile %s, which is in neither file", provider.Describe(notExist.Profile)), err)}
	case errors.As(err, &loadErr):
		return &provider.Error{Provider: Name, Profile: profile, Locator: loadErr.Filename,
			Err: awserr.Opaque("awssdk: the file is not valid INI (its text is not shown)", err)}
	case errors.As(err, &roleErr):
		return &provider.Error{Provider: Name, Profile: profile, Locator: files,
			Err: awserr.Opaque(fmt.Sprintf("awssdk: the role_arn settings of profile %s are incomplete (role_arn needs source_profile, credential_source or web_identity_token_file)", provider.Describe(roleErr.Profile)), err)}
	case errors.As(err, &arnErr):
		return &provider.Error{Provider: Name, Profile: profile, Locator: files,
			Err: awserr.Opaque(fmt.Sprintf("awssdk: profile %s uses %s, which needs role_arn", provider.Describe(arnErr.Profile), provider.Describe(arnErr.Type)), err)}
	case strings.Contains(awserr.Innermost(err).Error(), "partial credentials found for profile"):
		// Matched, never shown: the text names a profile.
		return &provider.Error{Provider: Name, Profile: profile, Locator: files,
			Err: awserr.Opaque("awssdk: a profile in the chain has aws_access_key_id without aws_secret_access_key, or the reverse", err)}
	case errors.As(err, &mfaErr):
		return &provider.Error{Provider: Name, Profile: profile, Locator: files,
			Err: awserr.Opaque("awssdk: the profile's role needs an MFA code (mfa_serial), which a server cannot prompt for; use a profile without mfa_serial", err)}
	}
	return &provider.Error{Provider: Name, Profile: profile, Locator: files,
		Err: awserr.Opaque(fmt.Sprintf("awssdk: cannot load the AWS configuration (%T)", awserr.Innermost(err)), err)}
}

// unreadable returns the first shared file that exists but cannot be read,
// and the system's reason (such as "permission denied"), or "".
func (p *Provider) unreadable() (string, error) {
	for _, name := range p.files {
		f, err := os.Open(name)
		if err == nil {
			_, err = f.Read(make([]byte, 1))
			f.Close()
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			var pathErr *fs.PathError
			if errors.As(err, &pathErr) {
				err = pathErr.Err
			}
			return name, err
		}
	}
	return "", nil
}

// retrieveError classifies an error of the SDK's credential chain.
func (p *Provider) retrieveError(ctx context.Context, profile, locator string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &provider.Error{Provider: Name, Profile: profile, Locator: locator, Err: fmt.Errorf("awssdk: %w", ctxErr)}
	}
	var canceled *aws.RequestCanceledError
	if errors.As(err, &canceled) {
		return &provider.Error{Provider: Name, Profile: profile, Locator: locator, Err: awserr.Opaque("awssdk: request canceled", err)}
	}
	var pe *processcreds.ProviderError
	if errors.As(err, &pe) {
		e := processError(pe)
		if e.TimedOut {
			return provider.Unavailable(Name, profile, locator, e)
		}
		return &provider.Error{Provider: Name, Profile: profile, Locator: locator, Err: e}
	}
	var tokenErr *ssocreds.InvalidTokenError
	if errors.As(err, &tokenErr) {
		return &provider.Error{Provider: Name, Profile: profile, Locator: locator,
			Err: awserr.Opaque("awssdk: the SSO session is missing or has expired; run aws sso login for this profile", err)}
	}
	op := "the credential source"
	var opErr *smithy.OperationError
	if errors.As(err, &opErr) {
		op = opErr.ServiceID + " " + opErr.OperationName
	}
	if opErr != nil && opErr.ServiceID == imdsServiceID && strings.Contains(opErr.Err.Error(), "access disabled") {
		return provider.NotFound(Name, profile, locator,
			"awssdk: the chain found no credentials before EC2 instance metadata, which is disabled (AWS_EC2_METADATA_DISABLED)")
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		msg := fmt.Sprintf("awssdk: %s: %s: %s%s", op, code, apiErr.ErrorMessage(), attempts(err))
		switch {
		case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool(),
			code == "InternalServerError", code == "InternalFailure", code == "ServiceUnavailable":
			return provider.Unavailable(Name, profile, locator, awserr.Opaque(msg, err))
		}
		var status interface{ HTTPStatusCode() int }
		if errors.As(err, &status) && status.HTTPStatusCode() >= 500 {
			return provider.Unavailable(Name, profile, locator, awserr.Opaque(msg, err))
		}
		return &provider.Error{Provider: Name, Profile: profile, Locator: locator, Err: awserr.Opaque(msg, err)}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() >= 500 {
		return provider.Unavailable(Name, profile, locator, awserr.Opaque(fmt.Sprintf("awssdk: %s: HTTP %d%s", op, status.HTTPStatusCode(), attempts(err)), err))
	}
	var sendErr *smithyhttp.RequestSendError
	var netErr net.Error
	if errors.As(err, &sendErr) || errors.As(err, &netErr) {
		return provider.Unavailable(Name, profile, locator, awserr.Opaque(fmt.Sprintf("awssdk: %s: cannot reach the endpoint%s", op, awserr.NetDetail(err)), err))
	}
	return &provider.Error{Provider: Name, Profile: profile, Locator: locator,
		Err: awserr.Opaque(fmt.Sprintf("awssdk: %s failed (%T)", op, awserr.Innermost(err)), err)}
}

func attempts(err error) string {
	var m *retry.MaxAttemptsError
	if errors.As(err, &m) {
		return fmt.Sprintf(" after %d attempts", m.Attempt)
	}
	return ""
}
