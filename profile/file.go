package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// MaxNameLen is the longest profile name accepted, in bytes: the same limit
// as every package of this module (provider.MaxNameLen).
const MaxNameLen = provider.MaxNameLen

// ErrMalformed is wrapped by the errors for a profiles file that does not
// parse or holds an invalid profile: [*provider.SyntaxError] values.
var ErrMalformed = errors.New("profile: malformed profiles file")

// syntaxError reports a problem at line:col (0 if not known) of a profiles
// file. reason never quotes the file; text from it is rendered with
// provider.Describe.
func syntaxError(line, col int, reason string) *provider.SyntaxError {
	return &provider.SyntaxError{Format: "JSON", Line: line, Column: col, Reason: reason, Err: ErrMalformed}
}

// Profile is one named entry of the profiles file. It says where its
// credentials come from, by reference (Source), so the file itself need hold
// no secret; or, for quick local use, holds them inline (Credentials).
type Profile struct {
	// Name is the profile's key in the file.
	Name string `json:"-"`
	// Source is a credential reference, such as "file:#production" or
	// "vault:secret/data/mcp/aws" (see provider.ParseRef).
	Source string `json:"source,omitempty"`
	// Credentials are inline secret fields. A file holding any is held to
	// the credentials file's permission rule (no access by group or others).
	Credentials map[string]provider.Secret `json:"credentials,omitempty"`
	// Region is added to the credentials when their source has none.
	Region string `json:"region,omitempty"`
	// Settings are other non-secret fields added when the source lacks them.
	Settings map[string]string `json:"settings,omitempty"`
	// Description is for people reading the file.
	Description string `json:"description,omitempty"`
}

// File is a parsed profiles file. It is immutable.
type File struct {
	profiles map[string]Profile
}

type fileJSON struct {
	Schema   string             `json:"$schema,omitempty"`
	Profiles map[string]Profile `json:"profiles"`
}

// Parse parses a profiles file:
//
//	{
//	  "profiles": {
//	    "default": {"source": "env:", "region": "us-east-1"},
//	    "prod":    {"source": "file:#production", "region": "us-west-2"},
//	    "ops":     {"source": "keychain:mcpcred/ops"}
//	  }
//	}
//
// Unknown keys are errors, so a misspelt "sorce" is caught. Errors are
// [*provider.SyntaxError] values wrapping [ErrMalformed], with no Path (a
// [Provider] sets it); they give the line and column (for an invalid
// profile, those of its name), and never quote the file's contents.
func Parse(data []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var fj fileJSON
	if err := dec.Decode(&fj); err != nil {
		return nil, decodeError(data, dec, err)
	}
	if dec.More() {
		line, col := lineCol(data, dec.InputOffset())
		return nil, syntaxError(line, col, "unexpected data after the top-level object")
	}
	if fj.Profiles == nil {
		return nil, syntaxError(0, 0, `no "profiles" object`)
	}
	f := &File{profiles: make(map[string]Profile, len(fj.Profiles))}
	for _, name := range slices.Sorted(maps.Keys(fj.Profiles)) {
		p := fj.Profiles[name]
		p.Name = name
		if reason := validate(p); reason != "" {
			se := syntaxError(0, 0, "profile "+provider.Describe(name)+": "+reason)
			if off, ok := profileOffset(data, name); ok {
				se.Line, se.Column = lineCol(data, off+1)
			}
			return nil, se
		}
		f.profiles[name] = p
	}
	return f, nil
}

// validate returns what is wrong with p, or "".
func validate(p Profile) string {
	if err := provider.ValidName(p.Name, MaxNameLen); err != nil {
		return fmt.Sprintf("invalid name: %v", err)
	}
	switch {
	case p.Source == "" && len(p.Credentials) == 0:
		return `needs a "source" reference or inline "credentials"`
	case p.Source != "" && len(p.Credentials) > 0:
		return `has both "source" and "credentials"; use one`
	}
	if p.Source != "" {
		if _, err := provider.ParseRef(p.Source); err != nil {
			return fmt.Sprintf("source: %v", err)
		}
	}
	for k, v := range p.Credentials {
		if err := fieldName(k); err != nil {
			return fmt.Sprintf("credentials: %v", err)
		}
		if v.IsZero() {
			return fmt.Sprintf("credentials: field %s is empty", provider.Describe(k))
		}
	}
	for k := range p.Settings {
		if err := fieldName(k); err != nil {
			return fmt.Sprintf("settings: %v", err)
		}
	}
	if strings.ContainsFunc(p.Region, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) || len(p.Region) > 32 {
		return fmt.Sprintf("region %s is not an AWS-style region name", provider.Describe(p.Region))
	}
	return ""
}

// profileOffset returns the offset in data, a valid profiles file, of the
// name of profile name in the "profiles" object: its last occurrence, the
// one decoding keeps.
func profileOffset(data []byte, name string) (off int64, found bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, false
	}
	var skip json.RawMessage
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return off, found
		}
		if k, _ := key.(string); !strings.EqualFold(k, "profiles") { // as encoding/json matches field names
			if dec.Decode(&skip) != nil {
				return off, found
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return off, found
		}
		for dec.More() {
			start := dec.InputOffset() // just after the previous token
			key, err := dec.Token()
			if err != nil {
				return off, found
			}
			if key == name {
				if i := bytes.IndexByte(data[start:], '"'); i >= 0 {
					off, found = start+int64(i), true
				}
			}
			if dec.Decode(&skip) != nil {
				return off, found
			}
		}
		if _, err := dec.Token(); err != nil { // the closing '}'
			return off, found
		}
	}
	return off, found
}

func fieldName(k string) error {
	// A field name the file supplies must read as a name (securefile's
	// key rule), since Credentials print their field names: a token where
	// a field name belongs must never become one.
	if f, ok := securefile.FieldKey(k); !ok || f != k {
		return fmt.Errorf("field name %s must be 1-64 characters of a-z, 0-9 and _, in words such as access_key_id", provider.Describe(k))
	}
	return nil
}

// Get returns the named profile.
func (f *File) Get(name string) (Profile, bool) {
	p, ok := f.profiles[name]
	return p, ok
}

// Has reports whether the file defines the named profile.
func (f *File) Has(name string) bool {
	_, ok := f.profiles[name]
	return ok
}

// Names returns the profile names in sorted order.
func (f *File) Names() []string { return slices.Sorted(maps.Keys(f.profiles)) }

// HasSecrets reports whether any profile holds inline credentials.
func (f *File) HasSecrets() bool {
	for _, p := range f.profiles {
		if len(p.Credentials) > 0 {
			return true
		}
	}
	return false
}

// decodeError turns a json error into one with a line and column and no
// file content. encoding/json's own messages can quote a character of the
// input, or a value, so only their kind is kept.
func decodeError(data []byte, dec *json.Decoder, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		return syntaxError(line, col, "invalid JSON syntax")
	case errors.As(err, &typ):
		line, col := lineCol(data, typ.Offset)
		return syntaxError(line, col, fmt.Sprintf("%s must be a JSON %s, not %s", fieldPath(typ.Field), jsonKind(typ.Type.Kind().String()), typ.Value))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || err.Error() == "unexpected EOF":
		line, col := lineCol(data, int64(len(data)))
		return syntaxError(line, col, "unexpected end of file")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		line, col := lineCol(data, dec.InputOffset())
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		// The field arrives quoted by encoding/json; describe its text.
		if uq, err := strconv.Unquote(field); err == nil {
			field = uq
		}
		return syntaxError(line, col, "unknown key "+provider.Describe(field)+" (known: source, credentials, region, settings, description)")
	default:
		line, col := lineCol(data, dec.InputOffset())
		return syntaxError(line, col, "invalid value")
	}
}

func fieldPath(f string) string {
	if f == "" {
		return "the value"
	}
	return provider.Describe(f)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "string":
		return "string"
	}
	return goKind
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	// Offsets from encoding/json count the bytes read, the offending one
	// included, so the offset itself is that byte's 1-based column.
	col = max(int(off)-(bytes.LastIndexByte(before, '\n')+1), 1)
	return line, col
}
