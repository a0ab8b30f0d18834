package enroll

import (
	"context"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
)

// maxIDs bounds the elicitation ids one watcher notifies: a client that
// asks again gets a new link, and the watcher of its session, caller and
// profile notifies the newest ones.
const maxIDs = 8

// maxPerCaller bounds the watchers of one caller (across its sessions and
// profiles), so that one user who opens many sessions cannot take every
// one of Options.MaxPending from the others.
const maxPerCaller = 8

type watchKey struct {
	ss      *mcp.ServerSession
	caller  string // provider.Caller.ID
	profile string
}

type watcher struct {
	key    watchKey
	caller *provider.Caller
	store  provider.Store
	poke   chan struct{} // buffered: check the store now

	// Guarded by registry.mu.
	ids []string
	exp time.Time
}

// registry holds the pending watchers of one Enroller.
type registry struct {
	max int

	mu       sync.Mutex
	closed   bool
	byKey    map[watchKey]*watcher
	byCaller map[string]int                         // watchers per caller ID
	sessions map[*mcp.ServerSession]context.Context // done when the session closes
	ctx      context.Context                        // done on Close
	cancel   context.CancelFunc
}

func newRegistry(max int) *registry {
	ctx, cancel := context.WithCancel(context.Background())
	return &registry{max: max, byKey: map[watchKey]*watcher{}, byCaller: map[string]int{}, sessions: map[*mcp.ServerSession]context.Context{}, ctx: ctx, cancel: cancel}
}

// start watches t's store for ss, or adds t's id to the watcher already
// there. It reports false when no watcher will notify t's completion.
func (r *registry) start(e *Enroller, ss *mcp.ServerSession, t *ticket, st provider.Store) bool {
	c := t.caller()
	k := watchKey{ss: ss, caller: c.ID(), profile: t.Profile}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if w, ok := r.byKey[k]; ok {
		w.ids = append(w.ids, t.ID)
		if len(w.ids) > maxIDs {
			w.ids = w.ids[len(w.ids)-maxIDs:]
		}
		w.exp = t.exp
		return true
	}
	if len(r.byKey) >= r.max || r.byCaller[k.caller] >= maxPerCaller {
		return false
	}
	sctx, ok := r.sessions[ss]
	if !ok {
		var cancel context.CancelFunc
		sctx, cancel = context.WithCancel(r.ctx)
		r.sessions[ss] = sctx
		go func() {
			select {
			case <-waitDone(ss):
			case <-r.ctx.Done():
			}
			cancel()
			r.mu.Lock()
			delete(r.sessions, ss)
			r.mu.Unlock()
		}()
	}
	w := &watcher{key: k, caller: c, store: st, poke: make(chan struct{}, 1), ids: []string{t.ID}, exp: t.exp}
	r.byKey[k] = w
	r.byCaller[k.caller]++
	go r.run(e, sctx, w)
	return true
}

// waitDone is closed when ss's connection closes. The goroutine behind it
// lives as long as the session.
func waitDone(ss *mcp.ServerSession) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		ss.Wait()
		close(ch)
	}()
	return ch
}

// run polls w's store until the credential is there, w's last link
// expires, or ctx (the session, or the Enroller) ends.
func (r *registry) run(e *Enroller, ctx context.Context, w *watcher) {
	defer func() {
		r.mu.Lock()
		r.remove(w)
		r.mu.Unlock()
	}()
	tick := time.NewTicker(e.opts.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-w.poke:
		}
		r.mu.Lock()
		exp := w.exp
		r.mu.Unlock()
		if !e.opts.Now().Before(exp) {
			e.event(ctx, "watch", w.key.profile, "", w.caller, "expired")
			return
		}
		pctx, cancel := context.WithTimeout(provider.ContextWithCaller(ctx, w.caller), 30*time.Second)
		c, err := w.store.Retrieve(pctx, w.key.profile)
		cancel()
		if err != nil || c.IsZero() {
			continue
		}
		e.invalidate(w.caller, w.key.profile)
		r.mu.Lock()
		ids := append([]string(nil), w.ids...)
		r.remove(w)
		r.mu.Unlock()
		for _, id := range ids {
			nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			w.key.ss.NotifyElicitationComplete(nctx, &mcp.ElicitationCompleteParams{ElicitationID: id})
			cancel()
		}
		e.event(ctx, "watch", w.key.profile, ids[len(ids)-1][:8], w.caller, "completed")
		return
	}
}

// remove drops w if it is still registered. r.mu is held.
func (r *registry) remove(w *watcher) {
	if r.byKey[w.key] != w {
		return
	}
	delete(r.byKey, w.key)
	if r.byCaller[w.key.caller]--; r.byCaller[w.key.caller] <= 0 {
		delete(r.byCaller, w.key.caller)
	}
}

// signal makes the local watchers of caller and profile check the store
// at once: this replica just stored their credential.
func (r *registry) signal(caller *provider.Caller, profile string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, w := range r.byKey {
		if k.caller == caller.ID() && k.profile == profile {
			select {
			case w.poke <- struct{}{}:
			default:
			}
		}
	}
}

// pending is the number of watchers.
func (r *registry) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byKey)
}

func (r *registry) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
}
