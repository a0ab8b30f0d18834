package mcptool_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/internal/testop"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// subjects returns n users, each with its own OAuth client.
func subjects(n int) []testop.Client {
	cs := make([]testop.Client, n)
	for i := range cs {
		cs[i] = user(fmt.Sprintf("user-%04d", i))
	}
	return cs
}

// tokens gets every client's token from the OP, concurrently.
func (rm *remote) tokens(t testing.TB, cs []testop.Client) []string {
	toks := make([]string, len(cs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var failed atomic.Value
	for i, c := range cs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			tok, err := rm.op.Token(context.Background(), c.ID, c.Secret)
			if err != nil {
				failed.Store(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	return toks
}

// sharedTransport is one connection pool for many simulated clients, each
// adding its own bearer token.
var sharedTransport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}

type bearerOn struct {
	tok  string
	base http.RoundTripper
}

func (b bearerOn) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return b.base.RoundTrip(r)
}

func (rm *remote) session(ctx context.Context, tok string) (*mcp.ClientSession, error) {
	return mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: rm.url, HTTPClient: &http.Client{Transport: bearerOn{tok, sharedTransport}}, DisableStandaloneSSE: true}, nil)
}

// TestRemoteIsolation1000Subjects: 1,000 subjects, each with its own canary
// credential and token from the real OP, call a tool concurrently over
// HTTP, each through its own session and again through interleaved
// ones: every answer is the caller's own credential, no response holds any
// canary, and the source was asked once per subject.
func TestRemoteIsolation1000Subjects(t *testing.T) {
	const n, callsEach, workers = 1000, 3, 32
	users := subjects(n)
	rm := newRemote(t, users)
	toks := rm.tokens(t, users)
	ctx := context.Background()

	var cross, leaked, failed atomic.Int64
	var firstErr sync.Once
	report := func(format string, args ...any) { firstErr.Do(func() { t.Errorf(format, args...) }) }
	order := rand.Perm(n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				sub := users[i].Subject
				cs, err := rm.session(ctx, toks[i])
				if err != nil {
					failed.Add(1)
					report("%s: connect: %v", sub, err)
					continue
				}
				for k := range callsEach {
					args := map[string]any{}
					if k == 1 { // try to be someone else
						args["subject"] = users[(i+1)%n].Subject
					}
					res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: args})
					if err != nil || res.IsError {
						failed.Add(1)
						report("%s: call: %v %v", sub, err, res)
						continue
					}
					out := res.StructuredContent.(map[string]any)
					if out["caller"] != sub || out["fingerprint"] != fingerprint(canaryFor(sub)) {
						cross.Add(1)
						report("%s got %v", sub, out)
					}
					if s := fmt.Sprint(res.StructuredContent, res.Content); strings.Contains(s, canaryPrefix) {
						leaked.Add(1)
					}
				}
				cs.Close()
			}
		})
	}
	for _, i := range order {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("%d subjects x %d calls: %d cross-subject answers, %d leaked canaries, %d failures; source asked %d times",
		n, callsEach, cross.Load(), leaked.Load(), failed.Load(), rm.calls.Load())
	if cross.Load() != 0 || leaked.Load() != 0 || failed.Load() != 0 {
		t.Fatal("isolation broken")
	}
	if got := rm.calls.Load(); got != n {
		t.Errorf("the per-subject source was asked %d times, want once per subject (%d)", got, n)
	}
	if a := rm.audit.String(); strings.Contains(a, canaryPrefix) || strings.Count(a, "outcome=ok") != n*callsEach {
		t.Errorf("audit: %d ok records, want %d; canary present: %v", strings.Count(a, "outcome=ok"), n*callsEach, strings.Contains(a, canaryPrefix))
	}
}

// percentiles reports p50 and p99 of ds as benchmark metrics.
func percentiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkRemoteSubjects reports tool-call latency (p50, p99) and the
// resolver's heap per subject: over HTTP with 1,000 subjects (verified
// tokens from the real OP, one session each, calls from 32 clients at
// once), and in process with 100,000 subjects (resolver.Resolve for
// distinct verified callers, no transport). Run it once:
//
//	go test -run '^$' -bench RemoteSubjects -benchtime 1x ./resolver/mcptool
func BenchmarkRemoteSubjects(b *testing.B) {
	b.Run("http-1k", func(b *testing.B) {
		const n, workers, rounds = 1000, 32, 5
		users := subjects(n)
		rm := newRemote(b, users)
		toks := rm.tokens(b, users)
		ctx := context.Background()
		sessions := make([]*mcp.ClientSession, n)
		for i := range users {
			cs, err := rm.session(ctx, toks[i])
			if err != nil {
				b.Fatal(err)
			}
			defer cs.Close()
			sessions[i] = cs
		}
		call := func(i int) time.Duration {
			start := time.Now()
			res, err := sessions[i].CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
			if err != nil || res.IsError {
				b.Fatal(err, res)
			}
			return time.Since(start)
		}
		run := func(idx []int) []time.Duration {
			lat := make([]time.Duration, len(idx))
			var next atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for j := next.Add(1) - 1; j < int64(len(idx)); j = next.Add(1) - 1 {
						lat[j] = call(idx[j])
					}
				})
			}
			wg.Wait()
			return lat
		}
		before := heap()
		first := run(rand.Perm(n)) // each subject's first call: a cache miss
		perSubject := float64(heap()-before) / n
		b.ResetTimer()
		var lat []time.Duration
		for range b.N {
			for range rounds {
				lat = append(lat, run(rand.Perm(n))...)
			}
		}
		b.StopTimer()
		slices.Sort(first)
		b.ReportMetric(float64(first[n/2].Microseconds()), "first-p50-µs")
		percentiles(b, lat)
		b.ReportMetric(perSubject, "heap-B/subject")
	})
	b.Run("inprocess-100k", func(b *testing.B) {
		const n = 100_000
		var calls atomic.Int64
		r, err := resolver.New([]provider.Provider{perSubject(&calls)}, func(o *resolver.Options) {
			o.Required = []string{provider.FieldToken}
			o.MaxEntries = 2 * n
			o.AllowProfile = resolver.AnyProfile // every verified caller has its own default
		})
		if err != nil {
			b.Fatal(err)
		}
		callers := make([]*provider.Caller, n)
		for i := range callers {
			callers[i] = &provider.Caller{Issuer: "https://idp.example.com", Subject: fmt.Sprintf("user-%06d", i), ClientID: "claude"}
		}
		ctx := context.Background()
		resolve := func(i int) time.Duration {
			start := time.Now()
			res, err := r.Resolve(ctx, resolver.Request{Caller: callers[i], Tool: "whoami"})
			if err != nil || res.Credentials.Value(provider.FieldToken) != canaryFor(callers[i].Subject) {
				b.Fatal(err)
			}
			return time.Since(start)
		}
		before := heap()
		first := make([]time.Duration, n)
		for i := range n {
			first[i] = resolve(i)
		}
		perSubject := float64(heap()-before) / n
		b.ResetTimer()
		var lat []time.Duration
		for range b.N {
			for _, i := range rand.Perm(n) {
				lat = append(lat, resolve(i))
			}
		}
		b.StopTimer()
		slices.Sort(first)
		b.ReportMetric(float64(first[n/2].Nanoseconds())/1000, "first-p50-µs")
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		b.ReportMetric(perSubject, "heap-B/subject")
		if calls.Load() != n {
			b.Fatalf("source asked %d times, want %d", calls.Load(), n)
		}
	})
}
