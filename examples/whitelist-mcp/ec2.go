package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mcpcred/mcpcred/provider"
)

// newEC2Client returns the one EC2 client the server shares. It holds no
// credentials: every call passes the credential resolved for it, so the SDK's
// default chain (~/.aws, instance roles) is never consulted.
func newEC2Client(cfg config) *ec2.Client {
	return ec2.NewFromConfig(aws.Config{
		Region:      cfg.Region,
		Credentials: aws.CredentialsProviderFunc(noCredentials),
		AppID:       "mcpcred-whitelist-mcp",
	}, func(o *ec2.Options) {
		o.HTTPSignerV4 = freshSigner{}
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
}

// freshSigner signs every request with a new SigV4 signer. The SDK's signer
// caches the derived signing key per region and service and reuses it when
// the access key ID and the day match, without comparing the secret: with
// one signer shared by every call, a call passing a known access key ID
// (which is not a secret) with a wrong secret would be signed with the
// secret of an earlier caller. A new signer costs four HMACs per request.
type freshSigner struct{}

func (freshSigner) SignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, t time.Time, optFns ...func(*v4.SignerOptions)) error {
	return v4.NewSigner().SignHTTP(ctx, creds, r, payloadHash, service, region, t, optFns...)
}

func noCredentials(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("whitelist-mcp: no credentials were resolved for this call")
}

// with returns the per-call options that sign with id in id's region.
func with(id identity) func(*ec2.Options) {
	c := id.creds
	static := credentials.NewStaticCredentialsProvider(
		c.Value(provider.FieldAccessKeyID), c.Value(provider.FieldSecretAccessKey), c.Value(provider.FieldSessionToken))
	return func(o *ec2.Options) {
		o.Region = id.region
		o.Credentials = static
	}
}

// ec2Op is one EC2 call, made with the options given.
type ec2Op func(ctx context.Context, optFns ...func(*ec2.Options)) error

// call resolves credentials for a and runs op with them. In dry-run mode it
// returns the request op would send instead of sending it. When AWS rejects
// a cached credential, call invalidates it, resolves again (picking up a
// rotated file or keychain value) and retries once.
func (s *server) call(ctx context.Context, a Auth, op ec2Op) (identity, *Call, error) {
	id, err := s.resolve(ctx, a)
	if err != nil {
		return id, nil, err
	}
	if s.cfg.DryRun {
		c := &Call{Endpoint: s.endpoint(id.region), Region: id.region}
		if err := op(ctx, with(id), capture(c)); !errors.Is(err, errDryRun) {
			return id, nil, fmt.Errorf("dry run: could not build the request: %v", err)
		}
		return id, c, nil
	}
	err = op(ctx, with(id))
	if code := errorCode(err); rejectedCredential[code] && !id.fromRequest() {
		s.resolver.InvalidateResult(id.res)
		fresh, rerr := s.resolve(ctx, a)
		switch {
		case rerr != nil:
			return id, nil, fmt.Errorf("%w\nResolving credentials again failed: %v", s.explain(err, id), rerr)
		case sameCredential(fresh, id):
			s.log.WarnContext(ctx, "AWS rejected the credentials and the source still holds the same ones", "code", code, "source", id.source())
			return id, nil, fmt.Errorf("%w\nThe credential source still holds the same access key; replace it there (the server reads it again on the next call)", s.explain(err, id))
		}
		s.log.InfoContext(ctx, "AWS rejected the cached credentials; retrying once with credentials read again",
			"code", code, "rejected_source", id.source(), "source", fresh.source())
		id = fresh
		err = op(ctx, with(id))
	}
	if err != nil {
		return id, nil, s.explain(err, id)
	}
	return id, nil, nil
}

// rejectedCredential lists the error codes that mean "these credentials are
// not (or no longer) good", worth one retry with credentials read again.
var rejectedCredential = map[string]bool{
	"AuthFailure":                 true,
	"ExpiredToken":                true,
	"RequestExpired":              true,
	"UnrecognizedClientException": true,
}

func sameCredential(a, b identity) bool {
	return a.region == b.region &&
		a.creds.Get(provider.FieldAccessKeyID).Equal(b.creds.Get(provider.FieldAccessKeyID)) &&
		a.creds.Get(provider.FieldSecretAccessKey).Equal(b.creds.Get(provider.FieldSecretAccessKey)) &&
		a.creds.Get(provider.FieldSessionToken).Equal(b.creds.Get(provider.FieldSessionToken))
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// explanations say in plain words what common EC2 error codes mean.
var explanations = map[string]string{
	"AuthFailure":                        "AWS did not accept the credentials: the access key is wrong, deleted or inactive, the secret does not match it, or this machine's clock is off",
	"ExpiredToken":                       "the session token has expired; get new temporary credentials",
	"RequestExpired":                     "the request's timestamp is too old; check this machine's clock, or the temporary credentials expired",
	"UnrecognizedClientException":        "AWS does not recognise the access key",
	"UnauthorizedOperation":              "the credentials are valid but their IAM policy does not allow this EC2 action on this security group",
	"InvalidGroup.NotFound":              "no security group with this ID exists in this region for this account; check the ID and the region",
	"InvalidGroupId.Malformed":           "EC2 does not accept this security group ID",
	"InvalidPermission.Malformed":        "EC2 rejected the rule as malformed",
	"InvalidParameterValue":              "EC2 rejected a parameter value",
	"RulesPerSecurityGroupLimitExceeded": "the security group has reached its rule limit; remove rules or raise the quota",
	"RequestLimitExceeded":               "EC2 is throttling requests from this account; try again shortly",
	"OptInRequired":                      "the account is not subscribed to EC2 in this region",
	"Blocked":                            "the account is blocked; contact AWS support",
}

// explain turns an error from the EC2 client into one a person can act on:
// the EC2 error code, its message, what it means and where the credentials
// came from. It never holds a secret value.
func (s *server) explain(err error, id identity) error {
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("(region %s, credentials from %s)", id.region, id.source())
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := fmt.Sprintf("EC2 error %s: %s %s", ae.ErrorCode(), ae.ErrorMessage(), where)
		if e, ok := explanations[ae.ErrorCode()]; ok {
			msg += "\nWhat it means: " + e + "."
		}
		var re interface{ ServiceRequestID() string }
		if errors.As(err, &re) && re.ServiceRequestID() != "" {
			msg += "\nRequest ID: " + re.ServiceRequestID()
		}
		return errors.New(redact(msg, id.creds))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the EC2 call was cancelled or timed out %s", where)
	}
	return errors.New(redact(fmt.Sprintf("could not reach EC2 at %s %s: %v", s.endpoint(id.region), where, err), id.creds))
}

// endpoint is where calls go: the configured endpoint or EC2's regional one.
func (s *server) endpoint(region string) string {
	if s.cfg.Endpoint != "" {
		return s.cfg.Endpoint
	}
	return "https://ec2." + region + ".amazonaws.com"
}

// Dry run: a middleware at the end of the SDK's build step, after the
// request is serialized and before it is signed or sent, records it and
// stops the call.

var errDryRun = errors.New("dry run: request not sent")

func capture(c *Call) func(*ec2.Options) {
	return func(o *ec2.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Build.Add(middleware.BuildMiddlewareFunc("WhitelistDryRun",
				func(ctx context.Context, in middleware.BuildInput, _ middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
					req, ok := in.Request.(*smithyhttp.Request)
					if !ok {
						return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("unexpected request type %T", in.Request)
					}
					body, err := io.ReadAll(req.GetStream())
					if err != nil {
						return middleware.BuildOutput{}, middleware.Metadata{}, err
					}
					form, err := url.ParseQuery(string(body))
					if err != nil {
						return middleware.BuildOutput{}, middleware.Metadata{}, err
					}
					c.Action = form.Get("Action")
					c.Parameters = make(map[string]string, len(form))
					for k, v := range form {
						c.Parameters[k] = strings.Join(v, ",")
					}
					return middleware.BuildOutput{}, middleware.Metadata{}, errDryRun
				}), middleware.After)
		})
	}
}

// The three EC2 calls.

func permission(r rule, description string) types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String(r.protocol), FromPort: aws.Int32(r.fromPort), ToPort: aws.Int32(r.toPort)}
	var desc *string
	if description != "" {
		desc = aws.String(description)
	}
	if r.cidr.Addr().Is4() {
		p.IpRanges = []types.IpRange{{CidrIp: aws.String(r.cidr.String()), Description: desc}}
	} else {
		p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String(r.cidr.String()), Description: desc}}
	}
	return p
}

// authorize adds the rule; added is false when it was already there.
func (s *server) authorize(group string, r rule, description string, added *bool) ec2Op {
	return func(ctx context.Context, optFns ...func(*ec2.Options)) error {
		_, err := s.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: aws.String(group), IpPermissions: []types.IpPermission{permission(r, description)},
		}, optFns...)
		*added = err == nil
		if errorCode(err) == "InvalidPermission.Duplicate" {
			return nil
		}
		return err
	}
}

// revoke removes the rule; removed is false when there was no such rule.
func (s *server) revoke(group string, r rule, removed *bool) ec2Op {
	return func(ctx context.Context, optFns ...func(*ec2.Options)) error {
		out, err := s.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
			GroupId: aws.String(group), IpPermissions: []types.IpPermission{permission(r, "")},
		}, optFns...)
		*removed = err == nil && aws.ToBool(out.Return) && len(out.UnknownIpPermissions) == 0
		if errorCode(err) == "InvalidPermission.NotFound" {
			return nil
		}
		return err
	}
}

// describe lists the group's ingress rules, one per address range.
func (s *server) describe(group string, rules *[]Rule) ec2Op {
	return func(ctx context.Context, optFns ...func(*ec2.Options)) error {
		out, err := s.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{group}}, optFns...)
		if err != nil {
			return err
		}
		*rules = nil
		for _, g := range out.SecurityGroups {
			for _, p := range g.IpPermissions {
				proto, from, to := protocolName(aws.ToString(p.IpProtocol)), aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort)
				if p.FromPort == nil && p.ToPort == nil {
					from, to = -1, -1
				}
				for _, ip := range p.IpRanges {
					*rules = append(*rules, Rule{CIDR: aws.ToString(ip.CidrIp), Protocol: proto, FromPort: from, ToPort: to, Description: aws.ToString(ip.Description)})
				}
				for _, ip := range p.Ipv6Ranges {
					*rules = append(*rules, Rule{CIDR: aws.ToString(ip.CidrIpv6), Protocol: proto, FromPort: from, ToPort: to, Description: aws.ToString(ip.Description)})
				}
			}
		}
		return nil
	}
}

// protocolName maps EC2's protocol numbers to names.
func protocolName(p string) string {
	switch p {
	case "-1":
		return "all"
	case "6":
		return "tcp"
	case "17":
		return "udp"
	case "1":
		return "icmp"
	case "58":
		return "icmpv6"
	}
	return strings.ToLower(p)
}
