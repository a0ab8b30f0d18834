package enroll

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
)

// TestLedgers: of many concurrent claims of one id, across two replicas of
// a StoreLedger over one store, exactly one succeeds; the rest are
// ErrReplayed.
func TestLedgers(t *testing.T) {
	ms := newMapStore()
	var a, b provider.Schemes
	a.Register("mem", ms.scheme())
	b.Register("mem", ms.scheme())
	for name, ls := range map[string][]Ledger{
		"store":  {StoreLedger(&a, "mem:mcpcred/used/"), StoreLedger(&b, "mem:mcpcred/used/")},
		"memory": {MemoryLedger()},
	} {
		const id = "0123456789abcdef0123456789abcdef"
		var ok, replayed atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				err := ls[i%len(ls)].Claim(context.Background(), id, time.Now().Add(time.Minute))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrReplayed):
					replayed.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), ok.Load(), name)
		assert.Equal(t, int32(15), replayed.Load(), name)
	}
	assert.True(t, ms.get("mcpcred/used/0123456789abcdef0123456789abcdef").Has(fieldUsedUntil))
	require.Error(t, StoreLedger(&a, "mem:x/").Claim(context.Background(), "../escape", time.Now()))
}
