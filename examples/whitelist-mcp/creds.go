package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
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
)

// credentialSchemes returns the credential references the server
// understands (exactly referenceSchemes), for the profiles file's "source"
// entries and for credential_id. Each scheme reads through the server's
// Getenv, keyring and logger.
func credentialSchemes(cfg config, log *slog.Logger) *provider.Schemes {
	environ := cfg.Environ
	if environ == nil {
		environ = func() []string { return nil }
	}
	aws := []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
	var s provider.Schemes
	s.Register("env", env.Scheme(func(o *env.Options) { o.Getenv = cfg.Getenv; o.Environ = environ; o.Logger = log }))
	s.Register("file", file.Scheme(func(o *file.Options) { o.Getenv = cfg.Getenv; o.Required = aws; o.Logger = log }))
	s.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir = cfg.SecretsDir; o.Logger = log }))
	s.Register("keychain", keychain.Scheme(func(o *keychain.Options) { o.Keyring = cfg.keyring; o.Logger = log }))
	return &s
}

// newProfiles returns the provider of the profiles file (MCP_PROFILES_PATH,
// default ~/.mcp/profiles.json), whose profiles resolve through schemes.
func newProfiles(cfg config, schemes *provider.Schemes, log *slog.Logger) (*profile.Provider, error) {
	return profile.New(schemes, func(o *profile.Options) { o.Getenv = cfg.Getenv; o.Logger = log })
}

// credentialChain returns the providers asked, in order, when a tool call
// carries no credentials: the profiles file first, then the sources that
// need no file of profiles. This is the one place to add or remove a source.
func credentialChain(cfg config, profiles *profile.Provider, log *slog.Logger) []provider.Provider {
	aws := []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
	chain := []provider.Provider{
		profiles,
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

// newResolver returns the caching resolver over the chain, the profiles
// file's provider, which is its policy for credential_profile, and the chain.
func newResolver(cfg config, log *slog.Logger) (*resolver.Resolver, *profile.Provider, []provider.Provider, error) {
	schemes := credentialSchemes(cfg, log)
	profiles, err := newProfiles(cfg, schemes, log)
	if err != nil {
		return nil, nil, nil, err
	}
	chain := credentialChain(cfg, profiles, log)
	r, err := resolver.New(chain, func(o *resolver.Options) {
		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
		o.AllowRequestCredentials = cfg.AllowRequestCredentials
		o.Profile = cfg.ActiveProfile
		o.AllowProfile = profiles.Allows // exactly the profiles the operator wrote in the file
		o.References = schemes
		o.AllowReferences = cfg.ReferencePolicy
		o.Logger = log
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return r, profiles, chain, nil
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

// Auth holds the credential arguments every tool takes. None is required:
// by default the server's configured credentials are used. A call gives at
// most one of Credentials (with keys), CredentialID and CredentialProfile.
type Auth struct {
	Credentials       *Credentials `json:"credentials,omitempty" jsonschema:"Optional: AWS credentials for this call only, overriding the server's configured credentials (the operator may refuse them)"`
	CredentialID      string       `json:"credential_id,omitempty" jsonschema:"Optional: a credential reference such as file:staging, env:MCP_CI_* or keychain:ops, if the operator allows what it reads (MCP_ALLOWED_REFERENCES)"`
	CredentialProfile string       `json:"credential_profile,omitempty" jsonschema:"Optional: a named credential profile the operator offers in the server's profiles file"`
}

// identity is a resolved credential with the region to use it in.
type identity struct {
	creds  provider.Credentials
	region string
	res    resolver.Result // for InvalidateResult
}

// fromRequest reports whether the credentials came in the tool call (and so
// are neither cached nor worth resolving again). Results for a profile or a
// reference are cached and name it.
func (id identity) fromRequest() bool { return id.res.Profile == "" && id.res.Reference == "" }

func (id identity) source() string { return id.creds.Source.String() }

var accessKeyIDRE = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

// resolve picks the credentials for one tool call, in the resolver's order:
// those in the request (unless refused), else the reference in
// credential_id (only if the operator allows it), else the profile in
// credential_profile (only a profile the profiles file defines), else the
// active profile. The resolver enforces the policy; resolve explains its
// refusals.
func (s *server) resolve(ctx context.Context, a Auth) (identity, error) {
	var req resolver.Request
	region, regionFrom := "", ""
	var given []string
	c := a.Credentials
	if c != nil {
		if c.Region != "" {
			region, regionFrom = c.Region, "credentials.region"
		}
		if c.AccessKeyID != "" || !c.SecretAccessKey.IsZero() || !c.SessionToken.IsZero() {
			given = append(given, "credentials")
		}
	}
	if a.CredentialID != "" {
		given = append(given, "credential_id")
	}
	if a.CredentialProfile != "" {
		given = append(given, "credential_profile")
	}
	switch len(given) {
	case 2:
		return identity{}, fmt.Errorf("give either %s or %s, not both", given[0], given[1])
	case 3:
		return identity{}, errors.New("give one of credentials, credential_id or credential_profile, not all three")
	}
	switch {
	case slices.Contains(given, "credentials"):
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
	case a.CredentialID != "":
		req.CredentialID = a.CredentialID
	default:
		req.Profile = a.CredentialProfile // "" is the active profile, always allowed
	}
	res, err := s.resolver.Resolve(ctx, req)
	if err != nil {
		return identity{}, s.explainResolveError(ctx, err, a)
	}
	id := identity{creds: res.Credentials, res: res}
	switch {
	case region != "":
	case res.Credentials.Has(provider.FieldRegion): // the source's region, else the profile's
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

// explainResolveError turns the resolver's error into one the client (a
// person or a model) can act on. It never repeats what the request sent:
// the request's credential_id and credential_profile may be secrets pasted
// in the wrong place. (finish also scrubs the request's text out of any
// provider message the error carries.)
func (s *server) explainResolveError(ctx context.Context, err error, a Auth) error {
	var ce *resolver.ChainError
	if _, cause, ok := misconfigured(err); ok && a.CredentialID != "" {
		// What the call's reference reads is broken: the call chose it,
		// and another reference may work, so this is no account of the
		// server's own configuration.
		s.libLog.WarnContext(ctx, "credential_id reads a source that cannot be used", "error", cause)
		return fmt.Errorf("credential_id gave no usable AWS credentials: what it reads %s (the server's log says more)", referenceProblem(cause))
	}
	if what, cause, ok := misconfigured(err); ok {
		if _, lerr := s.profiles.Load(); lerr != nil && !errors.Is(lerr, fs.ErrNotExist) {
			what, cause, _ = misconfigured(lerr) // it is the profiles file itself
		}
		s.logMisconfiguration(ctx, cause)
		return fmt.Errorf("the server's credential configuration is broken: %s. Its operator must fix this (the server's log says where and how); "+
			"the call's arguments are not the problem, and retrying will not help until it is fixed", what)
	}
	switch {
	case errors.Is(err, resolver.ErrProfileRefused) || errors.Is(err, resolver.ErrInvalidProfile):
		return s.profileRefused(ctx)
	case errors.Is(err, resolver.ErrReferenceRefused):
		return s.referenceRefused()
	case a.CredentialID != "" && errors.Is(err, provider.ErrInvalidRef):
		var re *provider.RefError
		if _, perr := provider.ParseRef(a.CredentialID); errors.As(perr, &re) { // the reference itself, not a scheme's reading of it
			return fmt.Errorf("credential_id is not a credential reference: it %s; want scheme:body[?params][#field], such as file:staging or env:GITHUB_TOKEN#token", re.Reason)
		}
		return fmt.Errorf("credential_id: %s", strings.TrimPrefix(err.Error(), "provider: "))
	case a.CredentialID != "" && errors.Is(err, provider.ErrUnknownScheme):
		return fmt.Errorf("credential_id: %s", strings.TrimPrefix(err.Error(), "provider: "))
	case a.CredentialID != "" && errors.As(err, &ce):
		return fmt.Errorf("credential_id gave no usable AWS credentials:\n%s", strings.TrimPrefix(ce.Error(), "resolver: "))
	case a.CredentialProfile != "" && errors.As(err, &ce):
		return fmt.Errorf("credential_profile gave no usable AWS credentials:\n%s", strings.TrimPrefix(ce.Error(), "resolver: "))
	case errors.As(err, &ce):
		return fmt.Errorf("no AWS credentials found. Configure one of these sources (or pass credentials in the call, if the operator allows it):\n%s", strings.TrimPrefix(ce.Error(), "resolver: "))
	case errors.Is(err, resolver.ErrRequestCredentialsRefused):
		return errors.New("this server does not accept credentials in tool calls (MCP_ALLOW_REQUEST_CREDENTIALS=false)")
	case errors.Is(err, resolver.ErrInvalidRequestCredentials):
		return fmt.Errorf("credentials: %s", strings.TrimPrefix(err.Error(), "resolver: invalid request credentials: "))
	}
	return err
}

// misconfigured reports whether err says a credential source is set up
// wrongly (a malformed file, a file others can read or change, a source
// that failed), rather than that none had credentials or could be reached,
// and if so, in a few words without paths, what is wrong, and the source's
// own error, which says where and how to fix it.
func misconfigured(err error) (string, error, bool) {
	var ce *resolver.ChainError
	if !errors.As(err, &ce) {
		if errors.Is(err, profile.ErrMalformed) || errors.Is(err, profile.ErrInsecurePermissions) { // from Provider.Load
			return problem("profiles file", err), err, true
		}
		return "", nil, false
	}
	for _, a := range ce.Attempts {
		if a.Err != nil && !provider.IsNotFound(a.Err) && !provider.IsUnavailable(a.Err) && !errors.Is(a.Err, profile.ErrSourceEmpty) {
			return problem(a.Provider, a.Err), a.Err, true
		}
	}
	return "", nil, false
}

// problem says what is wrong with the named provider's source, in words a
// model can pass on: no paths, no file contents.
func problem(name string, err error) string {
	what := map[string]string{
		"profiles file": "the profiles file",
		"profile":       "the profiles file (or a credentials file one of its profiles reads)",
		"file":          "the credentials file",
		"secretfile":    "the secrets directory",
		"env":           "the environment's credentials",
		"keychain":      "the OS keychain",
	}[name]
	if what == "" {
		what = "the " + name + " credential source"
	}
	if name == "profile" && errors.Is(err, profile.ErrMalformed) {
		what = "the profiles file"
	}
	switch {
	case errors.Is(err, env.ErrIncomplete):
		return what + " are incomplete: a variable such as AWS_ACCESS_KEY_ID is set and its partner, such as AWS_SECRET_ACCESS_KEY, is not"
	case errors.Is(err, env.ErrConflict):
		return what + " set a variable both directly and through its _FILE form"
	case errors.Is(err, file.ErrInsecurePermissions): // the same sentinel as profile's
		return what + " is refused because other users could read or change it"
	case errors.Is(err, profile.ErrMalformed), errors.Is(err, file.ErrMalformed), errors.Is(err, secretfile.ErrSyntax):
		return what + " is malformed"
	case errors.Is(err, resolver.ErrProviderPanicked):
		return what + " failed with an internal error"
	}
	return what + " cannot be used"
}

// referenceProblem says, in words a model can pass on, why what a
// credential_id reads cannot be used: no paths, no names from the request.
func referenceProblem(err error) string {
	switch {
	case errors.Is(err, env.ErrIncomplete):
		return "is incomplete: some of the variables it names are set and others are not"
	case errors.Is(err, env.ErrConflict):
		return "sets a variable both directly and through its _FILE form"
	case errors.Is(err, file.ErrInsecurePermissions):
		return "is in a file the server refuses because other users could read or change it"
	case errors.Is(err, file.ErrMalformed), errors.Is(err, secretfile.ErrSyntax):
		return "is malformed"
	case errors.Is(err, resolver.ErrProviderPanicked):
		return "failed with an internal error"
	}
	return "cannot be used"
}

// logMisconfiguration logs the full account of a misconfiguration (file,
// line, the fix) once: at start, or when it first shows or changes.
func (s *server) logMisconfiguration(ctx context.Context, err error) {
	detail := err.Error()
	// One problem seen through different profiles is logged once.
	var pe *file.PermissionError
	var se *provider.SyntaxError
	if errors.As(err, &pe) {
		detail = pe.Error()
	} else if errors.As(err, &se) {
		detail = se.Error()
	}
	s.mu.Lock()
	seen := detail == s.lastMisconfig
	s.lastMisconfig = detail
	s.mu.Unlock()
	if !seen {
		s.libLog.ErrorContext(ctx, "misconfigured credential source: tool calls that need it fail until it is fixed", "error", err)
	}
}

// checkConfiguration looks at the local credential sources once at start
// (the profiles file, and the credentials file and secrets for the active
// profile) and logs what is set up wrongly, with the fix. It asks no
// keychain or remote backend.
func (s *server) checkConfiguration(ctx context.Context) {
	if _, err := s.profiles.Load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.logMisconfiguration(ctx, err)
		return
	}
	for _, p := range s.chain {
		switch provider.NameOf(p) {
		case env.Name, file.Name, secretfile.Name: // local, and quick
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := p.Retrieve(ctx, s.cfg.ActiveProfile)
			cancel()
			if err != nil && !provider.IsNotFound(err) && !provider.IsUnavailable(err) {
				s.logMisconfiguration(ctx, err)
				return
			}
		}
	}
}

// profileRefused explains a credential_profile the resolver refused: which
// profiles are offered, and where the operator adds more.
func (s *server) profileRefused(ctx context.Context) error {
	offered := []string{s.resolver.DefaultProfile()}
	path := s.profiles.Path()
	var where string
	f, err := s.profiles.Load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		where = fmt.Sprintf("there is no profiles file at %s (%s, default ~/.mcp/profiles.json), so only the default profile is offered; the operator adds profiles to the profiles file",
			path, profile.EnvProfilesPath)
	case err != nil:
		what, cause, _ := misconfigured(err)
		s.logMisconfiguration(ctx, cause)
		where = fmt.Sprintf("%s, so only the default profile is offered until the server's operator fixes it (the server's log says where and how)", what)
	default:
		offered = append(offered, f.Names()...)
		where = fmt.Sprintf("the operator adds profiles to the profiles file %s", path)
	}
	slices.Sort(offered)
	offered = slices.Compact(offered)
	return fmt.Errorf("credential_profile is not offered by this server (offered: %s); %s", describeList(offered), where)
}

// referenceRefused explains a credential_id the resolver refused by policy.
// It does not repeat the reference (it came from the request) and does not
// say which part of it was not covered; it lists the operator's patterns.
func (s *server) referenceRefused() error {
	if len(s.cfg.AllowedReferences) == 0 {
		return errors.New("credential_id is refused: this server accepts no credential references; " +
			"the operator allows them with MCP_ALLOWED_REFERENCES (patterns of what a reference may read, such as env:MCP_CI_*), " +
			"or offers a credential_profile instead")
	}
	q := make([]string, len(s.cfg.AllowedReferences))
	for i, p := range s.cfg.AllowedReferences {
		q[i] = strconv.Quote(p) // the operator's patterns, not the request's text
	}
	return fmt.Errorf("credential_id is refused: it reads something that no pattern the operator allows covers "+
		"(MCP_ALLOWED_REFERENCES: %s). Every variable, file section, secret or keychain profile a reference reads must be covered, "+
		"and a * stays within one name or path segment", strings.Join(q, ", "))
}

// describeList renders names read from a file through provider.Describe.
func describeList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = provider.Describe(s)
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
