package provider_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
)

// shaped is a ShapedScheme that opens nothing.
type shaped provider.ResourceShape

func (shaped) Open(provider.Ref) (provider.Target, error) {
	return provider.Target{}, errors.New("not opened in these tests")
}
func (s shaped) ResourceShape() provider.ResourceShape { return provider.ResourceShape(s) }

func TestCheckPolicy(t *testing.T) {
	var s provider.Schemes
	s.Register("env", shaped{Pattern: "env:*", Hint: "ENV-HINT"})
	s.Register("file", shaped{Pattern: "file:/*/**", Hint: "FILE-HINT"})
	s.Register("keychain", shaped{Pattern: "keychain:*/*", Hint: "KEYCHAIN-HINT"})
	s.Register("vault", provider.SchemeFunc(func(provider.Ref) (provider.Target, error) { return provider.Target{}, nil }))
	for _, tc := range []struct {
		pat  string
		want string // "" for none
	}{
		{"env:MCP_CI_*", ""},
		{"env:GITHUB_TOKEN", ""},
		{"env:**", ""},
		{"file:/home/u/.mcp/credentials/*", ""},
		{"file:/home/u/.mcp/credentials/ops", ""},
		{"file:/**", ""},
		{"file:/home/**", ""},
		{"file:/a#b/*", ""}, // a directory may hold "#"
		{"keychain:mcpcred/*", ""},
		{"keychain:*/ops", ""},
		{"vault:anything/at#all?x", ""}, // no shape: nothing more to check
		{"ssm:/mcp/**", `"ssm:/mcp/**" names the scheme ssm, which this server does not serve (it serves env, file, keychain, vault)`},
		{"file:*", `"file:*" is not an absolute path, so it covers nothing: FILE-HINT`},
		{"file:staging", "is not an absolute path"},
		{"file:~/.mcp/credentials/*", "is not an absolute path"},
		{"file:/credentials", `"file:/credentials" matches no path a file: resource has, so it covers nothing: FILE-HINT`},
		{"file:/home/u/.mcp/credentials#*", `holds "#" or "?", which no resource's last segment holds: patterns name what a reference reads, not how it is written: FILE-HINT`},
		{"file:/home/u/.mcp/credentials?profile=*", `holds "#" or "?"`},
		{"env:GITHUB_TOKEN#token", `holds "#" or "?"`},
		{"env:/x/*", `"env:/x/*" is an absolute path, so it covers nothing: ENV-HINT`},
		{"env:A/B", "matches no path a env: resource has"},
		{"env:A/**", "matches no path"},
		{"keychain:*", `"keychain:*" matches no path a keychain: resource has, so it covers nothing: KEYCHAIN-HINT`},
		{"keychain:a/b/c", "matches no path"},
	} {
		pol, err := provider.NewRefPolicy(tc.pat)
		if err != nil {
			t.Fatalf("%s: %v", tc.pat, err)
		}
		err = s.CheckPolicy(pol)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.pat, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to hold %q", tc.pat, err, tc.want)
		}
	}

	// Every pattern that covers nothing is reported, each on its own line.
	pol, _ := provider.NewRefPolicy("file:*", "env:OK", "keychain:*")
	err := s.CheckPolicy(pol)
	if err == nil || strings.Count(err.Error(), "\n") != 1 || !strings.Contains(err.Error(), `"file:*"`) || !strings.Contains(err.Error(), `"keychain:*"`) {
		t.Errorf("CheckPolicy = %v, want the two bad patterns on two lines", err)
	}
	if err := s.CheckPolicy(nil); err != nil {
		t.Errorf("CheckPolicy(nil) = %v", err)
	}
}

// CheckPolicy refuses a pattern exactly when no path matches both it and
// the shape: checked against every path of up to four segments of up to
// two bytes, for random patterns and shapes of up to four segments.
func TestCheckPolicyExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var segs []string
	for _, a := range "abc" {
		segs = append(segs, string(a))
		for _, b := range "abc" {
			segs = append(segs, string(a)+string(b))
		}
	}
	var paths []provider.Resource
	var walk func(path string, n int)
	walk = func(path string, n int) {
		if path != "" && path != "/" {
			paths = append(paths, provider.Resource{Scheme: "x", Path: path})
		}
		if n == 4 {
			return
		}
		for _, s := range segs {
			if path == "" || path == "/" {
				walk(path+s, n+1)
			} else {
				walk(path+"/"+s, n+1)
			}
		}
	}
	walk("", 0)
	walk("/", 1)
	randPattern := func() string {
		var b strings.Builder
		b.WriteString("x:")
		n := 1 + rng.IntN(3)
		if rng.IntN(2) == 0 {
			b.WriteString("/")
			n = 1 + rng.IntN(2)
		}
		for i := range n {
			if i > 0 {
				b.WriteString("/")
			}
			seg := ""
			for len(seg) == 0 || rng.IntN(2) == 0 && len(seg) < 2 {
				if c := "ab*"[rng.IntN(3)]; c != '*' || !strings.HasSuffix(seg, "*") {
					seg += string(c)
				}
			}
			b.WriteString(seg)
		}
		if rng.IntN(3) == 0 {
			b.WriteString("/**")
		}
		return b.String()
	}
	type compiled struct {
		text  string
		match []bool
	}
	var pats []compiled
	for range 40 {
		p := provider.MustParsePattern(randPattern())
		c := compiled{text: p.String(), match: make([]bool, len(paths))}
		for i, r := range paths {
			c.match[i] = p.Covers(r)
		}
		pats = append(pats, c)
	}
	checked := 0
	for _, shape := range pats {
		var s provider.Schemes
		s.Register("x", shaped{Pattern: shape.text})
		for _, p := range pats {
			want := false
			for i := range paths {
				if p.match[i] && shape.match[i] {
					want = true
					break
				}
			}
			pol, err := provider.NewRefPolicy(p.text)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.CheckPolicy(pol) == nil; got != want {
				t.Errorf("pattern %s, shape %s: allowed = %v, want %v", p.text, shape.text, got, want)
			}
			checked++
		}
	}
	t.Logf("%d pairs over %d paths", checked, len(paths))
}
