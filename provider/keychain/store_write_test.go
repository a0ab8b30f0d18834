package keychain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/mcpcred/mcpcred/provider"
)

func creds(kv ...string) provider.Credentials {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return provider.NewCredentials(m, provider.Source{})
}

// errLog collects errors and fails the test if any quotes a secret.
type errLog struct {
	t       *testing.T
	secrets []string
}

func (l errLog) check(err error) error {
	l.t.Helper()
	if err != nil {
		for _, s := range l.secrets {
			if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%#v", err), s) {
				l.t.Fatalf("error holds a secret: %v", err)
			}
		}
	}
	return err
}

// testStoreContract runs the provider.Store contract against the Provider
// and the Scheme's Targets over kr (nil: the OS keychain).
func testStoreContract(t *testing.T, kr Keyring, profile string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opt := func(o *Options) {
		if kr != nil {
			o.Keyring = kr
		}
	}
	p := New(opt)
	get := New(opt).kr.Get
	service := p.ServiceName(profile)
	const canary2 = "CANARY-SECOND-0ff1ce"
	el := errLog{t, []string{canary, canary2, "AKIAPUTEXAMPLE"}}
	t.Cleanup(func() { p.Delete(context.Background(), profile) })

	want := func(what string, st provider.Provider, c provider.Credentials) {
		t.Helper()
		got, err := st.Retrieve(ctx, profile)
		if el.check(err) != nil || !got.Equal(c) {
			t.Fatalf("%s: Retrieve = %v, %v; want %v", what, got, err, c)
		}
	}
	// Put replaces: fields the new credentials lack are gone, items too.
	first := creds("token", canary, "region", "eu-west-1", "access_key_id", "AKIAPUTEXAMPLE")
	if err := el.check(p.Put(ctx, profile, first)); err != nil {
		t.Fatal(err)
	}
	want("after Put", p, first)
	second := creds("token", canary2)
	if err := el.check(p.Put(ctx, profile, second)); err != nil {
		t.Fatal(err)
	}
	want("after the second Put", p, second)
	for _, f := range []string{"region", "access_key_id"} {
		if _, err := get(service, f); !errors.Is(err, keyring.ErrNotFound) {
			t.Errorf("item %s left after Put replaced the profile: %v", f, err)
		}
	}

	// CompareAndSwap: a stale old, a zero old over something stored.
	for _, old := range []provider.Credentials{first, {}, creds("token", canary)} {
		err := el.check(p.CompareAndSwap(ctx, profile, old, creds("token", "lost")))
		if !errors.Is(err, provider.ErrConflict) {
			t.Fatalf("CompareAndSwap from %v: %v, want ErrConflict", old, err)
		}
	}
	want("after refused swaps", p, second)
	third := creds("token", "third", "refresh_token", canary)
	if err := el.check(p.CompareAndSwap(ctx, profile, second, third)); err != nil {
		t.Fatalf("CompareAndSwap from the current value: %v", err)
	}
	want("after a swap", p, third)

	// Delete: gone, and again is fine; then create-only succeeds once.
	if err := el.check(p.Delete(ctx, profile)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Retrieve(ctx, profile); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after Delete: %v, want not found", err)
	}
	if err := el.check(p.Delete(ctx, profile)); err != nil {
		t.Fatalf("second Delete: %v, want nil", err)
	}
	if err := el.check(p.CompareAndSwap(ctx, profile, provider.Credentials{}, second)); err != nil {
		t.Fatalf("create-only CompareAndSwap: %v", err)
	}
	if err := el.check(p.CompareAndSwap(ctx, profile, provider.Credentials{}, third)); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("second create-only CompareAndSwap: %v, want ErrConflict", err)
	}
	want("after create-only", p, second)

	// Refused before anything is written.
	for name, tc := range map[string]struct {
		profile string
		c       provider.Credentials
		want    error
	}{
		"no fields":      {profile, provider.Credentials{}, ErrEmptyValue},
		"too large":      {profile, creds("token", canary+strings.Repeat("x", MaxValueBytes)), ErrTooLarge},
		"bad field":      {profile, creds("_fields", canary), ErrInvalidName},
		"bad profile":    {"a:" + profile, creds("token", canary), ErrInvalidName},
		"space profile":  {"a " + profile, creds("token", canary), ErrInvalidName},
		"canary profile": {canary + ":x", creds("token", "v"), ErrInvalidName},
	} {
		for op, err := range map[string]error{
			"Put":            p.Put(ctx, tc.profile, tc.c),
			"CompareAndSwap": p.CompareAndSwap(ctx, tc.profile, second, tc.c),
		} {
			if err := el.check(err); !errors.Is(err, tc.want) {
				t.Errorf("%s %s: %v, want %v", op, name, err, tc.want)
			}
		}
	}
	want("after refused writes", p, second)

	// Through references: Schemes.Store gives the Target's Provider.
	var s provider.Schemes
	s.Register("keychain", Scheme(opt))
	whole, ref, err := s.Store("keychain:" + profile)
	if err != nil {
		t.Fatal(err)
	}
	if ref.String() != "keychain:mcpcred/"+profile {
		t.Errorf("canonical reference %s", ref)
	}
	if err := el.check(whole.Put(ctx, "ignored", first)); err != nil {
		t.Fatal(err)
	}
	want("Put through the reference, read by the Provider", p, first)
	want("Put through the reference, read by the reference", whole, first)
	if err := el.check(whole.CompareAndSwap(ctx, "ignored", first, second)); err != nil {
		t.Fatal(err)
	}
	want("swap through the reference", whole, second)

	item, _, err := s.Store("keychain:" + profile + "#github_pat")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []provider.Credentials{creds("token", canary), creds("github_pat", canary, "token", "x"), {}} {
		if err := el.check(item.Put(ctx, "", c)); !errors.Is(err, ErrInvalidName) && !errors.Is(err, ErrEmptyValue) {
			t.Errorf("Put of %v through a #github_pat reference: %v, want refused", c, err)
		}
	}
	pat := creds("github_pat", canary)
	if err := el.check(item.CompareAndSwap(ctx, "", provider.Credentials{}, pat)); err != nil {
		t.Fatal(err)
	}
	want("#field create-only", item, pat)
	want("the rest of the profile after a #field write", p, second)
	if err := el.check(item.CompareAndSwap(ctx, "", provider.Credentials{}, creds("github_pat", "lost"))); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("#field create-only over a stored item: %v, want ErrConflict", err)
	}
	if err := el.check(item.CompareAndSwap(ctx, "", pat, creds("github_pat", canary2))); err != nil {
		t.Fatal(err)
	}
	want("#field swap", item, creds("github_pat", canary2))
	for range 2 {
		if err := el.check(item.Delete(ctx, "")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := item.Retrieve(ctx, ""); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("#field after Delete: %v, want not found", err)
	}
	want("the rest of the profile after a #field delete", p, second)
	if err := el.check(whole.Delete(ctx, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := whole.Retrieve(ctx, ""); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after Delete through the reference: %v, want not found", err)
	}
}

func TestStoreContract(t *testing.T) {
	testStoreContract(t, newMemKeyring(), "p")
}

func TestLiveStoreContract(t *testing.T) {
	requireKeyring(t)
	testStoreContract(t, nil, uniqueProfile(t))
}

// testCompareAndSwapRace: goroutines that all read the same value and
// swap it, each through its own Provider or reference, leave exactly one
// winner per round, whose value is stored.
func testCompareAndSwapRace(t *testing.T, kr Keyring, profile string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opt := func(o *Options) {
		if kr != nil {
			o.Keyring = kr
		}
	}
	var s provider.Schemes
	s.Register("keychain", Scheme(opt))
	p := New(opt)
	t.Cleanup(func() { p.Delete(context.Background(), profile) })
	if err := p.Put(ctx, profile, creds("token", "round-0")); err != nil {
		t.Fatal(err)
	}
	const workers = 8
	for round := range 3 {
		old, err := p.Retrieve(ctx, profile)
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			var st provider.Store = New(opt)
			if i%2 == 1 {
				if st, _, err = s.Store("keychain:" + profile); err != nil {
					t.Fatal(err)
				}
			}
			wg.Go(func() {
				<-start
				errs[i] = st.CompareAndSwap(ctx, profile, old, creds("token", fmt.Sprintf("round-%d-worker-%d", round+1, i)))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: workers %d and %d both won", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, provider.ErrConflict):
				t.Fatalf("round %d worker %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won", round)
		}
		got, err := p.Retrieve(ctx, profile)
		if w := fmt.Sprintf("round-%d-worker-%d", round+1, winner); err != nil || got.Value("token") != w {
			t.Fatalf("round %d: stored %v, %v; want the winner's value", round, got, err)
		}
	}
}

func TestCompareAndSwapRace(t *testing.T) {
	testCompareAndSwapRace(t, newMemKeyring(), "p")
}

func TestLiveCompareAndSwapRace(t *testing.T) {
	requireKeyring(t)
	testCompareAndSwapRace(t, nil, uniqueProfile(t))
}

// oneBlockedKeyring blocks Get of one account until released.
type oneBlockedKeyring struct {
	*memKeyring
	account string
	entered chan struct{}
	release chan struct{}
	first   atomic.Bool
}

func (k *oneBlockedKeyring) Get(s, a string) (string, error) {
	v, err := k.memKeyring.Get(s, a)
	if a == k.account && k.first.CompareAndSwap(false, true) {
		close(k.entered)
		<-k.release
	}
	return v, err
}

// TestWriteDropsInFlightRead: a read after a write never joins a read that
// started before it.
func TestWriteDropsInFlightRead(t *testing.T) {
	kr := &oneBlockedKeyring{memKeyring: newMemKeyring(), account: "token", entered: make(chan struct{}), release: make(chan struct{})}
	kr.memKeyring.Set("mcpcred:p", "token", "old")
	p := New(func(o *Options) { o.Keyring = kr; o.Timeout = time.Minute })
	ctx := context.Background()
	done := make(chan string)
	go func() {
		v, _ := p.get(ctx, "mcpcred:p", "token")
		done <- v
	}()
	<-kr.entered
	if err := p.set(ctx, "mcpcred:p", "token", "new"); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := p.get(rctx, "mcpcred:p", "token")
	if err != nil || v != "new" {
		t.Fatalf("read after the write = %q, %v; want the new value without waiting for the earlier read", v, err)
	}
	close(kr.release)
	<-done
}
