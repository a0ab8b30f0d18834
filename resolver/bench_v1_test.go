package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// The benchmarks in this file are scenarios of the resolver's failure
// handling and scale, each run side by side with aws-sdk-go-v2's
// aws.CredentialsCache and x/oauth2's ReuseTokenSource where they have the
// notion. Most are scenarios rather than loops: run them once each.
//
//	go test -run '^$' -bench 'V1' -benchtime 1x -benchmem ./resolver
//
// They report custom metrics: calls/key/s (provider calls per key per
// second), calls/key/TTL, max-wait-ns (the longest any read waited),
// failed-reads (the share of reads that got an error), stuck-calls and
// goroutines (left behind by a provider that ignores its context), and
// B/entry.

// v1Names returns n profile names.
func v1Names(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("p%06d", i)
	}
	return names
}

// v1Backend is a credential backend that the benchmark takes down: while
// up it answers (with Expires = expires when set, after latency); down, it
// fails fast, or hangs when hang is set (until its ctx ends, or until
// release when ignoreCtx is set).
type v1Backend struct {
	calls     atomic.Int64
	down      atomic.Bool
	expires   time.Time
	lifetime  time.Duration // when set, each answer expires lifetime after it is made
	latency   time.Duration
	hang      bool
	ignoreCtx bool
	release   chan struct{}
}

var errV1Down = errors.New("connection refused")

func (be *v1Backend) fetch(ctx context.Context) (time.Time, error) {
	be.calls.Add(1)
	if be.down.Load() {
		if !be.hang {
			return time.Time{}, errV1Down
		}
		if be.ignoreCtx {
			<-be.release
		} else {
			select {
			case <-ctx.Done():
			case <-be.release:
			}
		}
		return time.Time{}, errV1Down
	}
	if be.latency > 0 {
		time.Sleep(be.latency)
	}
	if be.lifetime > 0 {
		return time.Now().Add(be.lifetime), nil
	}
	return be.expires, nil
}

// v1Impl is one cache under test, over keys keys of one backend.
type v1Impl struct {
	name string
	// build returns a read of key k; ctx bounds the read where the cache
	// takes a context.
	build func(b *testing.B, be *v1Backend, keys int) func(ctx context.Context, k int) error
}

// v1Mcpcred builds a resolver whose chain is be, with opts.
func v1Mcpcred(opts ...func(*resolver.Options)) v1Impl {
	return v1Impl{"mcpcred", func(b *testing.B, be *v1Backend, keys int) func(context.Context, int) error {
		names := v1Names(keys)
		p := provider.WithName(provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
			exp, err := be.fetch(ctx)
			if err != nil {
				return provider.Credentials{}, provider.Unavailable("backend", profile, "", err)
			}
			c := creds("secret")
			c.Expires = exp
			return c, nil
		}), "backend")
		r := mustNew(b, []provider.Provider{p}, append([]func(*resolver.Options){func(o *resolver.Options) {
			o.AllowProfile = resolver.AnyProfile
		}}, opts...)...)
		return func(ctx context.Context, k int) error {
			_, err := r.Resolve(ctx, resolver.Request{Profile: names[k]})
			return err
		}
	}}
}

// v1AWS builds one aws.CredentialsCache per key over be, refreshing window
// ahead of expiry.
func v1AWS(window time.Duration) v1Impl {
	return v1Impl{"aws-credentials-cache", func(b *testing.B, be *v1Backend, keys int) func(context.Context, int) error {
		caches := make([]*aws.CredentialsCache, keys)
		for i := range caches {
			caches[i] = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
				exp, err := be.fetch(ctx)
				if err != nil {
					return aws.Credentials{}, err
				}
				return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", CanExpire: !exp.IsZero(), Expires: exp}, nil
			}), func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = window })
		}
		return func(ctx context.Context, k int) error { _, err := caches[k].Retrieve(ctx); return err }
	}}
}

type v1TokenSource func() (*oauth2.Token, error)

func (f v1TokenSource) Token() (*oauth2.Token, error) { return f() }

// v1OAuth2 builds one oauth2.ReuseTokenSource per key over be, refreshing
// window ahead of expiry. Token takes no context: a hanging backend is
// bounded by hangTimeout, as an http.Client.Timeout would.
func v1OAuth2(window, hangTimeout time.Duration) v1Impl {
	return v1Impl{"oauth2-reuse", func(b *testing.B, be *v1Backend, keys int) func(context.Context, int) error {
		srcs := make([]oauth2.TokenSource, keys)
		for i := range srcs {
			srcs[i] = oauth2.ReuseTokenSourceWithExpiry(nil, v1TokenSource(func() (*oauth2.Token, error) {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if hangTimeout > 0 {
					ctx, cancel = context.WithTimeout(ctx, hangTimeout)
				}
				defer cancel()
				exp, err := be.fetch(ctx)
				if err != nil {
					return nil, err
				}
				return &oauth2.Token{AccessToken: "secret", Expiry: exp}, nil
			}), window)
		}
		return func(_ context.Context, k int) error { _, err := srcs[k].Token(); return err }
	}}
}

// v1Reads is the outcome of a read phase.
type v1Reads struct {
	reads, failed int64
	maxWait       time.Duration
	totalWait     time.Duration
	slow          int64         // reads that waited slowAt or longer
	elapsed       time.Duration // the phase as it ran
}

// v1SlowRead is the wait from which a read counts as slow: it waited for
// a backend, not for the scheduler.
const v1SlowRead = 25 * time.Millisecond

// v1ReadFor reads every key from readers goroutines until end, each reader
// pausing pause after each round over the keys, with each read bounded by
// readTimeout when set.
func v1ReadFor(end time.Time, readers, keys int, pause, readTimeout time.Duration, get func(context.Context, int) error) v1Reads {
	var mu sync.Mutex
	var total v1Reads
	var wg sync.WaitGroup
	began := time.Now()
	for reader := range readers {
		wg.Go(func() {
			var mine v1Reads
			for first := true; first || time.Now().Before(end); first = false {
				for i := range keys {
					k := (i + reader*keys/readers) % keys // readers start apart
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if readTimeout > 0 {
						ctx, cancel = context.WithTimeout(ctx, readTimeout)
					}
					start := time.Now()
					err := get(ctx, k)
					wait := time.Since(start)
					cancel()
					mine.reads++
					mine.totalWait += wait
					mine.maxWait = max(mine.maxWait, wait)
					if wait >= v1SlowRead {
						mine.slow++
					}
					if err != nil {
						mine.failed++
					}
				}
				if pause > 0 {
					time.Sleep(pause)
				}
			}
			mu.Lock()
			total.reads += mine.reads
			total.failed += mine.failed
			total.slow += mine.slow
			total.totalWait += mine.totalWait
			total.maxWait = max(total.maxWait, mine.maxWait)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = time.Since(began)
	return total
}

func (rd v1Reads) report(b *testing.B, calls int64, keys int) {
	b.ReportMetric(float64(calls)/float64(keys)/rd.elapsed.Seconds(), "calls/key/s")
	b.ReportMetric(float64(rd.maxWait.Nanoseconds()), "max-wait-ns")
	b.ReportMetric(float64(rd.totalWait.Nanoseconds())/float64(rd.reads), "mean-wait-ns")
	b.ReportMetric(float64(rd.failed)/float64(rd.reads), "failed-reads")
	b.ReportMetric(float64(rd.reads)/rd.elapsed.Seconds(), "reads/s")
}

const (
	v1Keys    = 8
	v1Readers = 4
	v1Pause   = time.Millisecond
)

// v1FailFast runs the fail-fast scenario: a value that lives lifetime, a
// backend that fails fast from its last window on, and reads over the
// phase [from, from+phase) measured from the fill.
func v1FailFast(b *testing.B, impls []v1Impl, lifetime, window, from, phase time.Duration, noExpires bool) {
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				t0 := time.Now()
				be := &v1Backend{expires: t0.Add(lifetime)}
				if noExpires {
					be.expires = time.Time{}
				}
				get := impl.build(b, be, v1Keys)
				for k := range v1Keys {
					if err := get(context.Background(), k); err != nil {
						b.Fatal(err)
					}
				}
				time.Sleep(time.Until(t0.Add(lifetime - window)))
				be.down.Store(true)
				time.Sleep(time.Until(t0.Add(from)))
				before := be.calls.Load()
				rd := v1ReadFor(t0.Add(from+phase), v1Readers, v1Keys, v1Pause, 0, get)
				rd.report(b, be.calls.Load()-before, v1Keys)
			}
		})
	}
}

// BenchmarkV1FailFastBeforeExpiry: credentials that expire after 1 s, a
// backend that fails fast (unavailable) during their last 0.5 s, which is
// also each cache's refresh window. Reads over that half second.
// Goal: a few provider calls per key per second, backing off; no read fails.
func BenchmarkV1FailFastBeforeExpiry(b *testing.B) {
	const lifetime, window = time.Second, 500 * time.Millisecond
	v1FailFast(b, []v1Impl{
		v1Mcpcred(func(o *resolver.Options) { o.RefreshWindow = window }),
		v1AWS(window),
		v1OAuth2(window, 0),
	}, lifetime, window, lifetime-window, window-10*time.Millisecond, false)
}

// BenchmarkV1FailFastAfterExpiry: the same backend, read during the 0.5 s
// after the credentials expired. An expired value is never served, so each
// read fails; the question is how often the backend is called and how long
// a read waits for its error. "mcpcred-no-expires" is a value without
// Expires (TTL 1 s) under the same outage: stale-while-revalidate serves it.
// Goal: the stale value (where there is one) or the error at once, backing off.
func BenchmarkV1FailFastAfterExpiry(b *testing.B) {
	const lifetime, window = time.Second, 500 * time.Millisecond
	v1FailFast(b, []v1Impl{
		v1Mcpcred(func(o *resolver.Options) { o.RefreshWindow = window }),
		v1AWS(window),
		v1OAuth2(window, 0),
	}, lifetime, window, lifetime, window, false)
	noExp := v1Mcpcred(func(o *resolver.Options) { o.TTL = lifetime })
	noExp.name = "mcpcred-no-expires"
	v1FailFast(b, []v1Impl{noExp}, lifetime, 0, lifetime, window, true)
}

// BenchmarkV1HangingBackend: a backend that hangs (honoring its context)
// from the end of the value's 200 ms TTL on; ProviderTimeout is 100 ms, and
// each read is bounded by 100 ms where the cache takes a context (oauth2's
// backend stands for an http.Client with a 100 ms Timeout). Reads for
// 0.5 s past the TTL. Goal: the stale value at once while a background
// refresh tries.
func BenchmarkV1HangingBackend(b *testing.B) {
	const ttl, timeout, phase = 200 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond
	impls := []v1Impl{
		v1Mcpcred(func(o *resolver.Options) { o.TTL = ttl; o.ProviderTimeout = timeout }),
		v1AWS(0),
		v1OAuth2(time.Nanosecond, timeout),
	}
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				t0 := time.Now()
				be := &v1Backend{hang: true, release: make(chan struct{})}
				if impl.name != "mcpcred" {
					be.expires = t0.Add(ttl) // aws and oauth2 refresh only what expires
				}
				get := impl.build(b, be, v1Keys)
				for k := range v1Keys {
					if err := get(context.Background(), k); err != nil {
						b.Fatal(err)
					}
				}
				time.Sleep(time.Until(t0.Add(ttl)))
				be.down.Store(true)
				before := be.calls.Load()
				rd := v1ReadFor(t0.Add(ttl+phase), v1Readers, v1Keys, v1Pause, timeout, get)
				rd.report(b, be.calls.Load()-before, v1Keys)
				close(be.release)
			}
		})
	}
}

// v1Stuck counts the calls of a provider that ignores its context.
type v1Stuck struct {
	in      atomic.Int64
	release chan struct{}
}

func (s *v1Stuck) retrieve() {
	s.in.Add(1)
	defer s.in.Add(-1)
	<-s.release
}

// BenchmarkV1AbandonedCalls: a provider that ignores its context, with
// ProviderTimeout (or aws's read deadline) 10 ms and N = 20 timeouts:
// calls still stuck in the provider, and goroutines left, afterwards.
// Goal: bounded by MaxAbandoned (DefaultMaxAbandoned). "sequential" is one profile read 20
// times, each after the backoff (a fake clock skips it); "concurrent" is
// 20 profiles read at once; "reference" is one reference read 20 times.
// aws keeps one call in flight per cache, which every later read joins.
func BenchmarkV1AbandonedCalls(b *testing.B) {
	const n, timeout = 20, 10 * time.Millisecond
	type scenario struct {
		name string
		run  func(b *testing.B, s *v1Stuck)
	}
	mcpcred := func(b *testing.B, s *v1Stuck, clk *fakeClock) *resolver.Resolver {
		p := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
			s.retrieve()
			return provider.Credentials{}, nil
		}), "stuck")
		var schemes provider.Schemes
		schemes.Register("vault", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) { return vaultTarget(ref, p) }))
		return mustNew(b, []provider.Provider{p}, func(o *resolver.Options) {
			o.ProviderTimeout = timeout
			o.AllowProfile = resolver.AnyProfile
			o.References = &schemes
			o.AllowReferences = allow(b, "vault:secret/*")
			if clk != nil {
				o.Now = clk.Now
			}
		})
	}
	scenarios := []scenario{
		{"mcpcred/sequential", func(b *testing.B, s *v1Stuck) {
			clk := newClock()
			r := mcpcred(b, s, clk)
			for range n {
				_, _ = r.Resolve(context.Background(), resolver.Request{})
				clk.Advance(resolver.DefaultMaxRetry)
			}
		}},
		{"mcpcred/concurrent", func(b *testing.B, s *v1Stuck) {
			r := mcpcred(b, s, newClock())
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { _, _ = r.Resolve(context.Background(), resolver.Request{Profile: fmt.Sprintf("p%d", i)}) })
			}
			wg.Wait()
		}},
		{"mcpcred/reference", func(b *testing.B, s *v1Stuck) {
			clk := newClock()
			r := mcpcred(b, s, clk)
			for range n {
				_, _ = r.Resolve(context.Background(), resolver.Request{CredentialID: "vault:secret/mcp"})
				clk.Advance(resolver.DefaultMaxRetry)
			}
		}},
		{"aws-credentials-cache/sequential", func(b *testing.B, s *v1Stuck) {
			c := aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				s.retrieve()
				return aws.Credentials{}, errV1Down
			}))
			for range n {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				_, _ = c.Retrieve(ctx)
				cancel()
			}
		}},
	}
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				runtime.GC()
				before := runtime.NumGoroutine()
				s := &v1Stuck{release: make(chan struct{})}
				sc.run(b, s)
				// Let every abandoned call reach the provider: on a busy
				// machine a call can time out before its goroutine runs.
				time.Sleep(100 * time.Millisecond)
				b.ReportMetric(float64(s.in.Load()), "stuck-calls")
				b.ReportMetric(float64(runtime.NumGoroutine()-before), "goroutines")
				close(s.release)
				for s.in.Load() > 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
}

// v1Fill is a way to fill a cache with one value per name, returning what
// must stay alive for the values to stay cached.
type v1Fill struct {
	name string
	fill func(b *testing.B, names []string) any
}

var v1Fills = []v1Fill{
	{"mcpcred", func(b *testing.B, names []string) any {
		// Credentials are immutable: the provider returns one value, so
		// that the fill measures the cache, not the masking of secrets
		// (NewCredentials), which a real provider pays per fetch.
		c := creds("secret")
		r := mustNew(b, []provider.Provider{provider.Func(func(context.Context, string) (provider.Credentials, error) {
			return c, nil
		})}, func(o *resolver.Options) {
			o.AllowProfile = resolver.AnyProfile
			o.MaxEntries = len(names)
		})
		ctx := context.Background()
		for _, name := range names {
			if _, err := r.Resolve(ctx, resolver.Request{Profile: name}); err != nil {
				b.Fatal(err)
			}
		}
		return r
	}},
	// aws has one cache per credential source; a program with many
	// profiles keeps one per profile in a map under a mutex.
	{"aws-credentials-cache", func(b *testing.B, names []string) any {
		m := &v1AWSMap{m: make(map[string]*aws.CredentialsCache)}
		ctx := context.Background()
		for _, name := range names {
			if err := m.retrieve(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
		return m
	}},
}

// v1AWSMap is one aws.CredentialsCache per profile, created on first use.
type v1AWSMap struct {
	mu sync.RWMutex
	m  map[string]*aws.CredentialsCache
}

func (m *v1AWSMap) retrieve(ctx context.Context, name string) error {
	m.mu.RLock()
	c := m.m[name]
	m.mu.RUnlock()
	if c == nil {
		m.mu.Lock()
		if c = m.m[name]; c == nil {
			c = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", Source: name}, nil
			}))
			m.m[name] = c
		}
		m.mu.Unlock()
	}
	_, err := c.Retrieve(ctx)
	return err
}

// v1HeapPerEntry fills once and returns the heap retained per entry.
func v1HeapPerEntry(b *testing.B, f v1Fill, names []string) float64 {
	var ms runtime.MemStats
	// A resolver's coarse-clock ticker keeps it reachable until it has been
	// idle for a second: let the previous fills' tickers stop first.
	time.Sleep(1100 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	keep := f.fill(b, names)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	after := ms.HeapAlloc
	runtime.KeepAlive(keep)
	return (float64(after) - float64(before)) / float64(len(names))
}

// BenchmarkV1Fill10k: filling 10,000 profiles (one op is the whole fill),
// with the heap retained per entry. Goal: within 2x of aws.
func BenchmarkV1Fill10k(b *testing.B) {
	names := v1Names(10_000)
	for _, f := range v1Fills {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				runtime.KeepAlive(f.fill(b, names))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(names)), "ns/entry")
			b.ReportMetric(v1HeapPerEntry(b, f, names), "B/entry")
		})
	}
}

// BenchmarkV1CallsPerTTL: 100 profiles with a TTL of 1 s (defaults
// otherwise), read by 4 goroutines for 3 s, a provider call taking 50 ms:
// provider calls per profile per TTL after the first fill, the longest any
// read waited, and slow-reads, the reads that waited 25 ms or more (a
// backend, not the scheduler). aws and oauth2 get credentials that expire
// after 1 s. Goal: at most 1.1 calls per profile per TTL, no read waiting.
func BenchmarkV1CallsPerTTL(b *testing.B) {
	const keys, ttl, phase = 100, time.Second, 3 * time.Second
	impls := []v1Impl{
		v1Mcpcred(func(o *resolver.Options) { o.TTL = ttl }),
		v1AWS(0),
		v1OAuth2(time.Nanosecond, 0),
	}
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				be := &v1Backend{latency: 50 * time.Millisecond}
				if impl.name != "mcpcred" {
					be.lifetime = ttl
				}
				get := impl.build(b, be, keys)
				var wg sync.WaitGroup
				for k := range keys {
					wg.Go(func() {
						if err := get(context.Background(), k); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				before := be.calls.Load()
				rd := v1ReadFor(time.Now().Add(phase), v1Readers, keys, v1Pause, 0, get)
				calls := be.calls.Load() - before
				b.ReportMetric(float64(calls)/float64(keys)/(float64(rd.elapsed)/float64(ttl)), "calls/key/TTL")
				b.ReportMetric(float64(rd.maxWait.Nanoseconds()), "max-wait-ns")
				b.ReportMetric(float64(rd.slow), "slow-reads")
				b.ReportMetric(float64(rd.failed), "failed-reads")
			}
		})
	}
}

// BenchmarkV1100kKeys: 100,000 profiles (MaxEntries raised to hold them:
// the default, 65536, resolves the rest uncached). "fill" is the whole
// fill per op, with the heap retained per entry; "hit" reads a random
// profile of the 100,000, a million times per op, serially and from
// GOMAXPROCS goroutines, and reports ns per hit (wall time over hits).
func BenchmarkV1100kKeys(b *testing.B) {
	const hits = 1_000_000
	names := v1Names(100_000)
	ctx := context.Background()
	for _, f := range v1Fills {
		b.Run(f.name+"/fill", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				runtime.KeepAlive(f.fill(b, names))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(names)), "ns/entry")
			b.ReportMetric(v1HeapPerEntry(b, f, names), "B/entry")
		})
		filled := f.fill(b, names)
		var hit func(name string) error
		switch c := filled.(type) {
		case *resolver.Resolver:
			hit = func(name string) error { _, err := c.Resolve(ctx, resolver.Request{Profile: name}); return err }
		case *v1AWSMap:
			hit = func(name string) error { return c.retrieve(ctx, name) }
		}
		// The random keys are drawn before timing.
		order := make([]int32, hits)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range order {
			order[i] = int32(rng.IntN(len(names)))
		}
		for _, procs := range []int{1, runtime.GOMAXPROCS(0)} {
			mode := "serial"
			if procs > 1 {
				mode = "parallel"
			}
			b.Run(f.name+"/hit/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var wg sync.WaitGroup
					for p := range procs {
						wg.Go(func() {
							for i := p; i < hits; i += procs {
								if err := hit(names[order[i]]); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hits), "ns/hit")
			})
		}
		runtime.KeepAlive(filled)
	}
}
