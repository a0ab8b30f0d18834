package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
// asked: every call passes its own. awscred's signer never signs with a key
// derived from another call's secret, as the SDK's would.
func newEC2Client(cfg config) *ec2.Client {
	c := cfg.AWS.Config()
	c.AppID = "mcpcred-whitelist-mcp"
	return ec2.NewFromConfig(c, awscred.WithSigner)
}

// ec2Op is one EC2 call, made with the options given.
type ec2Op func(ctx context.Context, optFns ...func(*ec2.Options)) error

// run resolves the call's credentials and runs op with them through
// Call.Do, which re-resolves and retries once when AWS rejects credentials
// from a source (awscred.Rejected). In dry-run mode op's request is built
// and signed but not sent, and returned in Context.DryRun.
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
		with := func(o *ec2.Options) { o.Region, o.Credentials = region, awscred.Static(creds) }
		if !s.cfg.DryRun {
			if err := op(ctx, with); err != nil { // unwraps for awscred.Rejected; mcptool scrubs secrets AWS echoes
				return &mcptool.Error{Message: fmt.Sprintf("%s\n(region %s, credentials from %s)", awscred.Explain(err), region, out.CredentialSource), Err: err}
			}
			return nil
		}
		var d awscred.DryRun
		if err := op(ctx, with, func(o *ec2.Options) { o.HTTPClient = &d }); !errors.Is(err, awscred.ErrDryRun) {
			return fmt.Errorf("dry run: could not build the request: %v", err)
		}
		r := d.Request()
		out.DryRun = &Call{Action: r.Action(), Endpoint: r.Endpoint(), Region: region, Parameters: r.Params()}
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "tool call failed", "tool", c.Tool(), "source", out.CredentialSource, "error", err)
		return out, err
	}
	s.log.InfoContext(ctx, "tool call", "tool", c.Tool(), "region", out.Region, "source", out.CredentialSource, "dry_run", s.cfg.DryRun)
	return out, nil
}

// ignore returns nil for an EC2 error with the code given, else err.
func ignore(err error, code string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == code {
		return nil
	}
	return err
}

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
