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

// syntaxError reports a problem with a secret file's content: the reason
// names a position or a key, never a value. err is one of the package's
// sentinels (ErrSyntax, ErrNotString, ...). The path is set by the reader.
func syntaxError(format string, line, col int, err error, reason string) *provider.SyntaxError {
	return &provider.SyntaxError{Format: format, Line: line, Column: col, Reason: reason, Err: err}
}

// keyError is syntaxError about the key named key, which is rendered with
// provider.Describe.
func keyError(format, key string, err error, reason string) *provider.SyntaxError {
	return syntaxError(format, 0, 0, err, "key "+provider.Describe(key)+": "+reason)
}

// locateKey sets se's position, if it has none, to the first occurrence of
// the JSON member name key (as written in the file, never shown) in data.
func locateKey(data []byte, key string, se *provider.SyntaxError) {
	if se == nil || key == "" || se.Line > 0 {
		return
	}
	if i := bytes.Index(data, []byte(strconv.Quote(key))); i >= 0 {
		se.Line, se.Column = lineCol(data, int64(i))
	}
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
			return parsed{}, keyError("JSON", "Credentials", ErrSyntax, "not a JSON object")
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
			se := keyError("JSON", prefix+k, ErrNotString, "value must be a JSON string, not "+jsonKind(raw))
			locateKey(data, k, se)
			return parsed{}, se
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			se := keyError("JSON", prefix+k, ErrSyntax, "invalid JSON string")
			locateKey(data, k, se)
			return parsed{}, se
		}
		kv = append(kv, [2]string{k, s})
	}
	p, key, se := collect("JSON", prefix, kv)
	if se != nil {
		locateKey(data, key, se) // point at the member: its quoted name's first occurrence
		return parsed{}, se
	}
	return p, nil
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

// jsonError turns an encoding/json error into a SyntaxError with a line and
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
		return syntaxError("JSON", line, col, ErrSyntax, detail)
	case errors.As(err, &typ):
		return syntaxError("JSON", 1, 1, ErrSyntax, "top level must be a JSON object, not "+typ.Value)
	}
	return syntaxError("JSON", 0, 0, ErrSyntax, "invalid JSON")
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
			p, err = parsed{}, syntaxError("INI", 0, 0, ErrSyntax, "INI parser failed")
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
		return parsed{}, syntaxError("INI", 0, 0, ErrNoSection,
			fmt.Sprintf("no section for profile %s and no keys outside sections", provider.Describe(profile)))
	}
	var kv [][2]string
	for _, k := range sec.Keys() {
		kv = append(kv, [2]string{k.Name(), k.Value()})
	}
	p, _, se := collect("INI", "", kv)
	if se != nil {
		return parsed{}, se
	}
	return p, nil
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
			return syntaxError("INI", n, 0, ErrBadKey, reason+securefile.JoinHint(prev))
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
// line (which may hold a secret), to SyntaxErrors with a line number.
func iniError(data []byte, err error) error {
	se := syntaxError("INI", 0, 0, ErrSyntax, "invalid INI syntax")
	var line string
	switch e := err.(type) {
	case ini.ErrDelimiterNotFound:
		line, se.Reason = e.Line, "line has no '=' or ':'"
	case ini.ErrEmptyKeyName:
		line, se.Reason = e.Line, "empty key name"
	default:
		msg := err.Error()
		switch {
		case strings.HasPrefix(msg, "unclosed section"):
			se.Reason = "unclosed section header"
			if i := strings.Index(msg, ": "); i >= 0 {
				line = msg[i+2:]
			}
		case strings.HasPrefix(msg, "missing closing key quote"):
			se.Reason = "missing closing quote in key"
		}
	}
	if line != "" {
		se.Line = findLine(data, line)
	}
	return se
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
// kv is in a deterministic order. An error comes with the key it is about,
// as written in the file (never shown), for the caller to locate; "" if
// none.
func collect(format, prefix string, kv [][2]string) (parsed, string, *provider.SyntaxError) {
	p := parsed{fields: make(map[string]string, len(kv))}
	from := map[string]string{} // field -> key that set it
	var expKey string
	for _, e := range kv {
		k, v := e[0], e[1]
		if k == "" {
			return parsed{}, "", syntaxError(format, 0, 0, ErrSyntax, "empty key name")
		}
		if isExpiryKey(k) {
			if v == "" {
				continue
			}
			if expKey != "" {
				return parsed{}, k, keyError(format, prefix+k, ErrDuplicate, "expiry also set by key "+provider.Describe(prefix+expKey))
			}
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return parsed{}, k, keyError(format, prefix+k, ErrBadExpiration, "expiry must be an RFC 3339 time")
			}
			p.expires, expKey = t, k
			continue
		}
		field, ok := securefile.FieldKey(CanonicalField(k))
		if !ok {
			return parsed{}, k, syntaxError(format, 0, 0, ErrBadKey,
				"a key is not a field name: a key is letters, digits and _, such as access_key_id; rename it or remove it")
		}
		if prev, dup := from[field]; dup {
			return parsed{}, k, keyError(format, prefix+k, ErrDuplicate,
				"field "+provider.Describe(field)+" also set by key "+provider.Describe(prefix+prev))
		}
		from[field] = k
		if v != "" {
			p.fields[field] = v
		}
	}
	return p, "", nil
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
