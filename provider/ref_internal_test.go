package provider

import (
	"strconv"
	"testing"
)

// FuzzValidNameFastPath checks that ValidName's ASCII fast path accepts
// exactly what the full check accepts.
func FuzzValidNameFastPath(f *testing.F) {
	for _, s := range []string{"default", "prod-1", "a b", " a", "a ", ".", "..", "a/b", `a\b`, "x\x7f", "x\x00", "é", "\u200b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" || len(s) > 64 {
			return
		}
		fast := asciiName(s)
		slow := validNameSlow(s, 64) == nil
		if fast && !slow {
			t.Fatalf("fast path accepts %q, full check refuses it", s)
		}
		if slow && !fast {
			for i := 0; i < len(s); i++ {
				if s[i] >= 0x80 {
					return // non-ASCII names take the full check: fine
				}
			}
			t.Fatalf("full check accepts ASCII %q, fast path refuses it", s)
		}
	})
}

// Requests choose references: the Targets a Schemes keeps stay bounded
// however many distinct references arrive.
func TestSchemesBuiltIsBounded(t *testing.T) {
	var s Schemes
	s.Register("x", SchemeFunc(func(r Ref) (Target, error) {
		return Target{Provider: Func(nil), Resources: []Resource{{Scheme: "x", Path: r.Body}}}, nil
	}))
	for i := range 5 * maxBuilt {
		if _, err := s.Open("x:" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if n := len(s.built); n > maxBuilt {
			t.Fatalf("%d Targets kept after %d references; the bound is %d", n, i+1, maxBuilt)
		}
	}
}
