package ssm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/provider/ssm"
	"github.com/mcpcred/mcpcred/resolver"
)

const canary = "CANARY-SECRET-d3adb33f"

var noDelay = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })

func newProvider(t *testing.T, f *fakeSSM, id aws.Credentials, optFns ...func(*ssm.Options)) *ssm.Provider {
	t.Helper()
	optFns = append([]func(*ssm.Options){func(o *ssm.Options) { o.Backoff = noDelay }}, optFns...)
	p, err := ssm.New(f.config(id), optFns...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func seedProd(f *fakeSSM) {
	f.put("/mcp/prod/access_key_id", "String", "AKIAPRODEXAMPLE")
	f.put("/mcp/prod/secret_access_key", "SecureString", "old-secret")
	f.put("/mcp/prod/secret_access_key", "SecureString", canary+"-secret-key")
	f.put("/mcp/prod/region", "String", "eu-central-1")
	f.put("/mcp/prod/db/password", "SecureString", canary+"-db")
	f.put("/mcp/prod/token", "SecureString", canary+"-token")
	f.put("/mcp/production/other", "SecureString", "must-not-appear")
	f.put("/mcp/staging/token", "SecureString", "staging-token")
}

func TestRetrievePathPaginates(t *testing.T) {
	for _, pageSize := range []int{0, 1, 2, 5} {
		t.Run(fmt.Sprintf("pageSize=%d", pageSize), func(t *testing.T) {
			f := newFakeSSM(t)
			seedProd(f)
			f.pageSize = pageSize
			p := newProvider(t, f, identityA)
			c, err := p.Retrieve(context.Background(), "prod")
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			want := map[string]string{
				"access_key_id":     "AKIAPRODEXAMPLE",
				"secret_access_key": canary + "-secret-key",
				"region":            "eu-central-1",
				"db/password":       canary + "-db",
				"token":             canary + "-token",
			}
			if got := c.Names(); len(got) != len(want) {
				t.Fatalf("fields %v, want %d fields", got, len(want))
			}
			for k, v := range want {
				if c.Value(k) != v {
					t.Errorf("field %s: wrong value (len %d)", k, len(c.Value(k)))
				}
			}
			if c.Source != (provider.Source{Provider: "ssm", Locator: "/mcp/prod/"}) {
				t.Errorf("Source = %+v", c.Source)
			}
			if c.FetchedAt.IsZero() {
				t.Error("FetchedAt is zero")
			}
			calls := f.Calls()
			wantPages := 1
			if pageSize > 0 {
				wantPages = (5 + pageSize - 1) / pageSize
			}
			if len(calls) != wantPages {
				t.Fatalf("%d calls, want %d pages: %+v", len(calls), wantPages, calls)
			}
			for i, cl := range calls {
				if cl.Op != "GetParametersByPath" || cl.Path != "/mcp/prod" || !cl.Recursive || !cl.Decrypt || cl.Signer != identityA.AccessKeyID {
					t.Errorf("call %d = %+v", i, cl)
				}
				wantTok := ""
				if i > 0 {
					wantTok = fmt.Sprintf("page-token-%d", i*pageSize)
				}
				if cl.NextToken != wantTok {
					t.Errorf("call %d NextToken %q, want %q", i, cl.NextToken, wantTok)
				}
			}
			providertest.CheckRendering(t, c, canary)
		})
	}
}

func TestRetrieveParametersVersionsAndLabels(t *testing.T) {
	f := newFakeSSM(t)
	f.put("/shared/token", "SecureString", "v1-token", "old")
	f.put("/shared/token", "SecureString", "v2-token", "current")
	f.put("/shared/token", "SecureString", "v3-token")
	f.put("/shared/user", "String", "bob")
	p := newProvider(t, f, identityB, func(o *ssm.Options) {
		o.Parameters = map[string]map[string]string{
			"pinned":  {"token": "/shared/token:1", "username": "/shared/user"},
			"labeled": {"token": "/shared/token:current"},
			"latest":  {"token": "/shared/token"},
			"missing": {"token": "/shared/nope"},
			"badver":  {"token": "/shared/token:9"},
		}
	})
	for _, tt := range []struct{ profile, want string }{{"pinned", "v1-token"}, {"labeled", "v2-token"}, {"latest", "v3-token"}} {
		c, err := p.Retrieve(context.Background(), tt.profile)
		if err != nil {
			t.Fatalf("Retrieve(%s): %v", tt.profile, err)
		}
		if c.Value("token") != tt.want {
			t.Errorf("Retrieve(%s) token = %q, want %q", tt.profile, c.Value("token"), tt.want)
		}
	}
	if _, err := p.Retrieve(context.Background(), "missing"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("missing parameter: %v, want ErrNotFound", err)
	}
	_, err := p.Retrieve(context.Background(), "badver")
	if err == nil || errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), "ParameterVersionNotFound") {
		t.Errorf("missing version: %v, want a ParameterVersionNotFound failure", err)
	}
	for _, cl := range f.Calls() {
		if cl.Op != "GetParameter" || !cl.Decrypt || cl.Signer != identityB.AccessKeyID {
			t.Errorf("call %+v", cl)
		}
	}
}

func TestPathLabelFilter(t *testing.T) {
	f := newFakeSSM(t)
	f.put("/mcp/prod/token", "SecureString", "v1", "live")
	f.put("/mcp/prod/token", "SecureString", "v2")
	f.put("/mcp/prod/user", "String", "u1")
	p := newProvider(t, f, identityA, func(o *ssm.Options) { o.Label = "live" })
	c, err := p.Retrieve(context.Background(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	if c.Value("token") != "v1" || c.Has("user") {
		t.Errorf("got fields %v token %q", c.Names(), c.Value("token"))
	}
	if cl := f.Calls()[0]; cl.Label != "live" {
		t.Errorf("call %+v has no Label filter", cl)
	}
}

func TestPrefixAndPaths(t *testing.T) {
	f := newFakeSSM(t)
	f.put("/apps/x/default/token", "SecureString", "d")
	f.put("/teams/a/prod/token", "SecureString", "p")
	p := newProvider(t, f, identityA, func(o *ssm.Options) {
		o.Prefix = "/apps/x/"
		o.Paths = map[string]string{"prod": "/teams/a/prod/"}
	})
	if got := p.PathFor("default"); got != "/apps/x/default" {
		t.Errorf("PathFor(default) = %q", got)
	}
	for prof, want := range map[string]string{provider.DefaultProfile: "d", "prod": "p"} {
		c, err := p.Retrieve(context.Background(), prof)
		if err != nil || c.Value("token") != want {
			t.Errorf("Retrieve(%s) = %v, %v", prof, c, err)
		}
	}
	for _, bad := range []string{"a/b", "", "..", "x:1"} {
		if _, err := p.Retrieve(context.Background(), bad); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("Retrieve(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		profile    string
		setup      func(f *fakeSSM)
		want       error  // sentinel the error must wrap
		wantAction string // for access errors
		wantText   []string
		wantCalls  int
	}{
		{name: "empty path", profile: "nobody", want: provider.ErrNotFound, wantText: []string{"/mcp/nobody/"}, wantCalls: 1},
		{name: "missing parameter", profile: "single", want: provider.ErrNotFound, wantText: []string{"/single/missing"}, wantCalls: 1},
		{name: "path access denied", profile: "prod", want: ssm.ErrAccessDenied, wantAction: "ssm:GetParametersByPath",
			setup: func(f *fakeSSM) {
				f.failAll("/mcp/prod", 400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/mcp is not authorized to perform: ssm:GetParametersByPath on resource: arn:aws:ssm:eu-central-1:123456789012:parameter/mcp/prod because no identity-based policy allows the ssm:GetParametersByPath action")
			}, wantText: []string{"/mcp/prod/", "ssm:GetParametersByPath"}, wantCalls: 1},
		{name: "parameter access denied", profile: "single", want: ssm.ErrAccessDenied, wantAction: "ssm:GetParameter",
			setup: func(f *fakeSSM) {
				f.failAll("/single/missing", 400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/mcp is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:eu-central-1:123456789012:parameter/single/missing")
			}, wantText: []string{"/single/missing", "ssm:GetParameter"}, wantCalls: 1},
		{name: "kms access denied", profile: "prod", want: ssm.ErrAccessDenied, wantAction: "kms:Decrypt",
			setup: func(f *fakeSSM) {
				f.failAll("/mcp/prod", 400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/mcp is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:eu-central-1:123456789012:key/1234abcd because no identity-based policy allows the kms:Decrypt action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)")
			}, wantText: []string{"kms:Decrypt", "/mcp/prod/"}, wantCalls: 1},
		{name: "kms invalid key", profile: "prod", want: ssm.ErrAccessDenied, wantAction: "kms:Decrypt",
			setup: func(f *fakeSSM) {
				f.failAll("/mcp/prod", 400, "InvalidKeyId", "arn:aws:kms:eu-central-1:123456789012:key/1234abcd is disabled. (Service: AWSKMS; Status Code: 400; Error Code: DisabledException)")
			}, wantText: []string{"kms:Decrypt", "InvalidKeyId"}, wantCalls: 1},
		{name: "throttled beyond retries", profile: "prod", want: provider.ErrUnavailable,
			setup:    func(f *fakeSSM) { f.failAll("/mcp/prod", 400, "ThrottlingException", "Rate exceeded") },
			wantText: []string{"ThrottlingException", "after 3 attempts"}, wantCalls: 3},
		{name: "5xx", profile: "prod", want: provider.ErrUnavailable,
			setup:    func(f *fakeSSM) { f.failAll("/mcp/prod", 500, "InternalServerError", "") },
			wantText: []string{"InternalServerError"}, wantCalls: 3},
		{name: "503 without code", profile: "prod", want: provider.ErrUnavailable,
			setup:    func(f *fakeSSM) { f.failAll("/mcp/prod", 503, "", "") },
			wantText: []string{"503"}, wantCalls: 3},
		{name: "unknown identity", profile: "prod", setup: nil, wantText: []string{"UnrecognizedClientException"}, wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSSM(t)
			seedProd(f)
			if tt.setup != nil {
				tt.setup(f)
			}
			id := identityA
			if tt.name == "unknown identity" {
				id = aws.Credentials{AccessKeyID: "AKIDSTRANGER", SecretAccessKey: canary + "-stranger"}
			}
			p := newProvider(t, f, id, func(o *ssm.Options) {
				o.MaxAttempts = 3
				o.Parameters = map[string]map[string]string{"single": {"token": "/single/missing"}}
			})
			_, err := p.Retrieve(context.Background(), tt.profile)
			if err == nil {
				t.Fatal("Retrieve succeeded, want an error")
			}
			t.Log(err)
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error does not wrap %v", tt.want)
			}
			if tt.want == nil && (errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable)) {
				t.Errorf("error should be a failure, not not-found/unavailable")
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Provider != "ssm" {
				t.Errorf("error %T is not a *provider.Error from ssm", err)
			}
			if tt.wantAction != "" {
				var ae *ssm.AccessError
				if !errors.As(err, &ae) || ae.Action != tt.wantAction {
					t.Errorf("AccessError = %+v, want action %s", ae, tt.wantAction)
				}
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q", s)
				}
			}
			if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), canary) {
				t.Errorf("error reveals a secret")
			}
			if n := len(f.Calls()); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestNetworkErrorIsUnavailable(t *testing.T) {
	f := newFakeSSM(t)
	p := newProvider(t, f, identityA, func(o *ssm.Options) { o.MaxAttempts = 2 })
	f.srv.Close()
	_, err := p.Retrieve(context.Background(), "prod")
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("closed endpoint: %v, want ErrUnavailable", err)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	f := newFakeSSM(t)
	seedProd(f)
	f.pageSize = 2
	// Throttle the first page twice, then the second page once.
	f.queue(2, 400, "ThrottlingException", "Rate exceeded")
	var delays []time.Duration
	var mu sync.Mutex
	backoff := retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
		mu.Lock()
		defer mu.Unlock()
		delays = append(delays, time.Duration(attempt)*time.Millisecond)
		return time.Millisecond, nil
	})
	p := newProvider(t, f, identityA, func(o *ssm.Options) { o.Backoff = backoff })
	c, err := p.Retrieve(context.Background(), "prod")
	if err != nil {
		t.Fatalf("Retrieve after throttling: %v", err)
	}
	if c.Len() != 5 {
		t.Errorf("fields %v", c.Names())
	}
	calls := f.Calls()
	if len(calls) != 5 { // 2 throttled + 3 pages
		t.Errorf("%d calls, want 5: %+v", len(calls), calls)
	}
	if len(delays) != 2 {
		t.Errorf("backoff consulted %d times, want 2", len(delays))
	}
}

func TestDefaultBackoffWaits(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the SDK's real backoff")
	}
	f := newFakeSSM(t)
	seedProd(f)
	f.queue(1, 400, "ThrottlingException", "Rate exceeded")
	p, err := ssm.New(f.config(identityA))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := p.Retrieve(context.Background(), "prod"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > ssm.DefaultMaxBackoff+time.Second {
		t.Errorf("one throttled attempt took %v, more than MaxBackoff", d)
	}
	if n := len(f.Calls()); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A refresh that stays throttled is ErrUnavailable, so the resolver serves
// the last good value under its stale rule.
func TestResolverServesStaleWhenThrottled(t *testing.T) {
	f := newFakeSSM(t)
	seedProd(f)
	p := newProvider(t, f, identityA, func(o *ssm.Options) { o.MaxAttempts = 2 })
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	r, err := resolver.New([]provider.Provider{p}, func(o *resolver.Options) {
		o.Now = clk.Now
		o.TTL = time.Minute
		o.MaxStale = 10 * time.Minute
		o.AllowProfile = resolver.AnyProfile
	})
	if err != nil {
		t.Fatal(err)
	}
	first, err := r.Resolve(context.Background(), resolver.Request{Profile: "prod"})
	if err != nil || first.Stale {
		t.Fatalf("first Resolve: %v, stale=%v", err, first.Stale)
	}
	f.failAll("/mcp/prod", 400, "ThrottlingException", "Rate exceeded")
	clk.Add(2 * time.Minute)
	// Past the TTL the value is served at once while a background refresh
	// runs; once that refresh has failed, it is served as stale.
	var res resolver.Result
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err = r.Resolve(context.Background(), resolver.Request{Profile: "prod"})
		if err != nil {
			t.Fatalf("Resolve while throttled: %v", err)
		}
		if res.Stale || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !res.Stale || res.Credentials.Value("token") != canary+"-token" {
		t.Fatalf("got stale=%v fields=%v, want the last good value marked stale", res.Stale, res.Credentials.Names())
	}
	if n := len(f.Calls()); n != 3 {
		t.Errorf("%d calls, want 1 + 2 attempts", n)
	}
}

// Each provider's SSM client signs with its own aws.Config credentials; the
// endpoint proves which identity signed each call.
func TestSignedWithConfiguredIdentity(t *testing.T) {
	f := newFakeSSM(t)
	seedProd(f)
	pa := newProvider(t, f, identityA)
	pb := newProvider(t, f, identityB)
	for _, p := range []*ssm.Provider{pa, pb, pa} {
		if _, err := p.Retrieve(context.Background(), "prod"); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, c := range f.Calls() {
		got = append(got, c.Signer)
	}
	want := []string{identityA.AccessKeyID, identityB.AccessKeyID, identityA.AccessKeyID}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("signers %v, want %v", got, want)
	}
}

func TestConformance(t *testing.T) {
	f := newFakeSSM(t)
	seedProd(f)
	p := newProvider(t, f, identityA)
	providertest.Run(t, p, providertest.Options{
		Profile:        "prod",
		MissingProfile: "nobody",
		WantFields:     []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey, provider.FieldToken},
		Secrets:        []string{canary, identityA.SecretAccessKey, identityA.SessionToken},
	})
	pp := newProvider(t, f, identityA, func(o *ssm.Options) {
		o.Parameters = map[string]map[string]string{
			"single": {provider.FieldToken: "/mcp/prod/token"},
			"gone":   {provider.FieldToken: "/mcp/gone/token"},
		}
	})
	t.Run("Parameters", func(t *testing.T) {
		providertest.Run(t, pp, providertest.Options{Profile: "single", MissingProfile: "gone", WantFields: []string{provider.FieldToken}, Secrets: []string{canary}})
	})
}

// The canary secret never shows in errors, logs or renderings, whatever
// happens around it.
func TestCanarySecret(t *testing.T) {
	f := newFakeSSM(t)
	seedProd(f)
	f.put("/mcp/canary/"+"token", "SecureString", canary)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := newProvider(t, f, identityA, func(o *ssm.Options) { o.Logger = logger; o.MaxAttempts = 2 })
	var outs []string
	c, err := p.Retrieve(context.Background(), "canary")
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckRendering(t, c, canary)
	for _, code := range []string{"ThrottlingException", "AccessDeniedException", "InvalidKeyId", "ValidationException"} {
		f.failAll("/mcp/canary", 400, code, "message about /mcp/canary")
		_, err := p.Retrieve(context.Background(), "canary")
		if err == nil {
			t.Fatalf("%s: no error", code)
		}
		outs = append(outs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	outs = append(outs, logs.String())
	if !strings.Contains(logs.String(), "ssm: read path") {
		t.Errorf("no debug log written: %q", logs.String())
	}
	for _, o := range outs {
		if strings.Contains(o, canary) {
			t.Errorf("leak: %q", strings.ReplaceAll(o, canary, "<LEAKED>"))
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, fn := range map[string]func(*ssm.Options){
		"relative prefix":   func(o *ssm.Options) { o.Prefix = "mcp" },
		"bad path":          func(o *ssm.Options) { o.Paths = map[string]string{"p": "no-slash"} },
		"bad parameter":     func(o *ssm.Options) { o.Parameters = map[string]map[string]string{"p": {"token": "/x:"}} },
		"empty mapping":     func(o *ssm.Options) { o.Parameters = map[string]map[string]string{"p": {}} },
		"bad label":         func(o *ssm.Options) { o.Label = "aws-x" },
		"empty field":       func(o *ssm.Options) { o.Parameters = map[string]map[string]string{"p": {"": "/x"}} },
		"bad char in label": func(o *ssm.Options) { o.Label = "a b" },
	} {
		if _, err := ssm.New(aws.Config{}, fn); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestCanceledMidWalk(t *testing.T) {
	f := newFakeSSM(t)
	seedProd(f)
	f.pageSize = 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Throttle forever with a backoff that cancels: the walk must stop with ctx's error.
	f.failAll("/mcp/prod", 400, "ThrottlingException", "Rate exceeded")
	p := newProvider(t, f, identityA, func(o *ssm.Options) {
		o.MaxAttempts = 10
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { cancel(); return time.Second, nil })
	})
	_, err := p.Retrieve(ctx, "prod")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Retrieve = %v, want context.Canceled", err)
	}
}

// The SSM client's own credentials failing (no AWS identity on this host)
// is "unavailable", not a verdict on the profile.
func TestClientWithoutCredentialsIsUnavailable(t *testing.T) {
	f := newFakeSSM(t)
	cfg := f.config(identityA)
	cfg.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 IMDS role found")
	}))
	p, err := ssm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Retrieve(context.Background(), "prod")
	if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), "no usable AWS credentials") {
		t.Fatalf("Retrieve = %v, want ErrUnavailable naming the client's credentials", err)
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls reached SSM unsigned", n)
	}
}

// TestClientCredentialErrorTextIsNotCopied: the SDK's credential_process
// provider puts the helper's raw output in its parse errors, and that output
// can hold a secret. The provider's error must not copy it.
func TestClientCredentialErrorTextIsNotCopied(t *testing.T) {
	const leaked = "PROCESS-SECRET-CANARY-7f3a"
	f := newFakeSSM(t)
	cfg := f.config(identityA)
	cfg.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, fmt.Errorf("process provider error: parse failed of process output: notice {\"SecretAccessKey\":%q}", leaked)
	}))
	p, err := ssm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Retrieve(context.Background(), "prod")
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("Retrieve = %v, want ErrUnavailable", err)
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err)} {
		if strings.Contains(s, leaked) {
			t.Fatalf("error copies the credential helper's output: %s", s)
		}
	}
}

// TestWalkWithoutProgressFails plays servers whose GetParametersByPath
// pagination does not make progress. However the walk stalls, Retrieve must
// fail: never a success holding the parameters read so far.
func TestWalkWithoutProgressFails(t *testing.T) {
	fresh := 0
	tests := []struct {
		name     string
		pageSize int
		maxPages int
		// next chooses the NextToken of the page that served [start, end) of total.
		next func(start, end, total int) string
		// wantUnavailable: a misbehaving server is an outage (the resolver
		// may bridge it with its last good value); a walk past MaxPages is a
		// definite failure.
		wantUnavailable bool
	}{
		{"token repeated at once", 2, 0, func(start, end, total int) string {
			if start > 0 {
				return fmt.Sprintf("page-token-%d", start) // the token it was given
			}
			return fmt.Sprintf("page-token-%d", end)
		}, true},
		{"token repeated on the last page", 2, 0, func(start, end, total int) string {
			if end == total {
				return fmt.Sprintf("page-token-%d", start)
			}
			return fmt.Sprintf("page-token-%d", end)
		}, true},
		{"token cycle", 1, 0, func(start, end, total int) string {
			if start == 2 {
				return "page-token-1" // 1 -> 2 -> 1 -> ...
			}
			return fmt.Sprintf("page-token-%d", end)
		}, true},
		{"restart from the first page under a fresh token", 2, 0, func(start, end, total int) string {
			if start == 2 {
				return "page-token-0-again"
			}
			return fmt.Sprintf("page-token-%d", end)
		}, true},
		{"fresh tokens for ever, empty pages", 2, 6, func(start, end, total int) string {
			fresh++
			if end < total {
				return fmt.Sprintf("page-token-%d-%d", end, fresh)
			}
			return fmt.Sprintf("page-token-%d-%d", total, fresh)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSSM(t)
			seedProd(f)
			f.pageSize = tt.pageSize
			f.nextToken = tt.next
			p := newProvider(t, f, identityA, func(o *ssm.Options) { o.MaxPages = tt.maxPages })
			c, err := p.Retrieve(context.Background(), "prod")
			if err == nil {
				t.Fatalf("Retrieve succeeded with %d of 5 fields after %d pages; want an error", c.Len(), len(f.Calls()))
			}
			if !c.IsZero() {
				t.Errorf("a failed walk returned %d fields", c.Len())
			}
			if !errors.Is(err, ssm.ErrIncompleteWalk) || errors.Is(err, provider.ErrNotFound) {
				t.Errorf("error %v, want ErrIncompleteWalk and not ErrNotFound", err)
			}
			if got := errors.Is(err, provider.ErrUnavailable); got != tt.wantUnavailable {
				t.Errorf("unavailable = %v, want %v: %v", got, tt.wantUnavailable, err)
			}
			if strings.Contains(err.Error(), "page-token") || strings.Contains(err.Error(), canary) {
				t.Errorf("error quotes a token or a value: %v", err)
			}
			limit := tt.maxPages
			if limit == 0 {
				limit = ssm.DefaultMaxPages
			}
			if n := len(f.Calls()); n > limit {
				t.Errorf("%d calls, more than MaxPages=%d", n, limit)
			}
			t.Logf("%d calls: %v", len(f.Calls()), err)
		})
	}
}

// TestWalkCompletesAcrossEmptyPages: SSM may answer a filtered walk with
// empty pages that still carry a NextToken; distinct tokens are progress.
func TestWalkCompletesAcrossEmptyPages(t *testing.T) {
	f := newFakeSSM(t)
	seedProd(f)
	f.pageSize = 2
	f.nextToken = func(start, end, total int) string {
		if end < total {
			return fmt.Sprintf("page-token-%d", end)
		}
		if start < total {
			return fmt.Sprintf("page-token-%d-empty", total) // one empty page more
		}
		return ""
	}
	p := newProvider(t, f, identityA)
	c, err := p.Retrieve(context.Background(), "prod")
	if err != nil || c.Len() != 5 {
		t.Fatalf("Retrieve = %d fields, %v; want 5 fields", c.Len(), err)
	}
	if n := len(f.Calls()); n != 4 {
		t.Errorf("%d calls, want 4 (three pages and an empty one)", n)
	}
}
