package providertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
)

// SchemeConfig describes a [provider.Scheme] under test for [RunScheme].
type SchemeConfig struct {
	// Name is the scheme's name, such as "vault".
	Name string

	// New builds the Scheme under test on a backend that reports each read
	// it serves to record, as the Resource read: one Exact resource per
	// variable, file section, secret, parameter or keychain profile it
	// reads, and for a walk the Subtree resource walked (or each item it
	// returns). New is called once per reference checked.
	New func(t *testing.T, record func(provider.Resource)) provider.Scheme

	// Valid are references the scheme must accept. Each one's Provider is
	// called; whether the backend has data for it does not matter, only
	// what it reads.
	Valid []string

	// Invalid are references the scheme must refuse with an error
	// wrapping provider.ErrInvalidRef.
	Invalid []string
}

// Canaries are secret-looking texts the scheme suite puts into references.
// No error may repeat them.
var canaries = []string{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "d41d8cd98f00b204e9800998ecf8427e"}

// RunScheme checks a Scheme against the contract of [provider.Scheme] and
// the reference policy built on it:
//
//   - every Valid reference opens, its Target lists valid Resources whose
//     text forms are valid patterns, and its canonical form opens again to
//     the same Target (canonical forms round-trip);
//   - every Invalid reference, and every hostile variant the suite derives
//     from the Valid ones (lists, empty and extra segments, unknown params,
//     secret-looking bodies and fields), is either refused with an error
//     wrapping provider.ErrInvalidRef that quotes no part of it that is not a
//     plain name, or opens to a Target that keeps the next rule;
//   - what a Target's Provider reads is covered by the Resources it lists,
//     so a [provider.RefPolicy] that allows those Resources allows every
//     read, and one generated from narrower patterns allows the reference
//     only if it covers every read.
func RunScheme(t *testing.T, c SchemeConfig) {
	t.Helper()
	if c.Name == "" || c.New == nil || len(c.Valid) == 0 {
		t.Fatal("providertest: SchemeConfig needs Name, New and at least one Valid reference")
	}
	t.Run("Valid", func(t *testing.T) {
		for _, ref := range c.Valid {
			if tgt, ok := CheckSchemeRef(t, c, ref); !ok {
				t.Errorf("%s: refused a Valid reference (%d bytes)", c.Name, len(ref))
			} else {
				checkRoundTrip(t, c, ref, tgt)
			}
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, ref := range c.Invalid {
			if _, ok := CheckSchemeRef(t, c, ref); ok {
				t.Errorf("%s: accepted the Invalid reference %q", c.Name, ref)
			}
		}
	})
	t.Run("Hostile", func(t *testing.T) {
		for _, ref := range c.Valid {
			for _, v := range hostileVariants(c.Name, ref) {
				CheckSchemeRef(t, c, v)
			}
		}
	})
}

// hostileVariants derives references a requester might try from a valid one.
func hostileVariants(scheme, ref string) []string {
	r, err := provider.ParseRef(ref)
	if err != nil {
		return nil
	}
	body := r.Body
	var out []string
	add := func(b, params, field string) {
		out = append(out, provider.Ref{Scheme: scheme, Body: b, Params: params, Field: field}.String())
	}
	for _, cn := range canaries {
		add(cn, "", "")
		add(body+","+cn, r.Params, r.Field)
		add(body+"/"+cn, r.Params, r.Field)
		add(body, r.Params, cn)
		add(body, "version="+cn, r.Field)
		add(body, "profile="+cn, r.Field)
		add("/"+cn+"/", "", "")
	}
	for _, b := range []string{body + "/", body + "//x", strings.TrimSuffix(body, "/"), body + "*", body + "/*", "*", "/", "//", body + ",", "," + body} {
		add(b, r.Params, r.Field)
		add(b, "", "")
	}
	add(body, "bogus=1", r.Field)
	add(body, "version=1", r.Field)
	add(body, "label=x", r.Field)
	add(body, "version=0", r.Field)
	add(body, r.Params, "x")
	return out
}

// CheckSchemeRef opens ref with a new Scheme from c and checks the contract
// for it: a refusal wraps provider.ErrInvalidRef and quotes nothing of ref
// but plain names; an accepted reference's Provider reads only what its
// Target's Resources cover. It reports whether the reference was accepted.
// Fuzz targets call it with generated references:
//
//	f.Fuzz(func(t *testing.T, ref string) { providertest.CheckSchemeRef(t, cfg, ref) })
func CheckSchemeRef(t *testing.T, c SchemeConfig, ref string) (provider.Target, bool) {
	t.Helper()
	var (
		mu    sync.Mutex
		reads []provider.Resource
	)
	record := func(r provider.Resource) {
		mu.Lock()
		defer mu.Unlock()
		reads = append(reads, r)
	}
	var schemes provider.Schemes
	sc := c.New(t, record)
	schemes.Register(c.Name, sc)
	tgt, err := schemes.Open(ref)
	if err != nil {
		if parsed, perr := provider.ParseRef(ref); perr == nil && parsed.Scheme == c.Name && !errors.Is(err, provider.ErrInvalidRef) {
			t.Errorf("%s: refusal does not wrap provider.ErrInvalidRef: %v", c.Name, err)
		}
		checkNoEcho(t, c.Name, ref, err.Error())
		return provider.Target{}, false
	}
	if tgt.Ref.Scheme != c.Name {
		t.Errorf("%s: Target.Ref has scheme %q", c.Name, tgt.Ref.Scheme)
	}
	texts := make([]string, len(tgt.Resources))
	for i, r := range tgt.Resources {
		texts[i] = r.String()
	}
	declared, err := provider.NewRefPolicy(texts...)
	if err != nil {
		t.Errorf("%s: a Resource's text form is not a valid pattern: %v", c.Name, err)
		return tgt, true
	}
	if err := declared.Check(tgt); err != nil {
		t.Errorf("%s: the Target's own Resources do not allow it: %v", c.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := tgt.Provider.Retrieve(ctx, provider.DefaultProfile); err != nil {
		checkNoEchoRead(t, c.Name, ref, err.Error())
	}
	mu.Lock()
	got := slices.Clone(reads)
	mu.Unlock()
	for _, r := range got {
		if !declared.Covers(r) {
			t.Errorf("%s: reference %q read %v, which its Target's Resources %v do not cover", c.Name, ref, r, texts)
		}
	}
	if shaped, ok := sc.(provider.ShapedScheme); ok {
		checkShape(t, c.Name, ref, shaped.ResourceShape(), tgt.Resources, got)
	}
	// Narrower generated policies: each allows the reference only if it
	// covers every read.
	for _, pats := range narrower(tgt.Resources) {
		pol, err := provider.NewRefPolicy(pats...)
		if err != nil || pol.Check(tgt) != nil {
			continue
		}
		for _, r := range got {
			if !pol.Covers(r) {
				t.Errorf("%s: policy %v allows reference %q, which reads %v outside it", c.Name, pats, ref, r)
			}
		}
	}
	return tgt, true
}

// checkShape checks the contract of [provider.ShapedScheme]: the shape
// covers every Resource and every read, and no Resource's last segment
// holds "#" or "?".
func checkShape(t *testing.T, name, ref string, shape provider.ResourceShape, rs, reads []provider.Resource) {
	t.Helper()
	pat, err := provider.ParsePattern(shape.Pattern)
	if err != nil {
		t.Errorf("%s: ResourceShape().Pattern is not a pattern: %v", name, err)
		return
	}
	for _, r := range slices.Concat(rs, reads) {
		if !pat.Covers(r) {
			t.Errorf("%s: reference %q lists or reads %v, outside its ResourceShape %s", name, ref, r, shape.Pattern)
		}
	}
	for _, r := range rs {
		if strings.ContainsAny(r.Path[strings.LastIndexByte(r.Path, '/')+1:], "#?") {
			t.Errorf("%s: reference %q lists %v, whose last segment holds \"#\" or \"?\"", name, ref, r)
		}
	}
}

// narrower returns pattern lists derived from resources: each exactly, each
// with its last segment as "*", and each parent with "/**".
func narrower(rs []provider.Resource) [][]string {
	var exact, star, deep []string
	for _, r := range rs {
		exact = append(exact, r.String())
		if i := strings.LastIndexByte(r.Path, '/'); i > 0 {
			star = append(star, r.Scheme+":"+r.Path[:i]+"/*")
			deep = append(deep, r.Scheme+":"+r.Path[:i]+"/**")
		} else {
			star = append(star, r.Scheme+":*")
		}
	}
	return [][]string{exact, star, deep}
}

// checkRoundTrip opens the canonical form of ref's Target and expects the
// same Target.
func checkRoundTrip(t *testing.T, c SchemeConfig, ref string, tgt provider.Target) {
	t.Helper()
	canon := tgt.Ref.String()
	again, ok := CheckSchemeRef(t, c, canon)
	if !ok {
		t.Errorf("%s: the canonical form of a valid reference is refused (%d bytes)", c.Name, len(canon))
		return
	}
	if again.Ref != tgt.Ref {
		t.Errorf("%s: canonical form %q opens as %q", c.Name, canon, again.Ref)
	}
	if fmt.Sprint(again.Resources) != fmt.Sprint(tgt.Resources) {
		t.Errorf("%s: canonical form %q reads %v, the original %q reads %v", c.Name, canon, again.Resources, ref, tgt.Resources)
	}
}

// checkNoEcho fails if msg, the error of a refused reference, repeats a
// canary, or a piece of ref (its body, params or field) that is not a plain
// name: a scheme refuses a reference by saying what is wrong with it.
func checkNoEcho(t *testing.T, scheme, ref, msg string) {
	t.Helper()
	if echoesCanary(t, scheme, msg) {
		return
	}
	r, err := provider.ParseRef(ref)
	if err != nil {
		// provider.ParseRef refused it, and never quotes its input (its own
		// tests hold it to that); arbitrary text may still match a piece of
		// its fixed wording, so only the canaries are checked here.
		return
	}
	for _, piece := range []string{r.Body, r.Params, r.Field} {
		if len(piece) >= 8 && !provider.IsName(piece) && strings.Contains(msg, piece) {
			t.Errorf("%s: an error quotes part of the reference (%d bytes): %s", scheme, len(piece), msg)
		}
	}
}

// checkNoEchoRead fails if msg, the error of a Provider that an accepted
// reference built, still repeats a canary or a piece of the reference that
// is not a plain name once provider.ScrubRef has scrubbed it, as a resolver
// does with every such error. What survives the scrub (text the provider
// transformed, such as a lower-cased or re-encoded piece) would reach the
// requester.
func checkNoEchoRead(t *testing.T, scheme, ref, msg string) {
	t.Helper()
	r, err := provider.ParseRef(ref)
	if err != nil {
		return
	}
	msg = provider.ScrubRef(r.String(), msg)
	if echoesCanary(t, scheme, msg) {
		return
	}
	split := func(c rune) bool { return strings.ContainsRune("/\\,:&=*", c) }
	for _, piece := range []string{r.Body, r.Params, r.Field} {
		for _, seg := range strings.FieldsFunc(piece, split) {
			seg = strings.Trim(seg, "._-") // as provider.ScrubRef: a prefix such as STAGING_ is a name
			if len(seg) >= 8 && !provider.IsName(seg) && strings.Contains(strings.ToLower(msg), strings.ToLower(seg)) {
				t.Errorf("%s: an error repeats a piece of the reference that is not a name (%d bytes), even after provider.ScrubRef: %s", scheme, len(seg), msg)
				return
			}
		}
	}
}

// echoesCanary reports (and fails) whether msg repeats a canary.
func echoesCanary(t *testing.T, scheme, msg string) bool {
	t.Helper()
	for _, cn := range canaries {
		if strings.Contains(strings.ToLower(msg), strings.ToLower(cn)) {
			t.Errorf("%s: an error repeats secret-looking input: %s", scheme, msg)
			return true
		}
	}
	return false
}
