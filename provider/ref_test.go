package provider_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want provider.Ref
	}{
		{"env:", provider.Ref{Scheme: "env"}},
		{"env:MCP_CI_*", provider.Ref{Scheme: "env", Body: "MCP_CI_*"}},
		{"file:~/.mcp/credentials?profile=production", provider.Ref{Scheme: "file", Body: "~/.mcp/credentials", Params: "profile=production"}},
		{"file:production", provider.Ref{Scheme: "file", Body: "production"}},
		{"secretfile:aws-prod", provider.Ref{Scheme: "secretfile", Body: "aws-prod"}},
		{"keychain:service/account", provider.Ref{Scheme: "keychain", Body: "service/account"}},
		{"vault:secret/data/mcp/aws#access_key_id", provider.Ref{Scheme: "vault", Body: "secret/data/mcp/aws", Field: "access_key_id"}},
		{"ssm:/mcp/prod/", provider.Ref{Scheme: "ssm", Body: "/mcp/prod/"}},
		{"ssm:/mcp/prod/key?label=cur&version=3#token", provider.Ref{Scheme: "ssm", Body: "/mcp/prod/key", Params: "label=cur&version=3", Field: "token"}},
	} {
		got, err := provider.ParseRef(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		assert.Equal(t, tc.in, got.String())
	}
}

// hostileRefs are references a prompt-injected model might try.
var hostileRefs = []string{
	"",
	"production",
	"FILE:#x",
	"1file:x",
	"file:../../etc/passwd",
	"file:/home/u/../../etc/shadow#x",
	`file:..\..\windows\system32#x`,
	"vault:secret/../sys/raw/core",
	"secretfile:..",
	"file:~/.mcp/credentials#prod\x00",
	"file:#prod\nX-Injected: 1",
	"env:AWS_*\r",
	"vault:secret/data/mcp/aws\u202e#x", // bidi override
	"keychain:mcp\u200bcred/ops",        // zero-width space
	"keychain:\ufeffmcpcred/ops",        // BOM
	"ssm:/mcp/prod/\x7f",
	"vault:secret/" + strings.Repeat("a", 2000),
	" env:",
	"env: ",
	"file:#",
	"vault:a#b#c",
	"vault:a?version=1&version=2",
	"vault:a?version",
	"vault:a?=1",
	"vault:a?Version=1",
	"vault:a?version=1/2",
	"vault:a?",
	"vault:a#b,c",
	"vault:a#b/c",
	"bad\xffutf8:x",
	"sch eme:x",
	"a:" + string([]byte{0xc0, 0xaf}),
}

func TestParseRefRefusesHostileInput(t *testing.T) {
	for _, in := range hostileRefs {
		_, err := provider.ParseRef(in)
		require.Error(t, err, "%q", in)
		assert.ErrorIs(t, err, provider.ErrInvalidRef)
		assert.Less(t, len(err.Error()), 300, "errors stay short")
		if len(in) >= 6 {
			assert.NotContains(t, err.Error(), in, "errors never quote the input")
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range hostileRefs {
		f.Add(s)
	}
	f.Add("vault:secret/data/mcp/aws#access_key_id")
	f.Add("file:~/.mcp/credentials?profile=production")
	f.Add("ssm:/a/b?version=3&label=x#token")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := provider.ParseRef(s)
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("error too long (%d bytes)", len(err.Error()))
			}
			return
		}
		if !utf8.ValidString(s) || len(s) > provider.MaxRefLen {
			t.Fatalf("accepted invalid input %q", s)
		}
		if r.Params == "" && r.String() != s {
			t.Fatalf("round trip: %q -> %#v -> %q", s, r, r.String())
		}
		for _, seg := range strings.FieldsFunc(r.Body, func(c rune) bool { return c == '/' || c == '\\' }) {
			if seg == ".." {
				t.Fatalf("accepted traversal %q", s)
			}
		}
		again, err := provider.ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("reparse of %q: %v %#v", r.String(), err, again)
		}
	})
}

func TestSchemes(t *testing.T) {
	var s provider.Schemes
	built := 0
	s.Register("static", provider.SchemeFunc(func(r provider.Ref) (provider.Target, error) {
		built++
		p := provider.Func(func(context.Context, string) (provider.Credentials, error) {
			return provider.NewCredentials(map[string]string{"token": r.Body}, provider.Source{Provider: "static"}), nil
		})
		return provider.Target{Provider: p, Resources: []provider.Resource{{Scheme: "static", Path: r.Body}}}, nil
	}))
	s.Register("broken", provider.SchemeFunc(func(r provider.Ref) (provider.Target, error) {
		return provider.Target{Provider: provider.Func(nil)}, nil // lists no resource
	}))
	_, err := s.Open("broken:x")
	require.ErrorIs(t, err, provider.ErrInvalidRef, "a Target without resources is refused")
	p, ref, err := s.Provider("static:abc")
	require.NoError(t, err)
	assert.Equal(t, "abc", ref.Body)
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	require.NoError(t, err)
	assert.Equal(t, "abc", c.Value("token"))
	_, _, err = s.Provider("static:abc")
	require.NoError(t, err)
	assert.Equal(t, 1, built, "providers are reused per reference")

	_, _, err = s.Provider("vault:secret/x")
	require.ErrorIs(t, err, provider.ErrUnknownScheme)
	assert.Contains(t, err.Error(), "import github.com/mcpcred/mcpcred/provider/vault")
	assert.Contains(t, err.Error(), "registered: broken, static")

	_, _, err = s.Provider("static:../x")
	assert.ErrorIs(t, err, provider.ErrInvalidRef)
	assert.Equal(t, []string{"broken", "static"}, s.Names())
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"default", "prod", "mcp-prod", "team.ops_1", "профиль"} {
		assert.NoError(t, provider.ValidName(ok, 64), ok)
	}
	for _, bad := range []string{"", "..", ".", "a/b", `a\b`, "x\x00", " x", "x\u202e", strings.Repeat("a", 65)} {
		assert.Error(t, provider.ValidName(bad, 64), "%q", bad)
	}
}
