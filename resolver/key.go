package resolver

import (
	"fmt"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
)

// key names a cache entry: a profile, or a credential reference in
// canonical form. The two live in separate maps, so no profile name can
// ever stand for a reference.
type key struct {
	ref    bool
	name   string
	caller string // provider.Caller.ID(); "" without a verified caller
}

func profileKey(name string) key  { return key{name: name} }
func refKey(canonical string) key { return key{ref: true, name: canonical} }

// mapKey is k's key within its map: the name alone, or for a verified
// caller its ID and the name joined by a control byte, which neither holds,
// so no caller's key is ever another's.
func (k key) mapKey() string {
	if k.caller == "" {
		return k.name
	}
	return k.caller + "\x01" + k.name
}

// String names the key in messages and logs. Both kinds may have come from
// a request, so they go through provider.Describe, never quoted whole: a
// profile as `profile "prod"`, a reference by its scheme and length.
func (k key) String() string {
	s := "profile " + provider.Describe(k.name)
	if k.ref {
		s = describeRef(k.name)
	}
	if k.caller != "" {
		s += " for a verified caller"
	}
	return s
}

// profile is the profile the chain is asked for.
func (k key) profile() string {
	if k.ref {
		return provider.DefaultProfile
	}
	return k.name
}

// describeRef names a reference by its scheme and length.
func describeRef(ref string) string {
	scheme, _, _ := strings.Cut(ref, ":")
	return fmt.Sprintf("a %d-byte %s: reference", len(ref), provider.Describe(scheme))
}
