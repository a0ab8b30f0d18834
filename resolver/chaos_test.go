package resolver_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

var chaosSeed = flag.Uint64("chaos.seed", 1, "first seed of TestChaos; each run of -count uses the next one")

// chaosRuns numbers the runs of TestChaos under -count, so each one uses
// its own seed.
var chaosRuns atomic.Uint64

// Chaos scenario bounds.
const (
	chaosProfiles   = 8
	chaosKeys       = 2 * chaosProfiles // 8 profiles, then 8 references
	chaosWorkers    = 32
	chaosDuration   = 3 * time.Second
	chaosOpsPerWork = 4000 // each worker's iteration budget

	chaosTTL             = 50 * time.Millisecond
	chaosRefreshWindow   = 15 * time.Millisecond
	chaosMaxStale        = 150 * time.Millisecond
	chaosProviderTimeout = 30 * time.Millisecond
	chaosMaxAbandoned    = 2

	// chaosSlack covers the time between a provider producing a value and
	// the resolver recording it (a goroutine hop and a lock): the stale
	// bound is checked against the production time, which is at most this
	// much earlier than the time the resolver counts from.
	chaosSlack = 100 * time.Millisecond
)

// chaosKeyName is the name of key i: a profile, or the canonical form of a
// reference.
func chaosKeyName(i int) string {
	switch {
	case i == 0:
		return provider.DefaultProfile
	case i < chaosProfiles:
		return fmt.Sprintf("p%d", i)
	}
	return fmt.Sprintf("chaos:r%d", i-chaosProfiles)
}

func chaosKeyIndex(name string) int {
	for i := range chaosKeys {
		if chaosKeyName(i) == name {
			return i
		}
	}
	return -1
}

func chaosRequest(i int) resolver.Request {
	if i < chaosProfiles {
		return resolver.Request{Profile: chaosKeyName(i)}
	}
	return resolver.Request{CredentialID: chaosKeyName(i)}
}

// hangCounter counts the calls of a provider that are blocked ignoring
// their context, with the time each one entered.
type hangCounter struct {
	mu      sync.Mutex
	entered map[uint64]time.Time
	next    uint64
}

func (h *hangCounter) enter() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entered == nil {
		h.entered = map[uint64]time.Time{}
	}
	h.next++
	h.entered[h.next] = time.Now()
	return h.next
}

func (h *hangCounter) leave(id uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.entered, id)
}

// stuckPast counts the calls blocked for longer than d.
func (h *hangCounter) stuckPast(d time.Duration) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, at := range h.entered {
		if time.Since(at) > d {
			n++
		}
	}
	return n
}

// hang blocks, ignoring ctx, until release is closed.
func (h *hangCounter) hang(release <-chan struct{}) {
	id := h.enter()
	defer h.leave(id)
	<-release
}

// chaosEnv is the backend world of one TestChaos run.
type chaosEnv struct {
	seed    uint64
	release chan struct{} // closing it releases every hanging call
	calls   atomic.Uint64 // provider calls, numbering each call's random draws
	version atomic.Uint64 // the last version produced, over every key

	gen          [chaosKeys]atomic.Uint64 // rotations per key
	floorVersion [chaosKeys]atomic.Uint64 // no later call may see a version <= this
	floorGen     [chaosKeys]atomic.Uint64 // no later call may see a generation < this

	hanger  hangCounter                // the profile chain's first provider
	refHang [chaosProfiles]hangCounter // each reference's provider
}

func raise(a *atomic.Uint64, v uint64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// rng returns the random source of one provider call.
func (env *chaosEnv) rng() *rand.Rand {
	return rand.New(rand.NewPCG(env.seed, env.calls.Add(1)))
}

// hangerProvider is the first provider of the profile chain: usually it has
// nothing, sometimes it hangs ignoring its context.
func (env *chaosEnv) hangerProvider() provider.Provider {
	return provider.WithName(provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
		if env.rng().IntN(100) < 4 {
			env.hanger.hang(env.release)
		}
		return provider.Credentials{}, provider.NotFound("hanger", profile, "", "nothing here")
	}), "hanger")
}

// mainProvider answers for the key named by key(profile): slow, flapping,
// panicking, hanging (when hang is not nil), with short-lived Expires, or
// with a good value that carries its key, version, generation and
// production time.
func (env *chaosEnv) mainProvider(name string, key func(profile string) int, hang *hangCounter) provider.Provider {
	return provider.WithName(provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
		k := key(profile)
		if k < 0 {
			return provider.Credentials{}, provider.NotFound(name, profile, "", "no such key")
		}
		rng := env.rng()
		x := rng.IntN(100)
		// Flapping: each key is down for one 40 ms phase in four.
		if (time.Now().UnixMilli()/40+int64(k))%4 == 0 && x < 50 {
			return provider.Credentials{}, provider.Unavailable(name, profile, "", errors.New("flapping"))
		}
		var expires time.Time
		switch {
		case x < 8: // slow, honoring ctx
			select {
			case <-time.After(time.Duration(rng.IntN(40)) * time.Millisecond):
			case <-ctx.Done():
				return provider.Credentials{}, provider.Unavailable(name, profile, "", ctx.Err())
			}
		case x < 18:
			return provider.Credentials{}, provider.Unavailable(name, profile, "", errors.New("connection refused"))
		case x < 20:
			panic("chaos")
		case x < 23:
			return provider.Credentials{}, provider.NotFound(name, profile, "", "removed")
		case x < 25 && hang != nil:
			hang.hang(env.release)
			return provider.Credentials{}, provider.Unavailable(name, profile, "", errors.New("hung"))
		case x < 45:
			expires = time.Now().Add(time.Millisecond + time.Duration(rng.IntN(120))*time.Millisecond)
		case x < 47:
			expires = time.Now().Add(-time.Millisecond) // already expired: never served
		}
		g := env.gen[k].Load()
		v := env.version.Add(1)
		c := provider.NewCredentials(map[string]string{
			"key":      chaosKeyName(k),
			"version":  strconv.FormatUint(v, 10),
			"gen":      strconv.FormatUint(g, 10),
			"produced": strconv.FormatInt(time.Now().UnixNano(), 10),
		}, provider.Source{})
		c.Expires = expires
		return c, nil
	}), name)
}

// invalidated records that an invalidation of key k, which began when
// version was the last version produced, has returned.
func (env *chaosEnv) invalidated(k int, version uint64) { raise(&env.floorVersion[k], version) }

// TestChaos drives one resolver from 32 goroutines that resolve, invalidate
// (Invalidate, InvalidateResult, InvalidateAll), rotate and cancel, over 8
// profiles and 8 references whose providers are slow, flapping, panicking,
// hanging (ignoring their context) and return short-lived Expires, and checks
// on every answer that
//   - it is the requested key's value, never another key's;
//   - it had not expired when the call started (real clock);
//   - no call that started after an invalidation returned gets a value
//     produced before it began, nor a generation older than a rotation;
//   - it is served no later than TTL+MaxStale after it was produced;
//
// and at the end that no provider has more than MaxAbandoned calls stuck past
// ProviderTimeout, and that once the hanging calls are released no goroutine
// is left. It is bounded by about 3 s and an iteration budget; the seed is
// printed on failure (replay with -chaos.seed).
func TestChaos(t *testing.T) {
	seed := *chaosSeed + chaosRuns.Add(1) - 1
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d: replay with go test -race -run 'TestChaos$' -chaos.seed %d ./resolver", seed, seed)
		}
	})
	baseline := runtime.NumGoroutine()

	env := &chaosEnv{seed: seed, release: make(chan struct{})}
	released := false
	releaseAll := func() {
		if !released {
			released = true
			close(env.release)
		}
	}
	defer releaseAll()

	var schemes provider.Schemes
	var refProviders [chaosProfiles]provider.Provider
	for i := range refProviders {
		k := chaosProfiles + i
		refProviders[i] = env.mainProvider("chaos", func(string) int { return k }, &env.refHang[i])
	}
	schemes.Register("chaos", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		i := chaosKeyIndex(ref.String())
		if i < chaosProfiles {
			return provider.Target{}, provider.InvalidRef(ref, "body", "is not a chaos key")
		}
		return provider.Target{Provider: refProviders[i-chaosProfiles],
			Resources: []provider.Resource{{Scheme: "chaos", Path: ref.Body}}}, nil
	}))
	policy, err := provider.NewRefPolicy("chaos:*")
	if err != nil {
		t.Fatal(err)
	}
	profileKey := func(profile string) int {
		if i := chaosKeyIndex(profile); i >= 0 && i < chaosProfiles {
			return i
		}
		return -1
	}
	r := mustNew(t, []provider.Provider{env.hangerProvider(), env.mainProvider("main", profileKey, nil)}, func(o *resolver.Options) {
		o.TTL = chaosTTL
		o.RefreshWindow = chaosRefreshWindow
		o.MaxStale = chaosMaxStale
		o.ProviderTimeout = chaosProviderTimeout
		o.MinRetry = 5 * time.Millisecond
		o.MaxRetry = 30 * time.Millisecond
		o.MaxAbandoned = chaosMaxAbandoned
		o.AllowProfile = func(_ *provider.Caller, name string) bool { return profileKey(name) >= 0 }
		o.References = &schemes
		o.AllowReferences = policy
	})

	var (
		answers, failures, ambiguous atomic.Int64
		stop                         atomic.Bool
		violations                   = make(chan string, 64)
	)
	violate := func(format string, args ...any) {
		select {
		case violations <- fmt.Sprintf(format, args...):
		default:
		}
		stop.Store(true)
	}

	check := func(k int, start, end time.Time, floorV, floorG uint64, res resolver.Result) {
		c := res.Credentials
		name := chaosKeyName(k)
		if got := c.Value("key"); got != name {
			violate("asked for %s, got the value of %s", name, got)
			return
		}
		if k < chaosProfiles && res.Profile != name || k >= chaosProfiles && res.Reference != name {
			violate("asked for %s, the Result names profile %q reference %q", name, res.Profile, res.Reference)
		}
		v, _ := strconv.ParseUint(c.Value("version"), 10, 64)
		g, _ := strconv.ParseUint(c.Value("gen"), 10, 64)
		ns, _ := strconv.ParseInt(c.Value("produced"), 10, 64)
		produced := time.Unix(0, ns)
		if exp := c.Expires; !exp.IsZero() {
			if !exp.After(start) {
				violate("%s: version %d expired %v before the call started", name, v, start.Sub(exp))
			} else if !exp.After(end) {
				ambiguous.Add(1) // expired between the resolver's check and the return
			}
		}
		if v <= floorV {
			violate("%s: version %d served to a call that started after an invalidation of versions up to %d returned", name, v, floorV)
		}
		if g < floorG {
			violate("%s: generation %d served to a call that started after rotation %d", name, g, floorG)
		}
		if late := start.Sub(produced) - (chaosTTL + chaosMaxStale + chaosSlack); late > 0 {
			violate("%s: version %d (stale=%v) served %v past TTL+MaxStale", name, v, res.Stale, late)
		}
	}

	deadline := time.Now().Add(chaosDuration)
	var wg sync.WaitGroup
	for w := range chaosWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(1000+w)))
			var last [chaosKeys]resolver.Result
			var have [chaosKeys]bool
			for i := 0; i < chaosOpsPerWork && !stop.Load() && time.Now().Before(deadline); i++ {
				k := rng.IntN(chaosKeys)
				switch x := rng.IntN(100); {
				case x < 70, x >= 92:
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if x >= 92 {
						switch rng.IntN(3) {
						case 0:
							ctx, cancel = context.WithCancel(ctx)
							cancel()
						case 1:
							ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(20))*time.Millisecond)
						default:
							var c context.CancelFunc
							ctx, c = context.WithCancel(ctx)
							timer := time.AfterFunc(time.Duration(rng.IntN(10))*time.Millisecond, c)
							cancel = func() { timer.Stop(); c() }
						}
					}
					floorV, floorG := env.floorVersion[k].Load(), env.floorGen[k].Load()
					start := time.Now()
					res, err := r.Resolve(ctx, chaosRequest(k))
					end := time.Now()
					cancel()
					if err != nil {
						failures.Add(1)
						continue
					}
					answers.Add(1)
					check(k, start, end, floorV, floorG, res)
					last[k], have[k] = res, true
				case x < 78: // invalidate one key
					v := env.version.Load()
					if k < chaosProfiles {
						p := chaosKeyName(k)
						if k == 0 && rng.IntN(2) == 0 {
							p = ""
						}
						r.Invalidate(p)
					} else if have[k] {
						r.InvalidateResult(last[k])
					} else {
						continue
					}
					env.invalidated(k, v)
				case x < 84: // invalidate a result
					if !have[k] {
						continue
					}
					v := env.version.Load()
					r.InvalidateResult(last[k])
					env.invalidated(k, v)
				case x < 86: // invalidate everything
					v := env.version.Load()
					r.InvalidateAll()
					for j := range chaosKeys {
						env.invalidated(j, v)
					}
				default: // rotate: the backend's value changes, then the cache is told
					g := env.gen[k].Add(1)
					v := env.version.Load()
					switch {
					case k < chaosProfiles:
						r.Invalidate(chaosKeyName(k))
					case have[k]:
						r.InvalidateResult(last[k])
					default:
						r.InvalidateAll()
						for j := range chaosKeys {
							env.invalidated(j, v)
						}
					}
					env.invalidated(k, v)
					raise(&env.floorGen[k], g)
				}
			}
		})
	}
	wg.Wait()
	close(violations)
	for v := range violations {
		t.Error(v)
	}
	t.Logf("seed %d: %d answers, %d errors, %d provider calls, %d answers whose Expires passed between the check and the return",
		seed, answers.Load(), failures.Load(), env.calls.Load(), ambiguous.Load())
	if answers.Load() == 0 {
		t.Error("no call got an answer")
	}

	// Let every walk in flight reach its providers' deadlines, then count
	// the calls stuck past ProviderTimeout, per provider.
	time.Sleep(4*chaosProviderTimeout + 50*time.Millisecond)
	if n := env.hanger.stuckPast(chaosProviderTimeout); n > chaosMaxAbandoned {
		t.Errorf("provider hanger has %d calls stuck past ProviderTimeout; MaxAbandoned is %d", n, chaosMaxAbandoned)
	}
	for i := range env.refHang {
		if n := env.refHang[i].stuckPast(chaosProviderTimeout); n > chaosMaxAbandoned {
			t.Errorf("the provider of %s has %d calls stuck past ProviderTimeout; MaxAbandoned is %d", chaosKeyName(chaosProfiles+i), n, chaosMaxAbandoned)
		}
	}

	// Released, every goroutine returns (the coarse clock's ticker stops
	// after a second idle).
	releaseAll()
	wait := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(wait) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		t.Errorf("%d goroutines left after the hanging calls were released (%d before the test):\n%s", n-baseline, baseline, resolverStacks())
	}
}

// resolverStacks returns the stacks of goroutines that run resolver code.
func resolverStacks() string {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	var out []string
	for g := range strings.SplitSeq(buf.String(), "\n\n") {
		if strings.Contains(g, "mcpcred/resolver") && !strings.Contains(g, "resolverStacks") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// TestAbandonedCallsBoundedPerReference shows that MaxAbandoned bounds the
// stuck calls of a reference's provider: each Resolve of a reference builds
// a new chain link with its own count of stuck calls, so a reference whose
// provider ignores its context leaves a goroutine behind on every walk.
func TestAbandonedCallsBoundedPerReference(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var hung hangCounter
	p := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		hung.hang(release)
		return provider.Credentials{}, nil
	}), "vault")
	var s provider.Schemes
	s.Register("vault", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) { return vaultTarget(ref, p) }))
	clk := newClock()
	r := mustNew(t, nil, withClock(clk), func(o *resolver.Options) {
		o.ProviderTimeout = 5 * time.Millisecond
		o.MaxAbandoned = 2
		o.References = &s
		o.AllowReferences = allow(t, "vault:secret/*")
	})
	for i := range 10 {
		_, err := r.Resolve(context.Background(), resolver.Request{CredentialID: "vault:secret/mcp"})
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("walk %d: got %v, want ErrUnavailable", i, err)
		}
		clk.Advance(resolver.DefaultMaxRetry) // past the backoff
	}
	if n := hung.stuckPast(0); n > 2 {
		t.Errorf("%d calls of the reference's provider are stuck past ProviderTimeout; MaxAbandoned is 2", n)
	}
}

// TestAbandonedCallsBoundedUnderConcurrency shows that MaxAbandoned bounds
// the stuck calls of a provider when walks for several profiles call it at
// once: the bound is checked when a call starts and counted when it times
// out, so every call that started before the first timeout gets through.
func TestAbandonedCallsBoundedUnderConcurrency(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var hung hangCounter
	p := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		hung.hang(release)
		return provider.Credentials{}, nil
	}), "keychain")
	r := mustNew(t, []provider.Provider{p}, func(o *resolver.Options) {
		o.ProviderTimeout = 500 * time.Millisecond
		o.MaxAbandoned = 1
		o.AllowProfile = resolver.AnyProfile
	})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 8 {
		wg.Go(func() {
			<-start
			_, _ = r.Resolve(context.Background(), resolver.Request{Profile: fmt.Sprintf("p%d", i)})
		})
	}
	close(start)
	wg.Wait()
	if n := hung.stuckPast(0); n > 1 {
		t.Errorf("%d calls of one provider are stuck past ProviderTimeout; MaxAbandoned is 1", n)
	}
}

// TestOneRefreshPerTTL shows that a value past its TTL is refreshed by one
// walk only. A read that loaded the entry's state before a background
// refresh stored its answer, and asks for a refresh after that refresh
// ended, starts a second one: refresh checks only that no walk is in
// flight, not that the state it was asked about is still current.
func TestOneRefreshPerTTL(t *testing.T) {
	clk := newClock()
	var calls atomic.Int64
	p := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return creds(strconv.FormatInt(calls.Add(1), 10)), nil
	}), "p")
	r := mustNew(t, []provider.Provider{p}, withClock(clk), func(o *resolver.Options) { o.TTL = time.Minute })
	ctx := context.Background()
	if _, err := r.Resolve(ctx, resolver.Request{}); err != nil {
		t.Fatal(err)
	}
	const cycles = 300
	for cycle := 2; cycle <= cycles+1; cycle++ {
		clk.Advance(time.Minute) // past the TTL: the next reads start one refresh
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					res, err := r.Resolve(ctx, resolver.Request{})
					if err != nil {
						t.Error(err)
						return
					}
					if v, _ := strconv.Atoi(res.Credentials.Value(provider.FieldSecretAccessKey)); v >= cycle {
						return
					}
					runtime.Gosched() // let the refresh run
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if n := calls.Load(); n != int64(cycle) {
			t.Fatalf("after %d TTLs the provider was called %d times: a refresh ran twice", cycle-1, n)
		}
	}
}
