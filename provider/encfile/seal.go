package encfile

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mcpcred/mcpcred/internal/securefile"
)

// The file format, version 1:
//
//	magic    "MCEF"            4 bytes
//	version  0x01              1 byte
//	nonce                      12 random bytes, new for every write
//	sealed                     AES-256-GCM of the plaintext, with its 16-byte tag
//
// The plaintext is the JSON object of the fields ({"token":"..."}); the
// additional data is the 5-byte header followed by the file's absolute,
// cleaned path, so that a file opens only under the name it was written
// as.
const (
	magic     = "MCEF"
	version   = 1
	headerLen = len(magic) + 1
	nonceLen  = 12
	// Overhead is the number of bytes a file holds beyond the JSON of its
	// fields: header, nonce and GCM tag.
	Overhead = headerLen + nonceLen + 16
)

func header() []byte { return append([]byte(magic), version) }

// seal encrypts fields for the file at path.
func seal(aead cipher.AEAD, path string, fields map[string]string) ([]byte, error) {
	pt, err := json.Marshal(fields)
	if err != nil {
		return nil, errors.New("encfile: cannot encode the fields")
	}
	defer clear(pt)
	out := make([]byte, headerLen+nonceLen, headerLen+nonceLen+len(pt)+aead.Overhead())
	copy(out, header())
	if _, err := rand.Read(out[headerLen:]); err != nil {
		return nil, fmt.Errorf("encfile: no random nonce: %w", err)
	}
	return aead.Seal(out, out[headerLen:headerLen+nonceLen], pt, additional(path)), nil
}

// unseal decrypts data, the content of the file at path. Its errors name
// no content.
func unseal(aead cipher.AEAD, path string, data []byte) (map[string]string, error) {
	if len(data) < Overhead || !bytes.HasPrefix(data, []byte(magic)) {
		return nil, wrapMsg(fmt.Sprintf("encfile: not an encfile file (%d bytes, no MCEF header)", len(data)), ErrFormat)
	}
	if v := data[len(magic)]; v != version {
		return nil, wrapMsg(fmt.Sprintf("encfile: file format version %d, but this package reads version %d", v, version), ErrFormat)
	}
	pt, err := aead.Open(nil, data[headerLen:headerLen+nonceLen], data[headerLen+nonceLen:], additional(path))
	if err != nil {
		return nil, ErrCannotOpen
	}
	defer clear(pt)
	var fields map[string]string
	dec := json.NewDecoder(bytes.NewReader(pt))
	if err := dec.Decode(&fields); err != nil || dec.More() || fields == nil {
		// Authenticated, so written with this key: not by this package.
		return nil, wrapMsg("encfile: the file opens under the key but does not hold a JSON object of strings", ErrFormat)
	}
	return fields, nil
}

func additional(path string) []byte { return append(header(), path...) }

// newAEAD returns AES-256-GCM under key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, wrapMsg(fmt.Sprintf("encfile: the key is %d bytes; it must be %d", len(key), KeySize), ErrBadKey)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, wrapMsg("encfile: "+err.Error(), ErrBadKey)
	}
	return cipher.NewGCM(block)
}

// loadKey finds the key: Options.Key, else MCPCRED_ENCFILE_KEY, else the
// file MCPCRED_ENCFILE_KEY_FILE names.
func loadKey(o *Options) (cipher.AEAD, error) {
	if o.Key != nil {
		return newAEAD(o.Key)
	}
	if v := o.Getenv(EnvKey); v != "" {
		key, err := decodeKey(v)
		if err != nil {
			return nil, wrapMsg(fmt.Sprintf("encfile: %s %s", EnvKey, err), ErrBadKey)
		}
		defer clear(key)
		return newAEAD(key)
	}
	if path := o.Getenv(EnvKeyFile); path != "" {
		f := securefile.New(securefile.Options{Path: path, MaxSize: 4096, Policy: securefile.Private, Prefix: "encfile: ", What: "key file"},
			func(b []byte) ([]byte, error) {
				key, err := decodeKey(string(b))
				if err != nil {
					return nil, fmt.Errorf("encfile: the key file %s %w", path, err)
				}
				return key, nil
			})
		key, err := f.Load()
		if err != nil {
			errs := []error{ErrBadKey}
			if errors.Is(err, ErrInsecurePermissions) {
				errs = append(errs, ErrInsecurePermissions)
			}
			return nil, wrapMsg(fmt.Sprintf("encfile: %s: %s", EnvKeyFile, strings.TrimPrefix(err.Error(), "encfile: ")), errs...)
		}
		defer clear(key)
		return newAEAD(key)
	}
	return nil, wrapMsg(fmt.Sprintf("encfile: no key: set Options.Key, %s (base64 of %d random bytes, such as the output of: head -c %d /dev/urandom | base64) or %s (a file of mode 0600 holding that base64)",
		EnvKey, KeySize, KeySize, EnvKeyFile), ErrNoKey)
}

// decodeKey decodes base64 (standard or URL alphabet, padded or not) of
// KeySize bytes, around white space. Its errors never quote s.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != KeySize {
				clear(key)
				return nil, fmt.Errorf("is base64 of %d bytes; the key must be %d random bytes", len(key), KeySize)
			}
			return key, nil
		}
	}
	return nil, fmt.Errorf("is not base64 (%d bytes); give %d random bytes in base64, such as the output of: head -c %d /dev/urandom | base64", len(s), KeySize, KeySize)
}
