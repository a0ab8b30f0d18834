package provider

import "fmt"

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
