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
	"unicode"
	"unicode/utf8"

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
	// Source is a credential reference, such as "file:production" or
	// "vault:secret/data/mcp/aws" (see provider.ParseRef), or a template
	// holding {sub} once, as a whole path segment of its body, which each
	// caller's subject replaces (see [SubjectPlaceholder]).
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
	// Allow names the verified callers of a remote server that may use the
	// profile. Without it the profile is offered only where there is no
	// verified caller (a stdio server); with it, only to the callers it
	// matches, and never on stdio. See [Profile.Allows].
	Allow *Allow `json:"allow,omitempty"`
}

// Allow is a profile's "allow" object: which verified callers
// ([provider.Caller]) may use the profile. Each list that is given narrows
// the callers; a caller must match every one of them, except that Subjects
// and Groups together are one condition (the subject is listed, or one of
// the caller's groups is):
//
//	"allow": {"issuers": ["https://idp.example.com"]}                   every user of that issuer
//	"allow": {"subjects": ["alice", "bob"], "issuers": ["https://idp.example.com"]}
//	"allow": {"groups": ["sre"], "clients": ["claude-desktop"]}          members of sre, through that client
//
// Every value is compared exactly (case included) with the caller's claim.
// A list that is given must not be empty, and "allow" must give at least one.
type Allow struct {
	// Subjects lists callers by their token's sub claim.
	Subjects []string `json:"subjects,omitempty"`
	// Groups lists groups (provider.Caller.Groups) whose members match.
	Groups []string `json:"groups,omitempty"`
	// Clients, if given, requires the caller's OAuth client
	// (provider.Caller.ClientID) to be one of them.
	Clients []string `json:"clients,omitempty"`
	// Issuers, if given, requires the caller's token issuer to be one of
	// them. Subjects are unique only within their issuer: name the issuer
	// whenever the server trusts more than one.
	Issuers []string `json:"issuers,omitempty"`
}

// Matches reports whether the verified caller c is one that a names. nil
// (no verified caller) and an invalid caller never match.
func (a *Allow) Matches(c *provider.Caller) bool {
	if a == nil || c == nil || c.Validate() != nil {
		return false
	}
	if a.Issuers != nil && !slices.Contains(a.Issuers, c.Issuer) {
		return false
	}
	if a.Clients != nil && (c.ClientID == "" || !slices.Contains(a.Clients, c.ClientID)) {
		return false
	}
	if a.Subjects == nil && a.Groups == nil {
		return true
	}
	return slices.Contains(a.Subjects, c.Subject) || slices.ContainsFunc(a.Groups, c.InGroup)
}

// Allows reports whether caller (nil where there is no verified caller, as
// on stdio) may use the profile. A profile without "allow" is offered only
// when caller is nil: a remote server, which serves many people, offers a
// profile only to the callers the operator named. A profile with "allow" is
// offered only to the verified callers it matches ([Allow.Matches]).
func (p Profile) Allows(caller *provider.Caller) bool {
	if p.Allow == nil {
		return caller == nil
	}
	return p.Allow.Matches(caller)
}

// PerSubject reports whether the profile's source is a template bound to
// the caller's subject (it holds [SubjectPlaceholder]).
func (p Profile) PerSubject() bool { return strings.Contains(p.Source, SubjectPlaceholder) }

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
//	    "prod":    {"source": "file:production", "region": "us-west-2"},
//	    "ops":     {"source": "keychain:mcpcred/ops"}
//	  }
//	}
//
// A profile may add "allow", the callers it is offered to (see [Allow]), and
// its source may be a per-subject template holding {sub} (see
// [SubjectPlaceholder]).
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
			if off, ok := keyOffset(data, "profiles", name); ok {
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
		if _, reason := parseTemplate(p.Source); reason != "" {
			return "source: " + reason
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
	if reason := validateAllow(p.Allow); reason != "" {
		return "allow: " + reason
	}
	if p.PerSubject() && (p.Allow == nil || len(p.Allow.Issuers) != 1) {
		// Subjects are unique only within their issuer: with two issuers,
		// two people could share one subject, and so one place.
		return `source: a per-subject source ({sub}) needs "allow" with exactly one of "issuers", since a subject is unique only within its issuer`
	}
	return ""
}

// validateAllow returns what is wrong with a, or "".
func validateAllow(a *Allow) string {
	if a == nil {
		return ""
	}
	if a.Subjects == nil && a.Groups == nil && a.Clients == nil && a.Issuers == nil {
		return `names no caller; give at least one of "subjects", "groups", "clients" and "issuers" (leave "allow" out to offer the profile on stdio only)`
	}
	for _, l := range []struct {
		key  string
		vals []string
	}{{"subjects", a.Subjects}, {"groups", a.Groups}, {"clients", a.Clients}, {"issuers", a.Issuers}} {
		if l.vals != nil && len(l.vals) == 0 {
			return fmt.Sprintf("%q is an empty list; leave it out, or name at least one", l.key)
		}
		for i, v := range l.vals {
			if why := claimValue(v); why != "" {
				return fmt.Sprintf("%q: entry %d %s", l.key, i+1, why)
			}
		}
	}
	return ""
}

// claimValue says why v cannot be compared with a caller's claim, or "".
func claimValue(v string) string {
	switch {
	case v == "":
		return "is empty"
	case len(v) > provider.MaxSubjectLen:
		return fmt.Sprintf("is longer than %d bytes", provider.MaxSubjectLen)
	case !utf8.ValidString(v):
		return "is not valid UTF-8"
	case strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return "holds control or invisible formatting characters"
	case strings.TrimSpace(v) != v:
		return "has leading or trailing white space"
	}
	return ""
}

// keyOffset returns the offset in data, a valid profiles file, of the key
// at path: "profiles", then a profile's name, then keys within it. Keys of
// the file's objects match as encoding/json matches field names (without
// regard to case); a profile's name matches exactly. It returns the last
// occurrence, the one decoding keeps.
func keyOffset(data []byte, path ...string) (off int64, found bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var skip json.RawMessage
	var object func(depth int) bool
	object = func(depth int) bool {
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return false
		}
		for dec.More() {
			start := dec.InputOffset() // just after the previous token
			key, err := dec.Token()
			if err != nil {
				return false
			}
			k, _ := key.(string)
			match := k == path[depth] || depth != 1 && strings.EqualFold(k, path[depth])
			switch {
			case match && depth == len(path)-1:
				if i := bytes.IndexByte(data[start:], '"'); i >= 0 {
					off, found = start+int64(i), true
				}
				if dec.Decode(&skip) != nil {
					return false
				}
			case match:
				if !object(depth + 1) {
					return false
				}
			default:
				if dec.Decode(&skip) != nil {
					return false
				}
			}
		}
		_, err := dec.Token() // the closing '}'
		return err == nil
	}
	if len(path) > 0 {
		object(0)
	}
	return off, found
}

// Known keys of the file's objects, for errors about unknown ones.
var knownKeys = map[string][]string{
	"file":    {"$schema", "profiles"},
	"profile": {"source", "credentials", "region", "settings", "description", "allow"},
	"allow":   {"subjects", "groups", "clients", "issuers"},
}

// unknownKey finds the first key, in document order, that encoding/json
// refuses as unknown: its offset and the kind of object holding it ("file",
// "profile" or "allow").
func unknownKey(data []byte) (off int64, object string, found bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	// value consumes one value whose object keys are checked as kind says
	// ("" for no check); it returns false when done or on an error.
	var value func(kind string) bool
	value = func(kind string) bool {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		switch t {
		case json.Delim('['):
			for dec.More() {
				if !value("") {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		case json.Delim('{'):
		default:
			return true
		}
		for dec.More() {
			start := dec.InputOffset()
			key, err := dec.Token()
			if err != nil {
				return false
			}
			k, _ := key.(string)
			child := ""
			switch kind {
			case "profiles":
				child = "profile"
			case "file", "profile", "allow":
				i := slices.IndexFunc(knownKeys[kind], func(known string) bool { return strings.EqualFold(k, known) })
				if i < 0 {
					if j := bytes.IndexByte(data[start:], '"'); j >= 0 {
						off, object, found = start+int64(j), kind, true
					}
					return false
				}
				switch knownKeys[kind][i] {
				case "profiles":
					child = "profiles"
				case "allow":
					child = "allow"
				}
			}
			if !value(child) {
				return false
			}
		}
		_, err = dec.Token()
		return err == nil
	}
	value("file")
	return off, object, found
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

// Allows reports whether the file defines the named profile and offers it
// to caller, nil where there is no verified caller ([Profile.Allows]).
func (f *File) Allows(caller *provider.Caller, name string) bool {
	p, ok := f.profiles[name]
	return ok && p.Allows(caller)
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
		where, known := "", "source, credentials, region, settings, description, allow"
		if _, object, ok := unknownKey(data); ok {
			known = strings.Join(knownKeys[object], ", ")
			switch object {
			case "file":
				where = " at the top level"
			case "profile":
				where = " in a profile"
			case "allow":
				where = ` in "allow"`
			}
		}
		return syntaxError(line, col, "unknown key "+provider.Describe(field)+where+" (known: "+known+")")
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
