package provider

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Redacted is what every rendering of a non-empty [Secret] prints instead of
// its value.
const Redacted = "[REDACTED]"

// Secret holds one sensitive value. Every way Go prints or encodes a value
// through its methods (fmt verbs including %v, %+v, %#v, %q and %x, String,
// GoString, encoding/json, encoding/xml, encoding/gob,
// encoding.TextMarshaler, log/slog) yields [Redacted]; only [Secret.Reveal]
// returns the value.
//
// Printers that bypass methods and walk memory by reflection — fmt on an
// unexported struct field, go-spew with methods disabled (testify's failure
// diffs), reflection-based deep printers — find no value either: a Secret
// stores its value masked, encrypted under a key drawn from crypto/rand once
// per process, as the text "masked:" followed by base64. Reveal unmasks it.
// The stored form means nothing to another process; string(s) and len(s) are
// those of the stored form, never of the value. Masking keeps values out of
// dumps and logs; it is no defence against reading the process's memory,
// which holds the key too.
//
// A Secret is a string type so that JSON-schema generators, including the
// MCP Go SDK's, describe a Secret field as the string it is on the wire. Make
// Secrets with [NewSecret], or by decoding JSON or text into one; both mask.
// Converting a string, as in Secret(v) or an untyped constant assigned to a
// Secret, gives a Secret that works but holds v unmasked.
//
// The zero Secret is empty. Secrets are immutable, cheap to copy (copying
// never allocates) and safe for concurrent use. Within one process, Secrets
// made from the same value hold the same masked text, so == and
// reflect.DeepEqual compare values; [Secret.Equal] does so in constant time
// and also accepts converted Secrets.
type Secret string

// maskPrefix starts the stored form of every masked Secret, so that a person
// reading a reflection dump knows what the text is.
const maskPrefix = "masked:"

// maskIVLen is the length of the synthetic IV that precedes the ciphertext
// in the stored form.
const maskIVLen = aes.BlockSize

// masker holds the per-process keys. It is made once, on first use, and
// never changes after.
type masker struct {
	block  cipher.Block // AES-256 under a random key
	macKey []byte       // HMAC-SHA256 key for the synthetic IV
}

var processMasker = sync.OnceValue(func() *masker {
	key := make([]byte, 32+32)
	rand.Read(key) // never fails: crypto/rand aborts the program if the OS cannot supply randomness
	block, err := aes.NewCipher(key[:32])
	if err != nil {
		panic("provider: " + err.Error()) // unreachable: the key is 32 bytes
	}
	return &masker{block: block, macKey: key[32:]}
})

// iv returns the synthetic IV of v: the first maskIVLen bytes of
// HMAC-SHA256(macKey, v). It makes masking deterministic (equal values, equal
// stored forms) and authenticates the stored form on Reveal.
func (m *masker) iv(v []byte) []byte {
	h := hmac.New(sha256.New, m.macKey)
	h.Write(v)
	return h.Sum(nil)[:maskIVLen]
}

func (m *masker) mask(v string) string {
	raw := make([]byte, maskIVLen+len(v))
	ct := raw[maskIVLen:]
	copy(ct, v)
	iv := m.iv(ct)
	copy(raw, iv)
	cipher.NewCTR(m.block, iv).XORKeyStream(ct, ct)
	out := maskPrefix + base64.RawURLEncoding.EncodeToString(raw)
	clear(raw)
	return out
}

// unmask returns the value masked in s, and false if s is not a stored form
// this process made.
func (m *masker) unmask(s string) (string, bool) {
	enc, ok := strings.CutPrefix(s, maskPrefix)
	if !ok {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) <= maskIVLen {
		return "", false
	}
	iv, pt := raw[:maskIVLen], raw[maskIVLen:]
	cipher.NewCTR(m.block, iv).XORKeyStream(pt, pt)
	ok = hmac.Equal(m.iv(pt), iv)
	var v string
	if ok {
		v = string(pt)
	}
	clear(raw)
	return v, ok
}

// NewSecret returns a Secret holding v, masked.
func NewSecret(v string) Secret {
	if v == "" {
		return ""
	}
	return Secret(processMasker().mask(v))
}

// Reveal returns the secret value. Call it only where the value leaves the
// program for its intended recipient (a signer, an HTTP header).
func (s Secret) Reveal() string {
	if s == "" {
		return ""
	}
	if v, ok := processMasker().unmask(string(s)); ok {
		return v
	}
	return string(s) // converted from a string, not masked
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

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

// MarshalText implements encoding.TextMarshaler with [Redacted]. It is also
// what encoding/xml writes.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// UnmarshalJSON reads a JSON string (or null, for the empty secret) into the
// secret, masked, so request structs can hold Secrets directly. Decoding
// errors never quote the input.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v *string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("provider: secret must be a JSON string")
	}
	if v == nil {
		*s = ""
		return nil
	}
	*s = NewSecret(*v)
	return nil
}

// UnmarshalText implements encoding.TextUnmarshaler: it stores text, masked.
// encoding/xml decodes through it.
func (s *Secret) UnmarshalText(text []byte) error {
	*s = NewSecret(string(text))
	return nil
}

// GobEncode implements gob.GobEncoder with [Redacted]: encoding/gob ignores
// MarshalText and would otherwise write the stored form.
func (s Secret) GobEncode() ([]byte, error) { return []byte(s.redacted()), nil }

// GobDecode implements gob.GobDecoder: it stores the bytes, masked.
func (s *Secret) GobDecode(b []byte) error {
	*s = NewSecret(string(b))
	return nil
}

// LogValue implements slog.LogValuer with [Redacted].
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }
