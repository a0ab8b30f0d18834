package awscred_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/mcpcred/mcpcred/internal/awstest"
	"github.com/mcpcred/mcpcred/resolver/awscred"
)

// Explain on the errors the SDK's clients return for AWS's answers (EC2's
// query protocol and SSM's JSON protocol), a cancelled call and an
// unreachable endpoint.
func TestExplain(t *testing.T) {
	f := newFakeAWS(t, keyA)
	ctx := context.Background()
	ec2c := ec2.NewFromConfig(awstest.Config(f.URL(), keyA, testRegion), awscred.WithSigner, func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} })
	ssmc := ssm.NewFromConfig(awstest.Config(f.URL(), keyA, testRegion), awscred.WithSigner, func(o *ssm.Options) { o.Retryer = aws.NopRetryer{} })
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		fail []failure
		call func() error
		want []string
		not  []string
	}{
		{"ec2 AuthFailure", []failure{{status: http.StatusUnauthorized, code: "AuthFailure"}}, func() error { return describe(ctx, ec2c) },
			[]string{"EC2 error AuthFailure: Simulated AuthFailure.", "\nWhat it means: AWS did not accept the credentials", "\nRequest ID: 00000000-0000-4000-8000-000000000001"}, nil},
		{"ec2 UnauthorizedOperation", []failure{{status: http.StatusForbidden, code: "UnauthorizedOperation"}}, func() error { return describe(ctx, ec2c) },
			[]string{"EC2 error UnauthorizedOperation", "IAM policy does not allow this action"}, nil},
		{"ec2 unknown code", []failure{{status: http.StatusBadRequest, code: "SomethingNew"}}, func() error { return describe(ctx, ec2c) },
			[]string{"EC2 error SomethingNew: Simulated SomethingNew."}, []string{"What it means"}},
		{"ssm unknown key", nil, func() error {
			return getParameter(ctx, ssm.NewFromConfig(awstest.Config(f.URL(), keyB, testRegion), func(o *ssm.Options) { o.Retryer = aws.NopRetryer{} }))
		}, []string{"SSM error UnrecognizedClientException", "does not recognise the access key", "Request ID: 11111111-2222-3333-4444-555555555555"}, nil},
		{"ssm throttled", []failure{{status: http.StatusBadRequest, code: "ThrottlingException"}}, func() error { return getParameter(ctx, ssmc) },
			[]string{"SSM error ThrottlingException", "try again shortly"}, nil},
		{"cancelled", nil, func() error { return describe(cancelled, ec2c) }, []string{"the EC2 call was cancelled or timed out"}, nil},
		{"unreachable", nil, func() error {
			return describe(ctx, ec2.NewFromConfig(awstest.Config("http://127.0.0.1:1", keyA, testRegion), func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} }))
		}, []string{"could not reach EC2 at http://127.0.0.1:1: ", "connect"}, []string{"operation error"}},
		{"not an SDK error", nil, func() error { return errors.New("boom") }, []string{"the AWS call failed: boom"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.queue(tt.fail...)
			err := tt.call()
			if len(tt.fail) > 0 && awscred.ErrorCode(err) != tt.fail[0].code {
				t.Errorf("ErrorCode = %q, want %q", awscred.ErrorCode(err), tt.fail[0].code)
			}
			msg := awscred.Explain(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Explain = %q, want it to contain %q", msg, w)
				}
			}
			for _, n := range append(tt.not, canaries...) {
				if strings.Contains(msg, n) {
					t.Errorf("Explain = %q holds %q", msg, n)
				}
			}
		})
	}
	if awscred.Explain(nil) != "" || awscred.ErrorCode(nil) != "" || awscred.ErrorCode(errors.New("AuthFailure")) != "" {
		t.Error("Explain or ErrorCode of nil or a plain error is not empty")
	}
}
