package mcptool

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// The environment variables through which the operator of an MCP server
// says what tool calls may select. [ReadEnv] reads them, and
// profile.EnvActiveProfile and profile.EnvProfilesPath.
const (
	// EnvAllowRequestCredentials, when true, lets calls pass credentials.
	EnvAllowRequestCredentials = "MCP_ALLOW_REQUEST_CREDENTIALS"

	// EnvAllowedReferences lists, comma-separated, the provider.RefPolicy
	// patterns of what a credential_id may read, such as
	// "env:MCP_CI_*,file:/home/u/.mcp/credentials/*".
	EnvAllowedReferences = "MCP_ALLOWED_REFERENCES"

	// EnvCredentialTTL is how long a resolved credential is served before
	// it is read again (resolver.Options.TTL), as a Go duration such as
	// "1m". When set, a cached value is never served past it
	// (resolver.Options.MaxStale < 0): a credential removed from its store
	// (resolver/enroll's Remove, or by the operator) stops being served
	// within it everywhere. Unset: the resolver's defaults.
	EnvCredentialTTL = "MCP_CREDENTIAL_TTL"
)

// Env is what the operator allows tool calls to select, read from the
// environment by [ReadEnv]. The zero Env allows only the server's own
// credentials, for the default profile.
type Env struct {
	// AllowRequestCredentials is EnvAllowRequestCredentials; default false.
	AllowRequestCredentials bool

	// AllowedReferences is the policy of EnvAllowedReferences; nil, the
	// default, refuses every credential_id.
	AllowedReferences *provider.RefPolicy

	// ActiveProfile is profile.EnvActiveProfile; default "default".
	ActiveProfile string

	// CredentialTTL is EnvCredentialTTL; zero keeps the resolver's
	// default TTL and stale serving.
	CredentialTTL time.Duration

	// Audit, when set, becomes resolver.Options.Audit: one record per
	// resolution, naming the verified caller. ReadEnv does not set it;
	// the server's main does, to its log.
	Audit *slog.Logger
}

// ReadEnv reads an Env through getenv (os.Getenv, or a test's). Its errors
// name the variable and render its value with provider.Describe; they quote
// patterns, which are the operator's. It does not check the patterns
// against the schemes the server serves: call provider.Schemes.CheckPolicy
// on AllowedReferences for that, once the schemes are registered.
func ReadEnv(getenv func(string) string) (Env, error) {
	var e Env
	if v := getenv(EnvAllowRequestCredentials); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Env{}, fmt.Errorf("%s=%s: want true or false", EnvAllowRequestCredentials, provider.Describe(v))
		}
		e.AllowRequestCredentials = b
	}
	active, err := profile.ActiveProfile(getenv)
	if err != nil {
		return Env{}, err
	}
	e.ActiveProfile = active
	if v := getenv(EnvCredentialTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Env{}, fmt.Errorf("%s=%s: want a positive Go duration, such as 1m or 30s", EnvCredentialTTL, provider.Describe(v))
		}
		e.CredentialTTL = d
	}
	var pats []string
	for pat := range strings.SplitSeq(getenv(EnvAllowedReferences), ",") {
		if pat = strings.TrimSpace(pat); pat != "" {
			pats = append(pats, pat)
		}
	}
	if len(pats) > 0 {
		if e.AllowedReferences, err = provider.NewRefPolicy(pats...); err != nil {
			return Env{}, fmt.Errorf("%s: %w", EnvAllowedReferences, err)
		}
	}
	return e, nil
}

// Resolver sets the resolver options that e decides: the default profile,
// and which request credentials and references are allowed. Pass it to
// resolver.New among the server's own option functions.
func (e Env) Resolver(o *resolver.Options) {
	o.Profile = e.ActiveProfile
	o.AllowRequestCredentials = e.AllowRequestCredentials
	o.AllowReferences = e.AllowedReferences
	if e.Audit != nil {
		o.Audit = e.Audit
	}
	if e.CredentialTTL > 0 {
		o.TTL, o.MaxStale = e.CredentialTTL, -1
	}
}

// Options returns the Options of a server that offers what e allows: the
// credentials argument exactly when e accepts it; credential_profile, whose
// refusal names the active profile and those profiles (the profiles file,
// which may be nil) defines; credential_id, whose refusal says what the
// patterns allow or how the operator sets them; and the [Hints] that name
// the variables. configure is the server's own sentence for how its
// operator gives it credentials (Hints.Configure), such as "the operator
// sets API_TOKEN". Set the other fields (Fields, Rejected, Logger) on the
// result.
func (e Env) Options(profiles *profile.Provider, configure string) Options {
	refs := "this server accepts no credential references until its operator sets " + EnvAllowedReferences +
		" (patterns of what a reference may read, such as env:MCP_CI_*), or offers a credential_profile instead"
	if pats := e.AllowedReferences.Patterns(); len(pats) > 0 {
		q := make([]string, len(pats))
		for i, p := range pats {
			q[i] = strconv.Quote(p) // the operator's patterns, not a request's text
		}
		refs = fmt.Sprintf("every variable, file section, secret or keychain profile it reads must be covered by a pattern "+
			"the operator allows (%s: %s), and a * stays within one name or path segment", EnvAllowedReferences, strings.Join(q, ", "))
	}
	active := e.ActiveProfile
	if active == "" {
		active = provider.DefaultProfile
	}
	return Options{
		RequestCredentials: e.AllowRequestCredentials,
		Profiles:           true,
		References:         true,
		OfferedProfiles: func() []string {
			names := []string{active}
			if profiles != nil {
				if f, err := profiles.Load(); err == nil {
					names = append(names, f.Names()...)
				}
			}
			slices.Sort(names)
			return slices.Compact(names)
		},
		Hints: Hints{
			RequestCredentials: "the operator allows them with " + EnvAllowRequestCredentials + "=true",
			Profiles:           "the operator adds profiles to the profiles file (" + profile.EnvProfilesPath + ", default ~/.mcp/profiles.json)",
			References:         refs,
			Configure:          configure,
		},
	}
}
