package resolver

import (
	"log/slog"
	"time"

	"github.com/mcpcred/mcpcred/provider"
)

// Defaults for [Options].
const (
	DefaultTTL             = 5 * time.Minute
	DefaultRefreshWindow   = time.Minute
	DefaultMaxStale        = 10 * time.Minute
	DefaultProviderTimeout = 30 * time.Second
)

// A Clock tells the time. Tests inject a fake one through [Options.Clock];
// nil means the system clock.
type Clock interface {
	Now() time.Time
}

// Options configure a [Resolver]. The zero value gives the documented
// defaults.
type Options struct {
	// TTL is how long a resolved credential is served from cache before the
	// chain is asked again. A credential's own Expires shortens it.
	// Default DefaultTTL (5 minutes).
	TTL time.Duration

	// RefreshWindow is how long before expiry a hit starts a background
	// refresh while still returning the cached value, so no caller blocks
	// while a valid value exists. It is capped at half the credential's
	// lifetime. Default DefaultRefreshWindow (1 minute).
	RefreshWindow time.Duration

	// MaxStale is how long past its TTL the last good value may still be
	// served when a refresh fails because a backend is unavailable. It never
	// extends a credential past its own Expires. Default DefaultMaxStale
	// (10 minutes); a negative value disables stale serving.
	MaxStale time.Duration

	// ProviderTimeout bounds each provider call, so that a provider that
	// hangs is reported as unavailable instead of blocking the chain.
	// Default DefaultProviderTimeout (30 seconds).
	ProviderTimeout time.Duration

	// Required lists fields every result must have, such as
	// provider.FieldAccessKeyID. A provider whose answer lacks one is skipped
	// with that reason, and request credentials that lack one are refused.
	Required []string

	// Profile is the profile resolved when a request names none.
	// Default provider.DefaultProfile.
	Profile string

	// RefuseRequestCredentials makes Resolve refuse credentials passed in a
	// request with ErrRequestCredentialsRefused. By default they
	// are accepted, validated, and never cached.
	RefuseRequestCredentials bool

	// AllowProfile decides which profile names a request may select with
	// Request.Profile. A model-driven client can be steered by any text it
	// reads, so by default (nil) a request may name only the default profile
	// (Options.Profile): it cannot reach credentials the operator did not
	// offer. MCP servers set it to profile.File.Has (the profiles in the
	// profiles file); code that picks profiles itself can use [AnyProfile].
	AllowProfile func(name string) bool

	// References opens credential references passed in
	// Request.CredentialID (such as "vault:secret/data/mcp/aws") through
	// the schemes registered in it. nil, or a nil AllowReferences, refuses
	// every reference.
	References *provider.Schemes

	// AllowReferences decides which references a request may use, by what
	// they read rather than how they are spelled: a reference is allowed
	// only if every provider.Resource its scheme's Target lists (each
	// variable, secret, parameter or walk, file section, keychain profile,
	// directory entry) is covered by one of the policy's patterns. In a
	// pattern "*" is one or more characters within one path segment and a
	// final "/**" is one or more segments, so "vault:secret/data/mcp/*"
	// allows vault:secret/data/mcp/aws but neither the parent secret
	// (vault:secret/data/mcp/) nor vault:secret/data/mcp/a/b, and
	// "env:MCP_CI_*" allows env:MCP_CI_TOKEN but not
	// env:MCP_CI_TOKEN,AWS_SECRET_ACCESS_KEY. Build it with
	// provider.NewRefPolicy, which rejects malformed patterns. nil (the
	// default) refuses every reference.
	AllowReferences *provider.RefPolicy

	// Logger receives one Debug record per chain walk, Warn records for
	// refused requests, failed refreshes and stale serving. Records carry
	// field names, providers and reasons, never values. Default: discard.
	Logger *slog.Logger

	// Clock replaces the system clock, for tests. With the system clock, the
	// cache-hit path reads a coarse clock updated every few milliseconds
	// instead of calling time.Now; with an injected Clock every Resolve
	// reads it.
	Clock Clock
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (o *Options) setDefaults() {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.RefreshWindow <= 0 {
		o.RefreshWindow = DefaultRefreshWindow
	}
	if o.MaxStale == 0 {
		o.MaxStale = DefaultMaxStale
	}
	if o.ProviderTimeout <= 0 {
		o.ProviderTimeout = DefaultProviderTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// AnyProfile allows every profile name; use it as Options.AllowProfile when
// profile names come from your own code rather than from a request.
func AnyProfile(string) bool { return true }
