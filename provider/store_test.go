package provider_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
)

type storeTarget struct{ provider.Func }

func (storeTarget) Put(context.Context, string, provider.Credentials) error { return nil }
func (storeTarget) Delete(context.Context, string) error                    { return nil }
func (storeTarget) CompareAndSwap(context.Context, string, provider.Credentials, provider.Credentials) error {
	return provider.ErrConflict
}

func TestSchemesStore(t *testing.T) {
	var s provider.Schemes
	none := provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return provider.Credentials{}, provider.ErrNotFound
	})
	s.Register("rw", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{Provider: storeTarget{none}, Resources: []provider.Resource{{Scheme: "rw", Path: ref.Body}}}, nil
	}))
	s.Register("ro", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{Provider: none, Resources: []provider.Resource{{Scheme: "ro", Path: ref.Body}}}, nil
	}))
	st, ref, err := s.Store("rw:users/sub-alice")
	if err != nil || st == nil || ref.String() != "rw:users/sub-alice" {
		t.Fatalf("Store(rw:...) = %v, %v, %v", st, ref, err)
	}
	if err := st.CompareAndSwap(context.Background(), "", provider.Credentials{}, provider.Credentials{}); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("CompareAndSwap: %v", err)
	}
	for ref, want := range map[string]error{
		"ro:users/sub-alice": provider.ErrReadOnly,
		"nope:x":             provider.ErrUnknownScheme,
		"not a reference":    provider.ErrInvalidRef,
	} {
		if _, _, err := s.Store(ref); !errors.Is(err, want) {
			t.Errorf("Store(%q): %v, want %v", ref, err, want)
		}
	}
}
