package provider

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A Pattern matches [Resource] names. Its grammar is
//
//	pattern = scheme ":" segments [ "/**" ]  |  scheme ":" "**"
//	segments = segment { "/" segment }   (the first may be empty: an absolute path)
//
// where a segment is literal text in which "*" stands for one or more
// characters other than "/". So "*" never matches an empty segment and never
// crosses a path separator, and a resource list (env:A,B) is never one
// resource. A final "/**" stands for one or more further segments at any
// depth, and is the only way to admit a recursive read: "ssm:/mcp/prod/*"
// admits the parameter /mcp/prod/token but not the walk of /mcp/prod
// (ssm:/mcp/prod/**) nor /mcp/prod/admin/token.
//
// A Pattern covers a Resource when it matches every item the Resource stands
// for: "env:MCP_*" covers env:MCP_CI_TOKEN and the set env:MCP_CI_*;
// "env:MCP_CI_TOKEN" does not cover env:MCP_CI_*.
type Pattern struct {
	text   string
	scheme string
	segs   [][]tok
	deep   bool // ends in "**": one or more further segments
}

type tokKind uint8

const (
	tLit  tokKind = iota // one literal byte
	tAny                 // exactly one byte
	tLoop                // zero or more bytes
)

type tok struct {
	kind tokKind
	b    byte
}

// ParsePattern parses a pattern. Its errors quote the pattern: patterns are
// the operator's configuration, not request input.
func ParsePattern(s string) (Pattern, error) {
	bad := func(why string) (Pattern, error) {
		return Pattern{}, fmt.Errorf("provider: reference pattern %q %s", s, why)
	}
	scheme, body, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return bad("has no scheme (want scheme:path, such as vault:secret/data/mcp/*)")
	case !validScheme(scheme):
		return bad("has a scheme that is not a-z followed by up to 31 of a-z, 0-9 and -")
	case body == "":
		return bad("has an empty path; name what it allows, such as " + scheme + ":NAME or " + scheme + ":**")
	case strings.ContainsFunc(body, hostileRune):
		return bad("holds control or invisible formatting characters")
	}
	p := Pattern{text: s, scheme: scheme}
	switch {
	case body == "**":
		p.deep = true
		return p, nil
	case strings.HasSuffix(body, "/**"):
		p.deep = true
		body = strings.TrimSuffix(body, "/**")
	}
	if body == "" {
		p.segs = [][]tok{nil} // "/**": everything under the root
		return p, nil
	}
	parts := strings.Split(body, "/")
	for i, seg := range parts {
		switch {
		case seg == "" && i == 0:
		case seg == "":
			return bad(`has an empty segment ("//", or a trailing "/": end with /* or /** to allow what is under a path)`)
		case seg == "." || seg == "..":
			return bad(`has a "." or ".." segment`)
		case seg == "**":
			return bad(`has "**" before its end; "**" may only end a pattern, as in ssm:/mcp/prod/**`)
		case strings.Contains(seg, "**"):
			return bad(`has "**" inside a segment; "*" already stands for one or more characters`)
		}
		p.segs = append(p.segs, tokens(seg))
	}
	if len(p.segs) == 1 && len(p.segs[0]) == 0 && !p.deep {
		return bad("has an empty path")
	}
	return p, nil
}

// MustParsePattern is ParsePattern for patterns written in code; it panics
// on an error.
func MustParsePattern(s string) Pattern {
	p, err := ParsePattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

func tokens(seg string) []tok {
	t := make([]tok, 0, len(seg)+1)
	for i := 0; i < len(seg); i++ {
		if seg[i] == '*' {
			t = append(t, tok{kind: tAny}, tok{kind: tLoop})
		} else {
			t = append(t, tok{kind: tLit, b: seg[i]})
		}
	}
	return t
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.text }

// rseg is a segment of a resource: literal text, or (open) literal text
// followed by one or more characters.
type rseg struct {
	lit  string
	open bool
}

// Covers reports whether p matches every item r stands for. An invalid r is
// never covered.
func (p Pattern) Covers(r Resource) bool {
	if p.scheme == "" || r.Scheme != p.scheme || r.Validate() != nil {
		return false
	}
	parts := strings.Split(r.Path, "/")
	rs := make([]rseg, len(parts), len(parts)+1)
	for i, s := range parts {
		rs[i] = rseg{lit: s}
	}
	rdeep := false
	switch r.Span {
	case Prefix:
		rs[len(rs)-1].open = true
	case Children:
		rs = append(rs, rseg{open: true})
	case Subtree:
		rdeep = true
	}
	n := len(p.segs)
	if !p.deep {
		if rdeep || len(rs) != n {
			return false
		}
	} else if len(rs) < n || len(rs) == n && !rdeep {
		return false // "/**" needs at least one more segment
	}
	for i := range n {
		if !segCovers(p.segs[i], rs[i]) {
			return false
		}
	}
	return true
}

// segCovers reports whether the segment pattern t matches every string r
// stands for: r.lit itself, or, when r is open, r.lit followed by any
// non-empty text.
func segCovers(t []tok, r rseg) bool {
	states := closure(t, []int{0})
	for i := 0; i < len(r.lit) && len(states) > 0; i++ {
		states = closure(t, step(t, states, r.lit[i]))
	}
	for _, q := range states {
		if !r.open {
			if q == len(t) {
				return true
			}
			continue
		}
		if universal(t[q:]) {
			return true
		}
	}
	return false
}

// universal reports whether t matches every non-empty string: it holds no
// literal, at most one "exactly one byte", and is not empty. (A set of states
// matches every non-empty string only if one of them does: a string of a
// byte that no literal holds defeats any literal.)
func universal(t []tok) bool {
	if len(t) == 0 {
		return false
	}
	anys := 0
	for _, k := range t {
		switch k.kind {
		case tLit:
			return false
		case tAny:
			anys++
		}
	}
	return anys <= 1
}

func step(t []tok, states []int, c byte) []int {
	var next []int
	for _, q := range states {
		if q >= len(t) {
			continue
		}
		switch k := t[q]; k.kind {
		case tLit:
			if k.b == c {
				next = append(next, q+1)
			}
		case tAny:
			next = append(next, q+1)
		case tLoop:
			next = append(next, q)
		}
	}
	return next
}

// closure adds the states reachable without input (past zero-or-more
// tokens) and drops duplicates.
func closure(t []tok, states []int) []int {
	seen := make(map[int]bool, len(states))
	out := states[:0:0]
	for len(states) > 0 {
		q := states[len(states)-1]
		states = states[:len(states)-1]
		if seen[q] {
			continue
		}
		seen[q] = true
		out = append(out, q)
		if q < len(t) && t[q].kind == tLoop {
			states = append(states, q+1)
		}
	}
	return out
}

// ErrRefNotAllowed is wrapped when a reference would read a resource that
// no pattern of the [RefPolicy] covers.
var ErrRefNotAllowed = errors.New("provider: credential reference reads a resource no allowed pattern covers")

// A RefPolicy says which resources references may read: a reference is
// allowed only if every [Resource] its scheme's [Target] lists is covered
// by one of the policy's patterns. The nil *RefPolicy allows nothing. A
// RefPolicy is immutable and safe for concurrent use.
type RefPolicy struct {
	patterns []Pattern
}

// NewRefPolicy compiles patterns (see [Pattern]). An invalid pattern is an
// error naming it; an empty list gives a policy that allows nothing.
func NewRefPolicy(patterns ...string) (*RefPolicy, error) {
	p := &RefPolicy{}
	var errs []error
	for _, s := range patterns {
		pat, err := ParsePattern(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.patterns = append(p.patterns, pat)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Patterns returns the policy's patterns as written.
func (p *RefPolicy) Patterns() []string {
	if p == nil {
		return nil
	}
	out := make([]string, len(p.patterns))
	for i, pat := range p.patterns {
		out[i] = pat.text
	}
	return out
}

// Covers reports whether some pattern of p covers r.
func (p *RefPolicy) Covers(r Resource) bool {
	if p == nil {
		return false
	}
	for _, pat := range p.patterns {
		if pat.Covers(r) {
			return true
		}
	}
	return false
}

// Check returns nil if p covers every resource t reads, else an error
// wrapping [ErrRefNotAllowed] that describes the first resource it does not
// cover by its scheme and length (its path came from a request). A Target
// that lists no resource is refused.
func (p *RefPolicy) Check(t Target) error {
	if len(t.Resources) == 0 {
		return fmt.Errorf("%w: its scheme lists no resource it reads", ErrRefNotAllowed)
	}
	for i, r := range t.Resources {
		if !p.Covers(r) {
			return fmt.Errorf("%w: resource %d of %d (%s)", ErrRefNotAllowed, i+1, len(t.Resources), describeResource(r))
		}
	}
	return nil
}

// meets reports whether some path matches both p and q: whether a resource
// p covers could have the shape q describes. Both have the same scheme and
// neither is scheme:**.
func (p Pattern) meets(q Pattern) bool {
	// A deep pattern matches its segments followed by one or more
	// non-empty segments, any of which "*" matches.
	star := []tok{{kind: tAny}, {kind: tLoop}}
	seg := func(x Pattern, i int) []tok {
		if i < len(x.segs) {
			return x.segs[i]
		}
		return star
	}
	fits := func(x Pattern, n int) bool { return n == len(x.segs) && !x.deep || n > len(x.segs) && x.deep }
	for n := 1; n <= max(len(p.segs), len(q.segs))+1; n++ {
		if !fits(p, n) || !fits(q, n) {
			continue
		}
		ok := true
		for i := 0; i < n && ok; i++ {
			ok = segsMeet(seg(p, i), seg(q, i))
		}
		if ok {
			return true
		}
	}
	return false
}

// segsMeet reports whether some segment matches both a and b: a search of
// the product of their automata, over the bytes either names plus one
// neither does.
func segsMeet(a, b []tok) bool {
	alphabet := map[byte]bool{}
	for _, t := range slices.Concat(a, b) {
		if t.kind == tLit {
			alphabet[t.b] = true
		}
	}
	for c := byte('!'); ; c++ {
		if !alphabet[c] && c != '/' {
			alphabet[c] = true
			break
		}
	}
	type pair struct{ i, j int }
	seen := map[pair]bool{}
	var todo []pair
	add := func(is, js []int) {
		is, js = closure(a, is), closure(b, js)
		for _, i := range is {
			for _, j := range js {
				if q := (pair{i, j}); !seen[q] {
					seen[q] = true
					todo = append(todo, q)
				}
			}
		}
	}
	add([]int{0}, []int{0})
	for len(todo) > 0 {
		q := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if q.i == len(a) && q.j == len(b) {
			return true
		}
		for c := range alphabet {
			add(step(a, []int{q.i}, c), step(b, []int{q.j}, c))
		}
	}
	return false
}
