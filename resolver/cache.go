package resolver

import (
	"sync"
	"sync/atomic"
)

// cache holds one entry per profile and per reference. Reads take no lock
// and make no allocation (an atomic load, then sync.Map's hash trie); an
// insert touches only its own path of the trie, so filling many keys never
// copies the map.
// Invalidation removes entries: a walk that was in flight for a removed
// entry still answers the callers that were waiting on it, but stores into
// an entry nobody can find any more, so no caller that starts after the
// invalidation returned sees its answer.
type cache struct {
	def      atomic.Pointer[entry] // the default profile's entry, skipping the map
	defName  string
	profiles atomic.Pointer[store]
	refs     atomic.Pointer[store]
	maxProf  int64
	maxRefs  int64
}

// store is one map of entries with its count. Clearing the cache swaps in
// new stores, so a count never drifts from its map.
type store struct {
	m sync.Map // string -> *entry
	n atomic.Int64
}

func (c *cache) init() {
	c.profiles.Store(new(store))
	c.refs.Store(new(store))
}

// storeFor returns the store of k's kind and its bound.
func (c *cache) storeFor(k key) (*store, int64) {
	if k.ref {
		return c.refs.Load(), c.maxRefs
	}
	return c.profiles.Load(), c.maxProf
}

// load returns k's entry, or nil.
func (c *cache) load(k key) *entry {
	if !k.ref && k.caller == "" && k.name == c.defName {
		return c.def.Load()
	}
	st, _ := c.storeFor(k)
	if v, ok := st.m.Load(k.mapKey()); ok {
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
	if !k.ref && k.caller == "" && k.name == c.defName {
		if c.def.CompareAndSwap(nil, fresh) {
			return fresh, true
		}
		if e := c.def.Load(); e != nil {
			return e, true
		}
		return fresh, false // invalidated meanwhile: resolve this call uncached
	}
	st, limit := c.storeFor(k)
	if st.n.Load() >= limit {
		if v, ok := st.m.Load(k.mapKey()); ok {
			return v.(*entry), true
		}
		return fresh, false
	}
	v, loaded := st.m.LoadOrStore(k.mapKey(), fresh)
	if !loaded {
		st.n.Add(1)
	}
	return v.(*entry), true
}

// current reports whether e is still k's entry (not removed by an
// invalidation since it was loaded).
func (c *cache) current(k key, e *entry) bool { return c.load(k) == e }

// remove drops k's entry.
func (c *cache) remove(k key) {
	if !k.ref && k.caller == "" && k.name == c.defName {
		c.def.Store(nil)
		return
	}
	st, _ := c.storeFor(k)
	if _, ok := st.m.LoadAndDelete(k.mapKey()); ok {
		st.n.Add(-1)
	}
}

// clear drops every entry.
func (c *cache) clear() {
	c.def.Store(nil)
	c.profiles.Store(new(store))
	c.refs.Store(new(store))
}

// MaxCachedReferences bounds the references (Request.CredentialID) kept in
// the cache. References come from requests, and a broad AllowReferences
// pattern admits many distinct ones; past the bound they are resolved
// without caching.
const MaxCachedReferences = 256
