package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// Tool inputs. Field comments become the JSON schema's descriptions.

// RuleArgs name one ingress rule.
type RuleArgs struct {
	SecurityGroupID string `json:"security_group_id" jsonschema:"Security group ID: sg- followed by 8 or 17 hex digits"`
	IPAddress       string `json:"ip_address" jsonschema:"IPv4 or IPv6 address or CIDR block; a bare address means /32 or /128"`
	Port            *int   `json:"port,omitempty" jsonschema:"Port 1-65535 (default 443); ignored for icmp, which allows all ICMP types"`
	Protocol        string `json:"protocol,omitempty" jsonschema:"tcp, udp or icmp (default tcp)"`
}

// AddInput is whitelist_add's input.
type AddInput struct {
	RuleArgs
	Description string `json:"description,omitempty" jsonschema:"Optional rule description, up to 255 characters"`
	Auth
}

// RuleInput is whitelist_remove's and whitelist_check's input.
type RuleInput struct {
	RuleArgs
	Auth
}

// ListInput is whitelist_list's input.
type ListInput struct {
	SecurityGroupID string `json:"security_group_id" jsonschema:"Security group ID: sg- followed by 8 or 17 hex digits"`
	Auth
}

// Tool outputs.

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

// server holds what the tool handlers share. It has no per-request state.
type server struct {
	cfg      config
	resolver *resolver.Resolver
	profiles *profile.Provider   // the profiles file, for explaining refusals
	chain    []provider.Provider // the resolver's chain, for the check at start
	ec2      *ec2.Client
	log      *slog.Logger // the server's own records
	libLog   *slog.Logger // the library's, through scrubHandler

	mu            sync.Mutex
	lastMisconfig string // the misconfiguration last logged in full
}

// callTimeout bounds one tool call, AWS retries included.
const callTimeout = 30 * time.Second

// newServer returns the MCP server with the four tools.
func newServer(cfg config, log *slog.Logger, version string) (*mcp.Server, error) {
	// The library logs through scrubHandler, which keeps a call's argument
	// text out of the records logged while serving it.
	calls := &inFlight{}
	libLog := slog.New(scrubHandler{log.Handler(), calls})
	r, profiles, chain, err := newResolver(cfg, libLog)
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, resolver: r, profiles: profiles, chain: chain, ec2: newEC2Client(cfg), log: log, libLog: libLog}
	log.Info("credentials", "profiles_file", profiles.Path(), "active_profile", cfg.ActiveProfile,
		"request_credentials", cfg.AllowRequestCredentials, "allowed_references", cfg.AllowedReferences, "chain", r.Providers(),
		"min_prefix_v4", cfg.MinPrefix.V4, "min_prefix_v6", cfg.MinPrefix.V6)
	s.checkConfiguration(context.Background())
	var sdkLog *slog.Logger // the SDK's session events, at debug level only
	if log.Enabled(context.Background(), slog.LevelDebug) {
		sdkLog = slog.New(sdkHandler{log.Handler()})
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "whitelist-mcp", Version: version}, &mcp.ServerOptions{Logger: sdkLog})

	arguments := toolArgs{} // tool name -> argument kinds, for guardArguments
	addTool(srv, arguments, "whitelist_add",
		"Allow an IP address or CIDR block into a security group on one port (default tcp/443). Adding a rule that exists already succeeds.",
		s.add)
	addTool(srv, arguments, "whitelist_remove",
		"Remove the ingress rule for an IP address or CIDR block, port and protocol from a security group.",
		s.remove)
	addTool(srv, arguments, "whitelist_list",
		"List a security group's ingress rules (IPv4 and IPv6): CIDR, protocol, ports and description.",
		s.list)
	addTool(srv, arguments, "whitelist_check",
		"Check whether a security group's ingress rules let an IP address or CIDR block in on a port and protocol.",
		s.check)
	srv.AddReceivingMiddleware(guardArguments(arguments, calls))
	return srv, nil
}

// addTool registers a typed tool. Its input schema is inferred from In, with
// provider.Secret described as the string it is on the wire.
func addTool[In, Out any](srv *mcp.Server, arguments toolArgs, name, desc string, h mcp.ToolHandlerFor[In, Out]) {
	schema, err := jsonschema.For[In](&jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		reflect.TypeFor[provider.Secret](): {Type: "string"},
	}})
	if err != nil {
		panic(fmt.Sprintf("tool %s: %v", name, err))
	}
	arguments[name] = propertyKinds(schema)
	mcp.AddTool(srv, &mcp.Tool{Name: name, Description: desc, InputSchema: schema}, h)
}

// propertyKinds maps each property of s to the JSON type it must have.
func propertyKinds(s *jsonschema.Schema) map[string]argKind {
	kinds := make(map[string]argKind, len(s.Properties))
	for k, p := range s.Properties {
		types := append([]string{p.Type}, p.Types...)
		switch {
		case slices.Contains(types, "object"):
			kinds[k] = kindObject
		case slices.Contains(types, "integer"):
			kinds[k] = kindInteger
		case slices.Contains(types, "string"):
			kinds[k] = kindString
		default:
			panic(fmt.Sprintf("property %s: no guard for types %v", k, types))
		}
	}
	return kinds
}

// The handlers. Each validates its input, then resolves credentials, then
// calls EC2; a returned error becomes a tool error result (isError).

func (s *server) add(ctx context.Context, _ *mcp.CallToolRequest, in AddInput) (*mcp.CallToolResult, ChangeOutput, error) {
	r, err := parseRuleArgs(in.RuleArgs, &s.cfg.MinPrefix) // no block broader than the operator allows
	if err == nil {
		err = validateDescription(in.Description)
	}
	if err != nil {
		return nil, ChangeOutput{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var added bool
	id, dry, err := s.call(ctx, in.Auth, s.authorize(in.SecurityGroupID, r, in.Description, &added))
	out := ChangeOutput{Context: s.context(in.SecurityGroupID, id, dry), Rule: ruleOut(r, in.Description)}
	switch {
	case err != nil:
	case dry != nil:
		out.Status, out.Message = "dry_run", "dry run: would call "+dry.Action+"; nothing was changed"
	case added:
		out.Status, out.Message = "added", fmt.Sprintf("added %s to %s", describeRule(r), in.SecurityGroupID)
	default:
		out.Status, out.Message = "already_present", fmt.Sprintf("%s is already present in %s; nothing changed", describeRule(r), in.SecurityGroupID)
	}
	return finish(s, ctx, "whitelist_add", id, out, out.Status, err)
}

func (s *server) remove(ctx context.Context, _ *mcp.CallToolRequest, in RuleInput) (*mcp.CallToolResult, ChangeOutput, error) {
	r, err := parseRuleArgs(in.RuleArgs, nil)
	if err != nil {
		return nil, ChangeOutput{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var removed bool
	id, dry, err := s.call(ctx, in.Auth, s.revoke(in.SecurityGroupID, r, &removed))
	out := ChangeOutput{Context: s.context(in.SecurityGroupID, id, dry), Rule: ruleOut(r, "")}
	switch {
	case err != nil:
	case dry != nil:
		out.Status, out.Message = "dry_run", "dry run: would call "+dry.Action+"; nothing was changed"
	case removed:
		out.Status, out.Message = "removed", fmt.Sprintf("removed %s from %s", describeRule(r), in.SecurityGroupID)
	default:
		out.Status, out.Message = "not_present", fmt.Sprintf("%s has no rule for %s; nothing was removed", in.SecurityGroupID, describeRule(r))
	}
	return finish(s, ctx, "whitelist_remove", id, out, out.Status, err)
}

func (s *server) list(ctx context.Context, _ *mcp.CallToolRequest, in ListInput) (*mcp.CallToolResult, ListOutput, error) {
	if err := validateGroupID(in.SecurityGroupID); err != nil {
		return nil, ListOutput{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	rules := []Rule{}
	id, dry, err := s.call(ctx, in.Auth, s.describe(in.SecurityGroupID, &rules))
	out := ListOutput{Context: s.context(in.SecurityGroupID, id, dry), Rules: rules}
	if out.Rules == nil {
		out.Rules = []Rule{}
	}
	return finish(s, ctx, "whitelist_list", id, out, fmt.Sprintf("%d rules", len(out.Rules)), err)
}

func (s *server) check(ctx context.Context, _ *mcp.CallToolRequest, in RuleInput) (*mcp.CallToolResult, CheckOutput, error) {
	r, err := parseRuleArgs(in.RuleArgs, nil)
	if err != nil {
		return nil, CheckOutput{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var rules []Rule
	id, dry, err := s.call(ctx, in.Auth, s.describe(in.SecurityGroupID, &rules))
	out := CheckOutput{Context: s.context(in.SecurityGroupID, id, dry), MatchingRules: []Rule{}}
	if err == nil && dry == nil {
		for _, have := range rules {
			if covers(have, r) {
				out.MatchingRules = append(out.MatchingRules, have)
			}
		}
		out.Allowed = len(out.MatchingRules) > 0
		if out.Allowed {
			out.Message = fmt.Sprintf("%s allows %s", in.SecurityGroupID, describeRule(r))
		} else {
			out.Message = fmt.Sprintf("%s does not allow %s", in.SecurityGroupID, describeRule(r))
		}
	} else if dry != nil {
		out.Message = "dry run: would call " + dry.Action + " and match the rules against the address"
	}
	return finish(s, ctx, "whitelist_check", id, out, out.Message, err)
}

// parseRuleArgs validates a rule's arguments; limit as for parseRule.
func parseRuleArgs(a RuleArgs, limit *prefixLimit) (rule, error) {
	if err := validateGroupID(a.SecurityGroupID); err != nil {
		return rule{}, err
	}
	return parseRule(a.IPAddress, a.Port, a.Protocol, limit)
}

func (s *server) context(group string, id identity, dry *Call) Context {
	return Context{SecurityGroupID: group, Region: id.region, CredentialSource: id.source(), DryRun: dry}
}

// finish logs the call and returns its result. Errors are tool errors;
// their text is scrubbed of every string the call's arguments held, as the
// last defence against a provider or AWS message that repeats one.
func finish[Out any](s *server, ctx context.Context, tool string, id identity, out Out, outcome string, err error) (*mcp.CallToolResult, Out, error) {
	if err != nil {
		if texts := requestText(ctx); len(texts) > 0 {
			err = errors.New(scrub(err.Error(), texts))
		}
		s.log.WarnContext(ctx, "tool call failed", "tool", tool, "source", id.source(), "error", err)
		var zero Out
		return nil, zero, err
	}
	s.log.InfoContext(ctx, "tool call", "tool", tool, "outcome", outcome, "region", id.region, "source", id.source(), "dry_run", s.cfg.DryRun)
	return nil, out, nil
}

func ruleOut(r rule, description string) Rule {
	return Rule{CIDR: r.cidr.String(), Protocol: r.protocol, FromPort: r.fromPort, ToPort: r.toPort, Description: description}
}

func describeRule(r rule) string {
	if r.fromPort < 0 {
		return fmt.Sprintf("%s %s (all types)", r.cidr, r.protocol)
	}
	return fmt.Sprintf("%s %s/%d", r.cidr, r.protocol, r.fromPort)
}

// covers reports whether the existing rule have lets want in.
func covers(have Rule, want rule) bool {
	p, err := netip.ParsePrefix(have.CIDR)
	if err != nil || p.Addr().Is4() != want.cidr.Addr().Is4() || p.Bits() > want.cidr.Bits() || !p.Contains(want.cidr.Addr()) {
		return false
	}
	switch have.Protocol {
	case "all":
		return true
	case want.protocol:
		switch {
		case want.fromPort < 0: // ICMP, all types: only an all-types rule covers it
			return have.FromPort < 0
		case have.FromPort < 0: // all ports
			return true
		}
		return have.FromPort <= want.fromPort && want.toPort <= have.ToPort
	}
	return false
}
