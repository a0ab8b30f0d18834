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
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/resolver/awscred"
	"github.com/mcpcred/mcpcred/resolver/doctor"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// RuleArgs name one ingress rule.
type RuleArgs struct {
	SecurityGroupID string `json:"security_group_id" jsonschema:"Security group ID: sg- followed by 8 or 17 hex digits"`
	IPAddress       string `json:"ip_address" jsonschema:"IPv4 or IPv6 address or CIDR block; a bare address means /32 or /128"`
	Port            int    `json:"port,omitempty" default:"443" jsonschema:"Port 1-65535 (default 443); ignored for icmp, which allows all ICMP types"`
	Protocol        string `json:"protocol,omitempty" default:"tcp" jsonschema:"tcp, udp or icmp (default tcp)"`
}

// AddInput is whitelist_add's input.
type AddInput struct {
	RuleArgs
	Description string `json:"description,omitempty" jsonschema:"Optional rule description, up to 255 characters"`
	mcptool.Selection
}

// RuleInput is whitelist_remove's and whitelist_check's input.
type RuleInput struct {
	RuleArgs
	mcptool.Selection
}

// ListInput is whitelist_list's input.
type ListInput struct {
	SecurityGroupID string `json:"security_group_id" jsonschema:"Security group ID: sg- followed by 8 or 17 hex digits"`
	mcptool.Selection
}

// Rule is one ingress rule for one address range.
type Rule struct {
	CIDR        string `json:"cidr"`
	Protocol    string `json:"protocol" jsonschema:"tcp, udp, icmp, icmpv6, all, or an IP protocol number"`
	FromPort    int32  `json:"from_port" jsonschema:"first port, or -1 for all (ICMP: type)"`
	ToPort      int32  `json:"to_port" jsonschema:"last port, or -1 for all (ICMP: code)"`
	Description string `json:"description,omitempty"`
}

// Context is what every result reports about where and as whom it ran.
type Context struct {
	SecurityGroupID  string           `json:"security_group_id"`
	Region           string           `json:"region"`
	CredentialSource string           `json:"credential_source" jsonschema:"where the credentials came from (never their values)"`
	DryRun           *awscred.Summary `json:"dry_run,omitempty" jsonschema:"set in dry-run mode: the call that was not made"`
}

// ChangeOutput is whitelist_add's and whitelist_remove's output.
type ChangeOutput struct {
	Context
	Rule    Rule   `json:"rule"`
	Status  string `json:"status" jsonschema:"added, already_present, removed, not_present or dry_run"`
	Message string `json:"message"`
}

// ListOutput is whitelist_list's output.
type ListOutput struct {
	Context
	Rules []Rule `json:"rules"`
}

// CheckOutput is whitelist_check's output.
type CheckOutput struct {
	Context
	Allowed       bool   `json:"allowed" jsonschema:"whether an ingress rule covers the address, protocol and port"`
	MatchingRules []Rule `json:"matching_rules"`
	Message       string `json:"message"`
}

// newServer returns the MCP server with the four tools. Every record logged
// while serving a call goes through mcptool.LogHandler, which keeps the
// call's argument text out of it.
func newServer(cfg config, base *slog.Logger, version string) (*mcp.Server, error) {
	logs := mcptool.NewLogHandler(base.Handler())
	log := slog.New(logs)
	r, profiles, chain, err := newResolver(cfg, log)
	if err != nil {
		return nil, err
	}
	log.Info("credentials", "profiles_file", profiles.Path(), "active_profile", cfg.ActiveProfile,
		"request_credentials", cfg.AllowRequestCredentials, "allowed_references", cfg.AllowedReferences.Patterns(), "chain", r.Providers(),
		"min_prefix_v4", cfg.MinPrefix.V4, "min_prefix_v6", cfg.MinPrefix.V6)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doctor.Log(ctx, log, doctor.Check(ctx, doctor.Config{Chain: chain, Profiles: profiles, Required: awsFields, // as credctl doctor
		DefaultProfile: cfg.ActiveProfile, AllowReferences: cfg.AllowedReferences, Getenv: cfg.Getenv, Skip: []string{keychain.Name}}))

	var sdkLog *slog.Logger // the SDK's session events, at debug level only
	if base.Enabled(ctx, slog.LevelDebug) {
		sdkLog = slog.New(mcptool.SDKLogHandler(base.Handler()))
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "whitelist-mcp", Version: version}, &mcp.ServerOptions{Logger: sdkLog})
	store := "stores them in the OS keychain"
	if cfg.CredentialSource == "docker-secrets" {
		store = "mounts the secret aws_credentials"
	}
	// The selection arguments the operator allows, and how to allow more.
	opts := cfg.Env.Options(profiles, "the operator sets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, writes ~/.mcp/credentials, or "+store)
	opts.Fields, opts.MaxArgumentBytes = mcptool.AWSFields, 16<<10
	opts.Rejected = awscred.Rejected // AWS's codes for "credentials not accepted": Call.Do re-resolves and retries once
	opts.Logger, opts.ScrubLogs = log, logs
	ct, err := mcptool.New(srv, r, &opts)
	if err != nil {
		return nil, err
	}
	// No credentials: every call passes its own, and the SDK's default chain
	// is never asked. awscred's signer never reuses another secret's key.
	ec2c := ec2.NewFromConfig(cfg.AWS.Config(), awscred.WithSigner, func(o *ec2.Options) { o.AppID = "mcpcred-whitelist-mcp" })
	s := &server{cfg: cfg, ec2: ec2c, log: log}
	mcptool.AddTool(ct, &mcp.Tool{Name: "whitelist_add", Description: "Allow an IP address or CIDR block into a security group on one port (default tcp/443). Adding a rule that exists already succeeds."}, s.add)
	mcptool.AddTool(ct, &mcp.Tool{Name: "whitelist_remove", Description: "Remove the ingress rule for an IP address or CIDR block, port and protocol from a security group."}, s.remove)
	mcptool.AddTool(ct, &mcp.Tool{Name: "whitelist_list", Description: "List a security group's ingress rules (IPv4 and IPv6): CIDR, protocol, ports and description."}, s.list)
	mcptool.AddTool(ct, &mcp.Tool{Name: "whitelist_check", Description: "Check whether a security group's ingress rules let an IP address or CIDR block in on a port and protocol."}, s.check)
	return srv, nil
}

func (s *server) add(ctx context.Context, c *mcptool.Call, in AddInput) (ChangeOutput, error) {
	r, err := parseRule(in.RuleArgs, &s.cfg.MinPrefix) // no block broader than the operator allows
	if err == nil {
		err = validateDescription(in.Description)
	}
	if err != nil {
		return ChangeOutput{}, err
	}
	return s.change(ctx, c, true, r, in.Description)
}

func (s *server) remove(ctx context.Context, c *mcptool.Call, in RuleInput) (ChangeOutput, error) {
	r, err := parseRule(in.RuleArgs, nil) // any block, so that one added before the limit can go
	if err != nil {
		return ChangeOutput{}, err
	}
	return s.change(ctx, c, false, r, "")
}

// change adds the rule (add) or removes it, and says what happened.
func (s *server) change(ctx context.Context, c *mcptool.Call, add bool, r rule, description string) (ChangeOutput, error) {
	// The status and message when the rule changed, then when it was already there, or not there.
	words := [4]string{"removed", "removed %s from %s", "not_present", "%[2]s has no rule for %[1]s; nothing was removed"}
	if add {
		words = [4]string{"added", "added %s to %s", "already_present", "%s is already present in %s; nothing changed"}
	}
	var done bool
	cx, err := s.run(ctx, c, r.group, s.modify(add, r, description, &done))
	out := ChangeOutput{Context: cx, Rule: ruleOut(r, description)}
	switch {
	case err != nil:
		return out, err
	case cx.DryRun != nil:
		out.Status, out.Message = "dry_run", "dry run: would call "+cx.DryRun.Action+"; nothing was changed"
	case done:
		out.Status, out.Message = words[0], fmt.Sprintf(words[1], describeRule(r), r.group)
	default:
		out.Status, out.Message = words[2], fmt.Sprintf(words[3], describeRule(r), r.group)
	}
	return out, nil
}

func (s *server) list(ctx context.Context, c *mcptool.Call, in ListInput) (ListOutput, error) {
	if err := validateGroupID(in.SecurityGroupID); err != nil {
		return ListOutput{}, err
	}
	rules := []Rule{}
	cx, err := s.run(ctx, c, in.SecurityGroupID, s.describe(in.SecurityGroupID, &rules))
	return ListOutput{Context: cx, Rules: rules}, err
}

func (s *server) check(ctx context.Context, c *mcptool.Call, in RuleInput) (CheckOutput, error) {
	r, err := parseRule(in.RuleArgs, nil)
	if err != nil {
		return CheckOutput{}, err
	}
	var rules []Rule
	cx, err := s.run(ctx, c, r.group, s.describe(r.group, &rules))
	out := CheckOutput{Context: cx, MatchingRules: []Rule{}}
	switch {
	case err != nil:
		return out, err
	case cx.DryRun != nil:
		out.Message = "dry run: would call " + cx.DryRun.Action + " and match the rules against the address"
		return out, nil
	}
	for _, have := range rules {
		if covers(have, r) {
			out.MatchingRules = append(out.MatchingRules, have)
		}
	}
	out.Allowed, out.Message = len(out.MatchingRules) > 0, fmt.Sprintf("%s allows %s", r.group, describeRule(r))
	if !out.Allowed {
		out.Message = fmt.Sprintf("%s does not allow %s", r.group, describeRule(r))
	}
	return out, nil
}

func ruleOut(r rule, description string) Rule {
	return Rule{CIDR: r.cidr.String(), Protocol: r.protocol, FromPort: r.fromPort, ToPort: r.toPort, Description: description}
}

// server holds what the tool handlers share. It has no per-call state.
type server struct {
	cfg config
	ec2 *ec2.Client
	log *slog.Logger
}

// ec2Op is one EC2 call, made with the options given.
type ec2Op func(ctx context.Context, optFns ...func(*ec2.Options)) error

// run runs op with the call's credentials through Call.Do (which retries
// once on rotation). A dry run builds and signs op's request, sends nothing.
func (s *server) run(ctx context.Context, c *mcptool.Call, group string, op ec2Op) (Context, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // the whole call, AWS retries included
	defer cancel()
	out := Context{SecurityGroupID: group}
	sel := c.Selection()
	if id := sel.Credentials[provider.FieldAccessKeyID].Reveal(); id != "" && !accessKeyIDRE.MatchString(id) {
		return out, errors.New("credentials.access_key_id is not an AWS access key ID (16-128 upper-case letters and digits)")
	}
	_, err := c.Do(ctx, func(ctx context.Context, creds provider.Credentials) error {
		region, err := s.cfg.AWS.CallRegion(sel.Credentials[provider.FieldRegion].Reveal(), "credentials.region", creds)
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
		sum := d.Request().Summary()
		out.DryRun = &sum
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
	if awscred.ErrorCode(err) == code {
		return nil
	}
	return err
}

// modify adds or removes the rule; done is false when nothing changed.
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
