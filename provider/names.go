package provider

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

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

// MaxNameLen is the longest profile name in bytes, in every package of this
// module: the resolver, the profiles file and every provider.
const MaxNameLen = 128

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
