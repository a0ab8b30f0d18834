package awscred_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/mcpcred/mcpcred/internal/awstest"
	"github.com/mcpcred/mcpcred/resolver/awscred"
)

// replay rebuilds the recorded request as a server receives it.
func replay(t *testing.T, r *awscred.Request) *http.Request {
	t.Helper()
	req, err := http.NewRequest(r.Method, r.URL.String(), bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.Header.Clone()
	return req
}

// A dry run records the request the SDK built and signed with the SDK's
// signer (verified by internal/awstest) for the query and JSON protocols,
// sends nothing, and is not retried.
func TestDryRun(t *testing.T) {
	f := newFakeAWS(t, keyA)
	ctx := context.Background()

	t.Run("ec2", func(t *testing.T) {
		var d awscred.DryRun
		client := ec2.NewFromConfig(awstest.Config(f.URL(), keyA, testRegion), awscred.WithSigner)
		_, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: aws.String("sg-0123456789abcdef0"),
			IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
				IpRanges: []types.IpRange{{CidrIp: aws.String("203.0.113.7/32")}}}},
		}, func(o *ec2.Options) { o.HTTPClient = &d })
		if !errors.Is(err, awscred.ErrDryRun) {
			t.Fatalf("err = %v, want ErrDryRun", err)
		}
		r := d.Request()
		if r == nil {
			t.Fatal("nothing recorded")
		}
		if err := awstest.VerifySigV4(replay(t, r), r.Body, keyA, "ec2", testRegion); err != nil {
			t.Fatalf("the recorded request is not signed by keyA: %v", err)
		}
		want := map[string]string{"Action": "AuthorizeSecurityGroupIngress", "Version": "2016-11-15", "GroupId": "sg-0123456789abcdef0",
			"IpPermissions.1.IpProtocol": "tcp", "IpPermissions.1.FromPort": "443", "IpPermissions.1.ToPort": "443",
			"IpPermissions.1.IpRanges.1.CidrIp": "203.0.113.7/32"}
		if got := r.Params(); !maps.Equal(got, want) {
			t.Errorf("Params = %v\nwant %v", got, want)
		}
		if sum := r.Summary(); sum.Action != "AuthorizeSecurityGroupIngress" || sum.Endpoint != f.URL() || sum.Region != testRegion || !maps.Equal(sum.Parameters, want) || r.Method != http.MethodPost {
			t.Errorf("Summary = %+v, Method %q", sum, r.Method)
		}
	})

	t.Run("ssm", func(t *testing.T) {
		var d awscred.DryRun
		client := ssm.NewFromConfig(awstest.Config(f.URL(), keyA, testRegion), awscred.WithSigner)
		_, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/mcp/x")}, func(o *ssm.Options) { o.HTTPClient = &d })
		if !errors.Is(err, awscred.ErrDryRun) {
			t.Fatalf("err = %v, want ErrDryRun", err)
		}
		r := d.Request()
		if err := awstest.VerifySigV4(replay(t, r), r.Body, keyA, "ssm", testRegion); err != nil {
			t.Fatalf("the recorded request is not signed by keyA: %v", err)
		}
		if r.Action() != "GetParameter" || r.Region() != testRegion || len(r.Params()) != 0 || string(r.Body) != `{"Name":"/mcp/x"}` {
			t.Errorf("Action %q, Region %q, Params %v, Body %s", r.Action(), r.Region(), r.Params(), r.Body)
		}
	})

	// One attempt per operation: the retryer does not retry a dry run.
	var n countingDryRun
	client := ec2.NewFromConfig(awstest.Config(f.URL(), keyA, testRegion))
	if _, err := client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{}, func(o *ec2.Options) { o.HTTPClient = &n }); !errors.Is(err, awscred.ErrDryRun) {
		t.Fatalf("err = %v", err)
	}
	if n.n != 1 {
		t.Errorf("%d attempts, want 1", n.n)
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Fatalf("a dry run reached the endpoint: %v", calls)
	}
}

type countingDryRun struct {
	awscred.DryRun
	n int
}

func (c *countingDryRun) Do(r *http.Request) (*http.Response, error) {
	c.n++
	return c.DryRun.Do(r)
}
