package resolver_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// BenchmarkHit compares a cache hit in mcpcred with the two caches Go
// programs use today, in the same run: aws-sdk-go-v2's aws.CredentialsCache
// over a static provider and x/oauth2's ReuseTokenSource over a valid token.
//
//	go test -run '^$' -bench BenchmarkHit -benchmem ./resolver
func BenchmarkHit(b *testing.B) {
	ctx := context.Background()

	r := mustNew(b, []provider.Provider{provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return creds("secret"), nil
	})}, func(o *resolver.Options) {
		o.AllowProfile = func(_ *provider.Caller, name string) bool { return name == "prod" }
	})
	if _, err := r.Resolve(ctx, resolver.Request{}); err != nil {
		b.Fatal(err)
	}

	if _, err := r.Resolve(ctx, resolver.Request{Profile: "prod"}); err != nil {
		b.Fatal(err)
	}

	awsCache := aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKID", "secret", ""))
	if _, err := awsCache.Retrieve(ctx); err != nil {
		b.Fatal(err)
	}

	// Credentials that can expire make aws check the clock on every hit, as
	// every real AWS credential (STS, SSO, IMDS) does; mcpcred always
	// enforces a TTL, so this is the like-for-like case.
	awsExpiring := aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
	}))
	if _, err := awsExpiring.Retrieve(ctx); err != nil {
		b.Fatal(err)
	}

	oauth := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{
		AccessToken: "secret", Expiry: time.Now().Add(time.Hour),
	}))
	if _, err := oauth.Token(); err != nil {
		b.Fatal(err)
	}

	impls := []struct {
		name string
		hit  func() error
	}{
		{"mcpcred", func() error { _, err := r.Resolve(ctx, resolver.Request{}); return err }},
		{"mcpcred-named-profile", func() error { _, err := r.Resolve(ctx, resolver.Request{Profile: "prod"}); return err }},
		{"aws-credentials-cache", func() error { _, err := awsCache.Retrieve(ctx); return err }},
		{"aws-credentials-cache-expiring", func() error { _, err := awsExpiring.Retrieve(ctx); return err }},
		{"oauth2-reuse", func() error { _, err := oauth.Token(); return err }},
	}
	for _, impl := range impls {
		b.Run(impl.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := impl.hit(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(impl.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := impl.hit(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkMissStorm measures 1,000 goroutines missing at once on a provider
// that takes 10 ms, and reports allocations per waiting caller. "baseline"
// is the same storm calling nothing, to subtract the cost of the goroutines.
//
//	go test -run '^$' -bench BenchmarkMissStorm -benchmem ./resolver
func BenchmarkMissStorm(b *testing.B) {
	const waiters = 1000
	slow := func() { time.Sleep(10 * time.Millisecond) }
	impls := []struct {
		name string
		make func() func(context.Context) error
	}{
		{"baseline", func() func(context.Context) error {
			return func(context.Context) error { return nil }
		}},
		{"mcpcred", func() func(context.Context) error {
			r := mustNew(b, []provider.Provider{provider.Func(func(context.Context, string) (provider.Credentials, error) {
				slow()
				return creds("secret"), nil
			})})
			return func(ctx context.Context) error { _, err := r.Resolve(ctx, resolver.Request{}); return err }
		}},
		{"aws-credentials-cache", func() func(context.Context) error {
			c := aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				slow()
				return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", Source: "bench"}, nil
			}))
			return func(ctx context.Context) error { _, err := c.Retrieve(ctx); return err }
		}},
	}
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			ctx := context.Background()
			var mallocs uint64
			var ms runtime.MemStats
			for b.Loop() {
				b.StopTimer()
				get := impl.make()
				var wg sync.WaitGroup
				start := make(chan struct{})
				wg.Add(waiters)
				for range waiters {
					go func() {
						defer wg.Done()
						<-start
						if err := get(ctx); err != nil {
							b.Error(err)
						}
					}()
				}
				runtime.ReadMemStats(&ms)
				before := ms.Mallocs
				b.StartTimer()
				close(start)
				wg.Wait()
				b.StopTimer()
				runtime.ReadMemStats(&ms)
				mallocs += ms.Mallocs - before
				b.StartTimer()
			}
			b.ReportMetric(float64(mallocs)/float64(b.N*waiters), "allocs/waiter")
		})
	}
}
