package resolver

import (
	"errors"
	"fmt"
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
	DefaultMinRetry        = 250 * time.Millisecond
	DefaultMaxRetry        = 30 * time.Second
	DefaultMaxAbandoned    = 8
	DefaultMaxEntries      = 65536
)

// Options configure a [Resolver]. The zero value gives the documented
// defaults.
type Options struct {
	// TTL is how often a resolved credential is refreshed. Past it the
	// cached value is still returned at once while one background walk
	// refreshes it (stale-while-revalidate), so about one provider call is
	// made per TTL and no caller waits. A credential with its own Expires
	// refreshes RefreshWindow ahead of min(TTL, Expires) and is never
	// served past Expires. Default DefaultTTL (5 minutes).
	TTL time.Duration

	// RefreshWindow is how long before its expiry a credential with an
	// Expires starts a background refresh while still being returned. It is
	// capped at half the credential's lifetime. Default DefaultRefreshWindow
	// (1 minute).
	RefreshWindow time.Duration

	// MaxStale is how long past its TTL the last good value may still be
	// served while refreshes fail because a backend is unavailable (or have
	// not answered yet). It never extends a credential past its own Expires,
	// and a definite failure (not found, permission denied) ends it at once.
	// Default DefaultMaxStale (10 minutes); a negative value disables stale
	// serving: values then refresh RefreshWindow ahead of the TTL and are
	// not served past it.
	MaxStale time.Duration

	// ProviderTimeout bounds each provider call, so that a provider that
	// hangs is reported as unavailable instead of blocking the chain.
	// Default DefaultProviderTimeout (30 seconds).
	ProviderTimeout time.Duration

	// MaxAbandoned bounds the calls to one provider (for references, to
	// one scheme) that run at once, including those that passed
	// ProviderTimeout and have not returned: a provider that ignores its
	// context keeps a goroutine per abandoned call, and at most
	// MaxAbandoned of them. While they are all stuck the provider is
	// reported unavailable without being called; while live calls hold the
	// slots, a call waits for one within its deadline. Default
	// DefaultMaxAbandoned (8).
	MaxAbandoned int

	// MinRetry and MaxRetry bound the backoff after a failed walk: no walk
	// for the same key starts before it ends, doubling from MinRetry up to
	// MaxRetry with jitter, and reset by a success. Meanwhile reads get the
	// last good value while it may be served, else the recorded error at
	// once. Defaults DefaultMinRetry (250ms) and DefaultMaxRetry (30s).
	MinRetry, MaxRetry time.Duration

	// MaxEntries bounds the profiles kept in the cache (references have
	// their own bound, MaxCachedReferences). Past it a profile is resolved
	// without caching, so no request can grow the cache without limit,
	// whatever AllowProfile allows. Default DefaultMaxEntries (65536).
	MaxEntries int

	// Required lists fields every result must have, such as
	// provider.FieldAccessKeyID. A provider whose answer lacks one is skipped
	// with that reason, and request credentials that lack one are refused.
	Required []string

	// Profile is the profile resolved when a request names none.
	// Default provider.DefaultProfile.
	Profile string

	// AllowRequestCredentials makes Resolve accept credentials passed in a
	// request (Request.Credentials): validated, used for that request only,
	// never cached. By default they are refused with
	// ErrRequestCredentialsRefused: the MCP specification has stdio servers
	// take credentials from their environment, and a model should never be
	// invited to paste keys into tool arguments.
	AllowRequestCredentials bool

	// AllowProfile decides, for the request's verified caller (nil on
	// stdio), which profiles it may use: for a verified caller, the default
	// profile too (nil then refuses it, so a remote caller is never served
	// the operator's own credentials unless the policy says so); on stdio,
	// the names it may select with
	// Request.Profile. A model-driven client can be steered by any text it
	// reads, so by default (nil) a request may name only the default profile
	// (Options.Profile): it cannot reach credentials the operator did not
	// offer. MCP servers set it to profile.Provider.Allows (the profiles in
	// the profiles file, each offered to the callers its "allow" names);
	// code that picks profiles itself can use [AnyProfile].
	AllowProfile func(caller *provider.Caller, name string) bool

	// AllowReferencesFor, when set, decides which verified callers (nil on
	// stdio) may pass references at all; Options.AllowReferences then
	// decides what they may read. nil: every caller the policy allows.
	AllowReferencesFor func(caller *provider.Caller) bool

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

	// Audit, when set, receives one record per Resolve, at Info level:
	// time, caller (issuer, subject, client), tool, selection kind,
	// profile or described reference, source, outcome (ok, refused,
	// invalid, failed), stale and latency. Never a value. Send it wherever
	// the operator keeps audit logs; nil (the default) records nothing.
	Audit *slog.Logger

	// Now replaces time.Now, for tests. With the system clock, a hit on a
	// value without its own expiry reads a coarse clock updated every few
	// milliseconds instead of calling time.Now; with Now set, every Resolve
	// calls it.
	Now func() time.Time
}

// setDefaults fills in defaults and reports invalid options.
func (o *Options) setDefaults() error {
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
	if o.MaxAbandoned <= 0 {
		o.MaxAbandoned = DefaultMaxAbandoned
	}
	if o.MinRetry <= 0 {
		o.MinRetry = DefaultMinRetry
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = DefaultMaxRetry
	}
	o.MaxRetry = max(o.MaxRetry, o.MinRetry)
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Profile == "" {
		o.Profile = provider.DefaultProfile
	}
	var errs []error
	if err := provider.ValidName(o.Profile, MaxProfileNameLen); err != nil {
		errs = append(errs, fmt.Errorf("resolver: Options.Profile %s: %v", provider.Describe(o.Profile), err))
	}
	for _, f := range o.Required {
		if !provider.ValidField(f) {
			errs = append(errs, fmt.Errorf("resolver: Options.Required: %s is not a field name (1-%d of a-z, 0-9 and _)", provider.Describe(f), provider.MaxFieldLen))
		}
	}
	o.Required = append([]string(nil), o.Required...)
	return errors.Join(errs...)
}

// AnyProfile allows every profile name to every caller; use it as
// Options.AllowProfile when profile names come from your own code rather
// than from a request.
func AnyProfile(*provider.Caller, string) bool { return true }
