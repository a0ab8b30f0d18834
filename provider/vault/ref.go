package vault

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// RefPrefix starts a Vault reference such as
// "vault:secret/data/mcp/aws#access_key_id".
const RefPrefix = "vault:"

// ErrInvalidRef is wrapped by errors from [ParseRef].
var ErrInvalidRef = errors.New("vault: invalid reference")

// Ref names a secret in Vault.
//
// Mount is the secrets engine's mount path, such as "secret". When it is
// empty, Path is the full logical path (as in the Vault HTTP API, for example
// "secret/data/mcp/aws" or "aws/creds/deploy") and the provider asks Vault
// where the mount ends, as the vault CLI does. When Mount is set, Path is
// relative to it ("mcp/aws").
type Ref struct {
	Mount string
	Path  string
	// Field selects one key of the secret; empty means every key.
	Field string
	// Version selects a KV v2 version; 0 means the latest. Reading a pinned
	// version of a path that is not on a KV v2 mount is an error wrapping
	// [ErrInvalidRef].
	Version int
}

// ParseRef parses a reference of the form
//
//	[vault:]PATH[?version=N][#FIELD]
//
// where PATH is a full logical path such as "secret/data/mcp/aws". Errors
// wrap [ErrInvalidRef] and never quote the input.
func ParseRef(s string) (Ref, error) {
	s = strings.TrimPrefix(s, RefPrefix)
	var r Ref
	if i := strings.IndexByte(s, '#'); i >= 0 {
		r.Field = s[i+1:]
		s = s[:i]
		if r.Field == "" {
			return Ref{}, fmt.Errorf("%w: empty field after '#'", ErrInvalidRef)
		}
		if strings.ContainsAny(r.Field, "#?") || !printable(r.Field) {
			return Ref{}, fmt.Errorf("%w: field name has invalid characters", ErrInvalidRef)
		}
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		// One spelling per secret: the only query is "version=N", N >= 1
		// in plain digits without a leading zero. (Vault reads version 0 as
		// the latest, which is the reference without a query.)
		q := s[i+1:]
		s = s[:i]
		name, v, _ := strings.Cut(q, "=")
		if name != "version" {
			return Ref{}, fmt.Errorf("%w: unknown query parameter (only version is allowed)", ErrInvalidRef)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || strconv.Itoa(n) != v {
			return Ref{}, fmt.Errorf("%w: version must be a positive integer without leading zeros, given once", ErrInvalidRef)
		}
		r.Version = n
	}
	p, err := cleanPath(s)
	if err != nil {
		return Ref{}, err
	}
	r.Path = p
	return r, nil
}

// String formats r as a reference that [ParseRef] reads back (with the mount
// joined to the path).
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString(RefPrefix)
	b.WriteString(r.fullPath())
	if r.Version > 0 {
		b.WriteString("?version=")
		b.WriteString(strconv.Itoa(r.Version))
	}
	if r.Field != "" {
		b.WriteString("#")
		b.WriteString(r.Field)
	}
	return b.String()
}

func (r Ref) fullPath() string {
	if r.Mount == "" {
		return r.Path
	}
	if r.Path == "" {
		return strings.Trim(r.Mount, "/")
	}
	return strings.Trim(r.Mount, "/") + "/" + r.Path
}

// cleanPath validates a Vault logical path: non-empty segments, no "." or
// ".." segments, printable characters only. Leading and trailing slashes are
// dropped.
func cleanPath(s string) (string, error) {
	s = strings.Trim(s, "/")
	if s == "" {
		return "", fmt.Errorf("%w: empty path", ErrInvalidRef)
	}
	if !printable(s) || strings.ContainsAny(s, " \\") {
		return "", fmt.Errorf("%w: path has invalid characters", ErrInvalidRef)
	}
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%w: path has an empty, \".\" or \"..\" segment", ErrInvalidRef)
		}
	}
	return s, nil
}

func printable(s string) bool {
	for _, c := range s {
		if c < 0x21 || c == 0x7f || c == 0xfffd {
			return false
		}
	}
	return true
}

// ProfilePlaceholder is replaced by the profile name in
// [Options.PathTemplate].
const ProfilePlaceholder = "{profile}"

// expandTemplate puts profile into tmpl. The profile must be usable as path
// segments: letters, digits and "-_.@", with "/" allowed between segments.
func expandTemplate(tmpl, profile string) (string, bool) {
	if profile == "" {
		return "", false
	}
	for _, c := range profile {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("-_.@/", c):
		default:
			return "", false
		}
	}
	p, err := cleanPath(strings.ReplaceAll(tmpl, ProfilePlaceholder, profile))
	if err != nil || strings.Contains(profile, "//") || strings.HasPrefix(profile, "/") || strings.HasSuffix(profile, "/") {
		return "", false
	}
	return p, true
}
