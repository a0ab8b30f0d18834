package env

import (
	"fmt"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
)

// Scheme returns the [provider.Scheme] for "env:" references, to register
// in a [provider.Schemes]:
//
//	s.Register("env", env.Scheme())
//
// The forms are
//
//	env:                   AWS's variables, as [New] with no options
//	env:PREFIX_*           prefix mode: every PREFIX_NAME variable is field name
//	env:VAR                the variable VAR as the field strings.ToLower(VAR)
//	env:VAR#FIELD          the variable VAR as the field FIELD
//	env:VAR1,VAR2,...      each variable as its lower-cased name; all required
//
// optFns configure every Provider the Scheme builds (Getenv, Environ,
// OpenFile, DisableFiles, MaxFileSize, Logger, Now); the reference sets
// Vars, Prefix and Required, and the Provider answers every profile
// (AllProfiles), since a reference names its credentials itself.
func Scheme(optFns ...func(*Options)) provider.Scheme {
	return provider.SchemeFunc(func(ref provider.Ref) (provider.Provider, error) {
		refFn, err := refOptions(ref)
		if err != nil {
			return nil, err
		}
		fns := append(append(make([]func(*Options), 0, len(optFns)+1), optFns...), refFn)
		return New(fns...), nil
	})
}

// maxRefVars bounds the variables one reference may list.
const maxRefVars = 32

// refOptions works out the Options an env: reference stands for.
func refOptions(ref provider.Ref) (func(*Options), error) {
	body := ref.Body
	switch {
	case body == "":
		if ref.Fragment != "" {
			return nil, refError("fragment", "%s: env: (AWS's variables) takes no #fragment", quote(ref.Fragment))
		}
		return func(o *Options) {
			o.Vars, o.Prefix, o.Required = nil, "", nil
			o.AllProfiles = true
		}, nil

	case strings.HasSuffix(body, "*"):
		prefix := strings.TrimSuffix(body, "*")
		if prefix == "" || strings.Contains(prefix, "*") || !validVar(prefix) {
			return nil, refError("body", "%s: a prefix must be a variable name followed by one *, such as MCP_CI_*", quote(body))
		}
		if ref.Fragment != "" {
			return nil, refError("fragment", "%s: prefix mode (%s) names every field itself and takes no #fragment", quote(ref.Fragment), quote(body))
		}
		return func(o *Options) {
			o.Vars, o.Prefix, o.Required = map[string][]string{}, prefix, nil
			o.AllProfiles = true
		}, nil
	}

	names := strings.Split(body, ",")
	if len(names) > maxRefVars {
		return nil, refError("body", "lists %d variables; at most %d", len(names), maxRefVars)
	}
	vars := make(map[string][]string, len(names))
	required := make([]string, 0, len(names))
	for _, name := range names {
		if !validVar(name) {
			return nil, refError("body", "%s is not a variable name (letters, digits and _, not starting with a digit; a prefix ends in *)", quote(name))
		}
		field := strings.ToLower(name)
		if ref.Fragment != "" {
			if len(names) > 1 {
				return nil, refError("fragment", "%s: a #field name applies to a single variable, and %s lists %d", quote(ref.Fragment), quote(body), len(names))
			}
			if !provider.ValidField(ref.Fragment) {
				return nil, refError("fragment", "field name %s must be 1-64 characters of a-z, 0-9 and _", quote(ref.Fragment))
			}
			field = ref.Fragment
		}
		if prev, dup := vars[field]; dup {
			return nil, refError("body", "%s and %s both give the field %s", quote(prev[0]), quote(name), field)
		}
		vars[field] = []string{name}
		required = append(required, field)
	}
	return func(o *Options) {
		o.Vars, o.Prefix, o.Required = vars, "", required
		o.AllProfiles = true
	}, nil
}

func refError(part, format string, args ...any) error {
	return fmt.Errorf("%w: env: %s: %s", provider.ErrInvalidRef, part, fmt.Sprintf(format, args...))
}

// validVar reports whether s is a portable environment variable name:
// ASCII letters, digits and '_', not starting with a digit, at most 128
// bytes.
func validVar(s string) bool {
	if s == "" || len(s) > 128 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func quote(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("(%d bytes)", len(s))
	}
	return fmt.Sprintf("%q", s)
}
