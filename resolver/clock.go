package resolver

import (
	"sync/atomic"
	"time"
)

// coarseClock is a clock that the hit path reads with one atomic load: a
// ticker stores the time every tick while the resolver is in use and stops
// after a second idle. It may lag when the ticker is starved of CPU, so it
// only ever decides soft deadlines (the refresh time of a value without its
// own expiry); a value with a hard deadline (its Expires) is checked against
// the precise clock on every hit.
type coarseClock struct {
	now     func() time.Time
	coarse  atomic.Int64 // unix nanoseconds; 0 when not ticking
	ticking atomic.Bool
	used    atomic.Bool
}

// tick is the coarse clock's period. A hit is served only while
// coarse+2*tick is before the refresh time.
const (
	tick      = 10 * time.Millisecond
	idleTicks = 100 // stop ticking after a second without a Resolve
)

// load returns a time not before the last tick plus two periods, or
// MaxInt64 when the clock is not ticking (so the caller takes the slow
// path and starts it).
func (c *coarseClock) load() int64 {
	if !c.used.Load() {
		c.used.Store(true)
	}
	v := c.coarse.Load()
	if v == 0 {
		return 1<<63 - 1
	}
	return v + int64(2*tick)
}

// start starts the ticker if it is not running.
func (c *coarseClock) start(now int64) {
	if !c.ticking.CompareAndSwap(false, true) {
		return
	}
	c.coarse.Store(now)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		idle := 0
		for range t.C {
			c.coarse.Store(c.now().UnixNano())
			if c.used.Swap(false) {
				idle = 0
			} else if idle++; idle >= idleTicks {
				c.coarse.Store(0)
				c.ticking.Store(false)
				return
			}
		}
	}()
}
