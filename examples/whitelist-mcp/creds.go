package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// awsFields are the fields every AWS credential needs.
var awsFields = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}

// credentialSchemes returns the credential references the server reads
// (exactly referenceSchemes), for the profiles file's "source" entries and
// for credential_id.
func credentialSchemes(cfg config, log *slog.Logger) *provider.Schemes {
	environ := cfg.Environ
	if environ == nil {
		environ = func() []string { return nil }
	}
	var s provider.Schemes
	s.Register("env", env.Scheme(func(o *env.Options) { o.Getenv = cfg.Getenv; o.Environ = environ; o.Logger = log }))
	s.Register("file", file.Scheme(func(o *file.Options) { o.Getenv = cfg.Getenv; o.Required = awsFields; o.Logger = log }))
	s.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir = cfg.SecretsDir; o.Logger = log }))
	s.Register("keychain", keychain.Scheme(func(o *keychain.Options) { o.Keyring = cfg.keyring; o.Logger = log }))
	return &s
}

// newResolver returns the caching resolver, the profiles file
// (MCP_PROFILES_PATH, default ~/.mcp/profiles.json), which is its policy for
// credential_profile, and the chain it asks when a call names no source: the
// profiles file, the environment, ~/.mcp/credentials, then the keychain or,
// for docker-secrets, /run/secrets. This is the one place to change a source.
func newResolver(cfg config, log *slog.Logger) (*resolver.Resolver, *profile.Provider, []provider.Provider, error) {
	schemes := credentialSchemes(cfg, log)
	profiles, err := profile.New(schemes, func(o *profile.Options) { o.Getenv = cfg.Getenv; o.Logger = log })
	if err != nil {
		return nil, nil, nil, err
	}
	chain := []provider.Provider{
		profiles,
		env.New(func(o *env.Options) { o.Getenv = cfg.Getenv; o.Logger = log }),
		file.New(func(o *file.Options) { o.Getenv = cfg.Getenv; o.Required = awsFields; o.Logger = log }),
	}
	if cfg.CredentialSource == "docker-secrets" {
		chain = append(chain, secretfile.New(func(o *secretfile.Options) {
			o.Dir = cfg.SecretsDir                                                  // default /run/secrets
			o.Files = map[string]string{provider.DefaultProfile: "aws_credentials"} // a secret of that name, if present
			o.Logger = log
		}))
	} else {
		chain = append(chain, keychain.New(func(o *keychain.Options) { o.Keyring = cfg.keyring; o.Logger = log }))
	}
	r, err := resolver.New(chain, func(o *resolver.Options) {
		o.Required = awsFields
		o.AllowRequestCredentials = cfg.AllowRequestCredentials
		o.Profile = cfg.ActiveProfile
		o.AllowProfile = profiles.Allows // exactly the profiles the operator wrote in the file
		o.References = schemes
		o.AllowReferences = cfg.ReferencePolicy
		o.Logger = log
	})
	return r, profiles, chain, err
}

// toolOptions returns mcptool's options: which selection arguments the tools
// advertise, and the operator's hints that its refusals add.
func toolOptions(cfg config, r *resolver.Resolver, profiles *profile.Provider) mcptool.Options {
	references := "this server accepts no credential references until its operator sets MCP_ALLOWED_REFERENCES " +
		"(patterns of what a reference may read, such as env:MCP_CI_*), or offers a credential_profile instead"
	if len(cfg.AllowedReferences) > 0 {
		q := make([]string, len(cfg.AllowedReferences))
		for i, p := range cfg.AllowedReferences {
			q[i] = strconv.Quote(p) // the operator's patterns, not the request's text
		}
		references = fmt.Sprintf("every variable, file section, secret or keychain profile it reads must be covered by a pattern "+
			"the operator allows (MCP_ALLOWED_REFERENCES: %s), and a * stays within one name or path segment", strings.Join(q, ", "))
	}
	configure := "the operator sets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, writes ~/.mcp/credentials, or stores them in the OS keychain"
	if cfg.CredentialSource == "docker-secrets" {
		configure = "the operator sets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, writes ~/.mcp/credentials, or mounts the secret aws_credentials"
	}
	return mcptool.Options{
		Fields:             mcptool.AWSFields,
		RequestCredentials: cfg.AllowRequestCredentials, // advertised exactly when accepted
		Profiles:           true,
		References:         true,
		OfferedProfiles: func() []string {
			names := []string{r.DefaultProfile()}
			if f, err := profiles.Load(); err == nil {
				names = append(names, f.Names()...)
			}
			slices.Sort(names)
			return slices.Compact(names)
		},
		Hints: mcptool.Hints{
			RequestCredentials: "the operator allows them with MCP_ALLOW_REQUEST_CREDENTIALS=true",
			Profiles:           "the operator adds profiles to the profiles file (" + profile.EnvProfilesPath + ", default ~/.mcp/profiles.json)",
			References:         references,
			Configure:          configure,
		},
		MaxArgumentBytes: 16 << 10,
	}
}

// checkConfiguration looks once, at start, at the local sources of the
// active profile (the profiles file, the environment, the credentials file,
// the secrets directory) and logs what is set up wrongly, with the source's
// own account of where and how to fix it. Tool calls say only which source
// is broken. It asks no keychain or remote backend.
func checkConfiguration(cfg config, profiles *profile.Provider, chain []provider.Provider, log *slog.Logger) {
	const msg = "misconfigured credential source: tool calls that need it fail until it is fixed"
	if _, err := profiles.Load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Error(msg, "error", err)
		return
	}
	for _, p := range chain {
		switch provider.NameOf(p) {
		case env.Name, file.Name, secretfile.Name: // local, and quick
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := p.Retrieve(ctx, cfg.ActiveProfile)
			cancel()
			if err != nil && !provider.IsNotFound(err) && !provider.IsUnavailable(err) {
				log.Error(msg, "error", err)
				return
			}
		}
	}
}
