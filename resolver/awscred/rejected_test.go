package awscred_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/static"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/awscred"
)

// TestRejected decodes each error code with the real SDK clients from the
// local endpoint's answers, in EC2's XML and SSM's JSON protocols, and asks
// Rejected about the error the operation returns.
func TestRejected(t *testing.T) {
	rejected := []string{
		"AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
		"InvalidSignatureException", "IncompleteSignature", "IncompleteSignatureException", "InvalidAccessKeyId",
		"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "InvalidToken", "RequestExpired",
	}
	accepted := []string{ // the credentials were accepted, or the failure is not theirs
		"UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "RequestLimitExceeded",
		"ThrottlingException", "RequestTimeTooSkewed", "InvalidGroup.NotFound", "ParameterNotFound",
		"ValidationException", "InternalFailure", "OptInRequired", "MissingAuthenticationToken",
	}
	type tc struct {
		code string
		f    failure
		want bool
	}
	var tests []tc
	for _, c := range rejected {
		tests = append(tests, tc{c, failure{status: http.StatusBadRequest, code: c}, true})
	}
	for _, c := range accepted {
		tests = append(tests, tc{c, failure{status: http.StatusBadRequest, code: c}, false})
	}
	// How JSON services may spell a code: qualified by a namespace, or in
	// the X-Amzn-ErrorType header only. The SDK reduces both to the code.
	tests = append(tests,
		tc{"UnrecognizedClientException", failure{status: 400, code: "UnrecognizedClientException", jsonType: "com.amazon.coral.service#UnrecognizedClientException"}, true},
		tc{"ExpiredTokenException", failure{status: 400, code: "ExpiredTokenException", inHeader: true}, true},
		tc{"AccessDeniedException", failure{status: 400, code: "AccessDeniedException", jsonType: "com.amazon.coral.service#AccessDeniedException"}, false},
	)

	f := newFakeAWS(t, keyA)
	r := newResolver(t, []provider.Provider{static.New(fields(keyA))})
	cfg := f.config(awscred.New(r, resolver.Request{}))
	ec2c := ec2.NewFromConfig(cfg, awscred.WithSigner)
	ssmc := ssm.NewFromConfig(cfg, awscred.WithSigner)
	ctx := context.Background()
	for _, tt := range tests {
		for _, proto := range []string{"ec2", "ssm"} {
			if proto == "ec2" && (tt.f.jsonType != "" || tt.f.inHeader) {
				continue
			}
			name := proto + "/" + tt.f.code
			switch {
			case tt.f.jsonType != "":
				name += "/qualified"
			case tt.f.inHeader:
				name += "/in-header"
			}
			t.Run(name, func(t *testing.T) {
				f.queue(tt.f)
				var err error
				if proto == "ec2" {
					err = describe(ctx, ec2c)
				} else {
					err = getParameter(ctx, ssmc)
				}
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != tt.code {
					t.Fatalf("the SDK decoded %v, want code %s", err, tt.code)
				}
				if got := awscred.Rejected(err); got != tt.want {
					t.Errorf("Rejected(%s) = %v, want %v", tt.code, got, tt.want)
				}
				if got := awscred.Rejected(fmt.Errorf("tool: %w", err)); got != tt.want {
					t.Errorf("Rejected(wrapped %s) = %v, want %v", tt.code, got, tt.want)
				}
			})
		}
	}

	// What the endpoint answers when the signature does not verify, as the
	// real services do.
	t.Run("signature answers", func(t *testing.T) {
		wrong := newResolver(t, []provider.Provider{static.NewProfiles(map[string]map[string]string{
			provider.DefaultProfile: fields(keyA2), // a known key, a wrong secret
			"unknown":               fields(keyB),
		})}, func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile })
		for _, c := range []struct {
			req  resolver.Request
			call func(context.Context, *ec2.Client, *ssm.Client) error
			code string
		}{
			{resolver.Request{}, func(ctx context.Context, e *ec2.Client, _ *ssm.Client) error { return describe(ctx, e) }, "AuthFailure"},
			{resolver.Request{Profile: "unknown"}, func(ctx context.Context, e *ec2.Client, _ *ssm.Client) error { return describe(ctx, e) }, "AuthFailure"},
			{resolver.Request{}, func(ctx context.Context, _ *ec2.Client, s *ssm.Client) error { return getParameter(ctx, s) }, "InvalidSignatureException"},
			{resolver.Request{Profile: "unknown"}, func(ctx context.Context, _ *ec2.Client, s *ssm.Client) error { return getParameter(ctx, s) }, "UnrecognizedClientException"},
		} {
			cfg := f.config(awscred.New(wrong, c.req))
			err := c.call(ctx, ec2.NewFromConfig(cfg, awscred.WithSigner), ssm.NewFromConfig(cfg, awscred.WithSigner))
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != c.code || !awscred.Rejected(err) {
				t.Errorf("%+v: %v, want a rejection with code %s", c.req.Profile, err, c.code)
			}
			noCanary(t, "error", err.Error())
		}
	})

	t.Run("not API errors", func(t *testing.T) {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		empty := newResolver(t, []provider.Provider{static.NewProfiles(nil)})
		for name, err := range map[string]error{
			"nil":            nil,
			"plain":          errors.New("AuthFailure"),
			"cancelled call": describe(cancelled, ec2c),
			"no credentials": describe(ctx, ec2.NewFromConfig(f.config(awscred.New(empty, resolver.Request{})), awscred.WithSigner)),
			"unreachable": describe(ctx, ec2.NewFromConfig(f.config(awscred.New(r, resolver.Request{})), awscred.WithSigner,
				func(o *ec2.Options) { o.BaseEndpoint = awsString("http://127.0.0.1:1") })),
		} {
			if awscred.Rejected(err) {
				t.Errorf("%s: Rejected(%v) = true", name, err)
			}
		}
	})
}

func awsString(s string) *string { return &s }
