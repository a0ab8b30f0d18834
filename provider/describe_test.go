package provider_test

import (
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
)

func TestDescribe(t *testing.T) {
	shown := []string{"production", "team-a", "us-east-1", "MCP_CI_TOKEN", "prod2", "a.b_c-d", "2024", "default", "access_key_id"}
	hidden := []string{
		"", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ghp_0123456789abcdefABCDEF",
		"d41d8cd98f00b204e9800998ecf8427e", "tail0fd3", "sk-proj-abc123def", "Prod", "a b", "x/y",
		"prod_", "_prod", "a..b", "12345", "prod1234", "abcdefghijklmnopqrstuvwx", "qwertyuiopasdfghj-x", strings.Repeat("a", 33), "ünïcode", "a\nb",
	}
	for _, s := range shown {
		if got, want := provider.Describe(s), `"`+s+`"`; got != want {
			t.Errorf("Describe(%q) = %s, want %s", s, got, want)
		}
	}
	for _, s := range hidden {
		got := provider.Describe(s)
		if s != "" && strings.Contains(got, s) {
			t.Errorf("Describe(%q) = %s: repeats the text", s, got)
		}
		if !strings.Contains(got, "not shown") {
			t.Errorf("Describe(%q) = %s: want a description by length", s, got)
		}
	}
}

func FuzzDescribe(f *testing.F) {
	for _, s := range []string{"production", "AKIAIOSFODNN7EXAMPLE", "a-b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := provider.Describe(s)
		if strings.HasPrefix(got, `"`) {
			// Shown: must be a short name of words.
			if len(s) > 32 || strings.ContainsAny(s, " /\\:#?@,\n\t\"'") {
				t.Fatalf("Describe(%q) showed a non-name", s)
			}
			return
		}
		if len(s) >= 4 && strings.Contains(got, s) {
			t.Fatalf("Describe(%q) = %s repeats it", s, got)
		}
	})
}

func TestIsNameAndLabel(t *testing.T) {
	for _, s := range []string{"production", "us-east-1", "MCP_CI_TOKEN"} {
		if !provider.IsName(s) || provider.Label(s) != s || provider.Describe(s) != `"`+s+`"` {
			t.Errorf("%q: IsName %v, Label %q", s, provider.IsName(s), provider.Label(s))
		}
	}
	for _, s := range []string{"AKIAIOSFODNN7EXAMPLE", "a/b", ""} {
		if provider.IsName(s) || provider.Label(s) != provider.Describe(s) {
			t.Errorf("%q: IsName %v, Label %q", s, provider.IsName(s), provider.Label(s))
		}
	}
}

func TestScrubRef(t *testing.T) {
	for _, tc := range []struct{ ref, in, want string }{
		{"env:STAGING_*", "none of STAGING_ACCESS_KEY_ID set", "none of STAGING_ACCESS_KEY_ID set"},
		{"vault:secret/data/mcp/aws", "secret/data/mcp/aws: no secret", "secret/data/mcp/aws: no secret"},
		{"vault:secret/data/mcp/AKIAIOSFODNN7EXAMPLE", "secret/data/mcp/akiaiosfodnn7example: no secret", "secret/data/mcp/(a 20-byte value, not shown): no secret"},
		{"ssm:/mcp/x?label=cur#ghp_0123456789abcdefghij", "field ghp_0123456789abcdefghij", "field (a 24-byte value, not shown)"},
	} {
		if got := provider.ScrubRef(tc.ref, tc.in); got != tc.want {
			t.Errorf("ScrubRef(%q, %q) = %q, want %q", tc.ref, tc.in, got, tc.want)
		}
	}
}
