package resolver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/resolver"
)

const canary = "CANARY-SECRET-d3adb33f"

// mustNew is resolver.New for tests whose options are valid.
func mustNew(tb testing.TB, providers []provider.Provider, optFns ...func(*resolver.Options)) *resolver.Resolver {
	tb.Helper()
	r, err := resolver.New(providers, optFns...)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// lockedBuffer is a bytes.Buffer that background goroutines may log to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// counting is a provider whose answer the test scripts.
type counting struct {
	name  string
	calls atomic.Int64
	fn    func(ctx context.Context, profile string, call int64) (provider.Credentials, error)
}

func (p *counting) Name() string { return p.name }
func (p *counting) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	n := p.calls.Add(1)
	return p.fn(ctx, profile, n)
}

func creds(secret string) provider.Credentials {
	return provider.NewCredentials(map[string]string{
		provider.FieldAccessKeyID:     "AKIDEXAMPLE",
		provider.FieldSecretAccessKey: secret,
	}, provider.Source{})
}

func answering(name, secret string) *counting {
	return &counting{name: name, fn: func(context.Context, string, int64) (provider.Credentials, error) {
		return creds(secret), nil
	}}
}

func notFound(name string) *counting {
	return &counting{name: name, fn: func(_ context.Context, profile string, _ int64) (provider.Credentials, error) {
		return provider.Credentials{}, provider.NotFound(name, profile, "", "nothing configured")
	}}
}

func unavailable(name string) *counting {
	return &counting{name: name, fn: func(_ context.Context, profile string, _ int64) (provider.Credentials, error) {
		return provider.Credentials{}, provider.Unavailable(name, profile, "", errors.New("connection refused"))
	}}
}

func withClock(c *fakeClock) func(*resolver.Options) {
	return func(o *resolver.Options) { o.Now = c.Now }
}

func TestChainOrderAndAttribution(t *testing.T) {
	a, b, c := notFound("a"), answering("b", canary), answering("c", "other")
	r := mustNew(t, []provider.Provider{a, b, c})
	res, err := r.Resolve(context.Background(), resolver.Request{})
	require.NoError(t, err)
	assert.Equal(t, "b", res.Credentials.Source.Provider)
	assert.Equal(t, canary, res.Credentials.Value(provider.FieldSecretAccessKey))
	assert.Equal(t, provider.DefaultProfile, res.Profile)
	require.Len(t, res.Skipped, 1)
	assert.Equal(t, "a", res.Skipped[0].Provider)
	assert.Equal(t, `a: profile "default": nothing configured`, res.Skipped[0].String())
	assert.EqualValues(t, 0, c.calls.Load(), "providers after the answering one are not asked")
	assert.False(t, res.Credentials.FetchedAt.IsZero())
}

func TestRequiredFieldsSkip(t *testing.T) {
	partial := &counting{name: "partial", fn: func(context.Context, string, int64) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{provider.FieldAccessKeyID: "AKID"}, provider.Source{Locator: "somewhere"}), nil
	}}
	full := answering("full", canary)
	r := mustNew(t, []provider.Provider{partial, full}, func(o *resolver.Options) {
		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
	})
	res, err := r.Resolve(context.Background(), resolver.Request{})
	require.NoError(t, err)
	assert.Equal(t, "full", res.Credentials.Source.Provider)
	require.Len(t, res.Skipped, 1)
	assert.Contains(t, res.Skipped[0].String(), "missing required field(s) secret_access_key")
	assert.True(t, errors.Is(res.Skipped[0].Err, provider.ErrNotFound))
}

func TestAllFailListsEveryProvider(t *testing.T) {
	r := mustNew(t, []provider.Provider{notFound("env"), unavailable("vault"), notFound("file")},
		func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile })
	_, err := r.Resolve(context.Background(), resolver.Request{Profile: "prod"})
	require.Error(t, err)
	assert.ErrorIs(t, err, resolver.ErrNoCredentials)
	assert.ErrorIs(t, err, provider.ErrUnavailable)
	var ce *resolver.ChainError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "prod", ce.Profile)
	assert.Equal(t, `resolver: no credentials for profile "prod", tried:
  - env: profile "prod": nothing configured
  - vault: profile "prod": connection refused
  - file: profile "prod": nothing configured`, err.Error())
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "env", pe.Provider)
}

func TestEmptyChain(t *testing.T) {
	_, err := mustNew(t, nil).Resolve(context.Background(), resolver.Request{})
	assert.ErrorIs(t, err, resolver.ErrNoCredentials)
	assert.Contains(t, err.Error(), "chain is empty")
}

var errBroken = errors.New("file is group-readable")

func TestDefiniteFailureStopsChain(t *testing.T) {
	broken := &counting{name: "file", fn: func(_ context.Context, profile string, _ int64) (provider.Credentials, error) {
		return provider.Credentials{}, &provider.Error{Provider: "file", Profile: profile, Locator: "/x/credentials", Err: errBroken}
	}}
	later := answering("later", canary)
	r := mustNew(t, []provider.Provider{notFound("env"), broken, later})
	_, err := r.Resolve(context.Background(), resolver.Request{})
	require.Error(t, err)
	assert.ErrorIs(t, err, errBroken)
	assert.ErrorIs(t, err, resolver.ErrNoCredentials)
	assert.EqualValues(t, 0, later.calls.Load(), "a broken higher-priority source is not bypassed")
}

func TestPlainErrorIsAttributed(t *testing.T) {
	p := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return provider.Credentials{}, errors.New("boom")
	}), "custom")
	_, err := mustNew(t, []provider.Provider{p}).Resolve(context.Background(), resolver.Request{})
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "custom", pe.Provider)
	assert.Contains(t, err.Error(), "custom: profile \"default\": boom")
}

func TestCacheTTL(t *testing.T) {
	clk := newClock()
	p := answering("p", canary)
	r := mustNew(t, []provider.Provider{p}, withClock(clk), func(o *resolver.Options) {
		o.TTL = time.Minute
		o.RefreshWindow = time.Second
		o.AllowProfile = resolver.AnyProfile
	})
	ctx := context.Background()
	for range 100 {
		_, err := r.Resolve(ctx, resolver.Request{})
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, p.calls.Load())
	clk.Advance(time.Minute) // past the TTL: served at once, refreshed in the background
	for range 100 {
		_, err := r.Resolve(ctx, resolver.Request{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return p.calls.Load() == 2 }, 5*time.Second, time.Millisecond)
	for range 100 {
		_, err := r.Resolve(ctx, resolver.Request{})
		require.NoError(t, err)
	}
	assert.EqualValues(t, 2, p.calls.Load(), "one refresh per TTL")

	// Profiles are cached separately.
	_, err := r.Resolve(ctx, resolver.Request{Profile: "other"})
	require.NoError(t, err)
	assert.EqualValues(t, 3, p.calls.Load())
	_, err = r.Resolve(ctx, resolver.Request{Profile: "other"})
	require.NoError(t, err)
	assert.EqualValues(t, 3, p.calls.Load())
}

func TestCredentialExpiryShortensTTL(t *testing.T) {
	clk := newClock()
	p := &counting{name: "sts", fn: func(context.Context, string, int64) (provider.Credentials, error) {
		c := creds(canary)
		c.Expires = clk.Now().Add(10 * time.Second)
		return c, nil
	}}
	r := mustNew(t, []provider.Provider{p}, withClock(clk), func(o *resolver.Options) { o.MaxStale = time.Hour })
	ctx := context.Background()
	_, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	clk.Advance(11 * time.Second)
	_, err = r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	assert.EqualValues(t, 2, p.calls.Load(), "an expired credential is never served from cache")
}

func TestBackgroundRefreshDoesNotBlock(t *testing.T) {
	clk := newClock()
	release := make(chan struct{})
	p := &counting{name: "slow", fn: func(_ context.Context, _ string, n int64) (provider.Credentials, error) {
		if n > 1 {
			<-release
			return creds("rotated"), nil
		}
		return creds(canary), nil
	}}
	r := mustNew(t, []provider.Provider{p}, withClock(clk), func(o *resolver.Options) {
		o.TTL = time.Minute
		o.RefreshWindow = 10 * time.Second
	})
	ctx := context.Background()
	_, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	clk.Advance(61 * time.Second) // past the TTL: the refresh interval
	for range 10 {
		res, err := r.Resolve(ctx, resolver.Request{})
		require.NoError(t, err)
		assert.Equal(t, canary, res.Credentials.Value(provider.FieldSecretAccessKey), "served at once while the refresh runs")
	}
	close(release)
	require.Eventually(t, func() bool {
		res, err := r.Resolve(ctx, resolver.Request{})
		return err == nil && res.Credentials.Value(provider.FieldSecretAccessKey) == "rotated"
	}, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 2, p.calls.Load(), "one background refresh however many hits")
}

func TestStaleServedWhileUnavailableThenError(t *testing.T) {
	clk := newClock()
	var buf lockedBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	down := atomic.Bool{}
	p := &counting{name: "vault", fn: func(_ context.Context, profile string, _ int64) (provider.Credentials, error) {
		if down.Load() {
			return provider.Credentials{}, provider.Unavailable("vault", profile, "secret/mcp", errors.New("connection refused"))
		}
		return creds(canary), nil
	}}
	r := mustNew(t, []provider.Provider{notFound("env"), p}, withClock(clk), func(o *resolver.Options) {
		o.TTL = time.Minute
		o.MaxStale = 5 * time.Minute
		o.Logger = logger
	})
	ctx := context.Background()
	_, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)

	down.Store(true)
	clk.Advance(2 * time.Minute)
	// Past the TTL the value is served at once; the background refresh
	// fails, after which it is served as stale.
	var res resolver.Result
	require.Eventually(t, func() bool {
		res, err = r.Resolve(ctx, resolver.Request{})
		return err == nil && res.Stale
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, canary, res.Credentials.Value(provider.FieldSecretAccessKey))
	assert.Contains(t, buf.String(), "background refresh failed")

	clk.Advance(5 * time.Minute) // TTL + MaxStale passed
	_, err = r.Resolve(ctx, resolver.Request{})
	require.Error(t, err)
	assert.ErrorIs(t, err, provider.ErrUnavailable)

	down.Store(false) // recovery, picked up once the backoff ends
	clk.Advance(resolver.DefaultMaxRetry)
	res, err = r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	assert.False(t, res.Stale)
	assert.NotContains(t, buf.String(), canary)
}

func TestNoStaleAfterDefiniteAnswer(t *testing.T) {
	clk := newClock()
	gone := atomic.Bool{}
	p := &counting{name: "file", fn: func(_ context.Context, profile string, _ int64) (provider.Credentials, error) {
		if gone.Load() {
			return provider.Credentials{}, provider.NotFound("file", profile, "", "section removed")
		}
		return creds(canary), nil
	}}
	r := mustNew(t, []provider.Provider{p}, withClock(clk))
	ctx := context.Background()
	_, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	gone.Store(true)
	clk.Advance(resolver.DefaultTTL)
	// The first read past the TTL may get the value while the refresh
	// runs; once the source says the credentials are gone, none does.
	require.Eventually(t, func() bool {
		_, err = r.Resolve(ctx, resolver.Request{})
		return errors.Is(err, provider.ErrNotFound)
	}, 5*time.Second, time.Millisecond, "removed credentials are not served stale")
	for range 10 {
		_, err = r.Resolve(ctx, resolver.Request{})
		assert.ErrorIs(t, err, provider.ErrNotFound)
	}
}

func TestInvalidate(t *testing.T) {
	clk := newClock()
	p := &counting{name: "file", fn: func(_ context.Context, _ string, n int64) (provider.Credentials, error) {
		return creds(fmt.Sprintf("secret-v%d", n)), nil
	}}
	r := mustNew(t, []provider.Provider{p}, withClock(clk), func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile })
	ctx := context.Background()
	get := func(profile string) string {
		t.Helper()
		res, err := r.Resolve(ctx, resolver.Request{Profile: profile})
		require.NoError(t, err)
		return res.Credentials.Value(provider.FieldSecretAccessKey)
	}
	assert.Equal(t, "secret-v1", get(""))
	assert.Equal(t, "secret-v1", get("default"), "empty profile means the default profile")
	r.Invalidate("")
	assert.Equal(t, "secret-v2", get(""))
	assert.Equal(t, "secret-v3", get("prod"))
	r.Invalidate("nope") // unknown profile: no effect
	assert.Equal(t, "secret-v2", get(""))
	r.InvalidateAll()
	assert.Equal(t, "secret-v4", get(""))
	assert.Equal(t, "secret-v5", get("prod"))
}

func TestInvalidateDuringWalkIsNotCached(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	p := &counting{name: "p", fn: func(_ context.Context, _ string, n int64) (provider.Credentials, error) {
		if n == 1 {
			close(started)
			<-release
			return creds("old"), nil
		}
		return creds("new"), nil
	}}
	r := mustNew(t, []provider.Provider{p})
	done := make(chan string)
	go func() {
		res, _ := r.Resolve(context.Background(), resolver.Request{})
		done <- res.Credentials.Value(provider.FieldSecretAccessKey)
	}()
	<-started
	r.Invalidate("")
	close(release)
	assert.Equal(t, "old", <-done)
	res, err := r.Resolve(context.Background(), resolver.Request{})
	require.NoError(t, err)
	assert.Equal(t, "new", res.Credentials.Value(provider.FieldSecretAccessKey), "a walk that began before Invalidate is not cached")
}

func TestMissStormOneProviderCall(t *testing.T) {
	p := &counting{name: "slow", fn: func(context.Context, string, int64) (provider.Credentials, error) {
		time.Sleep(10 * time.Millisecond)
		return creds(canary), nil
	}}
	r := mustNew(t, []provider.Provider{p})
	const n = 1000
	var wg sync.WaitGroup
	start := make(chan struct{})
	var failures atomic.Int64
	for range n {
		wg.Go(func() {
			<-start
			if _, err := r.Resolve(context.Background(), resolver.Request{}); err != nil {
				failures.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 0, failures.Load())
	assert.EqualValues(t, 1, p.calls.Load(), "1,000 concurrent misses make exactly one provider call")
}

func TestWaiterCanGiveUp(t *testing.T) {
	release := make(chan struct{})
	p := &counting{name: "slow", fn: func(context.Context, string, int64) (provider.Credentials, error) {
		<-release
		return creds(canary), nil
	}}
	r := mustNew(t, []provider.Provider{p})
	other := make(chan error, 1)
	go func() {
		_, err := r.Resolve(context.Background(), resolver.Request{})
		other <- err
	}()
	require.Eventually(t, func() bool { return p.calls.Load() == 1 }, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := r.Resolve(ctx, resolver.Request{})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), `resolver: profile "default"`)

	close(release)
	assert.NoError(t, <-other, "the walk goes on for the callers still waiting")
	assert.EqualValues(t, 1, p.calls.Load())
}

func TestCanceledContext(t *testing.T) {
	r := mustNew(t, []provider.Provider{answering("p", canary)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Resolve(ctx, resolver.Request{})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestProviderPanics(t *testing.T) {
	bad := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		panic("secret is " + canary)
	}), "bad")
	r := mustNew(t, []provider.Provider{bad, answering("good", "x")})
	_, err := r.Resolve(context.Background(), resolver.Request{})
	require.Error(t, err)
	assert.ErrorIs(t, err, resolver.ErrProviderPanicked)
	assert.NotContains(t, err.Error(), canary)
	assert.Contains(t, err.Error(), "bad")
}

func TestProviderHangs(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	hung := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		<-block // ignores its context entirely
		return provider.Credentials{}, nil
	}), "keychain")
	r := mustNew(t, []provider.Provider{hung, answering("file", canary)}, func(o *resolver.Options) {
		o.ProviderTimeout = 50 * time.Millisecond
	})
	res, err := r.Resolve(context.Background(), resolver.Request{})
	require.NoError(t, err)
	assert.Equal(t, "file", res.Credentials.Source.Provider)
	require.Len(t, res.Skipped, 1)
	assert.ErrorIs(t, res.Skipped[0].Err, provider.ErrUnavailable)
	assert.Contains(t, res.Skipped[0].String(), "no answer within 50ms")
}

func TestRequestCredentials(t *testing.T) {
	p := answering("env", "env-secret")
	required := []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
	r := mustNew(t, []provider.Provider{p}, func(o *resolver.Options) {
		o.Required = required
		o.AllowRequestCredentials = true
	})
	ctx := context.Background()

	res, err := r.Resolve(ctx, resolver.Request{Credentials: creds(canary)})
	require.NoError(t, err)
	assert.Equal(t, "request", res.Credentials.Source.Provider)
	assert.Equal(t, canary, res.Credentials.Value(provider.FieldSecretAccessKey))
	assert.EqualValues(t, 0, p.calls.Load())

	res, err = r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	assert.Equal(t, "env-secret", res.Credentials.Value(provider.FieldSecretAccessKey), "request credentials are never cached")

	for _, tc := range []struct {
		name   string
		fields map[string]string
		want   string
	}{
		{"missing", map[string]string{"access_key_id": "AKID"}, "missing required field(s) secret_access_key"},
		{"bad name", map[string]string{"access_key_id": "AKID", "secret_access_key": "s", "Bad-Name": "v"}, `field name (a 8-byte value, not shown) must be`},
		{"too long", map[string]string{"access_key_id": "AKID", "secret_access_key": strings.Repeat("x", 5000)}, "longer than 4096 bytes"},
		{"control", map[string]string{"access_key_id": "AKID", "secret_access_key": canary + "\n"}, "control characters"},
		{"invalid utf8", map[string]string{"access_key_id": "AKID", "secret_access_key": canary + "\xff"}, "invalid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Resolve(ctx, resolver.Request{Credentials: provider.NewCredentials(tc.fields, provider.Source{})})
			require.ErrorIs(t, err, resolver.ErrInvalidRequestCredentials)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), canary)
		})
	}

	refusing := mustNew(t, []provider.Provider{p})
	_, err = refusing.Resolve(ctx, resolver.Request{Credentials: creds(canary)})
	assert.ErrorIs(t, err, resolver.ErrRequestCredentialsRefused)
	assert.Contains(t, err.Error(), "AllowRequestCredentials")
}

func TestInvalidProfile(t *testing.T) {
	r := mustNew(t, []provider.Provider{answering("p", canary)}, func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile })
	for _, name := range []string{strings.Repeat("a", 200), "prod\x00", "a\nb", "bad\xffutf8"} {
		_, err := r.Resolve(context.Background(), resolver.Request{Profile: name})
		assert.ErrorIs(t, err, resolver.ErrInvalidProfile, "%q", name)
	}
}

func TestDefaultProfileOption(t *testing.T) {
	var got atomic.Value
	p := provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
		got.Store(profile)
		return creds(canary), nil
	})
	r := mustNew(t, []provider.Provider{p}, func(o *resolver.Options) { o.Profile = "mcp-prod" })
	res, err := r.Resolve(context.Background(), resolver.Request{})
	require.NoError(t, err)
	assert.Equal(t, "mcp-prod", got.Load())
	assert.Equal(t, "mcp-prod", res.Profile)
	assert.Equal(t, "mcp-prod", r.DefaultProfile())
}

func TestSystemClockCoarsePath(t *testing.T) {
	// With the system clock the hit path reads the coarse clock; a cached
	// value must still be refreshed, and never served past its TTL.
	const ttl = 400 * time.Millisecond
	p := &counting{name: "p", fn: func(_ context.Context, _ string, n int64) (provider.Credentials, error) {
		return creds(fmt.Sprintf("v%d", n)), nil
	}}
	r := mustNew(t, []provider.Provider{p}, func(o *resolver.Options) {
		o.TTL = ttl
		o.RefreshWindow = ttl / 2
		o.MaxStale = -1
	})
	ctx := context.Background()
	res, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	first := res.Credentials.FetchedAt
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		asked := time.Now()
		res, err = r.Resolve(ctx, resolver.Request{})
		require.NoError(t, err)
		require.Less(t, asked.Sub(res.Credentials.FetchedAt), ttl, "a hit never serves a value past its TTL")
		if !res.Credentials.FetchedAt.Equal(first) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the cached value was never refreshed")
}

func TestNoSecretInLogsOrErrors(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := newClock()
	fail := atomic.Bool{}
	p := &counting{name: "p", fn: func(_ context.Context, profile string, _ int64) (provider.Credentials, error) {
		if fail.Load() {
			return provider.Credentials{}, provider.Unavailable("p", profile, "", errors.New("down"))
		}
		return creds(canary), nil
	}}
	r := mustNew(t, []provider.Provider{p}, withClock(clk), func(o *resolver.Options) {
		o.Logger = logger
		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
	})
	ctx := context.Background()
	res, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	providertest.CheckRendering(t, res.Credentials, canary)
	for _, s := range []string{fmt.Sprintf("%v", res), fmt.Sprintf("%+v", res), fmt.Sprintf("%#v", res)} {
		assert.NotContains(t, s, canary)
	}
	fail.Store(true)
	clk.Advance(resolver.DefaultTTL + time.Second)
	_, err = r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err) // stale
	clk.Advance(resolver.DefaultMaxStale)
	_, err = r.Resolve(ctx, resolver.Request{})
	require.Error(t, err)
	_, _ = r.Resolve(ctx, resolver.Request{Credentials: creds(canary + "\x01")})
	assert.NotContains(t, err.Error(), canary)
	assert.NotContains(t, buf.String(), canary)
	assert.Contains(t, buf.String(), "resolver: resolved")
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestFinalStopsTheWalkButServesStale(t *testing.T) {
	clk := newClock()
	down := atomic.Bool{}
	authority := &counting{name: "profile", fn: func(_ context.Context, profile string, _ int64) (provider.Credentials, error) {
		if down.Load() {
			return provider.Credentials{}, provider.Final(provider.Unavailable("profile", profile, "", errors.New("keychain locked")))
		}
		return creds(canary), nil
	}}
	impostor := answering("file", "legacy-admin-secret")
	r := mustNew(t, []provider.Provider{authority, impostor}, withClock(clk))
	ctx := context.Background()
	_, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)

	down.Store(true)
	clk.Advance(resolver.DefaultTTL + time.Second)
	var res resolver.Result
	require.Eventually(t, func() bool {
		res, err = r.Resolve(ctx, resolver.Request{})
		return err == nil && res.Stale
	}, 5*time.Second, time.Millisecond, "the last good value is served while the authority is down")
	assert.Equal(t, canary, res.Credentials.Value(provider.FieldSecretAccessKey))

	clk.Advance(resolver.DefaultMaxStale)
	_, err = r.Resolve(ctx, resolver.Request{})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	require.ErrorIs(t, err, provider.ErrFinal)
	assert.EqualValues(t, 3, authority.calls.Load())
	_, err = r.Resolve(ctx, resolver.Request{})
	require.ErrorIs(t, err, provider.ErrFinal)
	assert.EqualValues(t, 3, authority.calls.Load(), "no walk before the backoff ends: the failure is remembered")
	assert.EqualValues(t, 0, impostor.calls.Load(), "no later provider answers a profile whose authority is down")
}

func TestFromRequestAndEqual(t *testing.T) {
	p := answering("env", canary)
	r := mustNew(t, []provider.Provider{p}, func(o *resolver.Options) { o.AllowRequestCredentials = true })
	ctx := context.Background()
	a, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	assert.False(t, a.FromRequest())
	b, err := r.Resolve(ctx, resolver.Request{Credentials: creds("inline")})
	require.NoError(t, err)
	assert.True(t, b.FromRequest())
	assert.False(t, a.Credentials.Equal(b.Credentials))
	r.InvalidateResult(a)
	c, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	assert.True(t, a.Credentials.Equal(c.Credentials), "same values after a re-read: a retry would not help")
}

type invalidating struct {
	*counting
	dropped []string
}

func (i *invalidating) Invalidate(profile string) { i.dropped = append(i.dropped, profile) }

func TestInvalidateReachesProviders(t *testing.T) {
	p := &invalidating{counting: answering("sts", canary)}
	r := mustNew(t, []provider.Provider{p}, func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile })
	ctx := context.Background()
	res, err := r.Resolve(ctx, resolver.Request{Profile: "prod"})
	require.NoError(t, err)
	r.InvalidateResult(res)
	r.Invalidate("")
	assert.Equal(t, []string{"prod", "default"}, p.dropped)
}
