package profile_test

import (
	"context"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// BenchmarkHitWithHas is a cached named-profile hit whose policy is the
// profiles file (Provider.Has), as an MCP server runs it.
//
//	go test -run '^$' -bench BenchmarkHitWithHas -benchmem ./profile
func BenchmarkHitWithHas(b *testing.B) {
	path := write(b, `{"profiles": {"prod": {"source": "static:prod"}}}`, 0o600)
	p := newProvider(b, path, nil, nil)
	r, err := resolver.New([]provider.Provider{p}, func(o *resolver.Options) { o.AllowProfile = p.Allows })
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.Resolve(ctx, resolver.Request{Profile: "prod"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(ctx, resolver.Request{Profile: "prod"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPerSubjectRetrieve is a per-subject profile's Retrieve (no
// resolver cache): the template opened for the probe and for the caller,
// the place checked, and the source read.
//
//	go test -run '^$' -bench BenchmarkPerSubject -benchmem ./profile
func BenchmarkPerSubjectRetrieve(b *testing.B) {
	path := write(b, `{"profiles": {"mine": {"source": "static:users/{sub}", "allow": {"issuers": ["`+issuer+`"]}},
		"plain": {"source": "static:users/alice", "allow": {"issuers": ["`+issuer+`"]}}}}`, 0o600)
	p := newProvider(b, path, nil, nil)
	ctx := provider.ContextWithCaller(context.Background(), caller("alice"))
	for _, name := range []string{"plain", "mine"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Retrieve(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
