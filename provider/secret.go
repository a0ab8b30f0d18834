package provider

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what every rendering of a non-empty [Secret] prints instead of
// its value.
const Redacted = "[REDACTED]"

// Secret holds one sensitive value. Every way Go prints or encodes a value
// (fmt verbs including %v, %+v, %#v, %q and %x, String, GoString,
// encoding/json, encoding.TextMarshaler, log/slog) yields [Redacted]; only
// [Secret.Reveal] returns the value.
//
// The value lives behind a pointer, so even a Secret stored in an unexported
// field of another struct — which fmt prints by reflection, without calling
// methods — shows up as an address, never as its text.
//
// The zero Secret is empty. Secrets are immutable and safe for concurrent use.
// Compare them with [Secret.Equal], which runs in constant time.
type Secret struct {
	p *string
}

// NewSecret returns a Secret holding v.
func NewSecret(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{p: &v}
}

// Reveal returns the secret value. Call it only where the value leaves the
// program for its intended recipient (a signer, an HTTP header).
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.p == nil || *s.p == "" }

// Equal reports whether s and o hold the same value, in time that does not
// depend on where they differ.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(o.Reveal())) == 1
}

func (s Secret) redacted() string {
	if s.IsZero() {
		return ""
	}
	return Redacted
}

// String returns [Redacted], or "" for an empty secret.
func (s Secret) String() string { return s.redacted() }

// GoString implements fmt.GoStringer for %#v.
func (s Secret) GoString() string {
	return fmt.Sprintf("provider.Secret(%q)", s.redacted())
}

// Format implements fmt.Formatter so that every verb and flag redacts.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, s.GoString())
	case verb == 'q':
		fmt.Fprintf(f, "%q", s.redacted())
	default:
		io.WriteString(f, s.redacted())
	}
}

// MarshalJSON encodes the secret as the JSON string [Redacted].
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.redacted()) }

// MarshalText implements encoding.TextMarshaler with [Redacted].
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// UnmarshalJSON reads a JSON string into the secret, so request structs can
// hold Secrets directly. Decoding errors never quote the input.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v *string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("provider: secret must be a JSON string")
	}
	if v == nil {
		*s = Secret{}
		return nil
	}
	*s = NewSecret(*v)
	return nil
}

// LogValue implements slog.LogValuer with [Redacted].
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }
