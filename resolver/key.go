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
	ref  bool
	name string
}

func profileKey(name string) key  { return key{name: name} }
func refKey(canonical string) key { return key{ref: true, name: canonical} }

// String names the key in messages and logs. Both kinds may have come from
// a request, so they go through provider.Describe, never quoted whole: a
// profile as `profile "prod"`, a reference by its scheme and length.
func (k key) String() string {
	if k.ref {
		return describeRef(k.name)
	}
	return "profile " + provider.Describe(k.name)
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
