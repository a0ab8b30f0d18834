package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Input validation. Every check here runs before credentials are resolved
// and before any AWS call, and every message says what was wrong and what is
// accepted. Messages quote user input only through quote, which escapes
// control and non-ASCII characters and cuts long values; they never quote
// anything from the credentials object.

// rule is a validated ingress rule.
type rule struct {
	cidr     netip.Prefix
	protocol string // "tcp", "udp", "icmp" or "icmpv6" (icmp on an IPv6 CIDR)
	fromPort int32  // -1 for ICMP: all types
	toPort   int32  // -1 for ICMP: all codes
}

const (
	defaultPort     = 443
	defaultProtocol = "tcp"
	maxDescription  = 255 // EC2's limit on a rule description
)

var sgID = regexp.MustCompile(`^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)

func validateGroupID(id string) error {
	if sgID.MatchString(id) {
		return nil
	}
	if id == "" {
		return errors.New(`security_group_id is required: "sg-" followed by 8 or 17 lowercase hex digits, like sg-0123456789abcdef0`)
	}
	return fmt.Errorf(`security_group_id %s is not a security group ID: want "sg-" followed by 8 or 17 lowercase hex digits, like sg-0123456789abcdef0`, quote(id))
}

// parseRule validates the address, port and protocol of a rule.
func parseRule(ip string, port *int, protocol string) (rule, error) {
	cidr, err := parseCIDR(ip)
	if err != nil {
		return rule{}, err
	}
	p := strings.ToLower(protocol)
	if p == "" {
		p = defaultProtocol
	}
	r := rule{cidr: cidr, protocol: p}
	switch p {
	case "tcp", "udp":
		n := defaultPort
		if port != nil {
			n = *port
		}
		if n < 1 || n > 65535 {
			return rule{}, fmt.Errorf("port %d is out of range: want 1-65535 (default %d)", n, defaultPort)
		}
		r.fromPort, r.toPort = int32(n), int32(n)
	case "icmp":
		// ICMP has types, not ports: the rule allows every type and code.
		r.fromPort, r.toPort = -1, -1
		if cidr.Addr().Is6() {
			r.protocol = "icmpv6"
		}
	default:
		return rule{}, fmt.Errorf(`protocol %s is not supported: want "tcp", "udp" or "icmp" (default "tcp")`, quote(protocol))
	}
	return r, nil
}

// parseCIDR accepts an IPv4 or IPv6 address (made a /32 or /128) or a CIDR
// block whose host bits are zero.
func parseCIDR(s string) (netip.Prefix, error) {
	const want = "want an IPv4 or IPv6 address (203.0.113.7, 2001:db8::7) or a CIDR block (203.0.113.0/24, 2001:db8::/64)"
	if s == "" {
		return netip.Prefix{}, errors.New("ip_address is required: " + want)
	}
	if len(s) > 64 {
		return netip.Prefix{}, fmt.Errorf("ip_address is %d bytes long; %s", len(s), want)
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("ip_address %s is not a CIDR block: %s", quote(s), want)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("ip_address %s is an IPv4-mapped IPv6 block; write it as IPv4", quote(s))
		}
		if m := p.Masked(); m != p {
			return netip.Prefix{}, fmt.Errorf("ip_address %s has host bits set after the /%d; did you mean %s?", quote(s), p.Bits(), m)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ip_address %s is not an IP address: %s", quote(s), want)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("ip_address %s has a zone (%%...); security groups take plain addresses", quote(s))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// validateDescription enforces EC2's rule-description rules: at most 255
// characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*
func validateDescription(d string) error {
	if len(d) > maxDescription {
		return fmt.Errorf("description is %d bytes long; EC2 allows at most %d", len(d), maxDescription)
	}
	for _, r := range d {
		if !descriptionRune(r) {
			return fmt.Errorf("description holds the character %s, which EC2 does not allow: use letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*", quote(string(r)))
		}
	}
	return nil
}

func descriptionRune(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune(" ._-:/()#,@[]+=&;{}!$*", r))
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$`)

func validateRegion(r, from string) error {
	if regionRE.MatchString(r) {
		return nil
	}
	return fmt.Errorf("region %s (from %s) is not an AWS region name like us-east-1", quote(r), from)
}

// quote renders untrusted text for an error message: ASCII only, control
// characters escaped, cut to 64 bytes.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return strconv.QuoteToASCII(s)
}

// Argument guard.
//
// The SDK validates arguments against the tool's JSON schema before the
// handler runs, and its messages quote the offending value. That is fine for
// a port, but not for a secret passed with the wrong shape (credentials as a
// string, a secret as a number) or for a megabyte of text. guardArguments
// runs first and refuses those, and credential_id or credential_profile
// values that are not strings, with messages that quote nothing.

const (
	maxArgumentsBytes = 16 << 10 // all arguments together
	maxArgumentBytes  = 1 << 10  // any one argument but credentials
)

// guardArguments returns receiving middleware that checks the raw arguments
// of every tools/call.
func guardArguments(allowed map[string][]string) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if ct, ok := req.(*mcp.CallToolRequest); ok && method == "tools/call" && ct.Params != nil {
				if names, known := allowed[ct.Params.Name]; known {
					if err := checkArguments(ct.Params.Arguments, names); err != nil {
						res := &mcp.CallToolResult{}
						res.SetError(err)
						return res, nil
					}
				}
			}
			return next(ctx, method, req)
		}
	}
}

var credentialFields = []string{"access_key_id", "secret_access_key", "session_token", "region"}

func checkArguments(raw json.RawMessage, names []string) error {
	if len(raw) > maxArgumentsBytes {
		return fmt.Errorf("arguments are %d bytes; at most %d are accepted", len(raw), maxArgumentsBytes)
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil // the schema reports the missing required arguments
	}
	var args map[string]json.RawMessage
	if err := json.Unmarshal(raw, &args); err != nil {
		return errors.New("arguments must be a JSON object")
	}
	for k, v := range args {
		if !slices.Contains(names, k) {
			return fmt.Errorf("unknown argument; this tool takes %s", strings.Join(names, ", "))
		}
		switch k {
		case "credentials":
			if err := checkCredentialsShape(v); err != nil {
				return err
			}
			continue
		case "credential_id", "credential_profile": // a secret pasted here must not be quoted back
			var s *string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%s must be a string", k)
			}
		}
		if len(v) > maxArgumentBytes {
			return fmt.Errorf("argument %s is %d bytes; at most %d are accepted", k, len(v), maxArgumentBytes)
		}
	}
	return nil
}

func checkCredentialsShape(v json.RawMessage) error {
	if string(v) == "null" {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v, &fields); err != nil {
		return fmt.Errorf("credentials must be an object with the string fields %s", strings.Join(credentialFields, ", "))
	}
	for k, fv := range fields {
		if !slices.Contains(credentialFields, k) {
			return fmt.Errorf("credentials has an unknown field; the fields are %s", strings.Join(credentialFields, ", "))
		}
		var s *string
		if err := json.Unmarshal(fv, &s); err != nil {
			return fmt.Errorf("credentials.%s must be a string", k)
		}
	}
	return nil
}
