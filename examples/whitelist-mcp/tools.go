package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/resolver/awscred"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// Tool inputs and outputs; mcptool.Selection adds the credential arguments
// the operator offers.

// RuleArgs name one ingress rule.
type RuleArgs struct {
	SecurityGroupID string `json:"security_group_id" jsonschema:"Security group ID: sg- followed by 8 or 17 hex digits"`
	IPAddress       string `json:"ip_address" jsonschema:"IPv4 or IPv6 address or CIDR block; a bare address means /32 or /128"`
	Port            int    `json:"port,omitempty" jsonschema:"Port 1-65535 (default 443); ignored for icmp, which allows all ICMP types"`
	Protocol        string `json:"protocol,omitempty" jsonschema:"tcp, udp or icmp (default tcp)"`
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

// Call is the EC2 request a dry run would have sent.
type Call struct {
	Action     string            `json:"action"`
	Endpoint   string            `json:"endpoint"`
	Region     string            `json:"region"`
	Parameters map[string]string `json:"parameters" jsonschema:"the EC2 query parameters of the request body"`
}

// Context is what every result reports about where and as whom it ran.
type Context struct {
	SecurityGroupID  string `json:"security_group_id"`
	Region           string `json:"region"`
	CredentialSource string `json:"credential_source" jsonschema:"where the credentials came from (never their values)"`
	DryRun           *Call  `json:"dry_run,omitempty" jsonschema:"set in dry-run mode: the call that was not made"`
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
	if err := mcptool.CheckSources(ctx, chain, cfg.ActiveProfile, env.Name, file.Name, secretfile.Name); err != nil {
		log.Error("misconfigured credential source: tool calls that need it fail until it is fixed", "error", err)
	}

	var sdkLog *slog.Logger // the SDK's session events, at debug level only
	if base.Enabled(ctx, slog.LevelDebug) {
		sdkLog = slog.New(mcptool.SDKLogHandler(base.Handler()))
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "whitelist-mcp", Version: version}, &mcp.ServerOptions{Logger: sdkLog})
	configure := "the operator sets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, writes ~/.mcp/credentials, or "
	if cfg.CredentialSource == "docker-secrets" {
		configure += "mounts the secret aws_credentials"
	} else {
		configure += "stores them in the OS keychain"
	}
	opts := cfg.Env.Options(profiles, configure) // the selection arguments the operator allows, and how to allow more
	opts.Fields, opts.MaxArgumentBytes = mcptool.AWSFields, 16<<10
	opts.Rejected = awscred.Rejected // AWS's codes for "credentials not accepted": Call.Do re-resolves and retries once
	opts.Logger, opts.ScrubLogs = log, logs
	ct, err := mcptool.New(srv, r, &opts)
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, ec2: newEC2Client(cfg), log: log}
	mcptool.AddTool(ct, tool[AddInput]("whitelist_add",
		"Allow an IP address or CIDR block into a security group on one port (default tcp/443). Adding a rule that exists already succeeds."), s.add)
	mcptool.AddTool(ct, tool[RuleInput]("whitelist_remove",
		"Remove the ingress rule for an IP address or CIDR block, port and protocol from a security group."), s.remove)
	mcptool.AddTool(ct, tool[ListInput]("whitelist_list",
		"List a security group's ingress rules (IPv4 and IPv6): CIDR, protocol, ports and description."), s.list)
	mcptool.AddTool(ct, tool[RuleInput]("whitelist_check",
		"Check whether a security group's ingress rules let an IP address or CIDR block in on a port and protocol."), s.check)
	return srv, nil
}

// tool describes a tool whose input schema is In's, with the defaults of
// port and protocol, which the SDK fills in.
func tool[In any](name, description string) *mcp.Tool {
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("tool %s: %v", name, err))
	}
	for prop, def := range map[string]string{"port": "443", "protocol": `"tcp"`} {
		if p := schema.Properties[prop]; p != nil {
			p.Default = json.RawMessage(def)
		}
	}
	return &mcp.Tool{Name: name, Description: description, InputSchema: schema}
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

// region picks a call's region: the call's credentials.region, else the
// resolved credentials' (their source's, else their profile's), else the
// server's. The message names where a bad one came from, never its text.
func (s *server) region(sel mcptool.Selection, creds provider.Credentials) (string, error) {
	region, from := sel.Credentials[provider.FieldRegion].Reveal(), "credentials.region"
	switch {
	case region != "":
	case creds.Has(provider.FieldRegion):
		region, from = creds.Value(provider.FieldRegion), creds.Source.String()
	default:
		region, from = s.cfg.AWS.Region, s.cfg.AWS.RegionFrom
	}
	if !awscred.ValidRegion(region) {
		return "", fmt.Errorf("the region from %s is not an AWS region name like us-east-1", from)
	}
	return region, nil
}
