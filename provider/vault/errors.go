package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/vault/api"

	"github.com/mcpcred/mcpcred/provider"
)

// ErrPermissionDenied is wrapped by errors for a request Vault refused with
// 403 although the token is valid: its policies lack a capability.
var ErrPermissionDenied = errors.New("vault: permission denied")

// ErrTokenRejected is wrapped by errors for a request Vault refused because
// the provider's token is no longer valid (revoked, expired, out of uses)
// and no new token could be used in its place (see
// Options.ReloginInterval). Such errors also wrap [provider.ErrUnavailable].
var ErrTokenRejected = errors.New("vault: Vault rejects the token (revoked, expired or out of uses)")

// ErrLogin is wrapped by errors from logging in to Vault.
var ErrLogin = errors.New("vault: login failed")

// PermissionError reports that the token lacks Capability on Path.
type PermissionError struct {
	Path       string // API path, such as "secret/data/mcp/aws"
	Capability string // capability needed, such as "read"
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("vault: permission denied: the token's policies lack the %q capability on %q", e.Capability, e.Path)
}

// Unwrap returns [ErrPermissionDenied].
func (e *PermissionError) Unwrap() error { return ErrPermissionDenied }

// StatusError is an HTTP error from Vault that is neither "not found",
// "permission denied" nor "unavailable". It holds the status and the path,
// never the response body, which may echo request data.
type StatusError struct {
	Op         string // "read", "login", "mount lookup"
	Path       string
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("vault: %s %s: HTTP %d %s", e.Op, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
}

// LoginError reports a failed login with an auth method.
type LoginError struct {
	Method string // such as "approle at auth/approle"
	Err    error  // sanitised cause
}

func (e *LoginError) Error() string {
	msg := "vault: login failed"
	if e.Method != "" {
		msg += " (" + e.Method + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrLogin and the cause.
func (e *LoginError) Unwrap() []error { return []error{ErrLogin, e.Err} }

// unavailableError is a sanitised reason why Vault cannot answer now.
type unavailableError struct{ reason string }

func (e *unavailableError) Error() string { return "vault: " + e.reason }

type errKind int

const (
	kindNone errKind = iota // no error
	kindOther
	kindNotFound
	kindDenied       // 403 for a valid token: its policies lack a capability
	kindInvalidToken // 403 because the token is revoked, expired or used up
	kindUnavailable
	kindCanceled
)

// classified is a sanitised view of an error from the api package: the raw
// error is dropped because api.ResponseError quotes response bodies.
type classified struct {
	kind   errKind
	status int
	reason string // safe to show
	ctxErr error
}

// classify maps an error from the api package to a kind and a message that
// holds no response body, token or secret.
func classify(ctx context.Context, err error) classified {
	if ctx.Err() != nil {
		return classified{kind: kindCanceled, ctxErr: ctx.Err(), reason: ctx.Err().Error()}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The client's own timeout (VAULT_CLIENT_TIMEOUT) expired.
		return classified{kind: kindUnavailable, reason: "request timed out"}
	}
	if errors.Is(err, api.ErrSecretNotFound) {
		return classified{kind: kindNotFound, status: 404, reason: "no secret at this path"}
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		c := classified{status: re.StatusCode}
		switch code := re.StatusCode; {
		case code == http.StatusNotFound:
			c.kind, c.reason = kindNotFound, "no secret at this path"
		case code == http.StatusForbidden && invalidToken(re.Errors):
			c.kind, c.reason = kindInvalidToken, "Vault rejects the token (revoked, expired or out of uses)"
		case code == http.StatusForbidden:
			c.kind, c.reason = kindDenied, "permission denied"
		case code == http.StatusServiceUnavailable && slices.Contains(re.Errors, "Vault is sealed"):
			c.kind, c.reason = kindUnavailable, "Vault is sealed"
		case code >= 500, code == http.StatusTooManyRequests, code == http.StatusPreconditionFailed:
			c.kind, c.reason = kindUnavailable, "HTTP "+strconv.Itoa(code)+" "+http.StatusText(code)
		default:
			c.kind, c.reason = kindOther, "HTTP "+strconv.Itoa(code)+" "+http.StatusText(code)
		}
		return c
	}
	var rd *redirectError
	if errors.As(err, &rd) {
		return classified{kind: kindUnavailable, status: rd.status, reason: rd.Error()}
	}
	var oe *net.OpError
	switch {
	case errors.As(err, &oe):
		// "dial tcp 127.0.0.1:8200: connect: connection refused": address
		// and system error, no request data.
		return classified{kind: kindUnavailable, reason: oe.Error()}
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return classified{kind: kindUnavailable, reason: "connection refused or reset"}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return classified{kind: kindUnavailable, reason: "connection closed by server"}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return classified{kind: kindUnavailable, reason: "request timed out"}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return classified{kind: kindUnavailable, reason: "cannot resolve host " + dnsErr.Name}
	}
	var se *json.SyntaxError
	var ue *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &ue) {
		return classified{kind: kindOther, reason: "malformed response from Vault"}
	}
	return classified{kind: kindOther, reason: fmt.Sprintf("request failed (%T)", err)}
}

// invalidToken reports whether Vault's error messages say the request's
// token is not valid (logical.ErrInvalidToken, "invalid token", which Vault
// adds to "permission denied" for a revoked, expired, unknown or used-up
// token). Only this marker is looked at; the messages are never shown.
func invalidToken(msgs []string) bool {
	for _, m := range msgs {
		if strings.Contains(m, "invalid token") {
			return true
		}
	}
	return false
}

// toError turns a classified failure of op on path into the error Retrieve
// returns.
//
// The path may hold a profile name or a caller's subject (PathTemplate,
// a per-subject reference): its segments that do not read as names are
// shown by length only, as in the Store's errors.
func (p *Provider) toError(profile, path, capability string, c classified) error {
	path = showPath(path)
	switch c.kind {
	case kindCanceled:
		return &provider.Error{Provider: Name, Profile: profile, Locator: path, Err: fmt.Errorf("vault: %w", c.ctxErr)}
	case kindNotFound:
		return provider.NotFound(Name, profile, path, "vault: "+c.reason)
	case kindDenied:
		return &provider.Error{Provider: Name, Profile: profile, Locator: path, Err: &PermissionError{Path: path, Capability: capability}}
	case kindInvalidToken:
		// Even a fresh token was refused, or the re-login is not allowed
		// yet: Vault cannot serve this provider now.
		return provider.Unavailable(Name, profile, path, ErrTokenRejected)
	case kindUnavailable:
		return provider.Unavailable(Name, profile, path, &unavailableError{c.reason})
	}
	if c.status != 0 {
		return &provider.Error{Provider: Name, Profile: profile, Locator: path, Err: &StatusError{Op: capability, Path: path, StatusCode: c.status}}
	}
	return &provider.Error{Provider: Name, Profile: profile, Locator: path, Err: errors.New("vault: " + c.reason)}
}
