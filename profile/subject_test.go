package profile_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/profile"
)

func TestEncodeSubject(t *testing.T) {
	for sub, want := range map[string]string{
		"alice":                "sub-alice",
		"":                     "sub-",
		"Alice":                "sub-_41lice",
		"alice@example.com":    "sub-alice_40example_2Ecom",
		"auth0|64f1c2":         "sub-auth0_7C64f1c2",
		"00u1abcd-2":           "sub-00u1abcd-2",
		".":                    "sub-_2E",
		"..":                   "sub-_2E_2E",
		"../x":                 "sub-_2E_2E_2Fx",
		`a\b`:                  "sub-a_5Cb",
		"%2e%2e":               "sub-_252e_252e",
		"a_b":                  "sub-a_5Fb",
		"a~b":                  "sub-a_7Eb",
		"a#b?c,d*e:f":          "sub-a_23b_3Fc_2Cd_2Ae_3Af",
		"{sub}":                "sub-_7Bsub_7D",
		"\x00":                 "sub-_00",
		"\u0430lice":           "sub-_D0_B0lice", // Cyrillic a
		"sub-alice":            "sub-sub-alice",
		"\u200balice":          "sub-_E2_80_8Balice",
		"ALICE":                "sub-_41_4C_49_43_45",
		"f47ac10b-58cc-4372-a": "sub-f47ac10b-58cc-4372-a",
	} {
		assert.Equal(t, want, profile.EncodeSubject(sub), "%q", sub)
		got, err := profile.DecodeSubject(want)
		require.NoError(t, err, want)
		assert.Equal(t, sub, got)
	}
	for _, bad := range []string{"alice", "sub-A", "sub-_4", "sub-_4g", "sub-_4a", "sub-_61", "sub-.", "sub-a/b", "sub-_2", "sub-_"} {
		_, err := profile.DecodeSubject(bad)
		assert.Error(t, err, "%q is no segment EncodeSubject returns", bad)
	}
}

// checkSegment fails unless seg is a segment EncodeSubject may return for
// sub: the prefix, then only a-z, 0-9, '-', '_' and A-F; never "." or "..",
// empty, or holding a separator, a reference's syntax, a control, invisible
// or non-ASCII character; decoding gives sub back; and a backend that
// ignores case still tells it from every other subject's.
func checkSegment(t *testing.T, sub, seg string) {
	t.Helper()
	if !strings.HasPrefix(seg, profile.SubjectPrefix) || seg == "." || seg == ".." || seg == "" {
		t.Fatalf("EncodeSubject(%q) = %q", sub, seg)
	}
	if strings.Trim(seg, "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEF") != "" || strings.ContainsAny(seg, "/\\#?,*:.%~ {}") || !utf8.ValidString(seg) {
		t.Fatalf("EncodeSubject(%q) = %q holds a byte outside the safe alphabet", sub, seg)
	}
	if got, err := profile.DecodeSubject(seg); err != nil || got != sub {
		t.Fatalf("DecodeSubject(EncodeSubject(%q)) = %q, %v", sub, got, err)
	}
	// Upper case appears only in escapes: folding the segment and then
	// restoring the escapes' case gives it back, so folded segments are
	// distinct too.
	if restoreEscapes(strings.ToLower(seg)) != seg {
		t.Fatalf("EncodeSubject(%q) = %q does not survive case folding", sub, seg)
	}
	if profile.EncodeSubject(sub) != seg {
		t.Fatalf("EncodeSubject(%q) is not deterministic", sub)
	}
}

// restoreEscapes upper-cases the two hex digits after each '_'.
func restoreEscapes(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		if b[i] == '_' && i+2 < len(b) {
			b[i+1], b[i+2] = byte(strings.ToUpper(string(b[i+1]))[0]), byte(strings.ToUpper(string(b[i+2]))[0])
			i += 2
		}
	}
	return string(b)
}

// FuzzSubjectEncoding checks that EncodeSubject is injective (DecodeSubject
// inverts it, also after case folding) and keeps to the safe alphabet, for
// any bytes, and that two distinct subjects never share a segment.
func FuzzSubjectEncoding(f *testing.F) {
	for _, s := range hostileSubjects() {
		f.Add(s, "alice")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, sb := profile.EncodeSubject(a), profile.EncodeSubject(b)
		checkSegment(t, a, sa)
		checkSegment(t, b, sb)
		if a != b && (sa == sb || strings.EqualFold(sa, sb)) {
			t.Fatalf("subjects %q and %q share the segment %q", a, b, sa)
		}
		// Any segment that decodes is the encoding of what it decodes to.
		if sub, err := profile.DecodeSubject(a); err == nil && profile.EncodeSubject(sub) != a {
			t.Fatalf("DecodeSubject(%q) = %q, which encodes to %q", a, sub, profile.EncodeSubject(sub))
		}
	})
}

// hostileSubjects are subjects chosen to escape a place or to collide with
// another: traversal, separators, percent and other encodings, reference
// syntax, case, homoglyphs, invisible and control characters, the prefix
// itself, long and empty ones; over a hundred in all.
func hostileSubjects() []string {
	subs := []string{
		"alice", "bob", "Alice", "ALICE", "alice ", " alice", "alice\t", "alice\n", "alice\r\n",
		"", ".", "..", "...", "./alice", "../alice", "../../etc/passwd", "../x", "a/../b", "a/b", "/", "//", "/alice",
		`\`, `..\..\x`, `a\b`, "a/./b", "alice/", "alice/.", "alice/..",
		"%2e%2e", "%2E%2E", "%2e%2e%2f", "..%2f", "%2F", "%5C", "%00", "%252e%252e", "&#46;&#46;", "\\u002e\\u002e",
		"..\u2215x", "..\u2044x", "\uff0e\uff0e", "\uff0e\uff0e\uff0fx", "\u2024\u2024", "\uFE52\uFE52", "\u3002\u3002",
		"\u0430lice", "\u0391lice", "al\u0456ce", "alic\u0435", "ａｌｉｃｅ", "Ａlice", "alice\u0301", "ali\u0307ce",
		"\u200balice", "alice\u200b", "\u200dalice", "\u2060alice", "\ufeffalice", "\u202ealice", "\u2066alice\u2069", "alice\u00ad",
		"\x00", "alice\x00", "\x00alice", "alice\x00bob", "\x7f", "\x1b[31m", "\u0085", "\u2028", "\u2029",
		"\xff", "\xc0\xae\xc0\xae", "\xe0\x80\xae", "\xed\xa0\x80", "\xf4\x90\x80\x80", "alice\xff",
		"#", "?", ",", "*", ":", "a#b", "a?b", "a,b", "a*b", "a:b", "a=b&c=d", "{sub}", "{", "}", "$HOME", "${sub}", "~", "~alice", "~/x",
		"sub-alice", "sub-", "sub-_41lice", "_41lice", "alice_", "_", "-", "--", "-alice", "alice-", "a--b",
		"Alice@Example.COM", "alice@example.com", "auth0|64f1c2a9", "google-oauth2|1234", "00u1abcd2EfGh3iJ4x5", "CN=alice,O=org",
		"arn:aws:iam::123456789012:user/alice", "https://idp/alice", "alice.json", "alice.ini", "alice/token", "NUL", "CON", "aux.txt",
		"AKIAIOSFODNN7EXAMPLE", "q8xk2m4v9r1t7w3z5p0n6b2c",
		strings.Repeat("a", 255), strings.Repeat("A", 255), strings.Repeat(".", 255), strings.Repeat("../", 85),
		strings.Repeat("é", 127), strings.Repeat("\u200b", 85), strings.Repeat("a", 256), strings.Repeat("a", 4096),
	}
	return subs
}

func TestHostileSubjectsEncodeSafely(t *testing.T) {
	subs := hostileSubjects()
	require.GreaterOrEqual(t, len(subs), 100)
	seen := map[string]string{}
	for _, s := range subs {
		seg := profile.EncodeSubject(s)
		checkSegment(t, s, seg)
		folded := strings.ToLower(seg)
		if prev, ok := seen[folded]; ok && prev != s {
			t.Fatalf("%q and %q share a segment", prev, s)
		}
		seen[folded] = s
	}
}
