package securefile

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
)

// FieldKey returns the field name a key from a credentials file (an INI
// key, a JSON member name, a variable name's suffix) gives, lower-cased,
// and whether it gives one: 1 to provider.MaxFieldLen letters, digits and
// '_' ([provider.ValidField] once lower-cased), in words that read as names
// as [provider.Describe] decides, each in one case or capitalized, such as
// aws_access_key_id, AWS_Access_Key_ID or Region. A fragment of a token,
// such as the wrapped tail of a session token read as KEY=VALUE, a
// camelCase name or a 24-character run of letters and digits is not.
//
// A key that passes reads as a name, so errors and logs may show it.
func FieldKey(key string) (string, bool) {
	field := strings.ToLower(key)
	if !provider.ValidField(field) {
		return "", false
	}
	for w := range strings.SplitSeq(key, "_") {
		if w == "" {
			continue
		}
		lw := strings.ToLower(w)
		if !provider.IsName(lw) {
			return "", false
		}
		if rest := w[1:]; w != strings.ToUpper(w) && rest != strings.ToLower(rest) {
			return "", false // mixed case inside a word: "IQoJb3JpZ2lu"
		}
	}
	return field, true
}

// KeyLineProblem says why an INI line whose text before the first '=' or
// ':' is key and whose text after it is value is not a clean KEY = VALUE
// line, or returns "". known reports whether a lower-cased key is a field
// whose empty value is worth reporting by name. The reasons never quote the
// line; add [JoinHint] when the line follows a KEY = VALUE line.
func KeyLineProblem(key string, value []byte, known func(field string) bool) string {
	field, ok := FieldKey(strings.TrimSpace(key))
	if !ok {
		return "the text before = is not a key: a key is letters, digits and _, such as aws_session_token"
	}
	switch v := bytes.TrimSpace(value); {
	case len(v) > 0 && len(bytes.Trim(v, "=")) == 0:
		return "the value is only = signs"
	case len(v) == 0 && !known(field):
		return "the key is not a known field name and has no value; remove the line"
	}
	return ""
}

// JoinHint tells how to fix a line that follows the KEY = VALUE on line
// prev and may be the wrapped rest of its value; "" when prev is 0.
func JoinHint(prev int) string {
	if prev == 0 {
		return ""
	}
	p := strconv.Itoa(prev)
	return "; if it is the rest of the value on line " + p + ", wrapped, join the wrapped value onto line " + p
}
