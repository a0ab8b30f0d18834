package awscred

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// ErrIncomplete means the resolved credentials lack a field that AWS
// requires: access_key_id or secret_access_key. The error that wraps it
// names the missing fields and the source, never a value.
var ErrIncomplete = errors.New("awscred: the resolved credentials are not AWS credentials")

// SourcePrefix starts aws.Credentials.Source for every credential a
// [Provider] returns; the rest is the resolver's attribution, such as
// "file (/home/u/.mcp/credentials [default])".
const SourcePrefix = "mcpcred: "

// Options configure a [Provider].
type Options struct {
	// ReportExpiry makes Retrieve report the credential's own expiry:
	// CanExpire and Expires are set only when the resolved credential has an
	// Expires. Leave it unset whenever anything may cache the provider, which
	// includes config.LoadDefaultConfig with config.WithCredentialsProvider:
	// an aws.CredentialsCache keeps a credential without an expiry forever,
	// and one with an expiry until then, past every rotation and
	// Resolver.InvalidateResult.
	//
	// By default Retrieve reports CanExpire true and Expires the time of the
	// call: the credential is good for the request being signed, and the
	// next request asks again. Any aws.CredentialsCache around the provider
	// then passes every call through to the resolver, whose cache decides.
	ReportExpiry bool

	// Now is the clock that stamps Expires by default; nil means time.Now.
	Now func() time.Time
}

// Provider is an aws.CredentialsProvider that resolves every Retrieve
// through a [resolver.Resolver]. Create one with [New] (a fixed request) or
// [NewContext] (the request each call's context carries). It is safe for
// concurrent use.
type Provider struct {
	r       *resolver.Resolver
	req     resolver.Request
	fromCtx bool
	opts    Options
}

var _ aws.CredentialsProvider = (*Provider)(nil)

// New returns a Provider whose Retrieve resolves req through r, which must
// not be nil. Use it as
// aws.Config.Credentials or a service client's Options.Credentials, together
// with [WithSigner]:
//
//	client := ec2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: awscred.New(r, resolver.Request{})}, awscred.WithSigner)
//
// The resolver caches: do not wrap the Provider in an aws.CredentialsCache.
// With the default Options one that wraps it anyway (as
// config.WithCredentialsProvider does) caches nothing; see
// Options.ReportExpiry.
func New(r *resolver.Resolver, req resolver.Request, optFns ...func(*Options)) *Provider {
	if r == nil {
		panic("awscred: New with a nil *resolver.Resolver")
	}
	p := &Provider{r: r, req: req}
	for _, fn := range optFns {
		fn(&p.opts)
	}
	if p.opts.Now == nil {
		p.opts.Now = time.Now
	}
	return p
}

// NewContext returns a Provider whose Retrieve resolves the request that
// its context carries ([WithRequest]), or the zero request (the default
// profile) when it carries none. The SDK passes each operation's context to
// Retrieve, so one client serves every tool call, each with its own
// selection:
//
//	_, err := client.DescribeSecurityGroups(awscred.WithRequest(ctx, in.Selection.Request()), params)
func NewContext(r *resolver.Resolver, optFns ...func(*Options)) *Provider {
	p := New(r, resolver.Request{}, optFns...)
	p.fromCtx = true
	return p
}

type requestKey struct{}

// WithRequest returns a copy of ctx that carries req for Providers made with
// [NewContext].
func WithRequest(ctx context.Context, req resolver.Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}

// RequestFrom returns the request ctx carries, if any.
func RequestFrom(ctx context.Context) (resolver.Request, bool) {
	req, ok := ctx.Value(requestKey{}).(resolver.Request)
	return req, ok
}

// request returns what p resolves in ctx.
func (p *Provider) request(ctx context.Context) resolver.Request {
	if p.fromCtx {
		if req, ok := RequestFrom(ctx); ok {
			return req
		}
	}
	return p.req
}

// Resolve returns the resolver's Result for the request p resolves in ctx,
// with its attribution: what Retrieve converts. Pass it to
// Resolver.InvalidateResult when AWS rejects the credentials, or use
// [Provider.Do].
func (p *Provider) Resolve(ctx context.Context) (resolver.Result, error) {
	return p.r.Resolve(ctx, p.request(ctx))
}

// Retrieve resolves the request through the resolver and returns the
// credentials as aws.Credentials. A cache hit in the resolver makes no
// provider call, so Retrieve is cheap enough to run for every request.
// Errors wrap the resolver's (errors.Is(err, resolver.ErrNoCredentials)
// works through the SDK's operation error) or [ErrIncomplete].
func (p *Provider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	res, err := p.Resolve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("awscred: %w", err)
	}
	return p.convert(res.Credentials)
}

func (p *Provider) convert(c provider.Credentials) (aws.Credentials, error) {
	if missing := c.Missing(provider.FieldAccessKeyID, provider.FieldSecretAccessKey); len(missing) > 0 {
		return aws.Credentials{}, &IncompleteError{Source: c.Source, Missing: missing}
	}
	out := aws.Credentials{
		AccessKeyID:     c.Value(provider.FieldAccessKeyID),
		SecretAccessKey: c.Value(provider.FieldSecretAccessKey),
		SessionToken:    c.Value(provider.FieldSessionToken),
		Source:          SourcePrefix + c.Source.String(),
	}
	switch {
	case !p.opts.ReportExpiry:
		out.CanExpire, out.Expires = true, p.opts.Now()
		if !c.Expires.IsZero() && c.Expires.Before(out.Expires) {
			out.Expires = c.Expires
		}
	case !c.Expires.IsZero():
		out.CanExpire, out.Expires = true, c.Expires
	}
	return out, nil
}

// IncompleteError reports resolved credentials that lack a field AWS
// requires. It wraps [ErrIncomplete]. It names fields and the source, never
// a value.
type IncompleteError struct {
	Source  provider.Source // where the credentials came from
	Missing []string        // canonical names of the missing fields
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("awscred: the credentials from %s lack %s (set resolver Options.Required to these fields so that the chain skips such answers)",
		e.Source, strings.Join(e.Missing, " and "))
}

// Unwrap returns [ErrIncomplete].
func (e *IncompleteError) Unwrap() error { return ErrIncomplete }

// Do calls fn, which makes AWS calls with a client that uses p, and retries
// it once when AWS rejected the credentials: if fn's error is [Rejected] and
// the credentials came from a source rather than the request, Do drops the
// resolver's cached value (Resolver.InvalidateResult), resolves again, and,
// when that gives other credentials, calls fn once more. When the source
// still holds the credentials AWS rejected, Do returns fn's error: retrying
// would fail the same way.
//
// fn must be safe to call twice: a rejected call had no effect on AWS's side.
func (p *Provider) Do(ctx context.Context, fn func(context.Context) error) error {
	req := p.request(ctx)
	before, err := p.r.Resolve(ctx, req)
	if err != nil {
		return fmt.Errorf("awscred: %w", err)
	}
	err = fn(ctx)
	if !Rejected(err) || before.FromRequest() {
		return err
	}
	p.r.InvalidateResult(before)
	after, rerr := p.r.Resolve(ctx, req)
	switch {
	case rerr != nil:
		return fmt.Errorf("%w (resolving the credentials again after AWS rejected them failed: %w)", err, rerr)
	case after.Credentials.Equal(before.Credentials):
		return err
	}
	return fn(ctx)
}
