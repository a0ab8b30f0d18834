package ssm

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/provider"
)

// Scheme returns the [provider.Scheme] for "ssm:" references, to register
// in a [provider.Schemes]:
//
//	s.Register("ssm", ssm.Scheme(cfg))
//
// The forms are
//
//	ssm:/mcp/prod/              every parameter under the path, one paginated GetParametersByPath walk
//	ssm:/mcp/prod/token#token   one parameter (GetParameter) as the field token
//	ssm:/mcp/prod/token:3#token version 3 of it
//	ssm:/mcp/prod/token:current#token  the version labelled current
//	ssm:arn:aws:ssm:REGION:ACCOUNT:parameter/mcp/prod/token#token  by ARN
//
// A body ending in "/" is a path (fields are named as [Provider.RetrievePath]
// names them) and takes no #fragment; any other body is one parameter, as
// [ParseRef] reads it, and needs a #FIELD (1 to 64 of a-z, 0-9 and '_')
// naming the field it becomes. "ssm:/" (every parameter in the account and
// region) is refused.
//
// Every reference is served by one Provider built with [New](cfg,
// optFns...), so one SSM client; Options.Label applies to path walks, and
// Prefix, Paths and Parameters play no part. An error from New (an invalid
// option) is returned for every reference.
func Scheme(cfg aws.Config, optFns ...func(*Options)) provider.Scheme {
	p, err := New(cfg, optFns...)
	return &scheme{get: func(context.Context) (*Provider, error) { return p, nil }, newErr: err}
}

// SchemeFromDefaultConfig is [Scheme] with the AWS SDK's default
// configuration, as [NewFromDefaultConfig] loads it. The configuration is
// loaded at the first Retrieve through a reference, with that call's
// context; if loading fails, the next Retrieve tries again.
func SchemeFromDefaultConfig(optFns ...func(*Options)) provider.Scheme {
	l := &lazy{build: func(ctx context.Context) (*Provider, error) { return NewFromDefaultConfig(ctx, optFns...) }}
	return &scheme{get: l.get}
}

type scheme struct {
	get    func(context.Context) (*Provider, error)
	newErr error
}

// lazy builds a Provider once, on first use; a failed build is retried.
type lazy struct {
	p     atomic.Pointer[Provider]
	mu    sync.Mutex
	build func(context.Context) (*Provider, error)
}

func (l *lazy) get(ctx context.Context) (*Provider, error) {
	if p := l.p.Load(); p != nil {
		return p, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.p.Load(); p != nil {
		return p, nil
	}
	p, err := l.build(ctx)
	if err != nil {
		return nil, err
	}
	l.p.Store(p)
	return p, nil
}

func (s *scheme) Provider(ref provider.Ref) (provider.Provider, error) {
	if s.newErr != nil {
		return nil, s.newErr
	}
	body := ref.Body
	switch {
	case body == "":
		return nil, refError("body", "names no parameter or path (such as /mcp/prod/ or /mcp/prod/token#token)")
	case body == "/":
		return nil, refError("body", `"/" would read every parameter in the account; name a hierarchy such as /mcp/prod/`)
	case strings.HasSuffix(body, "/"):
		path, err := cleanPath(body)
		if err != nil {
			return nil, fmt.Errorf("%w: ssm: body: %w", provider.ErrInvalidRef, err)
		}
		if ref.Fragment != "" {
			return nil, refError("fragment", "%s: a path (%s) gives every parameter under it as fields and takes no #fragment; for one parameter write ssm:%sNAME#FIELD",
				quote(ref.Fragment), quote(body), path+"/")
		}
		return &refProvider{get: s.get, path: path}, nil
	}
	r, err := ParseRef(body)
	if err != nil {
		return nil, fmt.Errorf("%w: ssm: body: %w", provider.ErrInvalidRef, err)
	}
	switch {
	case ref.Fragment == "":
		example := "ssm:NAME#token"
		if len(body) <= 80 {
			example = "ssm:" + body + "#token" // a valid parameter name: nothing to escape
		}
		return nil, refError("fragment", "missing: %s names one parameter; add #FIELD to name its field (such as %s), or end a path with / to read every parameter under it",
			quote(body), example)
	case !provider.ValidField(ref.Fragment):
		return nil, refError("fragment", "field name %s must be 1-64 characters of a-z, 0-9 and _", quote(ref.Fragment))
	}
	return &refProvider{get: s.get, params: map[string]string{ref.Fragment: r.String()}}, nil
}

// refProvider answers for one reference whatever profile it is asked for.
type refProvider struct {
	get    func(context.Context) (*Provider, error)
	path   string            // a path walk, or
	params map[string]string // one parameter: field -> reference
}

func (r *refProvider) Name() string { return Name }

func (r *refProvider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Err: err}
	}
	p, err := r.get(ctx)
	if err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Err: err}
	}
	if r.path != "" {
		return p.RetrievePath(ctx, profile, r.path)
	}
	return p.RetrieveParameters(ctx, profile, r.params)
}

func refError(part, format string, args ...any) error {
	return fmt.Errorf("%w: ssm: %s: %s", provider.ErrInvalidRef, part, fmt.Sprintf(format, args...))
}

func quote(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("(%d bytes)", len(s))
	}
	return fmt.Sprintf("%q", s)
}
