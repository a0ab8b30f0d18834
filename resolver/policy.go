package resolver

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mcpcred/mcpcred/provider"
)

// allowProfile applies the operator's profile policy to a name a request
// chose.
func (r *Resolver) allowProfile(ctx context.Context, caller *provider.Caller, name string) error {
	if err := validateProfile(name); err != nil {
		return err
	}
	if r.opts.AllowProfile == nil || !r.opts.AllowProfile(caller, name) {
		r.opts.Logger.WarnContext(ctx, "resolver: refused profile selection", "profile", provider.Describe(name))
		return fmt.Errorf("%w: the request named profile %s, which the operator does not offer (allow it with Options.AllowProfile; MCP servers list it in the profiles file, with an allow list naming the caller on a remote server)", ErrProfileRefused, provider.Describe(name))
	}
	return nil
}

// fromReference resolves a reference a request passed: the one place where
// a request's reference meets the operator's policy.
func (r *Resolver) fromReference(ctx context.Context, req Request) (Result, error) {
	ref := req.CredentialID
	parsed, err := provider.ParseRef(ref)
	if err != nil {
		return Result{}, err
	}
	refuse := func(why string, cause error) (Result, error) {
		r.opts.Logger.WarnContext(ctx, "resolver: refused credential reference", "reference", describeRef(parsed.String()), "why", why)
		if cause != nil {
			return Result{}, fmt.Errorf("%w: %s: %s: %w", ErrReferenceRefused, describeRef(parsed.String()), why, cause)
		}
		return Result{}, fmt.Errorf("%w: %s: %s", ErrReferenceRefused, describeRef(parsed.String()), why)
	}
	if r.opts.References == nil || r.opts.AllowReferences == nil {
		return refuse("the operator allows no references (set Options.References and Options.AllowReferences)", nil)
	}
	if r.opts.AllowReferencesFor != nil && !r.opts.AllowReferencesFor(req.Caller) {
		return refuse("the operator allows references only for other callers (Options.AllowReferencesFor)", nil)
	}
	if !r.opts.References.Has(parsed.Scheme) {
		// Refused before Open, so a request learns nothing about which
		// schemes are registered.
		return refuse("no allowed pattern covers what it reads", nil)
	}
	t, err := r.opts.References.Open(ref)
	if err != nil {
		return Result{}, err
	}
	// Every resource the scheme says it reads must be covered, before
	// anything is read.
	if err := r.opts.AllowReferences.Check(t); err != nil {
		return refuse("no allowed pattern covers what it reads", err)
	}
	k := refKey(t.Ref.String())
	k.caller = req.Caller.ID()
	if e := r.cache.load(k); e != nil && !r.precise {
		if st := e.st.Load(); st != nil && st.ok && !st.precise && r.clock.load() < st.refreshAt {
			return st.res, nil
		}
	}
	return r.resolve(ctx, k, []link{r.refLink(t.Ref.Scheme, t.Provider)})
}

// refLink is the chain link for a reference's provider. Every reference of
// one scheme shares one bound on calls, since they share its backend.
func (r *Resolver) refLink(scheme string, p provider.Provider) link {
	b, ok := r.schemes.Load(scheme)
	if !ok {
		b, _ = r.schemes.LoadOrStore(scheme, newCallBound(r.opts.MaxAbandoned))
	}
	return r.newLink(p, b.(*callBound))
}

func (r *Resolver) fromRequest(req Request) (Result, error) {
	if !r.opts.AllowRequestCredentials {
		r.opts.Logger.Warn("resolver: refused credentials passed in the request",
			"fields", len(req.Credentials.Names()), "allow_with", "Options.AllowRequestCredentials")
		return Result{}, ErrRequestCredentialsRefused
	}
	c := req.Credentials
	if err := validateRequestCredentials(c, r.opts.Required); err != nil {
		r.opts.Logger.Warn("resolver: rejected credentials passed in the request", "error", err)
		return Result{}, err
	}
	c.Source = provider.Source{Provider: "request", Locator: "credentials in the tool call"}
	if c.FetchedAt.IsZero() {
		c.FetchedAt = r.now()
	}
	return Result{Credentials: c}, nil
}

// Limits on request credentials and profile names.
const (
	MaxFieldNameLen   = provider.MaxFieldLen
	MaxFieldValueLen  = 4096
	MaxProfileNameLen = provider.MaxNameLen
)

func validateRequestCredentials(c provider.Credentials, required []string) error {
	if missing := c.Missing(required...); len(missing) > 0 {
		return fmt.Errorf("%w: missing required field(s) %s", ErrInvalidRequestCredentials, strings.Join(missing, ", "))
	}
	for _, n := range c.Names() {
		if !provider.ValidField(n) {
			return fmt.Errorf("%w: field name %s must be 1-%d characters of a-z, 0-9 and _", ErrInvalidRequestCredentials, provider.Describe(n), MaxFieldNameLen)
		}
		v := c.Value(n)
		if len(v) > MaxFieldValueLen {
			return fmt.Errorf("%w: field %s is longer than %d bytes", ErrInvalidRequestCredentials, n, MaxFieldValueLen)
		}
		if !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
			return fmt.Errorf("%w: field %s holds control characters or invalid UTF-8", ErrInvalidRequestCredentials, n)
		}
	}
	return nil
}

// validateProfile applies provider.ValidName: no control or invisible
// formatting characters, path separators, "." or "..", surrounding space,
// or excess length, so no provider, ours or a user's, is asked for a name
// that could escape a directory or read differently than it is.
func validateProfile(p string) error {
	if err := provider.ValidName(p, MaxProfileNameLen); err != nil {
		return fmt.Errorf("%w: %s %v", ErrInvalidProfile, provider.Describe(p), err)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
