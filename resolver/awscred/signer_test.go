package awscred_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/mcpcred/mcpcred/internal/awstest"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/static"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/awscred"
)

// signerModes are the ways a test client is built: with the SDK's default
// signer, with WithSigner, or with NewSigner set by hand.
var signerModes = []string{"sdk default signer", "WithSigner", "NewSigner"}

// services build one client of a service for a mode and return its call.
var services = []struct {
	name   string
	client func(cfg aws.Config, mode string) func(context.Context) error
}{
	{"ec2", func(cfg aws.Config, mode string) func(context.Context) error {
		var opts []func(*ec2.Options)
		switch mode {
		case "WithSigner":
			opts = append(opts, awscred.WithSigner[ec2.Options])
		case "NewSigner":
			opts = append(opts, func(o *ec2.Options) { o.HTTPSignerV4 = awscred.NewSigner() })
		}
		c := ec2.NewFromConfig(cfg, opts...)
		return func(ctx context.Context) error { return describe(ctx, c) }
	}},
	{"ssm", func(cfg aws.Config, mode string) func(context.Context) error {
		var opts []func(*ssm.Options)
		switch mode {
		case "WithSigner":
			opts = append(opts, awscred.WithSigner[ssm.Options])
		case "NewSigner":
			opts = append(opts, func(o *ssm.Options) { o.HTTPSignerV4 = awscred.NewSigner() })
		}
		c := ssm.NewFromConfig(cfg, opts...)
		return func(ctx context.Context) error { return getParameter(ctx, c) }
	}},
}

// sameDay reports whether the calls were signed on one UTC day: the SDK's
// cache keeps a derived key for a day, so its bug shows only then.
func sameDay(t *testing.T, calls []fakeCall) bool {
	t.Helper()
	for _, c := range calls[1:] {
		if c.Day != calls[0].Day {
			t.Logf("the calls straddle midnight UTC (%s, %s): the SDK's key cache starts afresh, nothing to show", calls[0].Day, c.Day)
			return false
		}
	}
	return true
}

// TestOneClientSecretRotatedInPlace: one client signs for a credential
// whose secret changes under the same access key ID (rotated at the source
// and at AWS; the resolver re-reads it). The SDK's default signer keeps
// signing with the key derived from the old secret, so every call fails
// until the next UTC day; the Signer signs with the new secret.
func TestOneClientSecretRotatedInPlace(t *testing.T) {
	for _, svc := range services {
		for _, mode := range signerModes {
			t.Run(svc.name+"/"+mode, func(t *testing.T) {
				ctx := context.Background()
				f := newFakeAWS(t, keyA)
				src := &source{cur: keyA}
				r := newResolver(t, []provider.Provider{src})
				call := svc.client(f.config(awscred.New(r, resolver.Request{})), mode)
				if err := call(ctx); err != nil {
					t.Fatal(err)
				}
				src.set(keyA2)
				f.setKnown(keyA2)
				r.InvalidateAll()
				err := call(ctx)
				calls := f.Calls()
				if mode == "sdk default signer" {
					// Documents the SDK's behaviour that Signer exists for.
					if !sameDay(t, calls) {
						return
					}
					if err == nil || !awscred.Rejected(err) || !errors.Is(calls[1].Verify, awstest.ErrSignature) {
						t.Fatalf("the SDK's signer signed with the new secret (err %v): it no longer reuses keys across secrets, and Signer may no longer be needed", err)
					}
					t.Logf("as documented, the SDK's default signer signed with the old secret: %v", calls[1].Verify)
					return
				}
				if err != nil {
					t.Fatalf("second call, after the rotation: %v (endpoint: %v)", err, calls[1].Verify)
				}
				if got := signers(calls); !slices.Equal(got, []string{keyA.AccessKeyID, keyA2.AccessKeyID}) {
					t.Errorf("calls %v", got)
				}
			})
		}
	}
}

// TestOneClientWrongSecretForKnownKey: one client serves every tool call,
// and a call passes credentials with the access key ID of the server's own
// credential (an ID is not a secret) and a wrong secret. The SDK's default
// signer signs that call with the server's secret, which AWS accepts; with
// the Signer AWS rejects it.
func TestOneClientWrongSecretForKnownKey(t *testing.T) {
	for _, svc := range services {
		for _, mode := range signerModes {
			t.Run(svc.name+"/"+mode, func(t *testing.T) {
				ctx := context.Background()
				f := newFakeAWS(t, keyA)
				r := newResolver(t, []provider.Provider{static.New(fields(keyA))},
					func(o *resolver.Options) { o.AllowRequestCredentials = true })
				call := svc.client(f.config(awscred.NewContext(r)), mode)
				if err := call(ctx); err != nil {
					t.Fatal(err)
				}
				wrong := awscred.WithRequest(ctx, resolver.Request{Credentials: requestCreds(keyA2)})
				err := call(wrong)
				calls := f.Calls()
				if mode == "sdk default signer" {
					if !sameDay(t, calls) {
						return
					}
					if err != nil || calls[1].Signer != keyA.AccessKeyID {
						t.Fatalf("the SDK's signer did not sign the wrong secret's call with the server's secret (err %v): it no longer reuses keys across secrets, and Signer may no longer be needed", err)
					}
					t.Log("as documented, the SDK's default signer signed a call that carried a wrong secret with the server's secret, and it was accepted")
					return
				}
				if !awscred.Rejected(err) {
					t.Fatalf("the call with a wrong secret was not rejected: %v; calls %v", err, signers(calls))
				}
				if got := signers(calls); len(got) != 2 || got[0] != keyA.AccessKeyID || calls[1].Signer != "" {
					t.Errorf("calls %v", got)
				}
				// And the server's own credential still works after it.
				if err := call(ctx); err != nil {
					t.Errorf("the server's credential after the rejected call: %v", err)
				}
			})
		}
	}
}

// TestSignerSignsWithEachSecret checks Signer's signatures and presigned
// URLs against a new SDK signer's, for two credentials sharing an access key
// ID signed in turn at one instant, and shows the SDK signer's reuse.
func TestSignerSignsWithEachSecret(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	const hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	newReq := func() *http.Request {
		r, err := http.NewRequest(http.MethodGet, "https://ec2.eu-west-1.amazonaws.com/a%20b/?Action=DescribeRegions", nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	sign := func(s v4.HTTPSigner, c aws.Credentials, optFns ...func(*v4.SignerOptions)) string {
		r := newReq()
		if err := s.SignHTTP(context.Background(), c, r, hash, "ec2", testRegion, at, optFns...); err != nil {
			t.Fatal(err)
		}
		return r.Header.Get("Authorization")
	}
	type presigner interface {
		PresignHTTP(context.Context, aws.Credentials, *http.Request, string, string, string, time.Time, ...func(*v4.SignerOptions)) (string, http.Header, error)
	}
	presign := func(s presigner, c aws.Credentials) string {
		u, _, err := s.PresignHTTP(context.Background(), c, newReq(), hash, "ec2", testRegion, at)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	wantA, wantA2 := sign(v4.NewSigner(), keyA), sign(v4.NewSigner(), keyA2)
	if wantA == wantA2 {
		t.Fatal("two secrets give one signature")
	}
	for _, s := range []*awscred.Signer{{}, awscred.NewSigner(), nil} {
		if got := []string{sign(s, keyA), sign(s, keyA2), sign(s, keyA)}; !slices.Equal(got, []string{wantA, wantA2, wantA}) {
			t.Errorf("Signer: %q", got)
		}
	}
	shared := v4.NewSigner()
	if sign(shared, keyA) != wantA || sign(shared, keyA2) != wantA {
		t.Log("the SDK's shared signer no longer reuses the first secret's key for the second")
	}

	wantPA, wantPA2 := presign(v4.NewSigner(), keyA), presign(v4.NewSigner(), keyA2)
	s := awscred.NewSigner()
	if got := []string{presign(s, keyA), presign(s, keyA2)}; !slices.Equal(got, []string{wantPA, wantPA2}) {
		t.Errorf("PresignHTTP: %q, want %q", got, []string{wantPA, wantPA2})
	}

	// NewSigner's options apply to every request, and per-request options
	// after them.
	unescaped := func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }
	want := sign(v4.NewSigner(unescaped), keyB)
	if want == sign(v4.NewSigner(), keyB) {
		t.Fatal("the option changes nothing in this request")
	}
	if got := sign(awscred.NewSigner(unescaped), keyB); got != want {
		t.Errorf("NewSigner(option): %q, want %q", got, want)
	}
	if got := sign(awscred.NewSigner(), keyB, unescaped); got != want {
		t.Errorf("per-request option: %q, want %q", got, want)
	}
	for _, h := range []string{wantA, wantA2} {
		if strings.Contains(h, keyA.SecretAccessKey) {
			t.Fatal("a signature holds the secret")
		}
	}
}

func TestWithSigner(t *testing.T) {
	var eo ec2.Options
	awscred.WithSigner(&eo)
	var po ec2.PresignOptions
	awscred.WithSigner(&po)
	var so ssm.Options
	awscred.WithSigner(&so)
	for name, got := range map[string]any{"ec2.Options": eo.HTTPSignerV4, "ec2.PresignOptions": po.Presigner, "ssm.Options": so.HTTPSignerV4} {
		if _, ok := got.(*awscred.Signer); !ok {
			t.Errorf("%s: signer %T, want *awscred.Signer", name, got)
		}
	}
	// Through the constructors, as users pass it.
	c := ec2.NewFromConfig(aws.Config{Region: testRegion}, awscred.WithSigner)
	if _, ok := c.Options().HTTPSignerV4.(*awscred.Signer); !ok {
		t.Errorf("ec2.NewFromConfig(cfg, WithSigner): signer %T", c.Options().HTTPSignerV4)
	}
	if p := ec2.NewPresignClient(c, awscred.WithSigner); p == nil {
		t.Error("ec2.NewPresignClient(c, WithSigner) = nil")
	}

	mustPanic := func(name string, fn func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		fn()
	}
	mustPanic("a struct without the fields", func() { awscred.WithSigner(&struct{ Region string }{}) })
	mustPanic("a field of another type", func() { awscred.WithSigner(&struct{ HTTPSignerV4 string }{}) })
	mustPanic("not a struct", func() { n := 1; awscred.WithSigner(&n) })
}
