package mcptool

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/oauth2cred"
)

// ErrCredentialRejected is what an operation passed to [Call.Do] wraps
// when the upstream rejected the credential (an HTTP 401, AWS
// AuthFailure): Do then invalidates it and retries once with a new one.
var ErrCredentialRejected = errors.New("mcptool: the upstream rejected the credential")

// Error is a model-facing error: Message is what the tool error says, short
// and actionable, without values, paths or section names (unless
// Options.DetailedErrors); Err is the cause, for the operator's log and for
// errors.Is and errors.As.
type Error struct {
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// modelError turns a handler's error into the tool error's: resolver and
// reference errors are explained, an *Error is kept, anything else is the
// handler's own text.
func (s *Server) modelError(ctx context.Context, c *Call, err error) error {
	var me *Error
	switch {
	case errors.As(err, &me):
		return err
	case errors.Is(err, oauth2cred.ErrNoToken), errors.Is(err, oauth2cred.ErrInvalidToken):
		s.opts.Logger.WarnContext(ctx, "mcptool: no usable token", "tool", c.tool.name, "error", err)
		return &Error{Message: "the resolved credentials hold no usable token (the server's log says which source and field)", Err: err}
	case fromResolver(err):
		return s.explain(ctx, c, err)
	}
	return err
}

// fromResolver reports whether err is the resolver's (or a reference's).
func fromResolver(err error) bool {
	for _, target := range []error{resolver.ErrNoCredentials, resolver.ErrRequestCredentialsRefused,
		resolver.ErrInvalidRequestCredentials, resolver.ErrInvalidProfile, resolver.ErrProfileRefused,
		resolver.ErrReferenceRefused, resolver.ErrProviderPanicked, provider.ErrInvalidRef, provider.ErrUnknownScheme} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// explain returns the model-facing account of a failed resolution, and
// logs the full one.
func (s *Server) explain(ctx context.Context, c *Call, err error) *Error {
	s.opts.Logger.WarnContext(ctx, "mcptool: credentials not resolved", "tool", c.tool.name, "error", err)
	msg := s.explainText(c, err)
	if s.opts.DetailedErrors && !strings.Contains(msg, err.Error()) {
		msg += "\nDetails: " + strings.TrimPrefix(err.Error(), "resolver: ")
	}
	return &Error{Message: msg, Err: err}
}

func (s *Server) explainText(c *Call, err error) string {
	sel := c.sel
	var ce *resolver.ChainError
	switch {
	case errors.Is(err, resolver.ErrRequestCredentialsRefused):
		return s.notOffered(ArgCredentials).Error()
	case errors.Is(err, resolver.ErrInvalidRequestCredentials):
		// The resolver's text names fields, never values.
		return "credentials: " + strings.TrimPrefix(err.Error(), resolver.ErrInvalidRequestCredentials.Error()+": ")
	case errors.Is(err, resolver.ErrProfileRefused) && sel.CredentialProfile == "" && c.Caller() != nil:
		// A verified caller refused the active profile: nothing the call
		// can change, and no other profile is named.
		return "this server holds no credentials for you: its operator offers them to named users only (in the profiles file's allow list)"
	case errors.Is(err, resolver.ErrProfileRefused), errors.Is(err, resolver.ErrInvalidProfile):
		return s.notOffered(ArgCredentialProfile).Error()
	case errors.Is(err, resolver.ErrReferenceRefused):
		return s.notOffered(ArgCredentialID).Error()
	case errors.Is(err, provider.ErrInvalidRef), errors.Is(err, provider.ErrUnknownScheme):
		var re *provider.RefError // its Reason never quotes the reference
		why := ""
		if errors.As(err, &re) && re.Reason != "" {
			why = ": it " + re.Reason
		}
		if !strings.Contains(why, "want ") {
			why += "; want scheme:body[?params][#field], such as env:MCP_CI_TOKEN or file:staging"
		}
		return "credential_id is not a credential reference this server reads" + why
	case errors.Is(err, resolver.ErrInvalidCaller):
		return "this server serves credentials only to callers it verified: connect with a bearer token from the authorization server its " +
			"protected resource metadata names (/.well-known/oauth-protected-resource)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "resolving credentials was cancelled or timed out; retry the call"
	case errors.As(err, &ce):
	default:
		return "credentials could not be resolved (the server's log says why)"
	}
	what := "the server's credentials"
	switch {
	case sel.CredentialID != "":
		what = "credential_id"
	case sel.CredentialProfile != "":
		what = "credential_profile"
	}
	var tried, broken []string
	unavailable := false
	for _, a := range ce.Attempts {
		tried = append(tried, a.Provider)
		switch {
		case errors.Is(a.Err, provider.ErrNotFound):
		case errors.Is(a.Err, provider.ErrUnavailable):
			unavailable = true
		default:
			broken = append(broken, a.Provider+brokenBecause(a.Err))
		}
	}
	switch {
	case len(broken) > 0 && sel.CredentialID != "":
		// The call chose what the reference reads: another may work, and
		// it says nothing of the server's own configuration.
		return fmt.Sprintf("credential_id: what it reads cannot be used (%s); the server's log says why", strings.Join(broken, ", "))
	case len(broken) > 0:
		return fmt.Sprintf("%s: a credential source is misconfigured (%s); the server's operator must fix it (the server's log says where and how). "+
			"The call's arguments are not the problem, and retrying will not help until it is fixed", what, strings.Join(broken, ", "))
	case unavailable:
		return fmt.Sprintf("%s: a credential source is unavailable right now (tried %s); retry later", what, strings.Join(tried, ", "))
	case len(tried) == 0:
		return what + ": this server has no credential source configured" + sentence(s.opts.Hints.Configure)
	}
	return fmt.Sprintf("%s: no credentials found (tried %s)%s", what, strings.Join(tried, ", "), sentence(s.opts.Hints.Configure))
}

// notOffered is the refusal of a selection argument the operator does not
// offer, with the operator's hint.
func (s *Server) notOffered(arg string) error {
	switch arg {
	case ArgCredentials:
		return errors.New("this server does not accept credentials in tool calls: leave out credentials and it uses the credentials its operator configured" +
			sentence(s.opts.Hints.RequestCredentials))
	case ArgCredentialProfile:
		msg := "credential_profile names no profile this server offers"
		if s.opts.OfferedProfiles != nil {
			names := s.opts.OfferedProfiles()
			q := make([]string, len(names))
			for i, n := range names {
				q[i] = provider.Describe(n)
			}
			if len(q) > 0 {
				msg += " (offered: " + strings.Join(q, ", ") + ")"
			}
		}
		if !s.opts.Profiles {
			msg = "this server offers no credential profiles: leave out credential_profile and it uses its active profile"
		}
		return errors.New(msg + sentence(s.opts.Hints.Profiles))
	}
	msg := "credential_id is refused: the operator's policy does not allow what it reads"
	if !s.opts.References {
		msg = "this server accepts no credential references: leave out credential_id and it uses the credentials its operator configured"
	}
	return errors.New(msg + sentence(s.opts.Hints.References))
}

// sentence returns "; hint" for a non-empty hint.
func sentence(hint string) string {
	if hint == "" {
		return ""
	}
	return "; " + hint
}

// brokenBecause says in a few words, without a path or a value, what is
// wrong with a source that failed: ": a malformed INI file", ": a file
// other users could read or change", or "" when the error does not say.
func brokenBecause(err error) string {
	var se *provider.SyntaxError
	switch {
	case errors.Is(err, securefile.ErrInsecurePermissions):
		return ": a file other users could read or change"
	case errors.As(err, &se) && se.Format != "":
		return ": a malformed " + se.Format + " file"
	case errors.As(err, &se):
		return ": a malformed file"
	case errors.Is(err, resolver.ErrProviderPanicked):
		return ": an internal error"
	}
	return ""
}
