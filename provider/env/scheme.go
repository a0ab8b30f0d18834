package env

import (
	"fmt"
	"slices"
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
// The Target lists each variable as the resource env:VAR (which covers its
// VAR_FILE form), a prefix as env:PREFIX* and env: as AWS's variables, so
// an operator allows env:MCP_CI_* or env:GITHUB_TOKEN. No ?params.
//
// optFns configure every Provider the Scheme builds (Getenv, Environ,
// OpenFile, DisableFiles, MaxFileSize, Logger, Now); the reference sets
// Vars, Prefix and Required, and the Provider answers every profile
// (AllProfiles), since a reference names its credentials itself.
func Scheme(optFns ...func(*Options)) provider.Scheme {
	return scheme(func(ref provider.Ref) (provider.Target, error) {
		refFn, resources, err := refOptions(ref)
		if err != nil {
			return provider.Target{}, err
		}
		fns := append(append(make([]func(*Options), 0, len(optFns)+1), optFns...), refFn)
		return provider.Target{Provider: New(fns...), Resources: resources}, nil
	})
}

type scheme func(ref provider.Ref) (provider.Target, error)

func (s scheme) Open(ref provider.Ref) (provider.Target, error) { return s(ref) }

// ResourceShape says that every resource is one variable name, or a prefix
// of one: a [provider.ShapedScheme].
func (scheme) ResourceShape() provider.ResourceShape {
	return provider.ResourceShape{Pattern: "env:*", Hint: "an env: pattern names variables, such as env:MCP_CI_* or env:GITHUB_TOKEN"}
}

// maxRefVars bounds the variables one reference may list.
const maxRefVars = 32

// refOptions works out the Options an env: reference stands for, and the
// variables it reads: each as the resource env:NAME, which covers its
// NAME_FILE form too; a prefix as the set env:PREFIX*.
func refOptions(ref provider.Ref) (func(*Options), []provider.Resource, error) {
	if err := ref.OnlyParams(); err != nil {
		return nil, nil, err
	}
	body := ref.Body
	switch {
	case body == "":
		if ref.Field != "" {
			return nil, nil, provider.InvalidRef(ref, "field", "is set, but env: (AWS's variables) names its fields itself")
		}
		var resources []provider.Resource
		for _, vs := range DefaultVars() {
			for _, v := range vs {
				resources = append(resources, provider.Resource{Scheme: "env", Path: v})
			}
		}
		slices.SortFunc(resources, func(a, b provider.Resource) int { return strings.Compare(a.Path, b.Path) })
		return func(o *Options) {
			o.Vars, o.Prefix, o.Required = nil, "", nil
			o.AllProfiles = true
		}, resources, nil

	case strings.HasSuffix(body, "*"):
		prefix := strings.TrimSuffix(body, "*")
		if prefix == "" || strings.Contains(prefix, "*") || !validVar(prefix) {
			return nil, nil, provider.InvalidRef(ref, "body", "is not a prefix: a prefix is a variable name followed by one *, such as MCP_CI_*")
		}
		if ref.Field != "" {
			return nil, nil, provider.InvalidRef(ref, "field", "is set, but a prefix names every field itself")
		}
		return func(o *Options) {
				o.Vars, o.Prefix, o.Required = map[string][]string{}, prefix, nil
				o.AllProfiles = true
			}, []provider.Resource{{Scheme: "env", Path: prefix, Span: provider.Prefix}},
			nil
	}

	names := strings.Split(body, ",")
	if len(names) > maxRefVars {
		return nil, nil, provider.InvalidRef(ref, "body", fmt.Sprintf("lists %d variables; at most %d", len(names), maxRefVars))
	}
	vars := make(map[string][]string, len(names))
	required := make([]string, 0, len(names))
	resources := make([]provider.Resource, 0, len(names))
	for i, name := range names {
		if !validVar(name) {
			return nil, nil, provider.InvalidRef(ref, "body", fmt.Sprintf("item %d is not a variable name (letters, digits and _, not starting with a digit; a prefix ends in *)", i+1))
		}
		field := strings.ToLower(name)
		if ref.Field != "" {
			if len(names) > 1 {
				return nil, nil, provider.InvalidRef(ref, "field", fmt.Sprintf("names one field, but the body lists %d variables", len(names)))
			}
			if !provider.ValidField(ref.Field) {
				return nil, nil, provider.InvalidRef(ref, "field", "is not a field name: 1-64 characters of a-z, 0-9 and _")
			}
			field = ref.Field
		}
		if !provider.ValidField(field) {
			return nil, nil, provider.InvalidRef(ref, "body", fmt.Sprintf("item %d is longer than a field name may be (64 bytes); name its field with #field", i+1))
		}
		if _, dup := vars[field]; dup {
			return nil, nil, provider.InvalidRef(ref, "body", fmt.Sprintf("gives the field %s twice", provider.Describe(field)))
		}
		vars[field] = []string{name}
		required = append(required, field)
		resources = append(resources, provider.Resource{Scheme: "env", Path: name})
	}
	return func(o *Options) {
		o.Vars, o.Prefix, o.Required = vars, "", required
		o.AllProfiles = true
	}, resources, nil
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
