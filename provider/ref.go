package provider

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// MaxRefLen is the longest reference ParseRef accepts, in bytes.
const MaxRefLen = 1024

// ErrInvalidRef is wrapped by ParseRef's errors.
var ErrInvalidRef = errors.New("provider: invalid credential reference")

// ErrUnknownScheme is wrapped when a reference names a scheme that is not
// registered with the [Schemes] in use.
var ErrUnknownScheme = errors.New("provider: credential reference scheme not registered")

// Ref is a parsed credential reference: a pointer to credentials that holds
// no secret itself. Every provider package understands one scheme:
//
//	env:                                  AWS variables (AWS_ACCESS_KEY_ID, ...)
//	env:MCP_CI_*                          every MCP_CI_FOO variable as field foo
//	file:#production                      section [production] of ~/.mcp/credentials
//	file:~/.mcp/work-credentials#ops      section [ops] of another file
//	secretfile:aws-prod                   /run/secrets/aws-prod(.json|.ini|/)
//	keychain:ops                          keychain profile ops (service mcpcred:ops)
//	vault:secret/data/mcp/aws             every field of a Vault secret
//	vault:secret/data/mcp/aws#access_key_id  one field of it
//	ssm:/mcp/prod/                        every parameter under a path
//
// The grammar is
//
//	reference = scheme ":" body [ "#" fragment ]
//	scheme    = a-z followed by up to 31 of a-z, 0-9, "-"
//	body      = any text without "#" (may be empty)
//	fragment  = any text (non-empty)
//
// A reference is at most [MaxRefLen] bytes of valid UTF-8 with no control or
// invisible formatting characters (such as bidirectional overrides), no
// leading or trailing space, and no ".." path segment in its body. What the
// body and fragment mean is up to the scheme.
type Ref struct {
	Scheme   string
	Body     string
	Fragment string
}

// String returns the reference in its canonical text form.
func (r Ref) String() string {
	s := r.Scheme + ":" + r.Body
	if r.Fragment != "" {
		s += "#" + r.Fragment
	}
	return s
}

// ParseRef parses and validates a reference. Its errors say what is wrong
// and never quote the input.
func ParseRef(s string) (Ref, error) {
	bad := func(reason string) (Ref, error) { return Ref{}, &RefError{Len: len(s), Reason: reason} }
	switch {
	case s == "":
		return bad("is empty")
	case len(s) > MaxRefLen:
		return bad(fmt.Sprintf("is longer than %d bytes", MaxRefLen))
	case !utf8.ValidString(s):
		return bad("is not valid UTF-8")
	case strings.ContainsFunc(s, hostileRune):
		return bad("holds control or invisible formatting characters")
	case strings.TrimSpace(s) != s:
		return bad("has leading or trailing white space")
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return bad("has no scheme (want scheme:body, such as file:#SECTION)")
	}
	if !validScheme(scheme) {
		return bad("has a scheme that is not a-z followed by up to 31 of a-z, 0-9 and -")
	}
	body, frag, hasFrag := strings.Cut(rest, "#")
	if hasFrag && frag == "" {
		return bad("has an empty #fragment")
	}
	for seg := range strings.FieldsFuncSeq(body, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return bad(`has a ".." path segment`)
		}
	}
	return Ref{Scheme: scheme, Body: body, Fragment: frag}, nil
}

// quoteRefShort names a reference in an error: quoted when short, else by
// its scheme and length.
func quoteRefShort(ref string) string {
	if len(ref) <= 80 {
		return fmt.Sprintf("reference %q", ref)
	}
	scheme, _, _ := strings.Cut(ref, ":")
	return fmt.Sprintf("%s: reference of %d bytes", scheme, len(ref))
}

// RefError is ParseRef's error. It says what is wrong with the reference and
// how long it is, never its text: a reference comes from a request, and a
// model may paste a secret where a reference belongs. It unwraps to
// [ErrInvalidRef].
type RefError struct {
	Len    int    // the reference's length in bytes
	Reason string // what is wrong, as a phrase such as "has no scheme"
}

func (e *RefError) Error() string {
	if e.Len == 0 {
		return ErrInvalidRef.Error() + ": the reference is empty"
	}
	return fmt.Sprintf("%v: the %d-byte reference %s", ErrInvalidRef, e.Len, e.Reason)
}

// Unwrap returns ErrInvalidRef.
func (e *RefError) Unwrap() error { return ErrInvalidRef }

func validScheme(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	return strings.TrimLeft(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// hostileRune reports characters that have no business in a name: control
// characters and invisible formatting characters (zero-width spaces,
// bidirectional overrides) that make text read differently than it is.
func hostileRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}

// ValidName reports whether s is usable as a profile or field name in a
// request: 1 to max bytes of valid UTF-8 without control or invisible
// formatting characters, path separators, or leading/trailing space, and
// not "." or "..".
func ValidName(s string, max int) error {
	if s != "" && len(s) <= max && asciiName(s) {
		return nil
	}
	return validNameSlow(s, max)
}

// validNameSlow is ValidName's full check; FuzzValidNameFastPath checks
// that asciiName never accepts a name it refuses.
func validNameSlow(s string, max int) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > max:
		return fmt.Errorf("longer than %d bytes", max)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case strings.ContainsFunc(s, hostileRune):
		return errors.New("holds control or invisible formatting characters")
	case strings.ContainsAny(s, `/\`):
		return errors.New("holds a path separator")
	case s == "." || s == "..":
		return errors.New(`is "." or ".."`)
	case strings.TrimSpace(s) != s:
		return errors.New("has leading or trailing white space")
	}
	return nil
}

// asciiName reports whether s is all printable ASCII with no path
// separator, no surrounding space, and not "." or "..": the common case,
// decided without Unicode tables. Anything else takes ValidName's full check.
func asciiName(s string) bool {
	if s[0] == ' ' || s[len(s)-1] == ' ' || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}

// A Scheme builds the Provider a reference of its scheme points at. The
// Provider it returns answers for the reference itself, whatever profile it
// is asked for.
type Scheme interface {
	Provider(ref Ref) (Provider, error)
}

// SchemeFunc adapts a function to the [Scheme] interface.
type SchemeFunc func(ref Ref) (Provider, error)

// Provider calls f(ref).
func (f SchemeFunc) Provider(ref Ref) (Provider, error) { return f(ref) }

// Schemes maps reference schemes to the packages that serve them. Provider
// packages export a Scheme function; a program registers those it imports,
// so the core never imports a backend:
//
//	var s provider.Schemes
//	s.Register("env", env.Scheme())
//	s.Register("file", file.Scheme())
//
// The zero value is empty and ready to use; a Schemes is safe for concurrent
// use. Providers built for a reference are kept and reused, so a backend's
// own caches (a parsed file, a Vault token) survive between calls.
type Schemes struct {
	mu    sync.RWMutex
	m     map[string]Scheme
	built map[string]Provider
}

// maxBuilt bounds the providers kept for distinct references.
const maxBuilt = 256

// Register makes scheme available; registering a name again replaces it.
func (s *Schemes) Register(scheme string, sc Scheme) {
	if !validScheme(scheme) {
		panic(fmt.Sprintf("provider: Schemes.Register: invalid scheme name %q", scheme))
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

// knownSchemes names the package that serves each scheme of this module, for
// errors that tell the user what to import.
var knownSchemes = map[string]string{
	"env":        "github.com/mcpcred/mcpcred/provider/env",
	"file":       "github.com/mcpcred/mcpcred/provider/file",
	"secretfile": "github.com/mcpcred/mcpcred/provider/secretfile",
	"keychain":   "github.com/mcpcred/mcpcred/provider/keychain",
	"vault":      "github.com/mcpcred/mcpcred/provider/vault",
	"ssm":        "github.com/mcpcred/mcpcred/provider/ssm",
}

// Provider parses ref and returns the provider its scheme builds for it.
func (s *Schemes) Provider(ref string) (Provider, Ref, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, Ref{}, err
	}
	key := r.String()
	s.mu.RLock()
	p, ok := s.built[key]
	sc := s.m[r.Scheme]
	s.mu.RUnlock()
	if ok {
		return p, r, nil
	}
	if sc == nil {
		msg := fmt.Sprintf("%v: %q (registered: %s)", ErrUnknownScheme, r.Scheme, strings.Join(s.Names(), ", "))
		if pkg, ok := knownSchemes[r.Scheme]; ok {
			msg += fmt.Sprintf("; import %s and register its Scheme", pkg)
		}
		return nil, r, &schemeError{msg: msg}
	}
	p, err = sc.Provider(r)
	if err != nil {
		return nil, r, fmt.Errorf("provider: %s: %w", quoteRefShort(key), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.built == nil || len(s.built) >= maxBuilt {
		s.built = map[string]Provider{}
	}
	if prev, ok := s.built[key]; ok {
		return prev, r, nil
	}
	s.built[key] = p
	return p, r, nil
}

type schemeError struct{ msg string }

func (e *schemeError) Error() string { return e.msg }
func (e *schemeError) Unwrap() error { return ErrUnknownScheme }
