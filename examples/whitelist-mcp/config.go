package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
)

// config is the server's configuration, read from the environment once at
// start. README.md says what each variable does.
type config struct {
	DryRun                  bool   // --dry-run or WHITELIST_DRY_RUN
	AllowRequestCredentials bool   // MCP_ALLOW_REQUEST_CREDENTIALS; default false
	ActiveProfile           string // MCP_ACTIVE_PROFILE; default "default"
	CredentialSource        string // MCP_CREDENTIAL_SOURCE: "" (env, file, keychain) or "docker-secrets" (env, file, /run/secrets)
	SecretsDir              string // MCP_SECRETS_DIR; default /run/secrets
	Endpoint                string // AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
	LogLevel                slog.Level
	MinPrefix               prefixLimit // WHITELIST_MIN_PREFIX_V4 (default 16), WHITELIST_MIN_PREFIX_V6 (default 48)

	// AllowedReferences are MCP_ALLOWED_REFERENCES's patterns of what a
	// credential_id may read, and ReferencePolicy the policy they make
	// (nil: credential_id is refused).
	AllowedReferences []string
	ReferencePolicy   *provider.RefPolicy

	// Region is used when neither the call nor its credentials name one:
	// AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1. RegionFrom is
	// the variable it came from, for messages.
	Region, RegionFrom string

	Getenv  func(string) string // reads the environment, for the providers too
	Environ func() []string     // lists it, for env:PREFIX_* references; nil lists nothing
	keyring keychain.Keyring    // replaces the OS keychain in tests
}

const defaultRegion = "us-east-1"

// loadConfig reads the configuration through getenv.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{Getenv: getenv, Region: defaultRegion, RegionFrom: "default",
		MinPrefix: prefixLimit{V4: defaultMinPrefixV4, V6: defaultMinPrefixV6}}
	var err error
	if c.MinPrefix.V4, err = intVar(getenv, "WHITELIST_MIN_PREFIX_V4", defaultMinPrefixV4, 1, 32); err != nil {
		return c, err
	}
	if c.MinPrefix.V6, err = intVar(getenv, "WHITELIST_MIN_PREFIX_V6", defaultMinPrefixV6, 1, 128); err != nil {
		return c, err
	}
	if c.DryRun, err = boolVar(getenv, "WHITELIST_DRY_RUN", false); err != nil {
		return c, err
	}
	if c.AllowRequestCredentials, err = boolVar(getenv, "MCP_ALLOW_REQUEST_CREDENTIALS", false); err != nil {
		return c, err
	}
	if getenv("MCP_ALLOWED_PROFILES") != "" {
		return c, errors.New("MCP_ALLOWED_PROFILES is no longer read: a call may name the profiles defined in the profiles file " +
			"(MCP_PROFILES_PATH, default ~/.mcp/profiles.json); define them there and unset MCP_ALLOWED_PROFILES")
	}
	if c.ActiveProfile, err = profile.ActiveProfile(getenv); err != nil {
		return c, err
	}
	if c.AllowedReferences, c.ReferencePolicy, err = referencePatterns(getenv("MCP_ALLOWED_REFERENCES")); err != nil {
		return c, err
	}
	switch c.CredentialSource = getenv("MCP_CREDENTIAL_SOURCE"); c.CredentialSource {
	case "", "docker-secrets":
	default:
		return c, fmt.Errorf(`MCP_CREDENTIAL_SOURCE=%s: want "docker-secrets" or unset`, provider.Describe(c.CredentialSource))
	}
	c.SecretsDir = getenv("MCP_SECRETS_DIR")
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v := getenv(name); v != "" {
			if err := validateRegion(v, name); err != nil {
				return c, err
			}
			c.Region, c.RegionFrom = v, name
			break
		}
	}
	if ignore, err := boolVar(getenv, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", false); err != nil {
		return c, err
	} else if !ignore {
		for _, name := range []string{"AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL"} {
			if v := getenv(name); v != "" {
				if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return c, fmt.Errorf("%s is not an http(s) URL", name)
				}
				c.Endpoint = v
				break
			}
		}
	}
	if v := getenv("WHITELIST_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("WHITELIST_LOG_LEVEL=%s: want debug, info, warn or error", provider.Describe(v))
		}
	}
	return c, nil
}

// referencePatterns parses MCP_ALLOWED_REFERENCES: comma-separated
// provider.RefPolicy patterns of what a credential_id may read
// ("env:MCP_CI_*", "file:/home/u/.mcp/credentials/*",
// "secretfile:/run/secrets/*", "keychain:mcpcred/*"). A pattern that can
// never cover what a reference of this server reads is refused here, so
// that a policy written against reference text (file:*, file:staging,
// secretfile:/run/secrets#*) fails at start instead of silently allowing
// nothing.
func referencePatterns(v string) ([]string, *provider.RefPolicy, error) {
	var pats []string
	for pat := range strings.SplitSeq(v, ",") {
		if pat = strings.TrimSpace(pat); pat != "" {
			pats = append(pats, pat)
		}
	}
	if len(pats) == 0 {
		return nil, nil, nil
	}
	pol, err := provider.NewRefPolicy(pats...)
	if err != nil {
		return nil, nil, fmt.Errorf("MCP_ALLOWED_REFERENCES: %w", err)
	}
	var errs []error
	for _, pat := range pats {
		if err := checkPattern(pat); err != nil {
			errs = append(errs, fmt.Errorf("MCP_ALLOWED_REFERENCES: pattern %q %w", pat, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return pats, pol, nil
}

// referenceSchemes are the reference schemes the server serves;
// credentialSchemes registers exactly these.
func referenceSchemes() []string { return []string{"env", "file", "keychain", "secretfile"} }

// checkPattern reports why a pattern that provider.NewRefPolicy accepts
// can never cover a resource that a reference of this server reads. The
// pattern is the operator's configuration, not request input.
func checkPattern(pat string) error {
	scheme, body, _ := strings.Cut(pat, ":")
	if !slices.Contains(referenceSchemes(), scheme) {
		return fmt.Errorf("names the scheme %s, which this server does not serve (it serves %s)", scheme, strings.Join(referenceSchemes(), ", "))
	}
	if body == "**" {
		return nil
	}
	if strings.ContainsAny(body, "#?") {
		return fmt.Errorf(`holds "#" or "?": patterns name what a reference reads, not how it is written; %s`, patternHint(scheme))
	}
	switch scheme {
	case "file", "secretfile":
		if !strings.HasPrefix(body, "/") {
			return fmt.Errorf("is not an absolute path, so it covers nothing: %s", patternHint(scheme))
		}
	case "keychain":
		if !strings.Contains(body, "/") {
			return fmt.Errorf("has no SERVICE/ part, so it covers nothing: %s", patternHint(scheme))
		}
	case "env":
		if strings.Contains(body, "/") {
			return fmt.Errorf(`holds "/", which no variable name does: %s`, patternHint(scheme))
		}
	}
	return nil
}

// patternHint says what a pattern of scheme names, with an example.
func patternHint(scheme string) string {
	return map[string]string{
		"env":        "an env: pattern names variables, such as env:MCP_CI_* or env:GITHUB_TOKEN",
		"file":       "a file: pattern names a file's absolute path followed by a section, such as file:/home/u/.mcp/credentials/* for every section of that file",
		"secretfile": "a secretfile: pattern names a directory's absolute path followed by an entry, such as secretfile:/run/secrets/* for every entry of /run/secrets",
		"keychain":   "a keychain: pattern names SERVICE/PROFILE, such as keychain:mcpcred/* for every profile under the default service prefix",
	}[scheme]
}

func boolVar(getenv func(string) string, name string, def bool) (bool, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, fmt.Errorf("%s=%s: want true or false", name, provider.Describe(v))
	}
	return b, nil
}

// intVar reads an integer variable in [min, max].
func intVar(getenv func(string) string, name string, def, min, max int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return def, fmt.Errorf("%s=%s: want a prefix length from %d to %d (default %d)", name, provider.Describe(v), min, max, def)
	}
	return n, nil
}
