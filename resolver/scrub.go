package resolver

import "github.com/mcpcred/mcpcred/provider"

// scrubber removes from text the pieces of a request's reference that do
// not read as names (provider.ScrubRef). A provider opened from a reference
// names its locator (a Vault path, an SSM parameter, a variable) in its
// errors, and every piece of that came from the request: the resolver
// scrubs them here, in one place, for every scheme, ours or anyone's.
type scrubber struct{ ref string }

// newScrubber returns the scrubber for a canonical reference.
func newScrubber(ref string) *scrubber { return &scrubber{ref: ref} }

// apply returns text scrubbed; a nil scrubber returns it as it is.
func (s *scrubber) apply(text string) string {
	if s == nil {
		return text
	}
	return provider.ScrubRef(s.ref, text)
}

// error wraps err so that its text is scrubbed; errors.Is and errors.As
// still see err.
func (s *scrubber) error(err error) error {
	if err == nil || s == nil {
		return err
	}
	return &scrubbedError{err: err, s: s}
}

type scrubbedError struct {
	err error
	s   *scrubber
}

func (e *scrubbedError) Error() string { return e.s.apply(e.err.Error()) }
func (e *scrubbedError) Unwrap() error { return e.err }
