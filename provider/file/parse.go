package file

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"unicode"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
	"gopkg.in/ini.v1"
)

// ErrMalformed is wrapped by the [*provider.SyntaxError] returned for every
// line of a credentials file that cannot be read.
var ErrMalformed = errors.New("file: malformed credentials file")

// syntaxError reports line n (0 if not known) of the credentials file. The
// reason is a fixed description, such as "section header has no closing ]",
// never the line's text, which may hold a secret. The path is set by
// [parseAt].
func syntaxError(n int, reason string) *provider.SyntaxError {
	return &provider.SyntaxError{Format: "INI", Line: n, Reason: reason, Err: ErrMalformed}
}

// parseAt returns parse with the errors it returns naming path.
func parseAt(path string) func([]byte) (*parsed, error) {
	return func(data []byte) (*parsed, error) {
		f, err := parse(data)
		if se := (*provider.SyntaxError)(nil); errors.As(err, &se) {
			se.Path = path // a new error of this parse, not yet shared
		}
		return f, err
	}
}

// loadOptions makes gopkg.in/ini.v1 read every value literally: the value is
// the text after the first '=' or ':' up to the end of the line, trimmed of
// surrounding white space. See the package documentation, "File format".
var loadOptions = ini.LoadOptions{
	// A secret may contain '#' or ';' anywhere; never cut it short. Whole-line
	// comments still work. (Python's configparser, which the AWS CLI uses,
	// behaves the same way.)
	IgnoreInlineComment: true,
	// A secret may end with a backslash; never join it with the next line.
	IgnoreContinuation: true,
	// Quotes are part of the value, as in the AWS CLI.
	PreserveSurroundedQuote: true,
	// Section names are case-sensitive, as AWS profile names are. Key names
	// are lower-cased by the provider, not by the parser.
	Insensitive:         false,
	InsensitiveSections: false,
	InsensitiveKeys:     false,
	// Every other option keeps its default: no boolean keys, no shadows, no
	// nested or Python multi-line values, and the parser's %(name)s
	// interpolation is never used because values are read with Key.Value.
}

// parsed is what the provider keeps of a credentials file: its sections
// indexed by name. It is immutable once built.
type parsed struct {
	names    []string            // section names in file order, for error messages
	sections map[string]*section // by trimmed name, e.g. "default", "profile prod"
	profiles map[string]*section // "[profile NAME]" sections by NAME
}

type section struct {
	name     string                     // as written, trimmed
	fields   map[string]provider.Secret // canonical field name -> non-empty value
	empty    []string                   // keys (lower-cased) whose value is empty, sorted
	conflict [2]string                  // two keys that set the same field, if any
	from     map[string]string          // while parsing: field -> key that set it last
}

// parse reads a credentials file. Errors are [*provider.SyntaxError] values
// wrapping [ErrMalformed] and never contain bytes of the input.
func parse(data []byte) (*parsed, error) {
	if err := lint(data); err != nil {
		return nil, err
	}
	f, err := ini.LoadSources(loadOptions, data)
	if err != nil {
		// lint accepts only files ini.v1 accepts (FuzzParse checks that), so
		// this is not expected. ini.v1's message may quote the offending
		// line, so it is not passed on.
		return nil, syntaxError(0, "the INI parser rejected the file")
	}
	p := &parsed{sections: make(map[string]*section), profiles: make(map[string]*section)}
	for _, s := range f.Sections() {
		keys := s.Keys()
		name := strings.TrimSpace(s.Name())
		if name == ini.DefaultSection && len(keys) == 0 {
			continue // the parser's implicit top-level section
		}
		sec := p.sections[name]
		if sec == nil {
			sec = &section{name: name, fields: make(map[string]provider.Secret)}
			p.sections[name] = sec
			p.names = append(p.names, name)
		}
		if err := sec.add(keys); err != nil {
			return nil, err
		}
	}
	for _, name := range p.names {
		p.sections[name].finish()
		if alias, ok := profileAlias(name); ok {
			p.profiles[alias] = p.sections[name]
		}
	}
	return p, nil
}

// add merges keys into sec. A later key overrides an earlier one; two
// different spellings of one field (aws_region and region) are a conflict.
func (sec *section) add(keys []*ini.Key) error {
	if sec.from == nil {
		sec.from = make(map[string]string, len(keys))
	}
	for _, k := range keys {
		key, ok := securefile.FieldKey(k.Name())
		if !ok {
			// lint refuses such a key with its line number first, so this
			// is not expected; no key that is not a field name is kept.
			return syntaxError(0, "a key is not a field name")
		}
		field := canonical(key)
		if prev, ok := sec.from[field]; ok && prev != key && sec.conflict[0] == "" {
			sec.conflict = [2]string{prev, key}
		}
		sec.from[field] = key
		if v := k.Value(); v != "" {
			sec.fields[field] = provider.NewSecret(v)
		} else {
			delete(sec.fields, field)
		}
	}
	return nil
}

// finish lists the keys whose final value is empty, in file order.
func (sec *section) finish() {
	for field, key := range sec.from {
		if _, ok := sec.fields[field]; !ok {
			sec.empty = append(sec.empty, key)
		}
	}
	slices.Sort(sec.empty)
	sec.from = nil
}

// canonical maps a lower-cased key to its canonical field name.
func canonical(key string) string {
	switch key {
	case "aws_access_key_id":
		return provider.FieldAccessKeyID
	case "aws_secret_access_key":
		return provider.FieldSecretAccessKey
	case "aws_session_token", "aws_security_token":
		return provider.FieldSessionToken
	case "aws_region", "aws_default_region":
		return provider.FieldRegion
	}
	return key
}

// knownField reports whether a lower-cased key is an AWS spelling or one
// of provider's canonical field names: the keys whose empty values are
// reported by name.
func knownField(key string) bool {
	switch canonical(key) {
	case provider.FieldAccessKeyID, provider.FieldSecretAccessKey, provider.FieldSessionToken, provider.FieldRegion,
		provider.FieldToken, provider.FieldUsername, provider.FieldPassword:
		return true
	}
	return false
}

// profileAlias reports whether name has the AWS config form "profile NAME".
func profileAlias(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "profile")
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	alias := strings.TrimSpace(rest)
	return alias, alias != ""
}

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16BE = []byte{0xFE, 0xFF}
	bomUTF16LE = []byte{0xFF, 0xFE}
)

// lint classifies each line the way ini.v1 does with [loadOptions] and
// reports the first one that ini.v1 would reject, or would read in a way
// that is not "one line, one literal value". It is stricter than ini.v1 in
// three places: keys before the first section header, quoted key names, and
// values that open a backtick or triple-quote string (ini.v1 would strip
// those quotes or run the value on over the following lines). lint exists to
// give line numbers, which ini.v1's errors lack, and to do so without
// quoting the line; the values themselves are read by ini.v1.
func lint(data []byte) error {
	if bytes.HasPrefix(data, bomUTF16BE) || bytes.HasPrefix(data, bomUTF16LE) {
		return syntaxError(1, "the file is UTF-16; save it as UTF-8")
	}
	data = bytes.TrimPrefix(data, bomUTF8)
	inSection := false
	keyLine := 0 // the line of the KEY = VALUE just above, if the line above is one
	for n := 1; len(data) > 0; n++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		line = bytes.TrimLeftFunc(line, unicode.IsSpace)
		prev := keyLine
		keyLine = 0
		if len(line) == 0 || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := bytes.LastIndexByte(line, ']')
			switch {
			case end < 0:
				return syntaxError(n, "section header has no closing ]")
			case len(bytes.TrimSpace(line[1:end])) == 0:
				return syntaxError(n, "empty section name")
			}
			inSection = true
			continue
		}
		if !inSection {
			return syntaxError(n, "key outside any section; put a [section] header above it")
		}
		if line[0] == '"' || line[0] == '`' {
			return syntaxError(n, "quoted key names are not supported")
		}
		i := bytes.IndexAny(line, "=:")
		switch {
		case i < 0:
			return syntaxError(n, "expected KEY = VALUE, a [section] header or a # comment"+joinHint(prev))
		case i == 0:
			return syntaxError(n, "empty key name"+joinHint(prev))
		}
		if reason := securefile.KeyLineProblem(string(line[:i]), line[i+1:], knownField); reason != "" {
			return syntaxError(n, reason+joinHint(prev))
		}
		keyLine = n
		v := bytes.TrimLeftFunc(line[i+1:], unicode.IsSpace)
		if bytes.HasPrefix(v, []byte("`")) || bytes.HasPrefix(v, []byte(`"""`)) {
			return syntaxError(n, "value starts with ` or \"\"\", which INI reads as a quoted multi-line string; this is not supported")
		}
	}
	return nil
}

// joinHint is securefile.JoinHint.
var joinHint = securefile.JoinHint

// DebugAttrs adds the number of sections to the debug line logged when the
// file is parsed.
func (f *parsed) DebugAttrs() []any { return []any{"sections", len(f.names)} }
