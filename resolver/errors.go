package resolver

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
)

var (
	// ErrNoCredentials is wrapped by the error Resolve returns when no
	// provider in the chain supplied usable credentials.
	ErrNoCredentials = errors.New("resolver: no credentials found")

	// ErrRequestCredentialsRefused is returned when a request carries
	// credentials and Options.AllowRequestCredentials is not set.
	ErrRequestCredentialsRefused = errors.New("resolver: credentials in the request are refused by policy (allow them with Options.AllowRequestCredentials)")

	// ErrInvalidRequestCredentials is wrapped when credentials passed in a
	// request are malformed: a required field missing, a bad field name, a
	// value too long or holding control characters.
	ErrInvalidRequestCredentials = errors.New("resolver: invalid request credentials")

	// ErrInvalidProfile is wrapped when a profile name is empty after
	// defaulting, too long, or holds control characters.
	ErrInvalidProfile = errors.New("resolver: invalid profile name")

	// ErrProfileRefused is wrapped when a request names a profile that
	// Options.AllowProfile does not offer.
	ErrProfileRefused = errors.New("resolver: profile not offered to requests")

	// ErrReferenceRefused is wrapped when a request passes a credential
	// reference and Options.AllowReferences does not allow it.
	ErrReferenceRefused = errors.New("resolver: credential reference refused by policy")

	// ErrInvalidCaller is wrapped when Request.Caller is malformed (an empty
	// subject or issuer, or one with control characters): a transport bug,
	// never a request's doing.
	ErrInvalidCaller = errors.New("resolver: invalid verified caller")

	// ErrProviderPanicked is wrapped when a provider panicked. The panic
	// value is not included: it could hold a secret.
	ErrProviderPanicked = errors.New("resolver: provider panicked")
)

// Attempt records one provider's answer during a chain walk.
type Attempt struct {
	Provider string // provider name
	Err      error  // why it was skipped or failed; never holds a value
}

// String returns "provider: reason".
func (a Attempt) String() string {
	if a.Err == nil {
		return a.Provider + ": ok"
	}
	return a.Provider + ": " + reason(a.Err)
}

// reason strips the "provider NAME: " prefix that *provider.Error adds, so
// attribution lines read "env: AWS_ACCESS_KEY_ID is not set".
func reason(err error) string {
	s := err.Error()
	var pe *provider.Error
	if errors.As(err, &pe) && pe.Provider != "" {
		s = strings.TrimPrefix(s, "provider "+pe.Provider+": ")
	}
	return s
}

// ChainError is returned by Resolve when no provider supplied usable
// credentials. It lists every provider tried and its reason, unwraps to
// ErrNoCredentials and to every attempt's error (so errors.Is and errors.As
// find, say, provider.ErrUnavailable or a file provider's permission error),
// and holds no secret value.
type ChainError struct {
	Profile   string // the profile resolved; empty for a reference
	Reference string // the credential reference resolved, if any
	Attempts  []Attempt
}

func (e *ChainError) Error() string {
	var b strings.Builder
	if e.Reference != "" {
		fmt.Fprintf(&b, "resolver: no credentials for %s", describeRef(e.Reference))
	} else {
		fmt.Fprintf(&b, "resolver: no credentials for profile %s", provider.Describe(e.Profile))
	}
	if len(e.Attempts) == 0 {
		b.WriteString(": the provider chain is empty")
		return b.String()
	}
	b.WriteString(", tried:")
	for _, a := range e.Attempts {
		b.WriteString("\n  - ")
		b.WriteString(a.String())
	}
	return b.String()
}

// Unwrap returns ErrNoCredentials followed by each attempt's error, in the
// manner of errors.Join.
func (e *ChainError) Unwrap() []error {
	errs := make([]error, 0, len(e.Attempts)+1)
	errs = append(errs, ErrNoCredentials)
	for _, a := range e.Attempts {
		errs = append(errs, a.Err)
	}
	return errs
}

// unavailable reports whether the walk failed only because some backend could
// not answer (every other provider had nothing), which is when a stale value
// may be served. A definite failure, such as an insecure file, is not.
func (e *ChainError) unavailable() bool {
	sawUnavailable := false
	for _, a := range e.Attempts {
		switch {
		case errors.Is(a.Err, provider.ErrUnavailable):
			sawUnavailable = true
		case errors.Is(a.Err, provider.ErrNotFound):
		default:
			return false
		}
	}
	return sawUnavailable
}
