package ssm

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider's short name, used in errors and Source.Provider.
const Name = "ssm"

// Defaults for [Options].
const (
	DefaultPrefix      = "/mcp"
	DefaultMaxAttempts = 4
	DefaultMaxBackoff  = 2 * time.Second
	DefaultMaxPages    = 50
	pageSize           = 10 // the most GetParametersByPath returns per call
)

// Client is the part of the SSM API the provider calls; *ssm.Client
// implements it.
type Client interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

// Options configure a [Provider]. The zero value gives the documented
// defaults.
type Options struct {
	// Prefix is the path under which a profile's parameters live: profile P
	// is read from the hierarchy Prefix/P/ with one paginated
	// GetParametersByPath walk. Default DefaultPrefix ("/mcp").
	Prefix string

	// Paths maps a profile to its own hierarchy, overriding Prefix for it:
	// {"prod": "/teams/a/prod"}.
	Paths map[string]string

	// Parameters maps a profile to explicit parameters, one per field:
	// {"prod": {"token": "/shared/github-token:3"}}. Each reference may carry
	// a version (":3") or label (":current") selector as SSM defines them
	// (see [ParseRef]). A profile listed here is read with one GetParameter
	// per field instead of a path walk, and wins over Paths and Prefix.
	Parameters map[string]map[string]string

	// Label, if set, restricts path walks to parameters whose version
	// carries this label (a GetParametersByPath Label filter).
	Label string

	// Client replaces the SSM client built from the aws.Config given to
	// [New]; its own options (retries, endpoint) are then the caller's.
	Client Client

	// MaxAttempts is how many times one SSM call is tried, counting the
	// first, when SSM throttles or fails transiently (the SDK's standard
	// retryer with exponential backoff and jitter). Default
	// DefaultMaxAttempts (4).
	MaxAttempts int

	// MaxBackoff caps the delay between two attempts. Default
	// DefaultMaxBackoff (2s), so a throttled call gives up within a few
	// seconds and the resolver can serve its last good value.
	MaxBackoff time.Duration

	// Backoff replaces the retryer's delay strategy, for tests.
	Backoff retry.BackoffDelayer

	// MaxPages bounds one path walk. Default DefaultMaxPages (50 pages of
	// 10 parameters). A hierarchy with more fails with [ErrIncompleteWalk];
	// no walk returns part of a hierarchy.
	MaxPages int

	// Now tells the time for Credentials.FetchedAt. Default time.Now.
	Now func() time.Time

	// Logger receives a Debug record per SSM call (operation, path or
	// parameter names, page count, never values). Default: discard.
	Logger *slog.Logger
}

// Provider reads credentials from AWS Systems Manager Parameter Store. It is
// safe for concurrent use.
type Provider struct {
	client Client
	opts   Options
}

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider whose SSM client is built from cfg, the caller's
// AWS configuration (region, credentials, endpoint). The client's
// credentials come from cfg only, never from a mcpcred resolver; see the
// package documentation. New fails if Prefix, Paths, Parameters or Label
// hold an invalid name.
func New(cfg aws.Config, optFns ...func(*Options)) (*Provider, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := cleanPath(o.Prefix)
	if err != nil {
		return nil, fmt.Errorf("ssm: Prefix: %w", err)
	}
	o.Prefix = p
	paths := make(map[string]string, len(o.Paths))
	for prof, path := range o.Paths {
		if paths[prof], err = cleanPath(path); err != nil {
			return nil, fmt.Errorf("ssm: Paths[%q]: %w", prof, err)
		}
	}
	o.Paths = paths
	params := make(map[string]map[string]string, len(o.Parameters))
	for prof, fields := range o.Parameters {
		if len(fields) == 0 {
			return nil, fmt.Errorf("ssm: Parameters[%q] is empty", prof)
		}
		for field, ref := range fields {
			if field == "" {
				return nil, fmt.Errorf("ssm: Parameters[%q] has an empty field name", prof)
			}
			if _, err := ParseRef(ref); err != nil {
				return nil, fmt.Errorf("ssm: Parameters[%q][%q]: %w", prof, field, err)
			}
		}
		params[prof] = maps.Clone(fields)
	}
	o.Parameters = params
	if o.Label != "" {
		if err := checkLabel(o.Label); err != nil {
			return nil, fmt.Errorf("ssm: Label %q: %v", o.Label, err)
		}
	}
	if o.Client == nil {
		o.Client = ssm.NewFromConfig(cfg, func(so *ssm.Options) {
			so.Retryer = retry.NewStandard(func(r *retry.StandardOptions) {
				r.MaxAttempts = o.MaxAttempts
				r.MaxBackoff = o.MaxBackoff
				if o.Backoff != nil {
					r.Backoff = o.Backoff
				}
			})
		})
	}
	return &Provider{client: o.Client, opts: o}, nil
}

// NewFromDefaultConfig is [New] with the AWS SDK's default configuration
// (config.LoadDefaultConfig: environment, shared config and credentials
// files, SSO, web identity, container and EC2 instance roles).
func NewFromDefaultConfig(ctx context.Context, optFns ...func(*Options)) (*Provider, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("ssm: load AWS default config: %w", err)
	}
	return New(cfg, optFns...)
}

// Name returns "ssm".
func (p *Provider) Name() string { return Name }

// PathFor returns the hierarchy a profile is read from when it has no
// explicit Parameters: Paths[profile], else Prefix/profile.
func (p *Provider) PathFor(profile string) string {
	if path, ok := p.opts.Paths[profile]; ok {
		return path
	}
	if p.opts.Prefix == "/" {
		return "/" + profile
	}
	return p.opts.Prefix + "/" + profile
}

// Retrieve reads the profile's parameters: the explicit Parameters mapping
// if the profile has one, else every parameter under [Provider.PathFor].
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if fields, ok := p.opts.Parameters[profile]; ok {
		return p.RetrieveParameters(ctx, profile, fields)
	}
	if strings.ContainsAny(profile, "/:") || profile == "" || profile == "." || profile == ".." {
		return provider.Credentials{}, provider.NotFound(Name, profile, "", "profile name cannot be a parameter path level")
	}
	return p.RetrievePath(ctx, profile, p.PathFor(profile))
}

// RetrievePath reads every parameter under path, recursively, decrypting
// SecureStrings, with one GetParametersByPath call per page of 10. Each
// parameter becomes a field named by its name relative to path:
// /mcp/prod/access_key_id is field access_key_id, /mcp/prod/db/password
// is field db/password. An empty hierarchy wraps provider.ErrNotFound. A
// walk that cannot read the whole hierarchy fails (see "Whole walks or
// nothing" in the package doc); it never returns part of it.
func (p *Provider) RetrievePath(ctx context.Context, profile, path string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Locator: path, Err: err}
	}
	path, err := cleanPath(path)
	if err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Locator: path, Err: err}
	}
	locator := path
	if !strings.HasSuffix(locator, "/") {
		locator += "/"
	}
	in := &ssm.GetParametersByPathInput{
		Path:           aws.String(path),
		Recursive:      aws.Bool(true),
		WithDecryption: aws.Bool(true),
		MaxResults:     aws.Int32(pageSize),
	}
	if p.opts.Label != "" {
		in.ParameterFilters = []types.ParameterStringFilter{{Key: aws.String("Label"), Option: aws.String("Equals"), Values: []string{p.opts.Label}}}
	}
	fields := make(map[string]string)
	// Tokens SSM has handed out in this walk. A walk ends only when SSM
	// sends no NextToken; a token seen before (at once or after a cycle) or
	// a parameter served twice means the server is not making progress, and
	// the walk fails rather than return what it read as if it were whole.
	seen := make(map[string]struct{})
	var token *string
	pages := 0
	for {
		if pages == p.opts.MaxPages {
			return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Locator: locator,
				Err: fmt.Errorf("%w: SSM still had more after %d pages of parameters under the path; narrow the path or raise MaxPages", ErrIncompleteWalk, p.opts.MaxPages)}
		}
		page := *in
		page.NextToken = token
		out, err := p.client.GetParametersByPath(ctx, &page)
		pages++
		if err != nil {
			return provider.Credentials{}, p.classify(ctx, profile, locator, opGetParametersByPath, err)
		}
		for _, prm := range out.Parameters {
			name := aws.ToString(prm.Name)
			rel, ok := strings.CutPrefix(name, locator)
			if !ok || rel == "" {
				continue // not under the path: never expected from SSM
			}
			if _, dup := fields[rel]; dup {
				return provider.Credentials{}, stalled(profile, locator, pages, "served a parameter of an earlier page again")
			}
			fields[rel] = aws.ToString(prm.Value)
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			break
		}
		if _, again := seen[next]; again {
			return provider.Credentials{}, stalled(profile, locator, pages, "returned a NextToken it had already returned")
		}
		seen[next] = struct{}{}
		token = aws.String(next)
	}
	p.opts.Logger.DebugContext(ctx, "ssm: read path", "profile", profile, "path", locator, "pages", pages, "fields", slices.Sorted(maps.Keys(fields)))
	c := provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: locator})
	if c.IsZero() {
		return provider.Credentials{}, provider.NotFound(Name, profile, locator, "no parameters under the path")
	}
	c.FetchedAt = p.opts.Now()
	return c, nil
}

// RetrieveParameters reads one parameter per field with GetParameter,
// decrypting SecureStrings. fields maps a field name to a parameter
// reference as [ParseRef] accepts it ("/mcp/prod/token:3"). If any
// parameter does not exist, the error wraps provider.ErrNotFound.
func (p *Provider) RetrieveParameters(ctx context.Context, profile string, fields map[string]string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Err: err}
	}
	names := slices.Sorted(maps.Keys(fields))
	refs := make([]string, 0, len(names))
	out := make(map[string]provider.Secret, len(fields))
	for _, field := range names {
		ref := fields[field]
		if _, err := ParseRef(ref); err != nil {
			return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Locator: "field " + field, Err: err}
		}
		refs = append(refs, ref)
		v, err := p.client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ref), WithDecryption: aws.Bool(true)})
		if err != nil {
			return provider.Credentials{}, p.classify(ctx, profile, ref, opGetParameter, err)
		}
		if v.Parameter == nil || aws.ToString(v.Parameter.Value) == "" {
			return provider.Credentials{}, provider.NotFound(Name, profile, ref, "parameter has no value")
		}
		out[field] = provider.NewSecret(aws.ToString(v.Parameter.Value))
	}
	p.opts.Logger.DebugContext(ctx, "ssm: read parameters", "profile", profile, "parameters", refs)
	c := provider.NewCredentialsFromSecrets(out, provider.Source{Provider: Name, Locator: strings.Join(refs, ",")})
	c.FetchedAt = p.opts.Now()
	return c, nil
}
