package resolver

import (
	"cmp"
	"slices"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
)

// scrubber removes from text the pieces of a request's reference that do
// not read as names, replacing each with its provider.Describe rendering.
// A provider opened from a reference names its locator (a Vault path, an SSM
// parameter, a variable) in its errors, and every piece of that came from
// the request: the resolver scrubs them here, in one place, for every
// scheme, ours or anyone's.
type scrubber []string

// minScrub is the shortest piece worth scrubbing.
const minScrub = 4

// newScrubber returns the scrubber for a canonical reference: its pieces
// between separators that provider.Describe would not show, longest first.
func newScrubber(ref string) scrubber {
	_, rest, _ := strings.Cut(ref, ":")
	var s scrubber
	for piece := range strings.FieldsFuncSeq(rest, func(r rune) bool { return strings.ContainsRune("/,?&=#:", r) }) {
		if len(piece) >= minScrub && strings.HasPrefix(provider.Describe(piece), "(") && !slices.Contains(s, piece) {
			s = append(s, piece)
		}
	}
	slices.SortFunc(s, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return s
}

// apply returns text with every piece replaced.
func (s scrubber) apply(text string) string {
	for _, p := range s {
		if strings.Contains(text, p) {
			text = strings.ReplaceAll(text, p, provider.Describe(p))
		}
	}
	return text
}

// error wraps err so that its text is scrubbed; errors.Is and errors.As
// still see err.
func (s scrubber) error(err error) error {
	if err == nil || len(s) == 0 {
		return err
	}
	return &scrubbedError{err: err, s: s}
}

type scrubbedError struct {
	err error
	s   scrubber
}

func (e *scrubbedError) Error() string { return e.s.apply(e.err.Error()) }
func (e *scrubbedError) Unwrap() error { return e.err }
