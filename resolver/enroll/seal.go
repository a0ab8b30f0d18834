package enroll

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// A purpose names what a sealed value is for. Each purpose has its own key
// (HKDF of Options.Key with the purpose as info) and is the additional data
// of every value sealed for it, so a value sealed for one purpose never
// opens as another: a ticket is not a cookie, a login cookie is not a
// session cookie.
type purpose string

const (
	purposeTicket  purpose = "ticket"
	purposeLogin   purpose = "login-cookie"
	purposeSession purpose = "session-cookie"
	purposeConnect purpose = "connect-cookie"
	purposeCSRF    purpose = "csrf"
)

var purposes = []purpose{purposeTicket, purposeLogin, purposeSession, purposeConnect, purposeCSRF}

// sealVersion is the first byte of every sealed value; a later format
// takes another.
const sealVersion = 1

// maxSealed bounds the text open accepts, before decoding anything.
const maxSealed = 3072

// errSealed is any sealed value that does not open: forged, tampered,
// truncated, sealed with another key or for another purpose.
var errSealed = errors.New("enroll: the link or cookie is not valid")

// errExpired is a sealed value that opened and whose expiry has passed.
var errExpired = errors.New("enroll: the link has expired")

// sealer seals and opens values with keys derived from Options.Key; keys
// derived from Options.OldKeys still open.
type sealer struct {
	seal map[purpose]cipher.AEAD   // current key
	open map[purpose][]cipher.AEAD // current key first, then old keys
	now  func() time.Time
}

func newSealer(key []byte, old [][]byte, now func() time.Time) (*sealer, error) {
	s := &sealer{seal: map[purpose]cipher.AEAD{}, open: map[purpose][]cipher.AEAD{}, now: now}
	for i, k := range append([][]byte{key}, old...) {
		if len(k) < MinKeyLen {
			if i == 0 {
				return nil, errors.New("enroll: Options.Key must be at least 32 bytes (random, the same on every replica)")
			}
			return nil, errors.New("enroll: every key of Options.OldKeys must be at least 32 bytes")
		}
		for _, p := range purposes {
			a, err := derive(k, p)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				s.seal[p] = a
			}
			s.open[p] = append(s.open[p], a)
		}
	}
	return s, nil
}

func derive(key []byte, p purpose) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, key, nil, "mcpcred enroll v1 "+string(p), 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func additionalData(p purpose) []byte { return []byte("mcpcred enroll v1\x00" + string(p)) }

// sealValue seals v (JSON) for p, valid until exp: base64url (no padding)
// of version, nonce, and the AES-256-GCM ciphertext of exp (Unix seconds,
// 8 bytes) followed by v's JSON.
func (s *sealer) sealValue(p purpose, exp time.Time, v any) (string, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	a := s.seal[p]
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(body)), uint64(exp.Unix()))
	plain = append(plain, body...)
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return "", err
	}
	out = a.Seal(out, out[1:], plain, additionalData(p))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// openValue opens text sealed for p into v. It returns errSealed for
// anything that does not open with a current or old key for p, and
// errExpired when it opens and its expiry is not after now. It returns the
// value's expiry.
func (s *sealer) openValue(p purpose, text string, v any) (time.Time, error) {
	if text == "" || len(text) > maxSealed {
		return time.Time{}, errSealed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(text)
	if err != nil {
		return time.Time{}, errSealed
	}
	for _, a := range s.open[p] {
		n := a.NonceSize()
		if len(raw) < 1+n+a.Overhead()+8 || raw[0] != sealVersion {
			return time.Time{}, errSealed
		}
		plain, err := a.Open(nil, raw[1:1+n], raw[1+n:], additionalData(p))
		if err != nil {
			continue
		}
		sec := binary.BigEndian.Uint64(plain[:8])
		if sec == 0 || sec > 1<<40 {
			return time.Time{}, errSealed
		}
		exp := time.Unix(int64(sec), 0)
		if !s.now().Before(exp) {
			return exp, errExpired
		}
		if err := json.Unmarshal(plain[8:], v); err != nil {
			return time.Time{}, errSealed
		}
		return exp, nil
	}
	return time.Time{}, errSealed
}
