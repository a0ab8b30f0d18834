package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver/awscred"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// server holds what the tool handlers share. It has no per-call state.
type server struct {
	cfg config
	ec2 *ec2.Client
	log *slog.Logger
}

// newEC2Client returns the one EC2 client the server shares. It holds no
// credentials, so the SDK's default chain (~/.aws, instance roles) is never
// consulted: every call passes the credentials resolved for it. Its signer
// is awscred's, which never signs with a key derived from another call's
// secret (the SDK's caches keys by access key ID alone).
func newEC2Client(cfg config) *ec2.Client {
	return ec2.NewFromConfig(aws.Config{Region: cfg.Region, AppID: "mcpcred-whitelist-mcp"}, awscred.WithSigner, func(o *ec2.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
}

// ec2Op is one EC2 call, made with the options given.
type ec2Op func(ctx context.Context, optFns ...func(*ec2.Options)) error

// run resolves the call's credentials and runs op with them, through
// mcptool's Call.Do: when AWS rejects credentials from a source
// (awscred.Rejected), Do drops them, resolves again and runs op once more
// if the source now holds others. In dry-run mode op's request is built and
// signed but not sent, and returned in Context.DryRun.
func (s *server) run(ctx context.Context, c *mcptool.Call, group string, op ec2Op) (Context, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // the whole call, AWS retries included
	defer cancel()
	out := Context{SecurityGroupID: group}
	sel := c.Selection()
	if id := sel.Credentials[provider.FieldAccessKeyID].Reveal(); id != "" && !accessKeyIDRE.MatchString(id) {
		return out, errors.New("credentials.access_key_id is not an AWS access key ID (16-128 upper-case letters and digits)")
	}
	_, err := c.Do(ctx, func(ctx context.Context, creds provider.Credentials) error {
		region, err := s.region(sel, creds)
		if err != nil {
			return err
		}
		out.Region, out.CredentialSource = region, creds.Source.String()
		static := credentials.NewStaticCredentialsProvider(creds.Value(provider.FieldAccessKeyID),
			creds.Value(provider.FieldSecretAccessKey), creds.Value(provider.FieldSessionToken))
		with := func(o *ec2.Options) { o.Region, o.Credentials = region, static }
		if !s.cfg.DryRun {
			return s.explain(op(ctx, with), region, out.CredentialSource)
		}
		out.DryRun = &Call{Endpoint: s.endpoint(region), Region: region}
		if err := op(ctx, with, func(o *ec2.Options) { o.HTTPClient, o.Retryer = dryRun{out.DryRun}, aws.NopRetryer{} }); !errors.Is(err, errDryRun) {
			return fmt.Errorf("dry run: could not build the request: %v", err)
		}
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "tool call failed", "tool", c.Tool(), "source", out.CredentialSource, "error", err)
		return out, err
	}
	s.log.InfoContext(ctx, "tool call", "tool", c.Tool(), "region", out.Region, "source", out.CredentialSource, "dry_run", s.cfg.DryRun)
	return out, nil
}

// endpoint is where calls go: the configured endpoint or EC2's regional one.
func (s *server) endpoint(region string) string {
	if s.cfg.Endpoint != "" {
		return s.cfg.Endpoint
	}
	return "https://ec2." + region + ".amazonaws.com"
}

var errDryRun = errors.New("dry run: request not sent")

// dryRun is the HTTP client of a dry run: it records the EC2 request the
// SDK built and signed, and sends nothing.
type dryRun struct{ call *Call }

func (d dryRun) Do(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	d.call.Action, d.call.Parameters = form.Get("Action"), make(map[string]string, len(form))
	for k, v := range form {
		d.call.Parameters[k] = strings.Join(v, ",")
	}
	return nil, errDryRun
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

// explain returns an EC2 call's error as the model reads it: the code,
// EC2's message, what it means, and where the call ran. It unwraps to the
// SDK's error, for awscred.Rejected; mcptool scrubs every secret the server
// was given out of it, so an echo in EC2's message does not get through.
func (s *server) explain(err error, region, source string) error {
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("(region %s, credentials from %s)", region, source)
	msg := fmt.Sprintf("could not reach EC2 at %s %s: %v", s.endpoint(region), where, err)
	var ae smithy.APIError
	var re interface{ ServiceRequestID() string }
	switch {
	case errors.As(err, &ae):
		msg = fmt.Sprintf("EC2 error %s: %s %s", ae.ErrorCode(), ae.ErrorMessage(), where)
		if e, ok := explanations[ae.ErrorCode()]; ok {
			msg += "\nWhat it means: " + e + "."
		}
		if errors.As(err, &re) && re.ServiceRequestID() != "" {
			msg += "\nRequest ID: " + re.ServiceRequestID()
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		msg = "the EC2 call was cancelled or timed out " + where
	}
	return &mcptool.Error{Message: msg, Err: err}
}

// ignore returns nil for an EC2 error with the code given, else err.
func ignore(err error, code string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == code {
		return nil
	}
	return err
}

// The EC2 calls.

// modify adds the rule (add) or removes it; done is false when it was
// already there, or not there.
func (s *server) modify(add bool, r rule, description string, done *bool) ec2Op {
	return func(ctx context.Context, optFns ...func(*ec2.Options)) error {
		perm := types.IpPermission{IpProtocol: aws.String(r.protocol), FromPort: aws.Int32(r.fromPort), ToPort: aws.Int32(r.toPort)}
		var desc *string
		if description != "" {
			desc = aws.String(description)
		}
		if r.cidr.Addr().Is4() {
			perm.IpRanges = []types.IpRange{{CidrIp: aws.String(r.cidr.String()), Description: desc}}
		} else {
			perm.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String(r.cidr.String()), Description: desc}}
		}
		group, perms := aws.String(r.group), []types.IpPermission{perm}
		if add {
			_, err := s.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: group, IpPermissions: perms}, optFns...)
			*done = err == nil
			return ignore(err, "InvalidPermission.Duplicate")
		}
		out, err := s.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: group, IpPermissions: perms}, optFns...)
		*done = err == nil && aws.ToBool(out.Return) && len(out.UnknownIpPermissions) == 0
		return ignore(err, "InvalidPermission.NotFound")
	}
}

// describe lists the group's ingress rules, one per address range.
func (s *server) describe(group string, rules *[]Rule) ec2Op {
	return func(ctx context.Context, optFns ...func(*ec2.Options)) error {
		out, err := s.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{group}}, optFns...)
		if err != nil {
			return err
		}
		*rules = []Rule{}
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
	if name, ok := map[string]string{"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}[p]; ok {
		return name
	}
	return strings.ToLower(p)
}
