package enroll

import (
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// The environment variables [ReadEnv] reads.
const (
	// EnvURL is Options.BaseURL; unset means no enrollment.
	EnvURL = "MCP_ENROLL_URL"
	// EnvKey is Options.Key: base64 (standard or URL alphabet, padded or
	// not) of at least 32 random bytes, the same on every replica.
	EnvKey = "MCP_ENROLL_KEY"
	// EnvKeyFile names a file (mode 0600 or stricter) holding EnvKey's
	// value, instead of EnvKey.
	EnvKeyFile = "MCP_ENROLL_KEY_FILE"
	// EnvClientID and EnvClientSecret are Options.ClientID and
	// ClientSecret: this server's web client at the issuer of
	// MCP_OAUTH_ISSUER, with redirect URI MCP_ENROLL_URL + "/callback".
	EnvClientID     = "MCP_ENROLL_CLIENT_ID"
	EnvClientSecret = "MCP_ENROLL_CLIENT_SECRET"
	// EnvLedger is the reference prefix of [StoreLedger], such as
	// vault:secret/data/mcpcred/used/; unset means [MemoryLedger], for a
	// server that runs as one replica.
	EnvLedger = "MCP_ENROLL_LEDGER"
)

// Config is what [ReadEnv] reads: the parts of [Options] an operator
// configures.
type Config struct {
	BaseURL      string
	Key          []byte
	ClientID     string
	ClientSecret string
	Ledger       string // a reference prefix; "" for MemoryLedger
}

// Enabled reports whether enrollment is configured (EnvURL is set).
func (c Config) Enabled() bool { return c.BaseURL != "" }

// NewLedger returns StoreLedger(s, c.Ledger), or MemoryLedger when
// c.Ledger is empty.
func (c Config) NewLedger(s *provider.Schemes) Ledger {
	if c.Ledger == "" {
		return MemoryLedger()
	}
	return StoreLedger(s, c.Ledger)
}

// maxKeyFile bounds the key file.
const maxKeyFile = 4096

// ReadEnv reads a Config through getenv (os.Getenv, or a test's). With
// EnvURL unset it returns the zero Config (not Enabled), and an error if
// another MCP_ENROLL_ variable is set. Errors name the variable that is
// wrong, never its value.
func ReadEnv(getenv func(string) string) (Config, error) {
	c := Config{BaseURL: getenv(EnvURL), ClientID: getenv(EnvClientID), ClientSecret: getenv(EnvClientSecret), Ledger: getenv(EnvLedger)}
	key, keyFile := getenv(EnvKey), getenv(EnvKeyFile)
	if c.BaseURL == "" {
		for _, v := range []string{EnvKey, EnvKeyFile, EnvClientID, EnvClientSecret, EnvLedger} {
			if getenv(v) != "" {
				return Config{}, errors.New("enroll: " + v + " is set but " + EnvURL + " is not: set " + EnvURL + " to enable enrollment, or unset " + v)
			}
		}
		return Config{}, nil
	}
	if err := checkURL(EnvURL, c.BaseURL, false); err != nil {
		return Config{}, err
	}
	switch {
	case key != "" && keyFile != "":
		return Config{}, errors.New("enroll: set one of " + EnvKey + " and " + EnvKeyFile + ", not both")
	case keyFile != "":
		text, err := readKeyFile(keyFile)
		if err != nil {
			return Config{}, err
		}
		key = text
	case key == "":
		return Config{}, errors.New("enroll: " + EnvURL + " needs " + EnvKey + " (base64 of at least 32 random bytes, such as the output of openssl rand -base64 32) or " + EnvKeyFile)
	}
	b, ok := decodeKey(key)
	if !ok {
		what := EnvKey
		if keyFile != "" {
			what = "the file of " + EnvKeyFile
		}
		return Config{}, errors.New("enroll: " + what + " must be base64 of at least 32 bytes")
	}
	c.Key = b
	if c.ClientID == "" {
		return Config{}, errors.New("enroll: " + EnvURL + " needs " + EnvClientID + " (this server's web client at the OpenID issuer)")
	}
	if c.Ledger != "" {
		if _, err := provider.ParseRef(c.Ledger + "00000000000000000000000000000000"); err != nil {
			return Config{}, errors.New("enroll: " + EnvLedger + " must be a reference prefix, such as vault:secret/data/mcpcred/used/")
		}
	}
	return c, nil
}

func decodeKey(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, len(b) >= MinKeyLen
		}
	}
	return nil, false
}

// readKeyFile reads the key file, which must be private to its owner.
func readKeyFile(path string) (string, error) {
	bad := func(why string) error { return errors.New("enroll: " + EnvKeyFile + ": " + why) }
	if !filepath.IsAbs(path) {
		return "", bad("must be an absolute path")
	}
	real, problem, err := securefile.CheckPath(path)
	if err != nil {
		return "", bad("cannot be read")
	}
	if problem != nil {
		return "", bad("a directory on the way to the file can be changed by others")
	}
	f, err := os.Open(real)
	if err != nil {
		return "", bad("cannot be read")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", bad("is not a regular file")
	}
	if securefile.CheckInfo(real, fi, securefile.Private) != nil {
		return "", bad("must not be accessible by group or others (chmod 600) and must be owned by this user")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil || len(b) > maxKeyFile {
		return "", bad("cannot be read, or is larger than 4096 bytes")
	}
	return string(b), nil
}
