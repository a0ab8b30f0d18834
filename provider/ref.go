package provider

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxRefLen is the longest reference ParseRef accepts, in bytes.
const MaxRefLen = 1024

// ErrInvalidRef is wrapped by ParseRef's errors and by the errors a
// [Scheme] gives for a reference it cannot serve.
var ErrInvalidRef = errors.New("provider: invalid credential reference")

// ErrUnknownScheme is wrapped when a reference names a scheme that is not
// registered with the [Schemes] in use.
var ErrUnknownScheme = errors.New("provider: credential reference scheme not registered")

// Ref is a parsed credential reference: a pointer to credentials that holds
// no secret itself. One grammar serves every scheme, with one meaning per
// piece of syntax:
//
//	reference = scheme ":" body [ "?" params ] [ "#" field ]
//
//	piece       meaning                                          schemes
//	scheme      the backend, registered in a [Schemes]           all
//	body        what to read, in the scheme's name space; a      all
//	            body without "/" names a profile (or variable)
//	            in the scheme's default place
//	body A,B    a list: each item is read, all are required      env
//	body P_*    a prefix: every item whose name starts with P_   env
//	body P/     every item under the path P, at any depth        ssm
//	?version=N  a version pin                                    vault (KV v2), ssm
//	?label=L    a version label                                  ssm
//	?profile=P  the profile (section) of the file the body names file
//	#field      the one field the result holds: one key of a     all
//	            secret with several, or the name given to a
//	            single value
//
// For example:
//
//	env:                                  AWS's variables (AWS_ACCESS_KEY_ID, ...)
//	env:MCP_CI_*                          every MCP_CI_FOO variable as field foo
//	env:GITHUB_TOKEN#token                one variable as the field token
//	file:production                       section [production] of ~/.mcp/credentials
//	file:~/.mcp/work-credentials?profile=ops  section [ops] of another file
//	secretfile:aws-prod                   /run/secrets/aws-prod(.json|.ini|/)
//	secretfile:/var/run/team/aws-prod     the same layouts in another directory
//	keychain:ops                          keychain profile ops (service mcpcred:ops)
//	vault:secret/data/mcp/aws             every field of a Vault secret
//	vault:secret/data/mcp/aws#access_key_id  one field of it
//	ssm:/mcp/prod/                        every parameter under a path
//	ssm:/mcp/prod/token?version=3#token   version 3 of one parameter, as field token
//
// A reference is at most [MaxRefLen] bytes of valid UTF-8 with no control or
// invisible formatting characters (such as bidirectional overrides), no
// leading or trailing space, and no ".." path segment in its body. Params
// are name=value pairs joined by "&", each name 1 to 16 of a-z and each
// value 1 to 128 of A-Z, a-z, 0-9, ".", "_" and "-", each name at most
// once; their canonical order is sorted by name. A field is 1 to 128 of the
// same characters as a value. Each scheme checks the rest: which params it
// takes and what its body may be. The [Resource] values of a scheme's
// [Target] say what a reference reads; a [RefPolicy] decides on those,
// never on the reference's text.
type Ref struct {
	Scheme string
	Body   string
	Params string // canonical: name=value pairs sorted by name, joined by "&"
	Field  string
}

// String returns the reference in its canonical text form.
func (r Ref) String() string {
	s := r.Scheme + ":" + r.Body
	if r.Params != "" {
		s += "?" + r.Params
	}
	if r.Field != "" {
		s += "#" + r.Field
	}
	return s
}

// Param returns the value of the param name, or "".
func (r Ref) Param(name string) string {
	if r.Params == "" {
		return ""
	}
	for kv := range strings.SplitSeq(r.Params, "&") {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// OnlyParams returns an error wrapping [ErrInvalidRef] if r has a param not
// among names. Schemes call it first, so that a param they do not know is
// refused instead of ignored.
func (r Ref) OnlyParams(names ...string) error {
	if r.Params == "" {
		return nil
	}
	for kv := range strings.SplitSeq(r.Params, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) {
			takes := "takes no ?params"
			if len(names) > 0 {
				takes = "takes only ?" + strings.Join(names, "=, ?") + "="
			}
			return InvalidRef(r, "params", fmt.Sprintf("has the param %s, but %s: %s", Describe(k), r.Scheme, takes))
		}
	}
	return nil
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
		return bad("has no scheme (want scheme:body, such as env:GITHUB_TOKEN)")
	}
	if !validScheme(scheme) {
		return bad("has a scheme that is not a-z followed by up to 31 of a-z, 0-9 and -")
	}
	rest, field, hasField := strings.Cut(rest, "#")
	if hasField && !validRefWord(field) {
		return bad("has a #field that is not 1 to 128 of A-Z, a-z, 0-9, '.', '_' and '-'")
	}
	body, query, hasQuery := strings.Cut(rest, "?")
	r := Ref{Scheme: scheme, Body: body, Field: field}
	if hasQuery {
		params, reason := canonicalParams(query)
		if reason != "" {
			return bad(reason)
		}
		r.Params = params
	}
	for seg := range strings.FieldsFuncSeq(body, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return bad(`has a ".." path segment`)
		}
	}
	return r, nil
}

// validRefWord reports whether s is 1 to 128 of A-Z, a-z, 0-9, '.', '_'
// and '-': a #field or a param value.
func validRefWord(s string) bool {
	return s != "" && len(s) <= 128 &&
		strings.TrimLeft(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == ""
}

// canonicalParams checks a ?params part and returns it sorted by name, or
// why it is malformed.
func canonicalParams(q string) (string, string) {
	if q == "" {
		return "", "has an empty ?params part"
	}
	kvs := strings.Split(q, "&")
	if len(kvs) > 8 {
		return "", "has more than 8 ?params"
	}
	seen := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok || k == "":
			return "", "has a ?param that is not name=value"
		case len(k) > 16 || strings.TrimLeft(k, "abcdefghijklmnopqrstuvwxyz") != "":
			return "", "has a ?param name that is not 1 to 16 of a-z"
		case !validRefWord(v):
			return "", "has a ?param value that is not 1 to 128 of A-Z, a-z, 0-9, '.', '_' and '-'"
		case seen[k]:
			return "", "names a ?param twice"
		}
		seen[k] = true
	}
	slices.Sort(kvs)
	return strings.Join(kvs, "&"), ""
}

// RefError is the error for a reference that cannot be parsed or served. It
// says what is wrong and how long the reference is, never its text: a
// reference comes from a request, and a model may paste a secret where a
// reference belongs. It unwraps to [ErrInvalidRef].
type RefError struct {
	Scheme string // the scheme that refused the reference; "" when it did not parse
	Part   string // the part at fault: "body", "params" or "field"; "" when it did not parse
	Len    int    // the reference's length in bytes
	Reason string // what is wrong, as a phrase such as "has no scheme"
}

func (e *RefError) Error() string {
	switch {
	case e.Len == 0:
		return ErrInvalidRef.Error() + ": the reference is empty"
	case e.Scheme == "":
		return fmt.Sprintf("%v: the %d-byte reference %s", ErrInvalidRef, e.Len, e.Reason)
	case e.Part == "":
		return fmt.Sprintf("%v: the %d-byte %s: reference %s", ErrInvalidRef, e.Len, e.Scheme, e.Reason)
	}
	return fmt.Sprintf("%v: the %d-byte %s: reference: its %s %s", ErrInvalidRef, e.Len, e.Scheme, e.Part, e.Reason)
}

// Unwrap returns ErrInvalidRef.
func (e *RefError) Unwrap() error { return ErrInvalidRef }

// InvalidRef returns the error a [Scheme] gives for a reference it cannot
// serve: a [*RefError] naming the scheme, the part at fault ("body",
// "params", "field", or "" for the whole) and the reason, phrased to follow
// "its body" ("is a relative path; ..."). reason must not quote the
// reference: describe any piece of it with [Describe].
func InvalidRef(ref Ref, part, reason string) error {
	return &RefError{Scheme: ref.Scheme, Part: part, Len: len(ref.String()), Reason: reason}
}
