package keychain

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/mcpcred/mcpcred/provider"
)

// Scheme returns the [provider.Scheme] for "keychain:" references, to
// register in a [provider.Schemes]:
//
//	s.Register("keychain", keychain.Scheme())
//
// The forms follow the package's naming (service "mcpcred:PROFILE", one
// item per field):
//
//	keychain:PROFILE               every field of PROFILE: service mcpcred:PROFILE
//	keychain:PROFILE#FIELD         one item: service mcpcred:PROFILE, account FIELD
//	keychain:SERVICE/PROFILE       PROFILE under another service prefix: service SERVICE:PROFILE
//	keychain:SERVICE/PROFILE#FIELD one item of it
//	keychain:                      the profile "default"
//
// so keychain:mcpcred/ops is keychain:ops with the default prefix, and the
// Target's one resource is always SERVICE/PROFILE: keychain:mcpcred/ops, so
// an operator allows keychain:mcpcred/* for every profile under the default
// prefix. No ?params. A whole
// profile is read as Retrieve reads it (the fields in its index item, else
// the probed Options.Fields); a #FIELD reads that one item, even one no
// index lists, and returns it as the field FIELD. optFns configure the
// Providers the Scheme builds (Service sets the default prefix; Keyring,
// Timeout, MaxInFlight, Limiter, Fields, Logger and Now apply as they are).
// The references under one prefix share one Provider. Every Provider the
// Scheme builds shares one [Limiter] (Options.Limiter, else a new one of
// MaxInFlight calls), so the bound on keyring calls in flight holds for all
// its references together, including Providers it has since dropped.
func Scheme(optFns ...func(*Options)) provider.Scheme {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	if o.Service == "" {
		o.Service = DefaultService
	}
	lim := o.Limiter
	if lim == nil {
		lim = NewLimiter(o.MaxInFlight)
	}
	return &scheme{optFns: optFns, defService: o.Service, lim: lim, byService: map[string]*Provider{}}
}

type scheme struct {
	optFns     []func(*Options)
	defService string
	lim        *Limiter // shared by every Provider built here

	mu        sync.Mutex
	byService map[string]*Provider
}

// maxSchemeServices bounds the service prefixes a Scheme keeps Providers
// for.
const maxSchemeServices = 16

func (s *scheme) Open(ref provider.Ref) (provider.Target, error) {
	if err := ref.OnlyParams(); err != nil {
		return provider.Target{}, err
	}
	if strings.Contains(ref.Body, "*") {
		return provider.Target{}, provider.InvalidRef(ref, "body", `holds "*": references name one profile, patterns are the operator's`)
	}
	service, profile := s.defService, ref.Body
	if before, after, ok := strings.Cut(ref.Body, "/"); ok {
		service, profile = before, after
		if r := validService(service); r != "" {
			return provider.Target{}, provider.InvalidRef(ref, "body", "has a service prefix that is not valid: it "+r)
		}
		if strings.Contains(profile, "/") {
			return provider.Target{}, provider.InvalidRef(ref, "body", "has more than one /; the form is SERVICE/PROFILE")
		}
	}
	if profile == "" && !strings.Contains(ref.Body, "/") {
		profile = provider.DefaultProfile
	}
	if service == "." || service == ".." || profile == "." || profile == ".." {
		return provider.Target{}, provider.InvalidRef(ref, "body", `has a "." or ".." segment; name a service prefix and a profile`)
	}
	if r := validProfile(profile); r != "" {
		return provider.Target{}, provider.InvalidRef(ref, "body", "names a profile that is not valid: "+r)
	}
	if ref.Field != "" {
		if r := validField(ref.Field); r != "" {
			return provider.Target{}, provider.InvalidRef(ref, "field", r)
		}
	}
	return provider.Target{
		Ref:       provider.Ref{Scheme: ref.Scheme, Body: service + "/" + profile, Field: ref.Field},
		Provider:  &refProvider{p: s.provider(service), profile: profile, field: ref.Field},
		Resources: []provider.Resource{{Scheme: "keychain", Path: service + "/" + profile}},
	}, nil
}

// ResourceShape says that every resource is SERVICE/PROFILE: a
// [provider.ShapedScheme]. (A default prefix holding "/" makes that
// unknowable, and the shape is then every path.)
func (s *scheme) ResourceShape() provider.ResourceShape {
	shape := provider.ResourceShape{Pattern: "keychain:*/*", Hint: "a keychain: pattern names SERVICE/PROFILE, such as keychain:" +
		s.defService + "/* for every profile under the default service prefix"}
	if strings.Contains(s.defService, "/") {
		shape.Pattern = "keychain:**"
	}
	return shape
}

func (s *scheme) provider(service string) *Provider {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.byService[service]; ok {
		return p
	}
	if len(s.byService) >= maxSchemeServices {
		clear(s.byService) // Providers handed out keep working, and the bound is s.lim's.
	}
	fns := append(append(make([]func(*Options), 0, len(s.optFns)+1), s.optFns...), func(o *Options) { o.Service = service; o.Limiter = s.lim })
	p := New(fns...)
	s.byService[service] = p
	return p
}

// refProvider answers for one profile, or one item of it, whatever profile
// it is asked for.
type refProvider struct {
	p       *Provider
	profile string
	field   string // "" for every field
}

func (r *refProvider) Name() string { return Name }

func (r *refProvider) Retrieve(ctx context.Context, _ string) (provider.Credentials, error) {
	if r.field == "" {
		return r.p.Retrieve(ctx, r.profile)
	}
	if err := r.p.ctxErr(ctx, r.profile); err != nil {
		return provider.Credentials{}, err
	}
	service := r.p.ServiceName(r.profile)
	loc := locator(service, r.field)
	v, err := r.p.get(ctx, service, r.field)
	if k, rerr := r.p.classify(err, r.profile, loc); k != kindOK {
		return provider.Credentials{}, rerr
	}
	if v == "" {
		return provider.Credentials{}, provider.NotFound(Name, r.profile, loc, "keychain: the item is empty")
	}
	c := provider.NewCredentials(map[string]string{r.field: v}, provider.Source{Provider: Name, Locator: loc})
	c.FetchedAt = r.p.opts.Now()
	return c, nil
}

// validService reports why s cannot be a service prefix, or "".
func validService(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > MaxProfileLen:
		return fmt.Sprintf("is longer than %d bytes", MaxProfileLen)
	case strings.Contains(s, ":"):
		return `contains ":", which keychain names use as a separator`
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		return "contains a space or control character"
	}
	return ""
}
