package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// whitelist_add refuses any block that covers more addresses than the
// operator allows, however it is spelled: halves of the address space
// (0.0.0.0/1 + 128.0.0.0/1 is everyone), host bits set, IPv4-mapped IPv6,
// IPv6 blocks holding the mapped range. Removing and checking broad blocks
// stays possible.
func TestAddRefusesBroadBlocks(t *testing.T) {
	tests := []struct {
		env  map[string]string
		ip   string
		want string // "" accepted, else in the error
		cidr string // accepted: the block sent to EC2
	}{
		{ip: "0.0.0.0/1", want: "refusing a /1 block: it covers 2^31 IPv4 addresses"},
		{ip: "128.0.0.0/1", want: "refusing a /1 block"},
		{ip: "10.1.2.3/1", want: "refusing a /1 block"}, // host bits set: judged on the block it denotes
		{ip: "192.168.77.1/9", want: "refusing a /9 block"},
		{ip: "10.0.0.0/8", want: "no broader than /16 (set by its operator in WHITELIST_MIN_PREFIX_V4)"},
		{ip: "10.0.0.0/15", want: "refusing a /15 block: it covers 131072 IPv4 addresses"},
		{ip: "0.0.0.0/0", want: "every IPv4 address"},
		{ip: "::/0", want: "every IPv6 address"},
		{ip: "::/1", want: "refusing a /1 block: it covers 2^127 IPv6 addresses"},
		{ip: "8000::/1", want: "refusing a /1 block"},
		{ip: "2000::/3", want: "refusing a /3 block"},
		{ip: "2001:db8::/47", want: "no broader than /48 (set by its operator in WHITELIST_MIN_PREFIX_V6)"},
		{ip: "2001:db8::1/32", want: "refusing a /32 block"},
		{ip: "::ffff:0:0/96", want: "every IPv4 address"},          // IPv4-mapped: 0.0.0.0/0
		{ip: "::FFFF:0.0.0.0/96", want: "every IPv4 address"},      // the same, spelled otherwise
		{ip: "::ffff:0:0/97", want: "refusing a /1 block"},         // 0.0.0.0/1
		{ip: "::ffff:128.0.0.0/97", want: "refusing a /1 block"},   // 128.0.0.0/1
		{ip: "::ffff:10.0.0.0/104", want: "refusing a /8 block"},   // 10.0.0.0/8
		{ip: "::ffff:10.1.2.3/100", want: "refusing a /4 block"},   // host bits, mapped
		{ip: "::/80", want: "holds the IPv4-mapped range"},         // every mapped address
		{ip: "::ffff:0:0/95", want: "holds the IPv4-mapped range"}, // host bits, and the mapped range
		{ip: "0:0:0:0:0:0:0:0/64", want: "holds the IPv4-mapped range"},
		{ip: "010.0.0.0/16", want: "not a CIDR block"}, // leading zeros are not read as octal or decimal
		{ip: "10.0.0.0/016", want: "not a CIDR block"},
		{ip: "0x0a.0.0.0/16", want: "not a CIDR block"},
		{ip: "10.0.0.0/+16", want: "not a CIDR block"},
		{ip: "10.0.0.0/16 ", want: "not a CIDR block"},
		{ip: "10.0/16", want: "not a CIDR block"},
		{ip: "10.20.0.0/16", cidr: "10.20.0.0/16"},
		{ip: "203.0.113.7", cidr: "203.0.113.7/32"},
		{ip: "2001:db8::/48", cidr: "2001:db8::/48"},
		{ip: "::ffff:203.0.113.7", cidr: "203.0.113.7/32"},
		{ip: "::ffff:10.20.0.0/112", cidr: "10.20.0.0/16"},
		{env: map[string]string{"WHITELIST_MIN_PREFIX_V4": "8", "WHITELIST_MIN_PREFIX_V6": "32"}, ip: "10.0.0.0/8", cidr: "10.0.0.0/8"},
		{env: map[string]string{"WHITELIST_MIN_PREFIX_V4": "8", "WHITELIST_MIN_PREFIX_V6": "32"}, ip: "2001:db8::/32", cidr: "2001:db8::/32"},
		{env: map[string]string{"WHITELIST_MIN_PREFIX_V4": "8"}, ip: "8.0.0.0/7", want: "no broader than /8"},
		{env: map[string]string{"WHITELIST_MIN_PREFIX_V4": "1", "WHITELIST_MIN_PREFIX_V6": "1"}, ip: "0.0.0.0/1", cidr: "0.0.0.0/1"},
		{env: map[string]string{"WHITELIST_MIN_PREFIX_V4": "1", "WHITELIST_MIN_PREFIX_V6": "1"}, ip: "0.0.0.0/0", want: "every IPv4 address"},
		{env: map[string]string{"WHITELIST_MIN_PREFIX_V4": "1", "WHITELIST_MIN_PREFIX_V6": "1"}, ip: "::/0", want: "every IPv6 address"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.ip, tt.env), func(t *testing.T) {
			h := start(t, plus(plus(envOf(envKey), "WHITELIST_DRY_RUN", "1"), flatten(tt.env)...), nil)
			args := map[string]any{"security_group_id": sg, "ip_address": tt.ip}
			if tt.want != "" {
				h.fails("whitelist_add", args, tt.want)
				return
			}
			out := h.ok("whitelist_add", args)
			params := out["dry_run"].(map[string]any)["parameters"].(map[string]any)
			got := params["IpPermissions.1.IpRanges.1.CidrIp"]
			if got == nil {
				got = params["IpPermissions.1.Ipv6Ranges.1.CidrIpv6"]
			}
			if got != tt.cidr {
				t.Errorf("EC2 would be sent %v, want %s", got, tt.cidr)
			}
		})
	}
	// Removing or checking a broad block is no risk, and must stay possible
	// (to clean up a rule added before the limit).
	h := start(t, plus(envOf(envKey), "WHITELIST_DRY_RUN", "1"), nil)
	for _, ip := range []string{"0.0.0.0/1", "::/1", "::ffff:0:0/97"} {
		h.ok("whitelist_remove", map[string]any{"security_group_id": sg, "ip_address": ip})
		h.ok("whitelist_check", map[string]any{"security_group_id": sg, "ip_address": ip})
	}
}

func flatten(m map[string]string) []string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k, v)
	}
	return kv
}

// Every prefix length of either family, spelled as IPv4, IPv6 and
// IPv4-mapped IPv6, with and without host bits: accepted exactly when the
// block it denotes is no broader than the limit.
func TestPrefixLimitEverySpelling(t *testing.T) {
	limit := prefixLimit{V4: 16, V6: 48}
	for bits := 0; bits <= 32; bits++ {
		for _, s := range []string{
			fmt.Sprintf("203.0.113.0/%d", bits),
			fmt.Sprintf("0.0.0.0/%d", bits),
			fmt.Sprintf("::ffff:203.0.113.0/%d", bits+96),
			fmt.Sprintf("::ffff:0:0/%d", bits+96),
		} {
			p, err := parseCIDR(s, &limit)
			if bits >= 16 {
				if err != nil && !strings.Contains(err.Error(), "host bits") {
					t.Errorf("%s: %v", s, err)
				} else if err == nil && (!p.Addr().Is4() || p.Bits() != bits) {
					t.Errorf("%s: parsed as %s", s, p)
				}
			} else if err == nil || strings.Contains(err.Error(), "host bits") {
				t.Errorf("%s: accepted or not judged on its breadth: %v", s, err)
			}
		}
	}
	for bits := 0; bits <= 128; bits++ {
		s := fmt.Sprintf("2001:db8:1234:5678::/%d", bits)
		p, err := parseCIDR(s, &limit)
		switch {
		case bits < 48 && (err == nil || strings.Contains(err.Error(), "host bits")):
			t.Errorf("%s: accepted or not judged on its breadth: %v", s, err)
		case bits >= 48 && err != nil && !strings.Contains(err.Error(), "host bits"):
			t.Errorf("%s: %v", s, err)
		case err == nil && p != netip.MustParsePrefix(s).Masked():
			t.Errorf("%s: parsed as %s", s, p)
		}
	}
}
