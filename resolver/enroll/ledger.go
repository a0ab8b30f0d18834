package enroll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mcpcred/mcpcred/provider"
)

// A Ledger records the tickets used, so that each link stores a
// credential once, whichever replica serves it.
type Ledger interface {
	// Claim records id as used until until (the ticket's expiry, after
	// which the record may be dropped). It returns an error wrapping
	// ErrReplayed if id was claimed before.
	Claim(ctx context.Context, id string, until time.Time) error
}

// LedgerFunc adapts a function to the [Ledger] interface.
type LedgerFunc func(ctx context.Context, id string, until time.Time) error

// Claim calls f(ctx, id, until).
func (f LedgerFunc) Claim(ctx context.Context, id string, until time.Time) error {
	return f(ctx, id, until)
}

// ErrReplayed is wrapped by a [Ledger]'s Claim of a ticket already used.
var ErrReplayed = errors.New("enroll: this link was already used")

// fieldUsedUntil is the one field of a ledger record.
const fieldUsedUntil = "used_until"

// StoreLedger is a [Ledger] in a store several replicas share: a claim is
// a create-only CompareAndSwap (nothing stored -> a marker) at the
// reference prefix + id, such as vault:secret/data/mcpcred/used/ followed
// by the ticket id (32 hex digits). The scheme must store
// (provider.Schemes.Store). Records are not removed: each holds its
// expiry (used_until), after which an operator's job may delete it; a
// deleted record of an expired ticket changes nothing, since an expired
// ticket is refused before it is claimed.
//
// Vault policy: create and read on the prefix's data path, such as
// path "secret/data/mcpcred/used/*" {capabilities = ["create", "read"]}.
// A claim opens a reference of its own in s; give StoreLedger a Schemes
// of its own so that claims do not push out the Targets a resolver keeps.
func StoreLedger(s *provider.Schemes, prefix string) Ledger {
	return LedgerFunc(func(ctx context.Context, id string, until time.Time) error {
		if !validID(id) {
			return errors.New("enroll: ledger: invalid ticket id")
		}
		st, _, err := s.Store(prefix + id)
		if err != nil {
			return fmt.Errorf("enroll: ledger: %w", err)
		}
		marker := provider.NewCredentials(map[string]string{fieldUsedUntil: until.UTC().Format(time.RFC3339)}, provider.Source{})
		err = st.CompareAndSwap(ctx, provider.DefaultProfile, provider.Credentials{}, marker)
		switch {
		case errors.Is(err, provider.ErrConflict):
			return ErrReplayed
		case err != nil:
			return fmt.Errorf("enroll: ledger: %w", err)
		}
		return nil
	})
}

func validID(id string) bool {
	return len(id) == 32 && strings.Trim(id, "0123456789abcdef") == ""
}

// MemoryLedger is a [Ledger] in this process's memory, for a server that
// runs as one replica. It forgets a claim once its until has passed.
func MemoryLedger() Ledger { return &memoryLedger{m: map[string]time.Time{}} }

type memoryLedger struct {
	mu   sync.Mutex
	m    map[string]time.Time
	next int // sweep when the map reaches this size
}

func (l *memoryLedger) Claim(_ context.Context, id string, until time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.m[id]; ok {
		return ErrReplayed
	}
	if len(l.m) >= l.next {
		now := time.Now()
		for k, u := range l.m {
			if now.After(u) {
				delete(l.m, k)
			}
		}
		l.next = max(64, 2*len(l.m))
	}
	l.m[id] = until
	return nil
}
