// Command whitelist-mcp is an MCP server that manages the ingress rules of
// AWS EC2 security groups. It serves one user over stdio or, with --http
// ADDR, remote users behind an OAuth bearer-token check, each call with the
// credentials mcpcred resolves for its caller. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/awscred"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

const version = "0.1.0"

func main() {
	dryRun := flag.Bool("dry-run", false, "validate and resolve credentials, report the EC2 call each tool would make, and make none (also WHITELIST_DRY_RUN=1)")
	httpAddr := flag.String("http", "", "serve remote clients over Streamable HTTP on `ADDR` (such as 127.0.0.1:8080) behind a bearer-token check, "+
		"instead of stdio; reads MCP_OAUTH_ISSUER and MCP_RESOURCE_URL")
	flag.Parse()

	cfg, err := loadConfig(os.Getenv)
	var remote mcptool.HTTPConfig
	if err == nil && *httpAddr != "" {
		remote, err = mcptool.ReadHTTPEnv(os.Getenv)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "whitelist-mcp:", err)
		os.Exit(2)
	}
	cfg.DryRun = cfg.DryRun || *dryRun
	cfg.Environ = os.Environ // for env:PREFIX_* references

	// stdout carries the MCP protocol over stdio: logs go to stderr, always.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	cfg.Env.Audit = log.With("log", "audit")
	log.Info("whitelist-mcp starting", "version", version, "dry_run", cfg.DryRun, "region", cfg.AWS.Region, "http", *httpAddr)
	srv, err := newServer(cfg, log, version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "whitelist-mcp:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *httpAddr == "" {
		err = srv.Run(ctx, mcptool.StdioTransport())
	} else {
		remote.ResourceName, remote.Logger = "whitelist-mcp", log
		err = mcptool.ServeHTTP(ctx, srv, *httpAddr, remote)
	}
	if err != nil && ctx.Err() == nil {
		log.Error("server stopped", "error", err)
		os.Exit(1)
	}
}

// config is the server's configuration, read from the environment once at
// start. README.md says what each variable does.
type config struct {
	mcptool.Env                          // MCP_ALLOW_REQUEST_CREDENTIALS, MCP_ALLOWED_REFERENCES, MCP_ACTIVE_PROFILE
	AWS              awscred.Env         // AWS_REGION (default us-east-1), AWS_ENDPOINT_URL_EC2, ...
	DryRun           bool                // --dry-run or WHITELIST_DRY_RUN
	CredentialSource string              // MCP_CREDENTIAL_SOURCE: "" (env, file, keychain) or "docker-secrets" (env, file, /run/secrets)
	SecretsDir       string              // MCP_SECRETS_DIR; default /run/secrets
	MinPrefix        prefixLimit         // WHITELIST_MIN_PREFIX_V4, WHITELIST_MIN_PREFIX_V6
	LogLevel         slog.Level          // WHITELIST_LOG_LEVEL
	Getenv           func(string) string // reads the environment, for the providers too
	Environ          func() []string     // lists it, for env:PREFIX_* references; by default nothing
	keyring          keychain.Keyring    // replaces the OS keychain in tests
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{Getenv: getenv, Environ: func() []string { return nil }, SecretsDir: getenv("MCP_SECRETS_DIR"), CredentialSource: getenv("MCP_CREDENTIAL_SOURCE")}
	var err error
	if getenv("MCP_ALLOWED_PROFILES") != "" {
		return c, errors.New("MCP_ALLOWED_PROFILES is no longer read: a call may name the profiles defined in the profiles file " +
			"(MCP_PROFILES_PATH, default ~/.mcp/profiles.json); define them there and unset MCP_ALLOWED_PROFILES")
	}
	if c.Env, err = mcptool.ReadEnv(getenv); err != nil {
		return c, err
	}
	if c.AWS, err = awscred.ReadEnv(getenv, "EC2"); err != nil {
		return c, err
	}
	if c.AWS.Region == "" {
		c.AWS.Region, c.AWS.RegionFrom = "us-east-1", "default"
	}
	if c.MinPrefix.V4, err = intVar(getenv, "WHITELIST_MIN_PREFIX_V4", defaultMinPrefixV4, 32); err != nil {
		return c, err
	}
	if c.MinPrefix.V6, err = intVar(getenv, "WHITELIST_MIN_PREFIX_V6", defaultMinPrefixV6, 128); err != nil {
		return c, err
	}
	if v := getenv("WHITELIST_DRY_RUN"); v != "" {
		if c.DryRun, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("WHITELIST_DRY_RUN=%s: want true or false", provider.Describe(v))
		}
	}
	if c.CredentialSource != "" && c.CredentialSource != "docker-secrets" {
		return c, fmt.Errorf(`MCP_CREDENTIAL_SOURCE=%s: want "docker-secrets" or unset`, provider.Describe(c.CredentialSource))
	}
	if v := getenv("WHITELIST_LOG_LEVEL"); v != "" && c.LogLevel.UnmarshalText([]byte(v)) != nil {
		return c, fmt.Errorf("WHITELIST_LOG_LEVEL=%s: want debug, info, warn or error", provider.Describe(v))
	}
	return c, nil
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

// newResolver returns the caching resolver, the profiles file and the
// chain. An MCP_ALLOWED_REFERENCES pattern that covers nothing the schemes
// read stops the server.
func newResolver(cfg config, log *slog.Logger) (*resolver.Resolver, *profile.Provider, []provider.Provider, error) {
	var schemes provider.Schemes
	schemes.Register("env", env.Scheme(func(o *env.Options) { o.Getenv, o.Environ, o.Logger = cfg.Getenv, cfg.Environ, log }))
	schemes.Register("file", file.Scheme(func(o *file.Options) { o.Getenv, o.Required, o.Logger = cfg.Getenv, awsFields, log }))
	schemes.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir, o.Logger = cfg.SecretsDir, log }))
	schemes.Register("keychain", keychain.Scheme(func(o *keychain.Options) { o.Keyring, o.Logger = cfg.keyring, log }))
	if err := schemes.CheckPolicy(cfg.AllowedReferences); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", mcptool.EnvAllowedReferences, err)
	}
	profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Getenv, o.Logger = cfg.Getenv, log })
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
		o.Required, o.References, o.Logger = awsFields, &schemes, log
		o.AllowProfile = profiles.Allows // exactly the profiles the operator wrote in the file
	})
	return r, profiles, chain, err
}
