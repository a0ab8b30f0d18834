package profile_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
)

// mapStore is a provider.Store over a map: the "mem:" scheme's target for
// one key, so that StoreFor's writes can be read back through Retrieve.
type mapStore struct {
	mu sync.Mutex
	m  map[string]provider.Credentials
}

type memTarget struct {
	s   *mapStore
	key string
}

func (t memTarget) Retrieve(context.Context, string) (provider.Credentials, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	c, ok := t.s.m[t.key]
	if !ok {
		return provider.Credentials{}, provider.NotFound("mem", "", "", "nothing stored")
	}
	return c, nil
}

func (t memTarget) Put(_ context.Context, _ string, c provider.Credentials) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.s.m[t.key] = c
	return nil
}

func (t memTarget) Delete(context.Context, string) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	delete(t.s.m, t.key)
	return nil
}

func (t memTarget) CompareAndSwap(_ context.Context, _ string, old, next provider.Credentials) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if !t.s.m[t.key].Equal(old) {
		return provider.ErrConflict
	}
	t.s.m[t.key] = next
	return nil
}

func storeSchemes(s *mapStore) *provider.Schemes {
	var schemes provider.Schemes
	schemes.Register("mem", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{Provider: memTarget{s, ref.Body}, Resources: []provider.Resource{{Scheme: "mem", Path: ref.Body}}}, nil
	}))
	schemes.Register("ro", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{Provider: provider.Func(func(context.Context, string) (provider.Credentials, error) {
			return provider.Credentials{}, provider.ErrNotFound
		}), Resources: []provider.Resource{{Scheme: "ro", Path: ref.Body}}}, nil
	}))
	return &schemes
}

// TestStoreFor: a caller's own credentials are written where the profile's
// per-subject source reads them for that caller, and only there; every
// other profile is refused with the sentinel a caller branches on.
func TestStoreFor(t *testing.T) {
	const iss = "https://idp.example.com"
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	path := filepath.Join(dir, "profiles.json")
	allow := map[string]any{"issuers": []string{iss}, "subjects": []string{"alice", "bob"}}
	doc, _ := json.Marshal(map[string]any{"profiles": map[string]any{
		"mine":   map[string]any{"source": "mem:users/{sub}", "allow": allow},
		"shared": map[string]any{"source": "mem:users/shared", "allow": allow},
		"ro":     map[string]any{"source": "ro:users/{sub}", "allow": allow},
		"inline": map[string]any{"credentials": map[string]string{"token": "t"}},
	}})
	require.NoError(t, os.WriteFile(path, doc, 0o600))
	ms := &mapStore{m: map[string]provider.Credentials{}}
	pp, err := profile.New(storeSchemes(ms), func(o *profile.Options) { o.Path = path })
	require.NoError(t, err)

	alice := &provider.Caller{Issuer: iss, Subject: "alice"}
	st, ref, err := pp.StoreFor(alice, "mine")
	require.NoError(t, err)
	assert.Equal(t, "mem:users/sub-alice", ref.String())
	ctx := provider.ContextWithCaller(context.Background(), alice)
	_, err = pp.Retrieve(ctx, "mine")
	require.ErrorIs(t, err, profile.ErrSourceEmpty)
	require.NoError(t, st.Put(ctx, "", provider.NewCredentials(map[string]string{"token": "alice-token-0123456789"}, provider.Source{})))
	got, err := pp.Retrieve(ctx, "mine")
	require.NoError(t, err)
	assert.Equal(t, "alice-token-0123456789", got.Value("token"))
	bobCtx := provider.ContextWithCaller(context.Background(), &provider.Caller{Issuer: iss, Subject: "bob"})
	_, err = pp.Retrieve(bobCtx, "mine")
	require.ErrorIs(t, err, profile.ErrSourceEmpty, "bob must not read alice's")

	for _, tc := range []struct {
		caller *provider.Caller
		name   string
		want   error
	}{
		{alice, "nope", provider.ErrNotFound},
		{alice, "shared", profile.ErrNotPerSubject},
		{alice, "inline", profile.ErrNotOffered}, // no allow: stdio only
		{alice, "ro", provider.ErrReadOnly},
		{&provider.Caller{Issuer: iss, Subject: "carol"}, "mine", profile.ErrNotOffered},
		{&provider.Caller{Issuer: "https://other.example.com", Subject: "alice"}, "mine", profile.ErrNotOffered},
		{nil, "mine", profile.ErrNotOffered},
		{&provider.Caller{}, "mine", profile.ErrNotOffered},
	} {
		_, _, err := pp.StoreFor(tc.caller, tc.name)
		assert.ErrorIs(t, err, tc.want, "%v %s", tc.caller, tc.name)
	}
	_, _, err = pp.StoreFor(alice, "x-canary-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/..")
	require.Error(t, err)
	assert.False(t, strings.Contains(err.Error(), "canary"), err.Error())
	assert.True(t, errors.Is(err, provider.ErrNotFound))
}
