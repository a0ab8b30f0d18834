package ssm

import (
	"context"
	"slices"
	"strconv"
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
//	ssm:/mcp/prod/                        every parameter under the path, at any depth (a recursive GetParametersByPath walk)
//	ssm:/mcp/prod/token#token             one parameter (GetParameter) as the field token
//	ssm:/mcp/prod/token?version=3#token   version 3 of it
//	ssm:/mcp/prod/token?label=current#token  the version labelled current
//	ssm:arn:aws:ssm:REGION:ACCOUNT:parameter/mcp/prod/token#token  by ARN
//
// The Target's one resource is the parameter (ssm:/mcp/prod/token; an ARN
// as written) or, for a path, the whole subtree: ssm:/mcp/prod/**. So a
// walk is allowed only by a recursive pattern such as ssm:/mcp/prod/**;
// ssm:/mcp/prod/* allows the parameters directly under /mcp/prod one by one.
//
// A body ending in "/" is a path (fields are named as [Provider.RetrievePath]
// names them) and takes no #field; any other body is one parameter, as
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

func (s *scheme) Open(ref provider.Ref) (provider.Target, error) {
	if s.newErr != nil {
		return provider.Target{}, s.newErr
	}
	if err := ref.OnlyParams("version", "label"); err != nil {
		return provider.Target{}, err
	}
	body := ref.Body
	switch {
	case body == "":
		return provider.Target{}, provider.InvalidRef(ref, "body", "names no parameter or path (such as /mcp/prod/ or /mcp/prod/token#token)")
	case body == "/":
		return provider.Target{}, provider.InvalidRef(ref, "body", `is "/", which would read every parameter in the account; name a hierarchy such as /mcp/prod/`)
	case slices.Contains(strings.Split(body, "/"), ".") || slices.Contains(strings.Split(body, "/"), ".."):
		return provider.Target{}, provider.InvalidRef(ref, "body", `has a "." or ".." segment`)
	case strings.Contains(body, "*"):
		return provider.Target{}, provider.InvalidRef(ref, "body", `holds "*": references name one parameter or path, patterns are the operator's`)
	case strings.HasSuffix(body, "/"):
		path, err := cleanPath(body)
		if err != nil {
			return provider.Target{}, provider.InvalidRef(ref, "body", "is not a parameter path SSM accepts (letters, digits, . - _ /, a leading /, no empty level, at most 15 levels, not starting with aws or ssm)")
		}
		switch {
		case ref.Field != "":
			return provider.Target{}, provider.InvalidRef(ref, "field", "is set, but a path gives every parameter under it as fields; for one parameter write ssm:/PATH/NAME#FIELD")
		case ref.Params != "":
			return provider.Target{}, provider.InvalidRef(ref, "params", "are set, but a path walk reads the current versions; pin a version on one parameter")
		}
		return provider.Target{
			Provider:  &refProvider{get: s.get, path: path},
			Resources: []provider.Resource{{Scheme: "ssm", Path: path, Span: provider.Subtree}},
		}, nil
	}
	r, err := ParseRef(body)
	switch {
	case err != nil:
		return provider.Target{}, provider.InvalidRef(ref, "body", "is not a parameter name SSM accepts (letters, digits, . - _ /, a leading / for a hierarchy, at most 15 levels)")
	case r.Version != 0 || r.Label != "":
		return provider.Target{}, provider.InvalidRef(ref, "body", "ends in :SELECTOR; write a version as ?version=N and a label as ?label=L")
	case ref.Field == "":
		return provider.Target{}, provider.InvalidRef(ref, "field", "is missing: one parameter needs #FIELD to name its field (such as #token), or end a path with / to read every parameter under it")
	case !provider.ValidField(ref.Field):
		return provider.Target{}, provider.InvalidRef(ref, "field", "is not a field name: 1-64 characters of a-z, 0-9 and _")
	}
	version, label := ref.Param("version"), ref.Param("label")
	switch {
	case version != "" && label != "":
		return provider.Target{}, provider.InvalidRef(ref, "params", "pin both a version and a label; choose one")
	case version != "":
		n, err := strconv.ParseInt(version, 10, 64)
		if err != nil || n < 1 || version[0] == '0' {
			return provider.Target{}, provider.InvalidRef(ref, "params", "have a version that is not a positive integer")
		}
		r.Version = n
	case label != "" && label[0] >= '0' && label[0] <= '9':
		return provider.Target{}, provider.InvalidRef(ref, "params", "have a label that starts with a digit, which SSM reads as a version; write ?version=N")
	case label != "":
		if err := checkLabel(label); err != nil {
			return provider.Target{}, provider.InvalidRef(ref, "params", "have a label SSM refuses: "+err.Error())
		}
		r.Label = label
	}
	return provider.Target{
		Provider:  &refProvider{get: s.get, params: map[string]string{ref.Field: r.String()}},
		Resources: []provider.Resource{{Scheme: "ssm", Path: r.Name}},
	}, nil
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
