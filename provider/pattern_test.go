package provider_test

import (
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
)

func res(scheme, p string, span provider.Span) provider.Resource {
	return provider.Resource{Scheme: scheme, Path: p, Span: span}
}

func TestPatternCovers(t *testing.T) {
	E, P, C, S := provider.Exact, provider.Prefix, provider.Children, provider.Subtree
	for _, tc := range []struct {
		pat  string
		r    provider.Resource
		want bool
	}{
		{"env:MCP_CI_*", res("env", "MCP_CI_TOKEN", E), true},
		{"env:MCP_CI_*", res("env", "MCP_CI_", E), false}, // "*" is one or more
		{"env:MCP_CI_*", res("env", "MCP_CI_", P), true},
		{"env:MCP_*", res("env", "MCP_CI_", P), true},
		{"env:MCP_CI_TOKEN", res("env", "MCP_CI_", P), false},
		{"env:MCP_CI_*", res("env", "MCP_C", P), false},
		{"env:MCP_CI_*", res("env", "AWS_SECRET_ACCESS_KEY", E), false},
		{"env:*_TOKEN", res("env", "GH_TOKEN", E), true},
		{"env:*_TOKEN", res("env", "GH_", P), false},
		{"env:A*B*", res("env", "AxB", P), true},
		{"env:A*B*", res("env", "A", P), false},
		{"vault:secret/data/mcp/*", res("vault", "secret/data/mcp/aws", E), true},
		{"vault:secret/data/mcp/*", res("vault", "secret/data/mcp", E), false},
		{"vault:secret/data/mcp/*", res("vault", "secret/data/mcp/a/b", E), false},
		{"vault:secret/data/mcp/*", res("vault", "secret/data/mcp", C), true},
		{"vault:secret/data/mcp/*", res("vault", "secret/data/mcp", S), false},
		{"vault:secret/data/mcp/**", res("vault", "secret/data/mcp/a/b", E), true},
		{"vault:secret/data/mcp/**", res("vault", "secret/data/mcp", E), false},
		{"vault:secret/data/mcp/**", res("vault", "secret/data/mcp", S), true},
		{"vault:secret/data/mcp/**", res("vault", "secret/data/mcp/x", C), true},
		{"vault:secret/data/mcp/**", res("vault", "secret/data", S), false},
		{"vault:secret/data/mcp/**", res("vault", "secret/data/mcpx", S), false},
		{"vault:**", res("vault", "a", E), true},
		{"vault:**", res("vault", "a", S), true},
		{"ssm:/mcp/prod/*", res("ssm", "/mcp/prod/token", E), true},
		{"ssm:/mcp/prod/*", res("ssm", "/mcp/prod", S), false},
		{"ssm:/mcp/prod/*", res("ssm", "/mcp/prod/admin/token", E), false},
		{"ssm:/mcp/prod/**", res("ssm", "/mcp/prod", S), true},
		{"ssm:/**", res("ssm", "/mcp/prod", S), true},
		{"ssm:/**", res("ssm", "mcp", E), false},
		{"ssm:/mcp/*/token", res("ssm", "/mcp/prod/token", E), true},
		{"ssm:/mcp/*/token", res("ssm", "/mcp//token", E), false},
		{"file:/home/u/.mcp/credentials/*", res("file", "/home/u/.mcp/credentials/ops", E), true},
		{"file:/home/u/.mcp/credentials/*", res("keychain", "/home/u/.mcp/credentials/ops", E), false},
		{"keychain:mcpcred/*", res("keychain", "mcpcred/ops", E), true},
		{"keychain:mcpcred/*", res("keychain", "other/ops", E), false},
	} {
		p, err := provider.ParsePattern(tc.pat)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", tc.pat, err)
		}
		if got := p.Covers(tc.r); got != tc.want {
			t.Errorf("%q covers %v = %v, want %v", tc.pat, tc.r, got, tc.want)
		}
	}
}

func TestParsePatternErrors(t *testing.T) {
	for _, s := range []string{
		"", "vault", "VAULT:x", "vault:", "vault:a//b", "vault:a/", "ssm:/", "vault:**/a",
		"vault:a/**/b", "vault:a**", "vault:a/../b", "vault:./a", "vault:a\x00", "env:MCP_\u202e*",
	} {
		if _, err := provider.ParsePattern(s); err == nil {
			t.Errorf("ParsePattern(%q) accepted", s)
		}
	}
}

func TestRefPolicyCheck(t *testing.T) {
	pol, err := provider.NewRefPolicy("env:MCP_CI_*", "vault:secret/data/mcp/*")
	if err != nil {
		t.Fatal(err)
	}
	ok := provider.Target{Resources: []provider.Resource{res("env", "MCP_CI_TOKEN", provider.Exact), res("vault", "secret/data/mcp/aws", provider.Exact)}}
	if err := pol.Check(ok); err != nil {
		t.Fatal(err)
	}
	canary := "AKIAIOSFODNN7EXAMPLE"
	bad := provider.Target{Resources: []provider.Resource{res("env", "MCP_CI_TOKEN", provider.Exact), res("env", canary, provider.Exact)}}
	err = pol.Check(bad)
	if !errors.Is(err, provider.ErrRefNotAllowed) || strings.Contains(err.Error(), canary) {
		t.Fatalf("Check = %v", err)
	}
	if err := pol.Check(provider.Target{}); err == nil {
		t.Fatal("a Target without resources was allowed")
	}
	var none *provider.RefPolicy
	if err := none.Check(ok); err == nil {
		t.Fatal("the nil policy allowed a reference")
	}
	if _, err := provider.NewRefPolicy("vault:ok/*", "vault:a//b", "x"); err == nil || !strings.Contains(err.Error(), "a//b") {
		t.Fatalf("NewRefPolicy with bad patterns: %v", err)
	}
}

// FuzzPatternCovers checks Covers against the set it claims to cover: for an
// exact resource it must agree with a plain glob match, and a set resource
// is covered only if sampled members of it are matched.
func FuzzPatternCovers(f *testing.F) {
	f.Add("env:MCP_*", "MCP_CI_", uint8(1), "X")
	f.Add("vault:a/*/c", "a/b/c", uint8(0), "")
	f.Add("ssm:/a/**", "/a/b", uint8(3), "zz")
	f.Add("ssm:/a/*", "/a", uint8(2), "q")
	f.Fuzz(func(t *testing.T, pat, p string, span uint8, tail string) {
		pt, err := provider.ParsePattern(pat)
		if err != nil {
			return
		}
		scheme, _, _ := strings.Cut(pat, ":")
		r := provider.Resource{Scheme: scheme, Path: p, Span: provider.Span(span % 4)}
		if r.Validate() != nil {
			if pt.Covers(r) {
				t.Fatalf("%q covers the invalid %v", pat, r)
			}
			return
		}
		if !pt.Covers(r) {
			return
		}
		// Members of r: check each matches the pattern by a plain matcher.
		if tail == "" || strings.ContainsAny(tail, "/*") {
			tail = "x"
		}
		var members []string
		switch r.Span {
		case provider.Exact:
			members = []string{p}
		case provider.Prefix:
			members = []string{p + tail, p + "Z"}
		case provider.Children:
			members = []string{p + "/" + tail}
		case provider.Subtree:
			members = []string{p + "/" + tail, p + "/" + tail + "/" + tail + "/y"}
		}
		for _, m := range members {
			if !plainMatch(strings.TrimPrefix(pat, scheme+":"), m) {
				t.Fatalf("%q covers %v but not its member %q", pat, r, m)
			}
		}
	})
}

// plainMatch is an independent matcher: path.Match per segment ("*" as one
// or more), a final "**" as one or more segments.
func plainMatch(pat, s string) bool {
	ps, ss := strings.Split(pat, "/"), strings.Split(s, "/")
	if pat == "**" {
		return s != ""
	}
	deep := false
	if ps[len(ps)-1] == "**" {
		deep, ps = true, ps[:len(ps)-1]
		if len(ss) <= len(ps) {
			return false
		}
		ss = ss[:len(ps)]
	}
	if len(ps) != len(ss) {
		return false
	}
	_ = deep
	for i := range ps {
		if strings.ContainsAny(ps[i], "?[\\") || strings.ContainsAny(ss[i], "?[\\*") {
			return true // outside this matcher's grammar: no verdict
		}
		ok, err := path.Match(ps[i], ss[i])
		if err != nil || !ok || strings.Contains(ps[i], "*") && emptyStar(ps[i], ss[i]) {
			return false
		}
	}
	return true
}

// emptyStar reports whether pattern p matches s only with some "*" matching
// nothing, which our "*" (one or more) does not allow.
func emptyStar(p, s string) bool {
	// Replace each * with ?* (one or more) and match again.
	q := strings.ReplaceAll(p, "*", "?*")
	ok, _ := path.Match(q, s)
	return !ok
}
