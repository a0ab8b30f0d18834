package provider

import (
	"errors"
	"fmt"
	"strings"
)

// A Resource is one thing a reference reads from its backend, named in
// canonical form so that a [RefPolicy] can decide about it: a variable, a
// Vault secret, an SSM parameter or the parameters under a path, a section
// of a credentials file, a keychain profile, an entry of a secrets
// directory. A scheme's [Target] lists every Resource its Provider may read.
//
// Path is "/"-separated, without empty, "." or ".." segments and without
// "*". Where it starts with "/" (an absolute file path, an SSM hierarchy) the
// first segment is empty. Span says whether the Resource is Path itself or a
// set of items named after it.
//
// The text forms are those of [RefPolicy] patterns, so a set reads as the
// pattern that matches exactly its members:
//
//	env:MCP_CI_TOKEN                   the variable (and its _FILE indirection)
//	env:MCP_CI_*                       every variable named MCP_CI_ and more (Prefix)
//	vault:secret/data/mcp/aws          one Vault secret, by its API path
//	ssm:/mcp/prod/token                one SSM parameter
//	ssm:/mcp/prod/**                   every parameter under /mcp/prod, at any depth (Subtree)
//	file:/home/u/.mcp/credentials/ops  section [ops] of that file
//	secretfile:/run/secrets/aws-prod   entry aws-prod of that directory
//	keychain:mcpcred/ops               profile ops under the service prefix mcpcred
type Resource struct {
	Scheme string
	Path   string
	Span   Span
}

// Span says which items a [Resource] stands for.
type Span uint8

const (
	// Exact is the item named by Path.
	Exact Span = iota
	// Prefix is every item in the same place as Path whose last segment
	// starts with Path's last segment and is longer: "env:MCP_CI_*".
	Prefix
	// Children is every item one level below Path: "ssm:/mcp/prod/*".
	Children
	// Subtree is every item below Path, at any depth: "ssm:/mcp/prod/**".
	Subtree
)

// String returns the Resource's text form, as a pattern matching exactly its
// members.
func (r Resource) String() string {
	s := r.Scheme + ":" + r.Path
	switch r.Span {
	case Prefix:
		return s + "*"
	case Children:
		return s + "/*"
	case Subtree:
		return s + "/**"
	}
	return s
}

// Validate reports why r is not a canonical Resource, or nil. Schemes in
// this module return only valid Resources; providertest checks that yours
// do too.
func (r Resource) Validate() error {
	if !validScheme(r.Scheme) {
		return errors.New("provider: resource scheme is not a-z followed by up to 31 of a-z, 0-9 and -")
	}
	if r.Span > Subtree {
		return fmt.Errorf("provider: resource has an unknown span %d", r.Span)
	}
	if r.Path == "" {
		return errors.New("provider: resource path is empty")
	}
	segs := strings.Split(r.Path, "/")
	for i, seg := range segs {
		switch {
		case seg == "" && i == 0:
			// an absolute path
		case seg == "":
			return errors.New("provider: resource path has an empty segment")
		case seg == "." || seg == "..":
			return errors.New(`provider: resource path has a "." or ".." segment`)
		case strings.ContainsRune(seg, '*'):
			return errors.New(`provider: resource path holds "*"`)
		case strings.ContainsFunc(seg, hostileRune):
			return errors.New("provider: resource path holds control or invisible formatting characters")
		}
	}
	if len(segs) == 1 && segs[0] == "" {
		return errors.New("provider: resource path is empty")
	}
	return nil
}

// describeResource names a resource in an error or log record by its scheme
// and length: its path came from a request.
func describeResource(r Resource) string {
	return fmt.Sprintf("a %s resource of %d bytes", r.Scheme, len(r.String()))
}
