package ssm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidName is wrapped by errors for a parameter name, selector or path
// that SSM would refuse.
var ErrInvalidName = errors.New("ssm: invalid parameter name")

// A Ref is a parameter name with an optional version or label selector, as
// GetParameter accepts it: "/mcp/prod/token", "/mcp/prod/token:3",
// "/mcp/prod/token:current", or a parameter ARN.
type Ref struct {
	Name    string // the parameter name or ARN, without the selector
	Version int64  // selected version, or 0
	Label   string // selected label, or ""
}

// String returns the reference in GetParameter's form: "name", "name:3" or
// "name:label".
func (r Ref) String() string {
	switch {
	case r.Version > 0:
		return r.Name + ":" + strconv.FormatInt(r.Version, 10)
	case r.Label != "":
		return r.Name + ":" + r.Label
	}
	return r.Name
}

const (
	maxNameLen  = 2048 // SSM's limit on a parameter name, ARN form included
	maxLabelLen = 100
	maxDepth    = 15 // hierarchy levels
)

// ParseRef parses a parameter reference: a name or ARN, optionally followed
// by ":VERSION" (a positive integer) or ":LABEL". It checks the rules SSM
// applies to names (letters, digits and . - _ /, a leading slash for
// hierarchical names, at most 15 levels, no "aws" or "ssm" prefix) and to
// labels (at most 100 letters, digits, . - _, not starting with a digit or
// with "aws"/"ssm"). Errors quote the reference, which is a name, not a
// value.
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(s) > maxNameLen+1+maxLabelLen {
		return Ref{}, fmt.Errorf("%w: %d bytes is too long", ErrInvalidName, len(s))
	}
	name, sel := s, ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i+1:], "/") {
		if !strings.HasPrefix(s, "arn:") || strings.Count(s[:i], ":") >= 5 {
			name, sel = s[:i], s[i+1:]
		}
	}
	r := Ref{Name: name}
	if err := checkName(name); err != nil {
		return Ref{}, err
	}
	if strings.HasSuffix(s, ":") {
		return Ref{}, fmt.Errorf("%w: %q: empty selector after ':'", ErrInvalidName, s)
	}
	if sel == "" {
		return r, nil
	}
	if sel[0] >= '0' && sel[0] <= '9' {
		v, err := strconv.ParseInt(sel, 10, 64)
		if err != nil || v < 1 {
			return Ref{}, fmt.Errorf("%w: %q: version must be a positive integer", ErrInvalidName, s)
		}
		r.Version = v
		return r, nil
	}
	if err := checkLabel(sel); err != nil {
		return Ref{}, fmt.Errorf("%w: %q: %v", ErrInvalidName, s, err)
	}
	r.Label = sel
	return r, nil
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidName)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%w: %d bytes is too long", ErrInvalidName, len(name))
	}
	if strings.HasPrefix(name, "arn:") {
		// arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME
		parts := strings.SplitN(name, ":", 6)
		if len(parts) != 6 || parts[2] != "ssm" || !strings.HasPrefix(parts[5], "parameter/") {
			return fmt.Errorf("%w: %q is not an SSM parameter ARN", ErrInvalidName, name)
		}
		return checkChars(name, strings.TrimPrefix(parts[5], "parameter"))
	}
	return checkChars(name, name)
}

func checkChars(full, name string) error {
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/", c)) {
			return fmt.Errorf("%w: %q: only letters, digits and . _ - / are allowed", ErrInvalidName, full)
		}
	}
	if strings.Contains(name, "/") {
		if name[0] != '/' {
			return fmt.Errorf("%w: %q: a hierarchical name must start with '/'", ErrInvalidName, full)
		}
		if strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
			return fmt.Errorf("%w: %q: empty hierarchy level", ErrInvalidName, full)
		}
		if strings.Count(name, "/") > maxDepth {
			return fmt.Errorf("%w: %q: more than %d hierarchy levels", ErrInvalidName, full, maxDepth)
		}
	}
	first := strings.ToLower(strings.TrimPrefix(name, "/"))
	if strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		if !strings.HasPrefix(full, "/aws/reference/") && !strings.HasPrefix(full, "/aws/service/") {
			return fmt.Errorf("%w: %q: names may not start with aws or ssm", ErrInvalidName, full)
		}
	}
	return nil
}

func checkLabel(l string) error {
	if len(l) > maxLabelLen {
		return fmt.Errorf("label longer than %d characters", maxLabelLen)
	}
	low := strings.ToLower(l)
	if strings.HasPrefix(low, "aws") || strings.HasPrefix(low, "ssm") {
		return errors.New("label may not start with aws or ssm")
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return errors.New("label may hold only letters, digits and . - _")
		}
	}
	return nil
}

// cleanPath checks a GetParametersByPath path and returns it without a
// trailing slash ("/" stays "/").
func cleanPath(p string) (string, error) {
	if p == "" || p[0] != '/' {
		return "", fmt.Errorf("%w: path %q must start with '/'", ErrInvalidName, p)
	}
	if p == "/" {
		return p, nil
	}
	p = strings.TrimSuffix(p, "/")
	if err := checkChars(p, p); err != nil {
		return "", err
	}
	return p, nil
}
