package vault

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		err  bool
	}{
		{in: "vault:secret/data/mcp/aws#access_key_id", want: Ref{Path: "secret/data/mcp/aws", Field: "access_key_id"}},
		{in: "secret/mcp/aws", want: Ref{Path: "secret/mcp/aws"}},
		{in: "vault:/secret/mcp/aws/", want: Ref{Path: "secret/mcp/aws"}},
		{in: "vault:secret/data/mcp/aws?version=3#k", want: Ref{Path: "secret/data/mcp/aws", Version: 3, Field: "k"}},
		{in: "vault:aws/creds/deploy", want: Ref{Path: "aws/creds/deploy"}},
		{in: "vault:", err: true},
		{in: "vault:secret/../sys", err: true},
		{in: "vault:secret//x", err: true},
		{in: "vault:secret/x#", err: true},
		{in: "vault:secret/x?version=-1", err: true},
		{in: "vault:secret/x?version=abc", err: true},
		{in: "vault:secret/x?version=0", err: true},
		{in: "vault:secret/x?version=03", err: true},
		{in: "vault:secret/x?version=%2B3", err: true},
		{in: "vault:secret/x?version=", err: true},
		{in: "vault:secret/x?", err: true},
		{in: "vault:secret/x?version=1&version=2", err: true},
		{in: "vault:secret/x?ttl=3", err: true},
		{in: "vault:secret/x y", err: true},
		{in: "vault:secret/x#a#b", err: true},
		{in: "vault:secret/x\n", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if tt.err {
				if !errors.Is(err, ErrInvalidRef) {
					t.Fatalf("ParseRef = %+v, %v; want ErrInvalidRef", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseRef = %+v, want %+v", got, tt.want)
			}
			back, err := ParseRef(got.String())
			if err != nil || back != got {
				t.Fatalf("round trip %q = %+v, %v", got.String(), back, err)
			}
		})
	}
}

func TestRefFor(t *testing.T) {
	tests := []struct {
		tmpl, mount string
		profiles    map[string]string
		profile     string
		want        Ref
		ok          bool
	}{
		{"", "", nil, "default", Ref{Mount: "secret", Path: "mcp/default"}, true},
		{"apps/{profile}/creds", "kv", nil, "team/prod", Ref{Mount: "kv", Path: "apps/team/prod/creds"}, true},
		{"", "", map[string]string{"aws": "vault:aws/creds/deploy"}, "aws", Ref{Path: "aws/creds/deploy"}, true},
		{"", "", nil, "..", Ref{}, false},
		{"", "", nil, "a/../b", Ref{}, false},
		{"", "", nil, "/abs", Ref{}, false},
		{"", "", nil, "a//b", Ref{}, false},
		{"", "", nil, "x?version=1", Ref{}, false},
		{"", "", nil, "", Ref{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			p, err := New(func(o *Options) {
				o.PathTemplate, o.Mount, o.Profiles = tt.tmpl, tt.mount, tt.profiles
				o.Getenv = env(nil)
			})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.RefFor(tt.profile)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("RefFor(%q) = %+v, %v; want %+v, %v", tt.profile, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"vault:secret/data/mcp/aws#access_key_id",
		"vault:secret/data/mcp/aws?version=3#k",
		"aws/creds/deploy",
		"vault:secret/../x",
		"vault:" + canary + "?version=" + canary + "#" + canary,
		"vault:a/b?version=1&version=2",
		"vault:%zz?%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("error %v does not wrap ErrInvalidRef", err)
			}
			// Errors never quote the input.
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error quotes the input: %v", err)
			}
			for _, part := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(":/?#=&", r) }) {
				if len(part) >= 12 && strings.Contains(err.Error(), part) {
					t.Fatalf("error quotes part of the input: %v", err)
				}
			}
			return
		}
		back, err := ParseRef(r.String())
		if err != nil || back != r {
			t.Fatalf("round trip of %+v via %q = %+v, %v", r, r.String(), back, err)
		}
		if strings.Contains(r.Path, "..") && strings.Contains("/"+r.Path+"/", "/../") {
			t.Fatalf("path with .. segment accepted: %q", r.Path)
		}
	})
}
