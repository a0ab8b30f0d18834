package keychain

// Limiter bounds the keyring calls in flight, counting calls stuck in the OS
// keyring library after their caller gave up (see "Deadlines" in the package
// doc). The bound is the Limiter's, not a Provider's: every Provider given
// the same Limiter (Options.Limiter) shares it. A [Scheme] gives one Limiter
// to every Provider it builds, whatever references arrive; a program that
// also builds Providers with [New] over the same keyring can pass them the
// Scheme's Limiter too, so that one bound holds for the whole process.
//
// A Limiter is safe for concurrent use. Its zero value is not usable; call
// [NewLimiter].
type Limiter struct {
	slots chan struct{}
}

// NewLimiter returns a Limiter that lets at most n keyring calls run at
// once; n < 1 means [DefaultMaxInFlight].
func NewLimiter(n int) *Limiter {
	if n < 1 {
		n = DefaultMaxInFlight
	}
	return &Limiter{slots: make(chan struct{}, n)}
}

// Limit returns the most keyring calls that may run at once.
func (l *Limiter) Limit() int { return cap(l.slots) }

// InFlight returns how many keyring calls are running now, including calls
// whose caller has given up.
func (l *Limiter) InFlight() int { return len(l.slots) }
