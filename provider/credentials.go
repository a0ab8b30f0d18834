package provider

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// Canonical field names. Providers map their own spellings (for example the
// INI key aws_access_key_id or the variable AWS_ACCESS_KEY_ID) onto these;
// any other name is allowed and passed through.
const (
	FieldAccessKeyID     = "access_key_id"
	FieldSecretAccessKey = "secret_access_key"
	FieldSessionToken    = "session_token"
	FieldRegion          = "region"
	FieldToken           = "token"
	FieldUsername        = "username"
	FieldPassword        = "password"
)

// MaxFieldLen is the longest field name [ValidField] accepts.
const MaxFieldLen = 64

// ValidField reports whether s is a canonical-style field name: 1 to
// MaxFieldLen characters of a-z, 0-9 and '_', like access_key_id.
func ValidField(s string) bool {
	return s != "" && len(s) <= MaxFieldLen && strings.TrimLeft(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

// DefaultProfile is the profile name resolved when a request names none.
const DefaultProfile = "default"

// Source says where credentials came from. It never holds a secret value.
type Source struct {
	// Provider is the name of the provider that supplied the credentials,
	// such as "env" or "file".
	Provider string `json:"provider"`
	// Locator says where inside the provider: a file and section, a set of
	// variable names, a Vault path. It never holds a value.
	Locator string `json:"locator,omitempty"`
}

// String returns "provider (locator)".
func (s Source) String() string {
	if s.Locator == "" {
		return s.Provider
	}
	return s.Provider + " (" + s.Locator + ")"
}

// Credentials is a set of named secret fields plus where they came from and
// how long they are good for.
//
// Credentials are immutable: the field set is fixed by [NewCredentials], so a
// value can be cached and shared between goroutines. Printing, logging or
// JSON-encoding Credentials shows field names and metadata, never values.
type Credentials struct {
	fields map[string]Secret

	// Source is the provider and locator that supplied the fields.
	Source Source
	// FetchedAt is when the provider read the fields.
	FetchedAt time.Time
	// Expires is when the credentials stop being valid; the zero time means
	// they do not expire on their own.
	Expires time.Time
}

// NewCredentials returns Credentials holding a copy of fields. Empty values
// are dropped, so [Credentials.Has] means "present and non-empty".
func NewCredentials(fields map[string]string, src Source) Credentials {
	m := make(map[string]Secret, len(fields))
	for k, v := range fields {
		if v != "" {
			m[k] = NewSecret(v)
		}
	}
	return Credentials{fields: m, Source: src}
}

// NewCredentialsFromSecrets is [NewCredentials] for values already held as
// Secrets.
func NewCredentialsFromSecrets(fields map[string]Secret, src Source) Credentials {
	m := make(map[string]Secret, len(fields))
	for k, v := range fields {
		if !v.IsZero() {
			m[k] = v
		}
	}
	return Credentials{fields: m, Source: src}
}

// Get returns the named field, or an empty Secret.
func (c Credentials) Get(name string) Secret { return c.fields[name] }

// Value returns the named field's value in clear text. It is short for
// c.Get(name).Reveal().
func (c Credentials) Value(name string) string { return c.fields[name].Reveal() }

// Has reports whether the named field is present and non-empty.
func (c Credentials) Has(name string) bool { return !c.fields[name].IsZero() }

// Len returns the number of fields.
func (c Credentials) Len() int { return len(c.fields) }

// IsZero reports whether c has no fields.
func (c Credentials) IsZero() bool { return len(c.fields) == 0 }

// Names returns the field names in sorted order.
func (c Credentials) Names() []string { return slices.Sorted(maps.Keys(c.fields)) }

// Missing returns, in the order given, the names in required that c lacks.
func (c Credentials) Missing(required ...string) []string {
	var out []string
	for _, n := range required {
		if !c.Has(n) {
			out = append(out, n)
		}
	}
	return out
}

// Merge returns credentials holding c's fields overlaid by o's, keeping c's
// metadata. Neither input changes.
func (c Credentials) Merge(o Credentials) Credentials {
	m := make(map[string]Secret, len(c.fields)+len(o.fields))
	maps.Copy(m, c.fields)
	maps.Copy(m, o.fields)
	c.fields = m
	return c
}

// Equal reports whether c and o hold the same fields with the same values,
// comparing values in constant time; metadata (Source, FetchedAt, Expires)
// is not compared. Use it to tell whether a re-resolved credential is
// really a new one before retrying a call that a backend rejected.
func (c Credentials) Equal(o Credentials) bool {
	if len(c.fields) != len(o.fields) {
		return false
	}
	eq := true
	for n, v := range c.fields {
		w, ok := o.fields[n]
		// Compare every field, so the time taken does not say which differs.
		eq = v.Equal(w) && ok && eq
	}
	return eq
}

// Expired reports whether c has an expiry and it is not after now.
func (c Credentials) Expired(now time.Time) bool {
	return !c.Expires.IsZero() && !now.Before(c.Expires)
}

// String describes the credentials without their values, for example
// "credentials{access_key_id, secret_access_key} from env (AWS_*)".
func (c Credentials) String() string {
	var b strings.Builder
	b.WriteString("credentials{")
	b.WriteString(strings.Join(c.Names(), ", "))
	b.WriteString("}")
	if c.Source.Provider != "" {
		b.WriteString(" from ")
		b.WriteString(c.Source.String())
	}
	if !c.Expires.IsZero() {
		b.WriteString(" expires ")
		b.WriteString(c.Expires.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// GoString implements fmt.GoStringer for %#v.
func (c Credentials) GoString() string { return "provider.Credentials(" + c.String() + ")" }

// Format implements fmt.Formatter so that every verb redacts.
func (c Credentials) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, c.GoString())
	case verb == 'q':
		fmt.Fprintf(f, "%q", c.String())
	default:
		io.WriteString(f, c.String())
	}
}

type credentialsJSON struct {
	Fields    map[string]Secret `json:"fields"`
	Source    Source            `json:"source"`
	FetchedAt time.Time         `json:"fetched_at,omitzero"`
	Expires   time.Time         `json:"expires,omitzero"`
}

// MarshalJSON encodes the field names with redacted values, and the metadata.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(credentialsJSON{Fields: c.fields, Source: c.Source, FetchedAt: c.FetchedAt, Expires: c.Expires})
}

// LogValue implements slog.LogValuer: field names, source and expiry, no values.
func (c Credentials) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Any("fields", c.Names()),
		slog.String("source", c.Source.String()),
	}
	if !c.Expires.IsZero() {
		attrs = append(attrs, slog.Time("expires", c.Expires))
	}
	return slog.GroupValue(attrs...)
}
