// Package static is a [provider.Provider] that returns fixed values: for
// tests, and for programs that wire credentials in code.
//
// # Usage
//
// [New] takes one set of fields and answers [provider.DefaultProfile] with
// them; [Options.Profiles] names other profiles that get the same fields and
// [Options.AllProfiles] makes it answer every profile. [NewProfiles] takes a
// map from profile name to fields and answers exactly those profiles. Any
// profile the provider does not answer gets an error wrapping
// [provider.ErrNotFound], so a resolver moves on to its next provider.
//
// # Immutability
//
// New and NewProfiles copy their input: changing the caller's maps
// afterwards changes nothing. Empty values are dropped, as everywhere in
// mcpcred; a profile whose fields are all empty is not answered.
//
// # Expiry
//
// [Options.Expires] sets the expiry of every result, which lets tests of a
// caching resolver exercise expiry; [Options.Now] sets the clock that stamps
// FetchedAt.
//
// # Context
//
// Retrieve does no I/O, but it honours its context: a done context yields an
// error wrapping ctx.Err(), like every other provider.
package static
