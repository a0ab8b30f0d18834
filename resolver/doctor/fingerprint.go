package doctor

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"

	"github.com/mcpcred/mcpcred/provider"
)

// EnvFingerprintKey names the variable [FingerprinterFromEnv] reads: a key
// shared by the runs whose fingerprints should agree.
const EnvFingerprintKey = "MCPCRED_FINGERPRINT_KEY"

// fingerprintLen is the number of hex digits of a fingerprint: 48 bits,
// plenty to tell the values of one configuration apart.
const fingerprintLen = 12

// A Fingerprinter gives short keyed hashes of secret values, so that an
// operator can tell two values apart without seeing either. It is safe for
// concurrent use.
type Fingerprinter struct {
	key []byte
}

// NewFingerprinter returns a Fingerprinter keyed by key. An empty key means
// a random one, drawn now: its fingerprints compare values within one run
// only.
func NewFingerprinter(key []byte) *Fingerprinter {
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key) // never fails: crypto/rand aborts the program if the OS cannot supply randomness
	} else {
		key = append([]byte(nil), key...)
	}
	return &Fingerprinter{key: key}
}

// FingerprinterFromEnv returns a Fingerprinter keyed by the variable
// [EnvFingerprintKey] when it is set, so that runs sharing it agree, and a
// random key otherwise. The second result says whether the key came from
// the environment. getenv nil means os.Getenv.
func FingerprinterFromEnv(getenv func(string) string) (*Fingerprinter, bool) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if k := getenv(EnvFingerprintKey); k != "" {
		return NewFingerprinter([]byte(k)), true
	}
	return NewFingerprinter(nil), false
}

// Of returns the fingerprint of s: "hmac:" and the first 12 hex digits of
// HMAC-SHA256(key, value). The empty secret has the empty fingerprint.
func (f *Fingerprinter) Of(s provider.Secret) string {
	if f == nil || s.IsZero() {
		return ""
	}
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(s.Reveal()))
	return "hmac:" + hex.EncodeToString(m.Sum(nil))[:fingerprintLen]
}

// credentials returns the fingerprint of each field of c, or nil.
func (f *Fingerprinter) credentials(c provider.Credentials) map[string]string {
	if f == nil || c.IsZero() {
		return nil
	}
	out := make(map[string]string, c.Len())
	for _, n := range c.Names() {
		out[n] = f.Of(c.Get(n))
	}
	return out
}
