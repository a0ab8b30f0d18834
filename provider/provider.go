package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// A Provider retrieves credentials for a profile from one backend.
//
// Retrieve is called with the profile being resolved; [DefaultProfile] when
// the caller named none. A provider that has nothing for that profile returns
// an error that wraps [ErrNotFound], which a resolver treats as "try the next
// provider". A backend that cannot be reached right now (a daemon that does
// not answer, a sealed Vault, a timeout) returns an error that wraps
// [ErrUnavailable], which a resolver also moves past and which allows a
// cached value to be served while it lasts. Any other error means the
// provider has an answer and it is a failure: a malformed or insecure file,
// permission denied. Errors should be, or wrap, an [*Error] naming the
// provider, and must never contain a secret value.
//
// Retrieve must honour ctx: when ctx is done it returns promptly with an
// error wrapping ctx.Err(). Implementations must be safe for concurrent use.
// Credentials returned must not be modified afterwards by the provider.
type Provider interface {
	Retrieve(ctx context.Context, profile string) (Credentials, error)
}

// Func adapts an ordinary function to the [Provider] interface.
type Func func(ctx context.Context, profile string) (Credentials, error)

// Retrieve calls f(ctx, profile).
func (f Func) Retrieve(ctx context.Context, profile string) (Credentials, error) {
	return f(ctx, profile)
}

// Invalidator is implemented by providers that keep credentials of their
// own (a cached STS or SSO session, a leased secret): Invalidate drops what
// they keep for profile, so that the next Retrieve fetches anew. A resolver
// calls it when its own cached value is invalidated, for example after a
// backend rejected the credential.
type Invalidator interface {
	Invalidate(profile string)
}

// Namer is implemented by providers that have a name for attribution and
// errors. Providers in this module all implement it.
type Namer interface {
	Name() string
}

// NameOf returns p's name: p.Name() if p implements [Namer], else its Go
// type, such as "*mypkg.Provider".
func NameOf(p Provider) string {
	if n, ok := p.(Namer); ok {
		if s := n.Name(); s != "" {
			return s
		}
	}
	return fmt.Sprintf("%T", p)
}

// WithName returns a Provider that behaves like p and is named name.
func WithName(p Provider, name string) Provider {
	return named{name: name, Provider: p}
}

type named struct {
	name string
	Provider
}

func (n named) Name() string { return n.name }

// Pin returns a Provider that asks p for profile whatever profile it is
// asked for, keeping p's name. Reference schemes use it: a reference names
// its section or entry itself.
func Pin(p Provider, profile string) Provider {
	return pinned{name: NameOf(p), profile: profile, p: p}
}

type pinned struct {
	name, profile string
	p             Provider
}

func (p pinned) Name() string { return p.name }

func (p pinned) Retrieve(ctx context.Context, _ string) (Credentials, error) {
	return p.p.Retrieve(ctx, p.profile)
}

// ErrNotFound is wrapped by errors that mean "this provider has nothing for
// this profile"; a resolver moves on to the next provider.
var ErrNotFound = errors.New("provider: credentials not found")

// ErrUnavailable is wrapped by errors that mean "this provider's backend
// cannot be reached now"; a resolver moves on and may serve a cached value.
var ErrUnavailable = errors.New("provider: backend unavailable")

// Error is the error type returned by the providers in this module. It names
// the provider, the profile and where in the backend the failure happened,
// and unwraps to the cause. It never holds a secret value.
type Error struct {
	Provider string // provider name, such as "file"
	Profile  string // profile being resolved, if any
	Locator  string // where: "/home/u/.mcp/credentials:12", "AWS_ACCESS_KEY_ID_FILE"
	Err      error  // the cause; wraps ErrNotFound or ErrUnavailable where they apply
}

// Error formats as "provider NAME: profile "P": LOCATOR: cause".
func (e *Error) Error() string {
	msg := "provider " + e.Provider
	if e.Profile != "" {
		msg += ": profile " + Describe(e.Profile)
	}
	if e.Locator != "" {
		msg += ": " + e.Locator
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// GoString renders %#v as the error text, so that no field (a profile name a
// request chose) is printed raw.
func (e *Error) GoString() string { return "&provider.Error{" + strconv.Quote(e.Error()) + "}" }

// NotFound returns an [*Error] wrapping [ErrNotFound] with reason.
func NotFound(providerName, profile, locator, reason string) error {
	return &Error{Provider: providerName, Profile: profile, Locator: locator, Err: &reasonError{reason, ErrNotFound}}
}

// Unavailable returns an [*Error] wrapping [ErrUnavailable] and cause.
// A nil cause means ErrUnavailable alone.
func Unavailable(providerName, profile, locator string, cause error) error {
	if cause == nil {
		return &Error{Provider: providerName, Profile: profile, Locator: locator, Err: ErrUnavailable}
	}
	return &Error{Provider: providerName, Profile: profile, Locator: locator, Err: &reasonError{cause.Error(), errors.Join(ErrUnavailable, cause)}}
}

// reasonError reads as its reason while unwrapping to a sentinel, so messages
// stay short ("AWS_ACCESS_KEY_ID is not set") and errors.Is still works.
type reasonError struct {
	reason string
	err    error
}

func (r *reasonError) Error() string { return r.reason }
func (r *reasonError) Unwrap() error { return r.err }

// ErrFinal is wrapped by errors marked with [Final].
var ErrFinal = errors.New("provider: final answer for this profile")

// Final marks err as the definite answer for its profile: a resolver stops
// its walk there instead of asking later providers, even when err wraps
// ErrNotFound or ErrUnavailable. A provider that is the authority for a
// profile uses it, so that while its backend is down a lower provider that
// happens to know the same name cannot answer with other credentials (the
// resolver may still serve the last good value). The result reads as err and
// wraps both err and ErrFinal.
func Final(err error) error {
	if err == nil {
		return nil
	}
	return &finalError{err}
}

type finalError struct{ err error }

func (f *finalError) Error() string   { return f.err.Error() }
func (f *finalError) Unwrap() []error { return []error{f.err, ErrFinal} }

// IsNotFound reports whether err means "nothing here".
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsUnavailable reports whether err means "backend unreachable now".
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
