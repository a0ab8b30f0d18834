package awscred_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/static"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/awscred"
)

// Test identities. keyA and keyA2 share an access key ID and differ in
// their secrets, as a secret rotated in place, or a wrong secret passed with
// a known key ID, do.
var (
	keyA  = aws.Credentials{AccessKeyID: "AKIDAWSCREDTESTA0001", SecretAccessKey: "CANARY-SECRET-d3adb33f-awscred-A"}
	keyA2 = aws.Credentials{AccessKeyID: "AKIDAWSCREDTESTA0001", SecretAccessKey: "CANARY-SECRET-d3adb33f-awscred-A2"}
	keyB  = aws.Credentials{AccessKeyID: "AKIDAWSCREDTESTB0002", SecretAccessKey: "CANARY-SECRET-d3adb33f-awscred-B", SessionToken: "CANARY-TOKEN-d3adb33f-awscred-B"}
)

// canaries are the secret values of the test identities: none may appear
// in an error or a log.
var canaries = []string{keyA.SecretAccessKey, keyA2.SecretAccessKey, keyB.SecretAccessKey, keyB.SessionToken}

func fields(c aws.Credentials) map[string]string {
	return map[string]string{
		provider.FieldAccessKeyID:     c.AccessKeyID,
		provider.FieldSecretAccessKey: c.SecretAccessKey,
		provider.FieldSessionToken:    c.SessionToken,
	}
}

func requestCreds(c aws.Credentials) provider.Credentials {
	return provider.NewCredentials(fields(c), provider.Source{})
}

// source is a credential source whose value a test changes, as a rotated
// file or keychain entry changes.
type source struct {
	mu    sync.Mutex
	cur   aws.Credentials
	calls int
}

func (s *source) set(c aws.Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = c
}

func (s *source) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *source) Name() string { return "rotating" }

func (s *source) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if profile != provider.DefaultProfile {
		return provider.Credentials{}, provider.NotFound("rotating", profile, "", "only the default profile")
	}
	return provider.NewCredentials(fields(s.cur), provider.Source{Provider: "rotating", Locator: "test"}), nil
}

func newResolver(t testing.TB, chain []provider.Provider, optFns ...func(*resolver.Options)) *resolver.Resolver {
	t.Helper()
	r, err := resolver.New(chain, optFns...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// config returns the aws.Config of a client of f: no retries, so that each
// operation is one request.
func (f *fakeAWS) config(p aws.CredentialsProvider) aws.Config {
	return aws.Config{
		Region:       f.region,
		Credentials:  p,
		BaseEndpoint: aws.String(f.URL()),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

func describe(ctx context.Context, c *ec2.Client) error {
	_, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	return err
}

func getParameter(ctx context.Context, c *ssm.Client) error {
	_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/mcp/x")})
	return err
}

func signers(calls []fakeCall) []string {
	var out []string
	for _, c := range calls {
		s := c.Signer
		if c.Code != "" {
			s += "!" + c.Code
		}
		out = append(out, s)
	}
	return out
}

// show renders c for a failure message: which secrets match, not them.
func show(c aws.Credentials) string {
	return fmt.Sprintf("{%s secret:%v token:%v source:%q canExpire:%v expires:%v}", c.AccessKeyID,
		c.SecretAccessKey == keyB.SecretAccessKey, c.SessionToken == keyB.SessionToken, c.Source, c.CanExpire, c.Expires)
}

func noCanary(t *testing.T, what, text string) {
	t.Helper()
	for _, c := range canaries {
		if strings.Contains(text, c) {
			t.Errorf("%s contains a secret value: %s", what, text)
		}
	}
}

func TestRetrieveMapsFields(t *testing.T) {
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	now := expires.Add(-30 * time.Minute)
	later := expires.Add(time.Hour)
	tests := []struct {
		name          string
		expires       time.Time
		opts          func(*awscred.Options)
		wantCanExpire bool
		wantExpires   time.Time
	}{
		{"default, no expiry: good for this call", time.Time{}, func(o *awscred.Options) { o.Now = func() time.Time { return now } }, true, now},
		{"default, expiry later than now: now", expires, func(o *awscred.Options) { o.Now = func() time.Time { return now } }, true, now},
		{"default, expiry before now: the expiry", expires, func(o *awscred.Options) { o.Now = func() time.Time { return later } }, true, expires},
		{"ReportExpiry, no expiry", time.Time{}, func(o *awscred.Options) { o.ReportExpiry = true }, false, time.Time{}},
		{"ReportExpiry, expiry", expires, func(o *awscred.Options) { o.ReportExpiry = true }, true, expires},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newResolver(t, []provider.Provider{static.New(fields(keyB), func(o *static.Options) {
				o.Locator = "wired"
				o.Expires = tt.expires
			})})
			got, err := awscred.New(r, resolver.Request{}, tt.opts).Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := keyB
			want.Source = "mcpcred: static (wired)"
			want.CanExpire, want.Expires = tt.wantCanExpire, tt.wantExpires
			if got != want {
				t.Errorf("Retrieve = %s\nwant       %s", show(got), show(want))
			}
		})
	}
}

func TestRetrieveDefaultExpiryIsTheCallTime(t *testing.T) {
	r := newResolver(t, []provider.Provider{static.New(fields(keyA))})
	before := time.Now()
	got, err := awscred.New(r, resolver.Request{}).Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !got.CanExpire || got.Expires.Before(before) || got.Expires.After(time.Now()) || !got.Expired() {
		t.Errorf("CanExpire %v, Expires %v: want the time of the call (expired for any cache)", got.CanExpire, got.Expires)
	}
}

func TestRetrieveIncomplete(t *testing.T) {
	for _, tt := range []struct {
		name   string
		fields map[string]string
		want   []string
	}{
		{"token only", map[string]string{provider.FieldToken: keyA.SecretAccessKey}, []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}},
		{"no secret", map[string]string{provider.FieldAccessKeyID: keyA.AccessKeyID, provider.FieldSessionToken: keyB.SessionToken}, []string{provider.FieldSecretAccessKey}},
		{"no key id", map[string]string{provider.FieldSecretAccessKey: keyA.SecretAccessKey}, []string{provider.FieldAccessKeyID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newResolver(t, []provider.Provider{static.New(tt.fields)})
			_, err := awscred.New(r, resolver.Request{}).Retrieve(context.Background())
			var ie *awscred.IncompleteError
			if !errors.Is(err, awscred.ErrIncomplete) || !errors.As(err, &ie) || !slices.Equal(ie.Missing, tt.want) || ie.Source.Provider != "static" {
				t.Fatalf("Retrieve error %v, want an IncompleteError missing %v from static", err, tt.want)
			}
			noCanary(t, "error", err.Error())
		})
	}
}

// TestErrorsThroughTheSDK: the resolver's errors reach the caller of an SDK
// operation intact, and no request is sent without credentials.
func TestErrorsThroughTheSDK(t *testing.T) {
	f := newFakeAWS(t, keyA)
	ctx := context.Background()

	empty := newResolver(t, []provider.Provider{static.NewProfiles(nil)})
	err := describe(ctx, ec2.NewFromConfig(f.config(awscred.New(empty, resolver.Request{})), awscred.WithSigner))
	if !errors.Is(err, resolver.ErrNoCredentials) {
		t.Errorf("no credentials: %v, want it to wrap resolver.ErrNoCredentials", err)
	}
	r := newResolver(t, []provider.Provider{static.New(fields(keyA))})
	err = describe(ctx, ec2.NewFromConfig(f.config(awscred.New(r, resolver.Request{Profile: "other"})), awscred.WithSigner))
	if !errors.Is(err, resolver.ErrProfileRefused) {
		t.Errorf("refused profile: %v, want it to wrap resolver.ErrProfileRefused", err)
	}
	tokenOnly := newResolver(t, []provider.Provider{static.New(map[string]string{provider.FieldToken: keyB.SessionToken})})
	err = getParameter(ctx, ssm.NewFromConfig(f.config(awscred.New(tokenOnly, resolver.Request{})), awscred.WithSigner))
	if !errors.Is(err, awscred.ErrIncomplete) {
		t.Errorf("incomplete: %v, want it to wrap ErrIncomplete", err)
	}
	noCanary(t, "error", err.Error())
	if c := f.Calls(); len(c) != 0 {
		t.Errorf("requests were sent without credentials: %+v", c)
	}
}

// TestCredentialsCacheDoesNotHideRotation: config.WithCredentialsProvider
// wraps the Provider in an aws.CredentialsCache. With the default Options the
// cache passes every Retrieve through, so a rotated credential and
// InvalidateResult take effect at the next call; with ReportExpiry the cache
// keeps the first credential forever, which is why that is not the default.
func TestCredentialsCacheDoesNotHideRotation(t *testing.T) {
	for _, tt := range []struct {
		name            string
		opts            func(*awscred.Options)
		wantPassThrough bool
	}{
		{"default", func(*awscred.Options) {}, true},
		{"ReportExpiry", func(o *awscred.Options) { o.ReportExpiry = true }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			src := &source{cur: keyA}
			r := newResolver(t, []provider.Provider{src})
			cfg, err := config.LoadDefaultConfig(ctx,
				config.WithCredentialsProvider(awscred.New(r, resolver.Request{}, tt.opts)),
				config.WithRegion(testRegion),
				config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := cfg.Credentials.(*aws.CredentialsCache); !ok {
				t.Fatalf("LoadDefaultConfig did not wrap the provider (%T): this test no longer shows the trap", cfg.Credentials)
			}
			first, err := cfg.Credentials.Retrieve(ctx)
			if err != nil || first.SecretAccessKey != keyA.SecretAccessKey {
				t.Fatalf("first Retrieve: %v", err)
			}
			src.set(keyA2) // rotated in place
			r.Invalidate("")
			second, err := cfg.Credentials.Retrieve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := second.SecretAccessKey == keyA2.SecretAccessKey; got != tt.wantPassThrough {
				t.Errorf("after rotation and Invalidate the cached config returns the new secret: %v, want %v", got, tt.wantPassThrough)
			}
		})
	}
}

// TestNewContext: one client, one Provider, and each call's context
// chooses the credentials.
func TestNewContext(t *testing.T) {
	f := newFakeAWS(t, keyA, keyB)
	r := newResolver(t, []provider.Provider{static.NewProfiles(map[string]map[string]string{
		provider.DefaultProfile: fields(keyA),
		"ops":                   fields(keyB),
	})}, func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile })
	client := ec2.NewFromConfig(f.config(awscred.NewContext(r)), awscred.WithSigner)
	ctx := context.Background()
	for _, c := range []context.Context{
		ctx,
		awscred.WithRequest(ctx, resolver.Request{Profile: "ops"}),
		awscred.WithRequest(ctx, resolver.Request{}),
		awscred.WithRequest(ctx, resolver.Request{Profile: "ops"}),
	} {
		if err := describe(c, client); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{keyA.AccessKeyID, keyB.AccessKeyID, keyA.AccessKeyID, keyB.AccessKeyID}
	if got := signers(f.Calls()); !slices.Equal(got, want) {
		t.Errorf("signed by %v, want %v", got, want)
	}

	// A Provider made with New ignores the context's request.
	f.resetCalls()
	fixed := ec2.NewFromConfig(f.config(awscred.New(r, resolver.Request{Profile: "ops"})), awscred.WithSigner)
	if err := describe(awscred.WithRequest(ctx, resolver.Request{}), fixed); err != nil {
		t.Fatal(err)
	}
	if got := signers(f.Calls()); !slices.Equal(got, []string{keyB.AccessKeyID}) {
		t.Errorf("fixed provider signed by %v, want %v", got, keyB.AccessKeyID)
	}
	if req, ok := awscred.RequestFrom(awscred.WithRequest(ctx, resolver.Request{Profile: "ops"})); !ok || req.Profile != "ops" {
		t.Errorf("RequestFrom = %v, %v", req, ok)
	}
	if _, ok := awscred.RequestFrom(ctx); ok {
		t.Error("RequestFrom of a bare context reports a request")
	}
}

// TestDo: a credential AWS rejects is dropped from the resolver's cache,
// read again and the call retried once, only when that gives other
// credentials.
func TestDo(t *testing.T) {
	ctx := context.Background()

	t.Run("rotated source: one retry with the new credentials", func(t *testing.T) {
		f := newFakeAWS(t, keyA)
		src := &source{cur: keyA}
		r := newResolver(t, []provider.Provider{src})
		p := awscred.New(r, resolver.Request{})
		client := ec2.NewFromConfig(f.config(p), awscred.WithSigner)
		if err := p.Do(ctx, func(ctx context.Context) error { return describe(ctx, client) }); err != nil {
			t.Fatal(err)
		}
		// The key is replaced at the source and at AWS; the resolver still
		// holds the old one.
		src.set(keyB)
		f.setKnown(keyB)
		if err := p.Do(ctx, func(ctx context.Context) error { return describe(ctx, client) }); err != nil {
			t.Fatalf("Do after rotation: %v", err)
		}
		want := []string{keyA.AccessKeyID, "!AuthFailure", keyB.AccessKeyID}
		if got := signers(f.Calls()); !slices.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
	})

	t.Run("same secret in the source: no retry", func(t *testing.T) {
		f := newFakeAWS(t, keyB) // keyA is not (or no longer) valid
		src := &source{cur: keyA}
		r := newResolver(t, []provider.Provider{src})
		p := awscred.New(r, resolver.Request{})
		client := ec2.NewFromConfig(f.config(p), awscred.WithSigner)
		err := p.Do(ctx, func(ctx context.Context) error { return describe(ctx, client) })
		if !awscred.Rejected(err) {
			t.Fatalf("Do = %v, want the rejection", err)
		}
		if got := signers(f.Calls()); !slices.Equal(got, []string{"!AuthFailure"}) {
			t.Errorf("calls %v, want one", got)
		}
		if src.count() != 2 {
			t.Errorf("source read %d times, want 2 (once more after the rejection)", src.count())
		}
		noCanary(t, "error", err.Error())
	})

	t.Run("request credentials: no retry, nothing invalidated", func(t *testing.T) {
		f := newFakeAWS(t, keyB)
		src := &source{cur: keyB}
		r := newResolver(t, []provider.Provider{src}, func(o *resolver.Options) { o.AllowRequestCredentials = true })
		p := awscred.NewContext(r)
		client := ec2.NewFromConfig(f.config(p), awscred.WithSigner)
		rctx := awscred.WithRequest(ctx, resolver.Request{Credentials: requestCreds(keyA)})
		err := p.Do(rctx, func(ctx context.Context) error { return describe(ctx, client) })
		if !awscred.Rejected(err) {
			t.Fatalf("Do = %v, want the rejection", err)
		}
		if got := signers(f.Calls()); !slices.Equal(got, []string{"!AuthFailure"}) {
			t.Errorf("calls %v, want one", got)
		}
		if src.count() != 0 {
			t.Errorf("source read %d times, want 0", src.count())
		}
	})

	t.Run("not a rejection: no retry", func(t *testing.T) {
		f := newFakeAWS(t, keyA)
		src := &source{cur: keyA}
		r := newResolver(t, []provider.Provider{src})
		p := awscred.New(r, resolver.Request{})
		client := ec2.NewFromConfig(f.config(p), awscred.WithSigner)
		f.queue(failure{status: 403, code: "UnauthorizedOperation"})
		err := p.Do(ctx, func(ctx context.Context) error { return describe(ctx, client) })
		if err == nil || awscred.Rejected(err) {
			t.Fatalf("Do = %v, want UnauthorizedOperation", err)
		}
		if len(f.Calls()) != 1 || src.count() != 1 {
			t.Errorf("%d calls, source read %d times; want 1 and 1", len(f.Calls()), src.count())
		}
	})

	t.Run("no credentials: fn is not called", func(t *testing.T) {
		r := newResolver(t, []provider.Provider{static.NewProfiles(nil)})
		called := false
		err := awscred.New(r, resolver.Request{}).Do(ctx, func(context.Context) error { called = true; return nil })
		if !errors.Is(err, resolver.ErrNoCredentials) || called {
			t.Errorf("Do = %v, called %v", err, called)
		}
	})
}
