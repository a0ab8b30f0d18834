package resolver

import (
	"sync"
	"sync/atomic"
)

// cache holds one entry per profile and per reference. Reads take no lock
// and make no allocation (sync.Map's hash trie); an insert touches only its
// own path of the trie, so filling many keys never copies the map.
// Invalidation removes entries: a walk that was in flight for a removed
// entry still answers the callers that were waiting on it, but stores into
// an entry nobody can find any more, so no caller that starts after the
// invalidation returned sees its answer.
type cache struct {
	def      atomic.Pointer[entry] // the default profile's entry, skipping the map
	defName  string
	profiles sync.Map // string -> *entry
	refs     sync.Map // string -> *entry

	nProfiles atomic.Int64
	nRefs     atomic.Int64
	maxProf   int64
	maxRefs   int64
}

// load returns k's entry, or nil.
func (c *cache) load(k key) *entry {
	if !k.ref && k.name == c.defName {
		return c.def.Load()
	}
	m := &c.profiles
	if k.ref {
		m = &c.refs
	}
	if v, ok := m.Load(k.name); ok {
		return v.(*entry)
	}
	return nil
}

// loadOrCreate returns k's entry, creating it if there is room. It returns
// a fresh entry that is not in the cache when the bound on entries is
// reached: such a key is resolved without caching.
func (c *cache) loadOrCreate(k key) (e *entry, cached bool) {
	if e := c.load(k); e != nil {
		return e, true
	}
	fresh := &entry{}
	if !k.ref && k.name == c.defName {
		if c.def.CompareAndSwap(nil, fresh) {
			return fresh, true
		}
		if e := c.def.Load(); e != nil {
			return e, true
		}
		return fresh, false // invalidated meanwhile: resolve this call uncached
	}
	m, n, limit := &c.profiles, &c.nProfiles, c.maxProf
	if k.ref {
		m, n, limit = &c.refs, &c.nRefs, c.maxRefs
	}
	if n.Load() >= limit {
		if v, ok := m.Load(k.name); ok {
			return v.(*entry), true
		}
		return fresh, false
	}
	v, loaded := m.LoadOrStore(k.name, fresh)
	if !loaded {
		n.Add(1)
	}
	return v.(*entry), true
}

// current reports whether e is still k's entry (not removed by an
// invalidation since it was loaded).
func (c *cache) current(k key, e *entry) bool { return c.load(k) == e }

// remove drops k's entry.
func (c *cache) remove(k key) {
	if !k.ref && k.name == c.defName {
		c.def.Store(nil)
		return
	}
	m, n := &c.profiles, &c.nProfiles
	if k.ref {
		m, n = &c.refs, &c.nRefs
	}
	if _, ok := m.LoadAndDelete(k.name); ok {
		n.Add(-1)
	}
}

// clear drops every entry.
func (c *cache) clear() {
	c.def.Store(nil)
	c.profiles.Clear()
	c.refs.Clear()
	c.nProfiles.Store(0)
	c.nRefs.Store(0)
}

// MaxCachedReferences bounds the references (Request.CredentialID) kept in
// the cache. References come from requests, and a broad AllowReferences
// pattern admits many distinct ones; past the bound they are resolved
// without caching.
const MaxCachedReferences = 256
