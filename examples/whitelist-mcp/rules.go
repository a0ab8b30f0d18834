package main

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// No message repeats what the request sent (a model may paste a secret into
// any argument), except a canonical address block the parser produced.

// rule is a validated ingress rule.
type rule struct {
	group    string // the security group ID
	cidr     netip.Prefix
	protocol string // "tcp", "udp", "icmp" or "icmpv6" (icmp on an IPv6 CIDR)
	fromPort int32  // -1 for ICMP: all types
	toPort   int32  // -1 for ICMP: all codes
}

var sgID = regexp.MustCompile(`^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)

func validateGroupID(id string) error {
	const want = `"sg-" followed by 8 or 17 lowercase hex digits, like sg-0123456789abcdef0`
	switch {
	case sgID.MatchString(id):
		return nil
	case id == "":
		return errors.New("security_group_id is required: " + want)
	}
	return fmt.Errorf("security_group_id is not a security group ID (it is %d bytes long): want %s", len(id), want)
}

// parseRule validates a rule's arguments. With a non-nil limit, address
// blocks broader than it allows are refused.
func parseRule(a RuleArgs, limit *prefixLimit) (rule, error) {
	if err := validateGroupID(a.SecurityGroupID); err != nil {
		return rule{}, err
	}
	cidr, err := parseCIDR(a.IPAddress, limit)
	if err != nil {
		return rule{}, err
	}
	r := rule{group: a.SecurityGroupID, cidr: cidr, protocol: strings.ToLower(a.Protocol)}
	switch r.protocol {
	case "", "tcp", "udp":
		if a.Port < 1 || a.Port > 65535 {
			return rule{}, errors.New("port is out of range: want 1-65535 (default 443)")
		}
		r.fromPort, r.toPort = int32(a.Port), int32(a.Port)
		if r.protocol == "" {
			r.protocol = "tcp"
		}
	case "icmp": // ICMP has types, not ports: the rule allows every type and code.
		r.fromPort, r.toPort = -1, -1
		if cidr.Addr().Is6() {
			r.protocol = "icmpv6"
		}
	default:
		return rule{}, errors.New(`protocol is not supported: want "tcp", "udp" or "icmp" (default "tcp")`)
	}
	return r, nil
}

// prefixLimit is the broadest address block whitelist_add accepts: a prefix
// length at least V4 for IPv4 and at least V6 for IPv6.
type prefixLimit struct{ V4, V6 int }

// The defaults of WHITELIST_MIN_PREFIX_V4 and WHITELIST_MIN_PREFIX_V6.
const defaultMinPrefixV4, defaultMinPrefixV6 = 16, 48

// mapped4 is ::ffff:0:0/96, where IPv4 addresses are written as IPv6.
var mapped4 = netip.MustParsePrefix("::ffff:0:0/96")

// parseCIDR accepts an address (a /32 or /128) or a CIDR block without host
// bits; IPv4-mapped IPv6 is the IPv4 it is. A non-nil limit is checked on
// the block the text denotes, however it is spelled.
func parseCIDR(s string, limit *prefixLimit) (netip.Prefix, error) {
	const want = "want an IPv4 or IPv6 address (203.0.113.7, 2001:db8::7) or a CIDR block (203.0.113.0/24, 2001:db8::/64)"
	if s == "" {
		return netip.Prefix{}, errors.New("ip_address is required: " + want)
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, errors.New("ip_address is not a CIDR block: " + want)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("ip_address is not an IP address: " + want)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("ip_address has a zone (%...); security groups take plain addresses")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:a.b.c.d/N is a.b.c.d/(N-96)
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	m := p.Masked()
	if limit != nil {
		if err := limit.check(m); err != nil {
			return netip.Prefix{}, err
		}
		if m.Addr().Is6() && m.Overlaps(mapped4) { // m is broader than /96 here: it holds the whole range
			return netip.Prefix{}, fmt.Errorf("refusing a /%d IPv6 block: it holds the IPv4-mapped range ::ffff:0:0/96, every IPv4 address written as IPv6; write IPv4 addresses as IPv4", m.Bits())
		}
	}
	if m != p {
		return netip.Prefix{}, fmt.Errorf("ip_address has host bits set after the /%d; did you mean %s?", p.Bits(), m)
	}
	return p, nil
}

// check refuses a block broader than the limit, and any /0.
func (l prefixLimit) check(p netip.Prefix) error {
	min, family, env := l.V4, "IPv4", "WHITELIST_MIN_PREFIX_V4"
	if p.Addr().Is6() {
		min, family, env = l.V6, "IPv6", "WHITELIST_MIN_PREFIX_V6"
	}
	if p.Bits() == 0 {
		return fmt.Errorf("refusing to open the port to every %s address (a /0 block); whitelist specific addresses or blocks", family)
	}
	if p.Bits() < min {
		return fmt.Errorf("refusing a /%d block: it covers %s %s addresses, and this server adds %s blocks no broader than /%d (set by its operator in %s); whitelist specific addresses or smaller blocks",
			p.Bits(), blockSize(p), family, family, min, env)
	}
	return nil
}

// blockSize renders how many addresses p covers: "2^31" or "65536".
func blockSize(p netip.Prefix) string {
	if host := p.Addr().BitLen() - p.Bits(); host >= 20 {
		return "2^" + strconv.Itoa(host)
	}
	return strconv.Itoa(1 << (p.Addr().BitLen() - p.Bits()))
}

// validateDescription enforces EC2's rule-description rules: at most 255
// characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*
func validateDescription(d string) error {
	if len(d) > 255 {
		return fmt.Errorf("description is %d bytes long; EC2 allows at most 255", len(d))
	}
	for i, r := range d {
		if r >= utf8.RuneSelf || !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" ._-:/()#,@[]+=&;{}!$*", r)) {
			return fmt.Errorf("description holds a character EC2 does not allow (at byte %d): use letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*", i)
		}
	}
	return nil
}

var accessKeyIDRE = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

// describeRule renders r for messages: "203.0.113.7/32 tcp/443".
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
