package provider

import (
	"context"
	"errors"
	"fmt"
)

// A Store is a [Provider] that can also write the credentials it reads,
// under the same names: the profile, for a provider that serves profiles;
// nothing, for the Provider of a reference's [Target], which writes where
// its reference points whatever profile it is given.
//
// Put replaces what is stored with c's fields (its Source, FetchedAt and
// Expires are not stored, unless the backend says otherwise). Delete
// removes what is stored, every version of it where the backend keeps
// versions, so that no later Retrieve finds it; deleting what is not there
// is not an error. CompareAndSwap stores next only if what is stored still
// has exactly old's fields ([Credentials.Equal]), a zero old meaning that
// nothing is stored; otherwise it stores nothing and returns an error
// wrapping [ErrConflict]. It is how two processes that refresh the same
// credential (an OAuth refresh token that rotates) never lose one of the
// two writes: the loser reads what the winner stored.
//
// A Store that caches what it reads drops its cached value on every write.
// Errors follow Retrieve's rules: they wrap [ErrUnavailable] when the
// backend cannot be reached, name the provider and never hold a value.
type Store interface {
	Provider
	Put(ctx context.Context, profile string, c Credentials) error
	Delete(ctx context.Context, profile string) error
	CompareAndSwap(ctx context.Context, profile string, old, next Credentials) error
}

// ErrConflict is wrapped by a [Store]'s CompareAndSwap when what is stored
// is no longer what the caller read.
var ErrConflict = errors.New("provider: the stored credentials changed since they were read")

// ErrReadOnly is wrapped by [Schemes.Store] for a reference whose scheme
// cannot write, and by a Store asked to write where it cannot (a dynamic
// Vault secret, a pinned version).
var ErrReadOnly = errors.New("provider: this source cannot store credentials")

// Store is [Schemes.Open] for a reference to write to: the Target's
// Provider as a [Store], and the reference in canonical form. It refuses,
// wrapping [ErrReadOnly], a reference whose scheme cannot store. Like Open
// it applies no policy: the reference is the operator's (a profile's
// source) or already allowed.
func (s *Schemes) Store(ref string) (Store, Ref, error) {
	t, err := s.Open(ref)
	if err != nil {
		return nil, Ref{}, err
	}
	st, ok := t.Provider.(Store)
	if !ok {
		return nil, Ref{}, fmt.Errorf("%w: the %s scheme reads only; store credentials in one that writes, such as vault (KV v2), keychain or encfile", ErrReadOnly, t.Ref.Scheme)
	}
	return st, t.Ref, nil
}
