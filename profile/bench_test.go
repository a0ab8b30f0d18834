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
