package secretfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
	"gopkg.in/ini.v1"
)

// ParseError describes what is wrong with a secret file's content. It
// names a position and a key, never a value.
type ParseError struct {
	Format string // "JSON" or "INI"
	Line   int    // 1-based; 0 if unknown
	Column int    // 1-based; 0 if unknown
	Key    string // the key concerned, if any, already made safe to print
	Err    error  // one of the sentinel errors: ErrSyntax, ErrNotString, ...
	Detail string // what is wrong, in words that never quote the content

	key string // the raw key, to locate it; never shown
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("secretfile: ")
	if e.Key != "" {
		b.WriteString("key ")
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Detail != "" {
		b.WriteString(e.Detail)
	} else {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel cause.
func (e *ParseError) Unwrap() error { return e.Err }

// position returns ":line:col", ":line" or "".
func (e *ParseError) position() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf(":%d:%d", e.Line, e.Column)
	case e.Line > 0:
		return fmt.Sprintf(":%d", e.Line)
	}
	return ""
}

// parsed is the content of one secret file.
type parsed struct {
	fields  map[string]string
	expires time.Time
}

var bom = []byte("\xef\xbb\xbf")

// isJSON reports whether a file called name holding data is JSON: by its
// extension, else by its first non-space byte being '{'.
func isJSON(name string, data []byte) bool {
	switch {
	case strings.HasSuffix(name, ".json"):
		return true
	case strings.HasSuffix(name, ".ini"):
		return false
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, bom), " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// parseJSON reads a JSON object whose values are strings. Two AWS shapes
// are understood as well: the output of "aws sts assume-role" (credentials
// nested under "Credentials", siblings ignored) and credential_process
// output (a numeric "Version" beside the strings). "Expiration" sets the
// expiry. A null value counts as absent.
func parseJSON(data []byte) (parsed, error) {
	data = bytes.TrimPrefix(data, bom)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return parsed{}, jsonError(data, err)
	}
	obj, prefix := top, ""
	if raw, ok := top["Credentials"]; ok && firstByte(raw) == '{' {
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(raw, &inner); err != nil {
			// Cannot happen: raw was checked by the outer Unmarshal.
			return parsed{}, &ParseError{Format: "JSON", Key: "Credentials", Err: ErrSyntax, Detail: "not a JSON object"}
		}
		obj, prefix = inner, "Credentials."
	}
	kv := make([][2]string, 0, len(obj))
	for _, k := range sortedKeys(obj) {
		raw := obj[k]
		if prefix == "" && k == "Version" && firstByte(raw) != '"' && firstByte(raw) != 0 {
			if _, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64); err == nil {
				continue // credential_process: {"Version": 1, ...}
			}
		}
		switch firstByte(raw) {
		case 'n': // null
			continue
		case '"':
		default:
			return parsed{}, &ParseError{Format: "JSON", Key: provider.Describe(prefix + k), Err: ErrNotString,
				Detail: "value must be a JSON string, not " + jsonKind(raw)}
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return parsed{}, &ParseError{Format: "JSON", Key: provider.Describe(prefix + k), Err: ErrSyntax, Detail: "invalid JSON string"}
		}
		kv = append(kv, [2]string{k, s})
	}
	p, err := collect("JSON", prefix, kv)
	var pe *ParseError
	if errors.As(err, &pe) && pe.key != "" {
		// Point at the member: its quoted name's first occurrence.
		if i := bytes.Index(data, []byte(strconv.Quote(pe.key))); i >= 0 {
			pe.Line, pe.Column = lineCol(data, int64(i))
		}
	}
	return p, err
}

func firstByte(raw json.RawMessage) byte {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return 0
	}
	return t[0]
}

func jsonKind(raw json.RawMessage) string {
	switch firstByte(raw) {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

// jsonError turns an encoding/json error into a ParseError with a line and
// column. encoding/json's own messages can quote a byte of the input, so
// they are not used.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, including the offending one.
		pos, detail := syn.Offset-1, "invalid JSON syntax"
		if syn.Offset >= int64(len(data)) {
			pos, detail = int64(len(data)), "unexpected end of JSON"
		}
		line, col := lineCol(data, pos)
		return &ParseError{Format: "JSON", Line: line, Column: col, Err: ErrSyntax, Detail: detail}
	case errors.As(err, &typ):
		return &ParseError{Format: "JSON", Line: 1, Column: 1, Err: ErrSyntax, Detail: "top level must be a JSON object, not " + typ.Value}
	}
	return &ParseError{Format: "JSON", Err: ErrSyntax, Detail: "invalid JSON"}
}

// lineCol converts a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// iniOptions: secrets may hold '#', ';' and a trailing '\', so inline
// comments and continuation lines are off.
var iniOptions = ini.LoadOptions{
	IgnoreInlineComment: true,
	IgnoreContinuation:  true,
}

// parseINI reads the section named profile, else "[profile NAME]" (the
// AWS config spelling), else the keys before any section.
func parseINI(data []byte, profile string) (p parsed, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = parsed{}, &ParseError{Format: "INI", Err: ErrSyntax, Detail: "INI parser failed"}
		}
	}()
	if err := lintINI(data); err != nil {
		return parsed{}, err
	}
	f, err := ini.LoadSources(iniOptions, bytes.TrimPrefix(data, bom))
	if err != nil {
		return parsed{}, iniError(data, err)
	}
	var sec *ini.Section
	for _, name := range []string{profile, "profile " + profile} {
		if s, err := f.GetSection(name); err == nil {
			sec = s
			break
		}
	}
	if sec == nil {
		if top := f.Section(ini.DefaultSection); len(top.Keys()) > 0 {
			sec = top
		}
	}
	if sec == nil {
		return parsed{}, &ParseError{Format: "INI", Err: ErrNoSection,
			Detail: fmt.Sprintf("no section for profile %s and no keys outside sections", provider.Describe(profile))}
	}
	var kv [][2]string
	for _, k := range sec.Keys() {
		kv = append(kv, [2]string{k.Name(), k.Value()})
	}
	return collect("INI", "", kv)
}

// lintINI refuses, with its line number, a line that is not a clean
// KEY = VALUE line (a key that is no field name, a value of only '=', an
// unknown key without a value, text without '=' or ':'): the shapes of a
// value wrapped onto the next line. The line is never quoted.
func lintINI(data []byte) error {
	data = bytes.TrimPrefix(data, bom)
	keyLine := 0
	for n := 1; len(data) > 0; n++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		line = bytes.TrimSpace(line)
		prev := keyLine
		keyLine = 0
		if len(line) == 0 || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue // ini.v1 judges section headers
		}
		i := bytes.IndexAny(line, "=:")
		if i <= 0 {
			continue // ini.v1 reports these with their line
		}
		if reason := securefile.KeyLineProblem(string(line[:i]), line[i+1:], knownKey); reason != "" {
			return &ParseError{Format: "INI", Line: n, Err: ErrBadKey, Detail: reason + securefile.JoinHint(prev)}
		}
		keyLine = n
	}
	return nil
}

// knownKey reports whether a lower-cased key is one whose empty value is
// reported by name: an AWS spelling, a canonical field or an expiry key.
func knownKey(key string) bool {
	if isExpiryKey(key) {
		return true
	}
	switch CanonicalField(key) {
	case provider.FieldAccessKeyID, provider.FieldSecretAccessKey, provider.FieldSessionToken, provider.FieldRegion,
		provider.FieldToken, provider.FieldUsername, provider.FieldPassword:
		return true
	}
	return false
}

// iniError maps gopkg.in/ini.v1 errors, whose messages quote the offending
// line (which may hold a secret), to ParseErrors with a line number.
func iniError(data []byte, err error) error {
	pe := &ParseError{Format: "INI", Err: ErrSyntax, Detail: "invalid INI syntax"}
	var line string
	switch e := err.(type) {
	case ini.ErrDelimiterNotFound:
		line, pe.Detail = e.Line, "line has no '=' or ':'"
	case ini.ErrEmptyKeyName:
		line, pe.Detail = e.Line, "empty key name"
	default:
		msg := err.Error()
		switch {
		case strings.HasPrefix(msg, "unclosed section"):
			pe.Detail = "unclosed section header"
			if i := strings.Index(msg, ": "); i >= 0 {
				line = msg[i+2:]
			}
		case strings.HasPrefix(msg, "missing closing key quote"):
			pe.Detail = "missing closing quote in key"
		}
	}
	if line != "" {
		pe.Line = findLine(data, line)
	}
	return pe
}

// findLine returns the 1-based number of the first line of data that,
// trimmed, equals want trimmed; 0 if none.
func findLine(data []byte, want string) int {
	want = strings.TrimSpace(want)
	for i, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == want {
			return i + 1
		}
	}
	return 0
}

// collect maps keys to canonical field names and pulls out the expiry.
// kv is in a deterministic order.
func collect(format, prefix string, kv [][2]string) (parsed, error) {
	p := parsed{fields: make(map[string]string, len(kv))}
	from := map[string]string{} // field -> key that set it
	var expKey string
	for _, e := range kv {
		k, v := e[0], e[1]
		if k == "" {
			return parsed{}, &ParseError{Format: format, Err: ErrSyntax, Detail: "empty key name"}
		}
		if isExpiryKey(k) {
			if v == "" {
				continue
			}
			if expKey != "" {
				return parsed{}, &ParseError{Format: format, Key: provider.Describe(prefix + k), Err: ErrDuplicate,
					Detail: "expiry also set by key " + provider.Describe(prefix+expKey)}
			}
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return parsed{}, &ParseError{Format: format, Key: provider.Describe(prefix + k), Err: ErrBadExpiration,
					Detail: "expiry must be an RFC 3339 time"}
			}
			p.expires, expKey = t, k
			continue
		}
		field, ok := securefile.FieldKey(CanonicalField(k))
		if !ok {
			return parsed{}, &ParseError{Format: format, Err: ErrBadKey, key: k,
				Detail: "a key is not a field name: a key is letters, digits and _, such as access_key_id; rename it or remove it"}
		}
		if prev, dup := from[field]; dup {
			return parsed{}, &ParseError{Format: format, Key: provider.Describe(prefix + k), Err: ErrDuplicate,
				Detail: "field " + provider.Describe(field) + " also set by key " + provider.Describe(prefix+prev)}
		}
		from[field] = k
		if v != "" {
			p.fields[field] = v
		}
	}
	return p, nil
}

func isExpiryKey(k string) bool {
	switch strings.ToLower(k) {
	case "expiration", "aws_credential_expiration":
		return true
	}
	return false
}

// CanonicalField maps a key from a secret file to mcpcred's field name:
// the AWS credentials-file spellings (aws_access_key_id,
// aws_secret_access_key, aws_session_token) and the AWS JSON spellings
// (AccessKeyId, SecretAccessKey, SessionToken), in any case, become
// access_key_id, secret_access_key and session_token. Any other key is
// returned unchanged.
func CanonicalField(key string) string {
	switch strings.ToLower(key) {
	case "aws_access_key_id", "accesskeyid", "access_key_id":
		return "access_key_id"
	case "aws_secret_access_key", "secretaccesskey", "secret_access_key":
		return "secret_access_key"
	case "aws_session_token", "sessiontoken", "session_token":
		return "session_token"
	}
	return key
}

func sortedKeys(m map[string]json.RawMessage) []string {
	return slices.Sorted(maps.Keys(m)) // deterministic errors
}
