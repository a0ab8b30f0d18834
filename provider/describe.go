package provider

import (
	"fmt"
	"slices"
	"strings"
)

// Describe renders text that came from a request or from a file (a profile
// name, a reference, a field name, an INI key) for an error or a log record.
// A model may paste a secret where a name belongs, and a file may hold one on
// a line the parser misreads, so such text is never repeated unless it reads
// as a name: at most 32 bytes made of words (1 to 16 letters of one case,
// optionally followed by up to three digits) or numbers of up to four digits, joined by ".", "_" or
// "-", such as "production", "team-a", "us-east-1", "MCP_CI_TOKEN" or
// "prod2". That is quoted as Go would quote it. Anything else, including
// mixed-case or letter-and-digit runs such as tokens and hashes, is described
// by its length alone: "(a 40-byte value, not shown)".
//
// Every package of this module uses Describe for such text; providers written
// elsewhere should too.
func Describe(s string) string {
	if looksLikeName(s) {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("(a %d-byte value, not shown)", len(s))
}

// IsName reports whether [Describe] shows s as itself: text that reads as a
// short name, not as a token. Code that decides how to render request- or
// file-supplied text asks it rather than comparing Describe's output.
func IsName(s string) bool { return looksLikeName(s) }

// Label renders s as itself when it reads as a name ([IsName]) and
// otherwise as Describe's description: for log attributes, lists and
// labels, where Describe's quotes around a name are noise.
func Label(s string) string {
	if looksLikeName(s) {
		return s
	}
	return Describe(s)
}

// looksLikeName reports whether s is short and made of words and small
// numbers joined by separators: the shape of a name, not of a token.
func looksLikeName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] != '.' && s[j] != '_' && s[j] != '-' {
			j++
		}
		if !nameWord(s[i:j]) {
			return false
		}
		if j == len(s) {
			return true
		}
		i = j + 1
		if i == len(s) {
			return false // a trailing separator
		}
	}
	return false
}

// nameWord reports whether w is a word of one case with at most three
// trailing digits ("prod", "PROD", "prod2"), or a number of one to four
// digits.
func nameWord(w string) bool {
	if w == "" {
		return false
	}
	letters := 0
	for letters < len(w) && isLetter(w[letters]) {
		letters++
	}
	digits := len(w) - letters
	for k := letters; k < len(w); k++ {
		if w[k] < '0' || w[k] > '9' {
			return false
		}
	}
	if letters == 0 {
		return digits <= 4
	}
	if digits > 3 || letters > 16 {
		return false
	}
	lower, upper := false, false
	for k := 0; k < letters; k++ {
		if w[k] >= 'a' {
			lower = true
		} else {
			upper = true
		}
	}
	return !(lower && upper)
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// ScrubRef returns text with every piece of the reference ref that does not
// read as a name replaced, in any letter case, by its [Describe] rendering.
// Pieces are the parts of the reference between the separators
// / \ , : ? & = # and *. A provider opened from a reference names its
// locator (a path, a parameter, a variable) in its errors, and every piece of
// it came from the request: a resolver applies ScrubRef to what such a
// provider returns, in one place for every scheme, so that a secret pasted
// where a name belongs is never repeated.
func ScrubRef(ref, text string) string {
	for _, p := range refPieces(ref) {
		text = replaceFold(text, p, Describe(p))
	}
	return text
}

// refPieces returns the pieces of ref worth scrubbing, longest first.
func refPieces(ref string) []string {
	_, rest, _ := strings.Cut(ref, ":")
	var out []string
	for piece := range strings.FieldsFuncSeq(rest, func(r rune) bool { return strings.ContainsRune(`/\,:?&=#*`, r) }) {
		piece = strings.Trim(piece, "._-") // a prefix such as STAGING_ is a name
		if len(piece) >= 4 && !looksLikeName(piece) && !slices.Contains(out, piece) {
			out = append(out, piece)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// replaceFold replaces every occurrence of old in s, matched without regard
// to letter case, with new.
func replaceFold(s, old, new string) string {
	if old == "" || len(s) < len(old) {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i+len(old) <= len(s); {
		if strings.EqualFold(s[i:i+len(old)], old) {
			b.WriteString(s[last:i])
			b.WriteString(new)
			i += len(old)
			last = i
			continue
		}
		i++
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
