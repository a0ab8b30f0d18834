package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/resolver"
)

// credentialChain returns the providers asked, in order, when a tool call
// carries no credentials. This is the one place to add or remove a source.
func credentialChain(cfg config, log *slog.Logger) []provider.Provider {
	aws := []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
	chain := []provider.Provider{
		env.New(func(o *env.Options) { o.Getenv = cfg.Getenv; o.Logger = log }),
		file.New(func(o *file.Options) { o.Getenv = cfg.Getenv; o.Required = aws; o.Logger = log }),
	}
	switch cfg.CredentialSource {
	case "docker-secrets":
		chain = append(chain, secretfile.New(func(o *secretfile.Options) {
			o.Dir = cfg.SecretsDir                                                  // default /run/secrets
			o.Files = map[string]string{provider.DefaultProfile: "aws_credentials"} // seed 6.2's secret, if present
			o.Logger = log
		}))
	default:
		chain = append(chain, keychain.New(func(o *keychain.Options) { o.Keyring = cfg.keyring; o.Logger = log }))
	}
	return chain
}

// newResolver returns the caching resolver over the chain.
func newResolver(cfg config, log *slog.Logger) *resolver.Resolver {
	return resolver.New(credentialChain(cfg, log), func(o *resolver.Options) {
		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
		o.RefuseRequestCredentials = !cfg.AllowRequestCredentials
		o.AllowProfile = func(name string) bool { return slices.Contains(cfg.AllowedProfiles, name) }
		o.Logger = log
	})
}

// Credentials is the optional credentials object every tool takes (seed
// 4.2). The secret fields are provider.Secret, so they cannot be printed,
// logged or encoded by mistake.
type Credentials struct {
	AccessKeyID     string          `json:"access_key_id,omitempty" jsonschema:"AWS access key ID (AKIA... or ASIA...)"`
	SecretAccessKey provider.Secret `json:"secret_access_key,omitempty" jsonschema:"AWS secret access key"`
	SessionToken    provider.Secret `json:"session_token,omitempty" jsonschema:"AWS session token, for temporary credentials"`
	Region          string          `json:"region,omitempty" jsonschema:"AWS region, such as eu-west-1; may be given alone to pick the region"`
}

// Auth holds the credential arguments every tool takes. Neither is required:
// by default the server's configured credentials are used.
type Auth struct {
	Credentials       *Credentials `json:"credentials,omitempty" jsonschema:"Optional: AWS credentials for this call only, overriding the server's configured credentials (the operator may refuse them)"`
	CredentialProfile string       `json:"credential_profile,omitempty" jsonschema:"Optional: a named credential profile the operator offers"`
}

// identity is a resolved credential with the region to use it in.
type identity struct {
	creds  provider.Credentials
	region string
	res    resolver.Result // for InvalidateResult
}

// fromRequest reports whether the credentials came in the tool call (and so
// are neither cached nor worth resolving again).
func (id identity) fromRequest() bool { return id.res.Profile == "" }

func (id identity) source() string { return id.creds.Source.String() }

var accessKeyIDRE = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

// resolve picks the credentials for one tool call: those in the request
// (unless refused), else the chain's for credential_profile (only profiles
// the operator offers), else the chain's for the default profile.
func (s *server) resolve(ctx context.Context, a Auth) (identity, error) {
	var req resolver.Request
	region, regionFrom := "", ""
	if c := a.Credentials; c != nil {
		if c.Region != "" {
			region, regionFrom = c.Region, "credentials.region"
		}
		if c.AccessKeyID != "" || !c.SecretAccessKey.IsZero() || !c.SessionToken.IsZero() {
			if a.CredentialProfile != "" {
				return identity{}, errors.New("give either credentials or credential_profile, not both")
			}
			if !s.cfg.AllowRequestCredentials {
				return identity{}, errors.New("this server does not accept credentials in tool calls (MCP_ALLOW_REQUEST_CREDENTIALS=false): " +
					"leave out the credentials object and the server uses the credentials its operator configured")
			}
			if c.AccessKeyID != "" && !accessKeyIDRE.MatchString(c.AccessKeyID) {
				return identity{}, errors.New("credentials.access_key_id is not an AWS access key ID (16-128 upper-case letters and digits)")
			}
			req.Credentials = provider.NewCredentialsFromSecrets(map[string]provider.Secret{
				provider.FieldAccessKeyID:     provider.NewSecret(c.AccessKeyID),
				provider.FieldSecretAccessKey: c.SecretAccessKey,
				provider.FieldSessionToken:    c.SessionToken,
			}, provider.Source{})
		}
	}
	if req.Credentials.IsZero() {
		p := a.CredentialProfile
		if p == "" {
			p = s.resolver.DefaultProfile()
		}
		// The default profile is the operator's own choice and always allowed;
		// the resolver enforces the same policy through Options.AllowProfile.
		if p != s.resolver.DefaultProfile() && !slices.Contains(s.cfg.AllowedProfiles, p) {
			return identity{}, fmt.Errorf("credential_profile %s is not offered by this server (offered: %s); the operator lists profiles in MCP_ALLOWED_PROFILES",
				quote(p), quoteList(s.cfg.AllowedProfiles))
		}
		req.Profile = p
	}
	res, err := s.resolver.Resolve(ctx, req)
	if err != nil {
		return identity{}, explainResolveError(err)
	}
	id := identity{creds: res.Credentials, res: res}
	switch {
	case region != "":
	case res.Credentials.Has(provider.FieldRegion):
		region, regionFrom = res.Credentials.Value(provider.FieldRegion), res.Credentials.Source.String()
	default:
		region, regionFrom = s.cfg.Region, s.cfg.RegionFrom
	}
	if err := validateRegion(region, regionFrom); err != nil {
		return identity{}, err
	}
	id.region = region
	if res.Stale {
		s.log.WarnContext(ctx, "serving last good credentials: a credential backend is unavailable", "source", id.source())
	}
	return id, nil
}

func explainResolveError(err error) error {
	var ce *resolver.ChainError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("no AWS credentials found. Configure one of these sources (or pass credentials in the call, if the operator allows it):\n%s", strings.TrimPrefix(ce.Error(), "resolver: "))
	case errors.Is(err, resolver.ErrProfileRefused):
		return errors.New("credential_profile is not offered by this server; the operator lists profiles in MCP_ALLOWED_PROFILES")
	case errors.Is(err, resolver.ErrRequestCredentialsRefused):
		return errors.New("this server does not accept credentials in tool calls (MCP_ALLOW_REQUEST_CREDENTIALS=false)")
	case errors.Is(err, resolver.ErrInvalidRequestCredentials):
		return fmt.Errorf("credentials: %s", strings.TrimPrefix(err.Error(), "resolver: invalid request credentials: "))
	}
	return err
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

// redact replaces every secret value of c in s with [REDACTED]. Results pass
// through it as a last line of defence: an endpoint that echoed a secret
// back in an error message would not get it to the client.
func redact(s string, c provider.Credentials) string {
	for _, n := range []string{provider.FieldSecretAccessKey, provider.FieldSessionToken} {
		if v := c.Value(n); len(v) >= 8 {
			s = strings.ReplaceAll(s, v, provider.Redacted)
		}
	}
	return s
}
