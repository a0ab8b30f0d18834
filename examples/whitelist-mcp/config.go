package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// config is the server's configuration, read from the environment once at
// start. README.md says what each variable does.
type config struct {
	mcptool.Env                          // MCP_ALLOW_REQUEST_CREDENTIALS, MCP_ALLOWED_REFERENCES, MCP_ACTIVE_PROFILE
	DryRun           bool                // --dry-run or WHITELIST_DRY_RUN
	CredentialSource string              // MCP_CREDENTIAL_SOURCE: "" (env, file, keychain) or "docker-secrets" (env, file, /run/secrets)
	SecretsDir       string              // MCP_SECRETS_DIR; default /run/secrets
	Endpoint         string              // AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
	Region           string              // AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1: for calls that name none
	RegionFrom       string              // the variable Region came from, for messages
	MinPrefix        prefixLimit         // WHITELIST_MIN_PREFIX_V4, WHITELIST_MIN_PREFIX_V6
	LogLevel         slog.Level          // WHITELIST_LOG_LEVEL
	Getenv           func(string) string // reads the environment, for the providers too
	Environ          func() []string     // lists it, for env:PREFIX_* references; nil lists nothing
	keyring          keychain.Keyring    // replaces the OS keychain in tests
}

// loadConfig reads the configuration through getenv.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{Getenv: getenv, Region: "us-east-1", RegionFrom: "default"}
	var err error
	if getenv("MCP_ALLOWED_PROFILES") != "" {
		return c, errors.New("MCP_ALLOWED_PROFILES is no longer read: a call may name the profiles defined in the profiles file " +
			"(MCP_PROFILES_PATH, default ~/.mcp/profiles.json); define them there and unset MCP_ALLOWED_PROFILES")
	}
	if c.Env, err = mcptool.ReadEnv(getenv); err != nil {
		return c, err
	}
	if c.MinPrefix.V4, err = intVar(getenv, "WHITELIST_MIN_PREFIX_V4", defaultMinPrefixV4, 32); err != nil {
		return c, err
	}
	if c.MinPrefix.V6, err = intVar(getenv, "WHITELIST_MIN_PREFIX_V6", defaultMinPrefixV6, 128); err != nil {
		return c, err
	}
	if c.DryRun, err = boolVar(getenv, "WHITELIST_DRY_RUN"); err != nil {
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
			c.Region, c.RegionFrom = v, name
			if err := validateRegion(v, name); err != nil {
				return c, err
			}
			break
		}
	}
	ignore, err := boolVar(getenv, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	if err != nil {
		return c, err
	}
	for _, name := range []string{"AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL"} {
		if v := getenv(name); v != "" && !ignore {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return c, fmt.Errorf("%s is not an http(s) URL", name)
			}
			c.Endpoint = v
			break
		}
	}
	if v := getenv("WHITELIST_LOG_LEVEL"); v != "" && c.LogLevel.UnmarshalText([]byte(v)) != nil {
		return c, fmt.Errorf("WHITELIST_LOG_LEVEL=%s: want debug, info, warn or error", provider.Describe(v))
	}
	return c, nil
}

func boolVar(getenv func(string) string, name string) (bool, error) {
	v := getenv(name)
	b, err := strconv.ParseBool(v)
	if v != "" && err != nil {
		return false, fmt.Errorf("%s=%s: want true or false", name, provider.Describe(v))
	}
	return b, nil
}

// intVar reads a prefix length from 1 to max.
func intVar(getenv func(string) string, name string, def, max int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return def, fmt.Errorf("%s=%s: want a prefix length from 1 to %d (default %d)", name, provider.Describe(v), max, def)
	}
	return n, nil
}

// awsFields are the fields every AWS credential needs.
var awsFields = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}

// credentialSchemes returns the references the server reads, in the
// profiles file's "source" entries and in credential_id.
func credentialSchemes(cfg config, log *slog.Logger) *provider.Schemes {
	environ := cfg.Environ
	if environ == nil {
		environ = func() []string { return nil }
	}
	var s provider.Schemes
	s.Register("env", env.Scheme(func(o *env.Options) { o.Getenv, o.Environ, o.Logger = cfg.Getenv, environ, log }))
	s.Register("file", file.Scheme(func(o *file.Options) { o.Getenv, o.Required, o.Logger = cfg.Getenv, awsFields, log }))
	s.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir, o.Logger = cfg.SecretsDir, log }))
	s.Register("keychain", keychain.Scheme(func(o *keychain.Options) { o.Keyring, o.Logger = cfg.keyring, log }))
	return &s
}

// newResolver returns the caching resolver, the profiles file (its policy
// for credential_profile) and the chain it asks when a call names no
// source: the profiles file, the environment, ~/.mcp/credentials, then the
// keychain or, for docker-secrets, the secrets directory. A pattern of
// MCP_ALLOWED_REFERENCES that can cover nothing these schemes read is an
// error, so that a policy written against reference text (file:*) stops
// the server instead of allowing nothing.
func newResolver(cfg config, log *slog.Logger) (*resolver.Resolver, *profile.Provider, []provider.Provider, error) {
	schemes := credentialSchemes(cfg, log)
	if err := schemes.CheckPolicy(cfg.AllowedReferences); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", mcptool.EnvAllowedReferences, err)
	}
	profiles, err := profile.New(schemes, func(o *profile.Options) { o.Getenv, o.Logger = cfg.Getenv, log })
	if err != nil {
		return nil, nil, nil, err
	}
	chain := []provider.Provider{
		profiles,
		env.New(func(o *env.Options) { o.Getenv, o.Logger = cfg.Getenv, log }),
		file.New(func(o *file.Options) { o.Getenv, o.Required, o.Logger = cfg.Getenv, awsFields, log }),
		keychain.New(func(o *keychain.Options) { o.Keyring, o.Logger = cfg.keyring, log }),
	}
	if cfg.CredentialSource == "docker-secrets" {
		chain[3] = secretfile.New(func(o *secretfile.Options) {
			o.Dir, o.Logger = cfg.SecretsDir, log                                   // default /run/secrets
			o.Files = map[string]string{provider.DefaultProfile: "aws_credentials"} // a secret of that name, if present
		})
	}
	r, err := resolver.New(chain, cfg.Env.Resolver, func(o *resolver.Options) {
		o.Required, o.References, o.Logger = awsFields, schemes, log
		o.AllowProfile = profiles.Allows // exactly the profiles the operator wrote in the file
	})
	return r, profiles, chain, err
}
