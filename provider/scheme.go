package provider

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// A Scheme turns references of its scheme into a [Target]: the Provider that
// reads what the reference names, and the exact list of [Resource] values it
// may read, so that a [RefPolicy] can decide on what a reference reads rather
// than on how it is spelled.
//
// Open must refuse (with [InvalidRef], wrapping [ErrInvalidRef]) every
// reference it does not fully understand, including params it does not take,
// and must never quote the reference in an error. The Provider answers for
// the reference whatever profile it is asked for, and reads nothing that
// Resources does not cover. Package provider/providertest checks a Scheme
// against this contract ([providertest.RunScheme]).
type Scheme interface {
	Open(ref Ref) (Target, error)
}

// SchemeFunc adapts a function to the [Scheme] interface.
type SchemeFunc func(ref Ref) (Target, error)

// Open calls f(ref).
func (f SchemeFunc) Open(ref Ref) (Target, error) { return f(ref) }

// A Target is what a [Scheme] makes of a reference.
type Target struct {
	// Ref is the reference in canonical form. The zero Ref means the
	// reference as parsed.
	Ref Ref

	// Resources lists, in canonical form, every resource Provider may read:
	// each variable, secret, parameter or path walk, file section, keychain
	// profile or directory entry. It is never empty.
	Resources []Resource

	// Provider reads the reference's credentials.
	Provider Provider
}

// Schemes maps reference schemes to the packages that serve them. Provider
// packages export a Scheme function; a program registers those it imports,
// so the core never imports a backend:
//
//	var s provider.Schemes
//	s.Register("env", env.Scheme())
//	s.Register("file", file.Scheme())
//
// The zero value is empty and ready to use; a Schemes is safe for concurrent
// use. Targets built for a reference are kept and reused (at most
// maxBuilt of them), so a backend's own caches (a parsed file, a Vault
// token) survive between calls.
type Schemes struct {
	mu    sync.RWMutex
	m     map[string]Scheme
	built map[string]Target
}

// maxBuilt bounds the Targets kept for distinct references.
const maxBuilt = 256

// Register makes scheme available; registering a name again replaces it.
// It panics if scheme is not a valid scheme name or sc is nil.
func (s *Schemes) Register(scheme string, sc Scheme) {
	if !validScheme(scheme) || sc == nil {
		panic(fmt.Sprintf("provider: Schemes.Register: invalid scheme name %q or nil Scheme", scheme))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]Scheme{}
	}
	s.m[scheme] = sc
	s.built = nil
}

// Names returns the registered scheme names in sorted order.
func (s *Schemes) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.m))
}

// Has reports whether scheme is registered.
func (s *Schemes) Has(scheme string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[scheme] != nil
}

// knownSchemes names the package that serves each scheme of this module, for
// errors that tell the user what to import.
var knownSchemes = map[string]string{
	"env":        "github.com/mcpcred/mcpcred/provider/env",
	"file":       "github.com/mcpcred/mcpcred/provider/file",
	"secretfile": "github.com/mcpcred/mcpcred/provider/secretfile",
	"keychain":   "github.com/mcpcred/mcpcred/provider/keychain",
	"vault":      "github.com/mcpcred/mcpcred/provider/vault",
	"ssm":        "github.com/mcpcred/mcpcred/provider/ssm",
	"encfile":    "github.com/mcpcred/mcpcred/provider/encfile",
}

// Open parses ref and returns the Target its scheme makes of it. It checks
// that the scheme kept its contract (a Provider and at least one valid
// Resource) and refuses the reference otherwise. Open applies no policy:
// references from requests go through a resolver, whose
// Options.AllowReferences decides on the Target's Resources.
func (s *Schemes) Open(ref string) (Target, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Target{}, err
	}
	key := r.String()
	s.mu.RLock()
	t, ok := s.built[key]
	sc := s.m[r.Scheme]
	s.mu.RUnlock()
	if ok {
		return t, nil
	}
	if sc == nil {
		msg := fmt.Sprintf("%v: %s (registered: %s)", ErrUnknownScheme, Describe(r.Scheme), strings.Join(s.Names(), ", "))
		if pkg, ok := knownSchemes[r.Scheme]; ok {
			msg += fmt.Sprintf("; import %s and register its Scheme", pkg)
		}
		return Target{}, &schemeError{msg: msg}
	}
	t, err = sc.Open(r)
	if err != nil {
		return Target{}, err
	}
	if t.Ref.Scheme == "" {
		t.Ref = r
	}
	if err := t.check(r.Scheme); err != nil {
		return Target{}, err
	}
	t.Resources = slices.Clone(t.Resources)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.built == nil || len(s.built) >= maxBuilt {
		s.built = map[string]Target{}
	}
	if prev, ok := s.built[key]; ok {
		return prev, nil
	}
	s.built[key] = t
	return t, nil
}

// check reports a Target that breaks the Scheme contract.
func (t Target) check(scheme string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: the %s scheme returned a Target %s (a bug in the scheme)", ErrInvalidRef, scheme, why)
	}
	switch {
	case t.Provider == nil:
		return bad("without a Provider")
	case len(t.Resources) == 0:
		return bad("that lists no Resource")
	case t.Ref.Scheme != scheme:
		return bad("for another scheme")
	}
	for _, res := range t.Resources {
		if err := res.Validate(); err != nil {
			return bad(fmt.Sprintf("with an invalid Resource: %v", err))
		}
	}
	return nil
}

// Provider is Open for callers that need only the Provider and the
// canonical reference, such as a profiles file whose sources the operator
// wrote.
func (s *Schemes) Provider(ref string) (Provider, Ref, error) {
	t, err := s.Open(ref)
	if err != nil {
		return nil, Ref{}, err
	}
	return t.Provider, t.Ref, nil
}

type schemeError struct{ msg string }

func (e *schemeError) Error() string { return e.msg }
func (e *schemeError) Unwrap() error { return ErrUnknownScheme }

// A ResourceShape says what the resources of a scheme look like, for
// [Schemes.CheckPolicy].
type ResourceShape struct {
	// Pattern covers every resource a reference of the scheme can list, and
	// every item such a resource stands for, as narrowly as the scheme
	// knows: "keychain:*/*" for SERVICE/PROFILE, "file:/*/**" for a file's
	// absolute path followed by a section.
	Pattern string

	// Hint says what a pattern of the scheme names, with an example, for
	// the operator: "a keychain: pattern names SERVICE/PROFILE, such as
	// keychain:mcpcred/* for every profile under the default service prefix".
	Hint string
}

// A ShapedScheme is a [Scheme] that says what its resources look like, so
// that [Schemes.CheckPolicy] can refuse a pattern that could never cover
// one. The last segment of every resource it lists comes from the
// reference's text (or the scheme's default), so it never holds "#" or "?":
// the reference syntax that a pattern copied from a reference would hold.
// Package provider/providertest checks both.
type ShapedScheme interface {
	Scheme
	ResourceShape() ResourceShape
}

// CheckPolicy reports the patterns of p that can never cover a resource a
// reference opened through s lists: a pattern of a scheme that is not
// registered, and, for a [ShapedScheme], one outside its ResourceShape or
// whose last segment holds "#" or "?" (patterns name what a reference
// reads, not how it is written). A program calls it at start, so that a
// policy written against reference text (file:*, file:staging, keychain:*)
// stops it instead of silently allowing nothing. The error joins one error
// per such pattern, each quoting the pattern (the operator's configuration)
// and saying what a pattern of its scheme names. A nil p passes, and so does
// scheme:** for a registered scheme.
func (s *Schemes) CheckPolicy(p *RefPolicy) error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, pat := range p.patterns {
		if err := s.checkPattern(pat); err != nil {
			errs = append(errs, fmt.Errorf("provider: reference pattern %q %s", pat.text, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Schemes) checkPattern(pat Pattern) error {
	s.mu.RLock()
	sc := s.m[pat.scheme]
	s.mu.RUnlock()
	if sc == nil {
		return fmt.Errorf("names the scheme %s, which this server does not serve (it serves %s)", pat.scheme, strings.Join(s.Names(), ", "))
	}
	shaped, ok := sc.(ShapedScheme)
	if !ok || pat.segs == nil { // scheme:**
		return nil
	}
	shape := shaped.ResourceShape()
	hint := ""
	if shape.Hint != "" {
		hint = ": " + shape.Hint
	}
	if last := pat.text[strings.LastIndexAny(pat.text, ":/")+1:]; !pat.deep && strings.ContainsAny(last, "#?") {
		return fmt.Errorf(`holds "#" or "?", which no resource's last segment holds: patterns name what a reference reads, not how it is written%s`, hint)
	}
	want, err := ParsePattern(shape.Pattern)
	if err != nil || want.scheme != pat.scheme || want.segs == nil {
		return nil // no shape to check against
	}
	abs := func(x Pattern) bool { return len(x.segs[0]) == 0 }
	switch {
	case pat.meets(want):
		return nil
	case abs(want) && !abs(pat):
		return fmt.Errorf("is not an absolute path, so it covers nothing%s", hint)
	case !abs(want) && abs(pat):
		return fmt.Errorf("is an absolute path, so it covers nothing%s", hint)
	}
	return fmt.Errorf("matches no path a %s: resource has, so it covers nothing%s", pat.scheme, hint)
}
