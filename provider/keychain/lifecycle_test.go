package keychain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/mcpcred/mcpcred/provider"
)

// TestSchemeBoundHoldsAcrossProviders: a Scheme builds a Provider per
// service prefix and forgets them past a few; however many prefixes,
// profiles and fields the references name, the keyring calls in flight on
// a keyring that never answers stay within MaxInFlight.
func TestSchemeBoundHoldsAcrossProviders(t *testing.T) {
	kr := &blockingKeyring{release: make(chan struct{})}
	t.Cleanup(func() { close(kr.release) })
	const bound = 2
	sc := Scheme(func(o *Options) {
		o.Keyring = kr
		o.MaxInFlight = bound
		o.Timeout = 50 * time.Millisecond
	})
	var refs []string
	for i := range 40 {
		for j := range 3 {
			for _, field := range []string{"", "#token"} {
				refs = append(refs, fmt.Sprintf("keychain:svc%d/p%d%s", i, j, field), fmt.Sprintf("keychain:p%d-%d%s", i, j, field))
			}
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, ref := range refs {
		p := schemeProvider(t, sc, ref)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, errs[i] = p.Retrieve(ctx, provider.DefaultProfile)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("%v: %v, want unavailable", refs[i], err)
		}
	}
	// A Provider built after the stuck ones, for a prefix never seen, is
	// unavailable without starting another call.
	started := kr.calls.Load()
	p := schemeProvider(t, sc, "keychain:fresh/p")
	if _, err := p.Retrieve(context.Background(), provider.DefaultProfile); !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("new prefix with every slot stuck: %v, want unavailable", err)
	}
	if n := kr.calls.Load(); n != started {
		t.Errorf("a new prefix started %d more keyring calls with every slot stuck", n-started)
	}
	if m, n := kr.max.Load(), kr.running.Load(); m > bound || n > bound {
		t.Fatalf("%d keyring calls ran at once (%d stuck now) across %d references, want at most MaxInFlight=%d", m, n, len(refs), bound)
	}
	t.Logf("%d references, %d keyring calls started, at most %d at once", len(refs), kr.calls.Load(), kr.max.Load())
}

// schemeProvider returns the Provider sc builds for the reference ref. It is
// the one place these tests meet the reference grammar.
func schemeProvider(t testing.TB, sc provider.Scheme, ref string) provider.Provider {
	t.Helper()
	r, err := provider.ParseRef(ref)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	tg, err := sc.Open(r)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return tg.Provider
}

// dupKeyring behaves as go-keyring over the Secret Service does: several
// items can match one (service, account) (made by hand with extra
// attributes), Get returns the first, Delete removes only the first, and
// DeleteAll removes every item of a service.
type dupKeyring struct {
	mu    sync.Mutex
	items []dupItem
}

type dupItem struct{ service, account, value string }

func (k *dupKeyring) find(s, a string) int {
	return slices.IndexFunc(k.items, func(it dupItem) bool { return it.service == s && it.account == a })
}

func (k *dupKeyring) Get(s, a string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i := k.find(s, a); i >= 0 {
		return k.items[i].value, nil
	}
	return "", keyring.ErrNotFound
}

func (k *dupKeyring) Set(s, a, v string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i := k.find(s, a); i >= 0 {
		k.items[i].value = v
		return nil
	}
	k.items = append(k.items, dupItem{s, a, v})
	return nil
}

// handMade adds an item even if one with the same names exists.
func (k *dupKeyring) handMade(s, a, v string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.items = append(k.items, dupItem{s, a, v})
}

func (k *dupKeyring) Delete(s, a string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i := k.find(s, a); i >= 0 {
		k.items = slices.Delete(k.items, i, i+1)
		return nil
	}
	return keyring.ErrNotFound
}

func (k *dupKeyring) DeleteAll(s string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.items = slices.DeleteFunc(k.items, func(it dupItem) bool { return it.service == s })
	return nil
}

// basicKeyring hides DeleteAll: a keyring with only Get, Set and Delete.
type basicKeyring struct{ Keyring }

// liar says it deleted an item it keeps.
type liar struct {
	*dupKeyring
	keep string
}

func (l liar) Delete(s, a string) error {
	if a == l.keep {
		return nil
	}
	return l.dupKeyring.Delete(s, a)
}

// gone fails the test if anything of profile still resolves, whole or as
// any of the #FIELD references given.
func gone(t *testing.T, kr Keyring, profile string, fields ...string) {
	t.Helper()
	sc := Scheme(func(o *Options) { o.Keyring = kr })
	refs := []string{"keychain:" + profile}
	for _, f := range fields {
		refs = append(refs, "keychain:"+profile+"#"+f)
	}
	for _, ref := range refs {
		if c, err := schemeProvider(t, sc, ref).Retrieve(context.Background(), provider.DefaultProfile); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("after Delete, %s resolves: %v fields, %v", ref, c.Names(), err)
		}
	}
	if _, err := New(func(o *Options) { o.Keyring = kr }).Retrieve(context.Background(), profile); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("after Delete, Retrieve(%q): %v, want not found", profile, err)
	}
}

// TestDeleteLeavesNothing: after Delete returns nil, nothing of the profile
// resolves, whatever its index says and however many items share a name.
func TestDeleteLeavesNothing(t *testing.T) {
	ctx := context.Background()
	const svc = "mcpcred:p"
	tests := []struct {
		name   string
		basic  bool                                           // keyring without DeleteAll
		fields []string                                       // Options.Fields of the deleting Provider; nil: default
		setup  func(t *testing.T, p *Provider, k *dupKeyring) // makes profile "p"
		probe  []string                                       // #FIELD references that must not resolve
	}{
		{"unlisted default field reappears once the index goes", false, nil, func(t *testing.T, p *Provider, k *dupKeyring) {
			store(t, p, "p", map[string]string{"token": "stored"})
			k.handMade(svc, provider.FieldAccessKeyID, "hand-made")
		}, []string{"token", provider.FieldAccessKeyID}},
		{"same, keyring without DeleteAll", true, nil, func(t *testing.T, p *Provider, k *dupKeyring) {
			store(t, p, "p", map[string]string{"token": "stored"})
			k.handMade(svc, provider.FieldAccessKeyID, "hand-made")
		}, []string{"token", provider.FieldAccessKeyID}},
		{"default fields probed even with other Options.Fields", true, []string{"api_key"}, func(t *testing.T, p *Provider, k *dupKeyring) {
			store(t, p, "p", map[string]string{"api_key": "stored"})
			k.handMade(svc, provider.FieldPassword, "hand-made")
		}, []string{"api_key", provider.FieldPassword}},
		{"duplicate items of one field, no index", true, nil, func(t *testing.T, p *Provider, k *dupKeyring) {
			k.handMade(svc, "token", "first")
			k.handMade(svc, "token", "second")
			k.handMade(svc, "token", "third")
		}, []string{"token"}},
		{"duplicate items of an indexed field", false, nil, func(t *testing.T, p *Provider, k *dupKeyring) {
			store(t, p, "p", map[string]string{"token": "stored", "region": "eu-west-1"})
			k.handMade(svc, "token", "old")
		}, []string{"token", "region"}},
		{"duplicate index items", true, nil, func(t *testing.T, p *Provider, k *dupKeyring) {
			store(t, p, "p", map[string]string{"github_pat": "stored"})
			k.handMade(svc, FieldsAccount, encodeFieldIndex([]string{"github_pat"}))
		}, []string{"github_pat"}},
		{"corrupt index", true, nil, func(t *testing.T, p *Provider, k *dupKeyring) {
			k.handMade(svc, FieldsAccount, "not an index")
			k.handMade(svc, "token", "hand-made")
		}, []string{"token"}},
		{"unlisted item under another name", false, nil, func(t *testing.T, p *Provider, k *dupKeyring) {
			store(t, p, "p", map[string]string{"token": "stored"})
			k.handMade(svc, "github_pat", "hand-made")
		}, []string{"token", "github_pat"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &dupKeyring{}
			var kr Keyring = k
			if tt.basic {
				kr = basicKeyring{k}
			}
			p := New(func(o *Options) { o.Keyring = kr; o.Fields = tt.fields })
			tt.setup(t, p, k)
			k.handMade("mcpcred:other", "token", "other profile")
			if err := p.Delete(ctx, "p"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			gone(t, kr, "p", tt.probe...)
			if v, err := k.Get("mcpcred:other", "token"); err != nil || v != "other profile" {
				t.Errorf("another profile's item was touched: %v", err)
			}
			if list, _ := p.Profiles(ctx); slices.Contains(list, "p") {
				t.Errorf("deleted profile still listed: %v", list)
			}
			if err := p.DeleteFields(ctx, "p"); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("second DeleteFields: %v, want not found", err)
			}
			if err := p.Delete(ctx, "p"); err != nil {
				t.Errorf("second Delete: %v, want nil (nothing stored is not an error)", err)
			}
		})
	}
}

// TestDeleteFieldsLeavesNothing: deleting named fields removes every item
// of those names, and leaves the rest of the profile as it was.
func TestDeleteFieldsLeavesNothing(t *testing.T) {
	ctx := context.Background()
	const svc = "mcpcred:p"
	k := &dupKeyring{}
	p := New(func(o *Options) { o.Keyring = basicKeyring{k} })
	store(t, p, "p", map[string]string{"token": "stored", "region": "eu-west-1"})
	k.handMade(svc, "token", "old")
	k.handMade(svc, "github_pat", "unlisted")
	if err := p.DeleteFields(ctx, "p", "token", "github_pat"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"token", "github_pat"} {
		if _, err := k.Get(svc, f); !errors.Is(err, keyring.ErrNotFound) {
			t.Errorf("field %s still there: %v", f, err)
		}
	}
	c, err := p.Retrieve(ctx, "p")
	if err != nil || c.Len() != 1 || c.Value("region") != "eu-west-1" {
		t.Fatalf("after deleting fields: %v, %v; want region only", c.Names(), err)
	}

	// Deleting the last listed field must not bring forward an item the
	// index kept out of the profile.
	k.handMade(svc, provider.FieldAccessKeyID, "hidden")
	if err := p.DeleteFields(ctx, "p", "region"); err != nil {
		t.Fatal(err)
	}
	if c, err := p.Retrieve(ctx, "p"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after deleting the last field: %v, %v; want not found", c.Names(), err)
	}
	if list, _ := p.Profiles(ctx); slices.Contains(list, "p") {
		t.Errorf("emptied profile still listed: %v", list)
	}
}

// TestDeleteVerifies: a keyring that reports success but keeps the item
// makes Delete fail.
func TestDeleteVerifies(t *testing.T) {
	ctx := context.Background()
	k := &dupKeyring{}
	kr := basicKeyring{liar{k, "token"}}
	p := New(func(o *Options) { o.Keyring = kr })
	store(t, p, "p", map[string]string{"token": canary, "region": "eu-west-1"})
	err := p.Delete(ctx, "p")
	if err == nil || !errors.Is(err, ErrNotDeleted) || errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("Delete on a keyring that keeps the item: %v, want ErrNotDeleted", err)
	}
	if err := p.DeleteFields(ctx, "p", "token"); !errors.Is(err, ErrNotDeleted) {
		t.Fatalf("Delete of the field: %v, want ErrNotDeleted", err)
	}
	t.Logf("%v", err)
}

// TestLimiterSharedWithNew: a Provider from New given the Scheme's Limiter
// shares the bound with every Provider the Scheme builds.
func TestLimiterSharedWithNew(t *testing.T) {
	kr := &blockingKeyring{release: make(chan struct{})}
	t.Cleanup(func() { close(kr.release) })
	lim := NewLimiter(3)
	opts := func(o *Options) {
		o.Keyring = kr
		o.Limiter = lim
		o.MaxInFlight = 100 // ignored: the Limiter decides
		o.Timeout = 50 * time.Millisecond
	}
	sc := Scheme(opts)
	var ps []provider.Provider
	for i := range 10 {
		ps = append(ps, schemeProvider(t, sc, fmt.Sprintf("keychain:s%d/p", i)), New(opts))
	}
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if _, err := p.Retrieve(ctx, fmt.Sprintf("p%d", i)); !errors.Is(err, provider.ErrUnavailable) {
				t.Errorf("provider %d: %v, want unavailable", i, err)
			}
		})
	}
	wg.Wait()
	if m := kr.max.Load(); m > 3 || lim.InFlight() > 3 || lim.Limit() != 3 {
		t.Fatalf("%d calls at once, %d in flight, limit %d; want at most 3", m, lim.InFlight(), lim.Limit())
	}
}
