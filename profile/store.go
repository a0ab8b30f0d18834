package profile

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/mcpcred/mcpcred/provider"
)

// ErrNotPerSubject is wrapped by [Provider.StoreFor] for a profile whose
// source is not a per-subject template ({sub}): its credentials are the
// operator's, shared by every caller, and no caller may write them.
var ErrNotPerSubject = errors.New("profile: the profile's source is not per subject ({sub})")

// StoreFor returns where caller's own credentials of profile name live,
// for a server that lets its users add, replace or remove them (such as
// resolver/enroll): the [provider.Store] of the profile's per-subject
// source with {sub} replaced by the caller's subject, and that reference
// in canonical form. Retrieve reads the same place for the same caller.
//
// It refuses a profile that is not defined (wrapping provider.ErrNotFound),
// that does not allow caller ([ErrNotOffered]), whose source is not per
// subject ([ErrNotPerSubject]) or holds inline credentials, and a source
// whose scheme cannot write (provider.ErrReadOnly). Errors name the
// profile as [provider.Label] shows it and never quote the reference.
func (p *Provider) StoreFor(caller *provider.Caller, name string) (provider.Store, provider.Ref, error) {
	fail := func(err error) (provider.Store, provider.Ref, error) {
		return nil, provider.Ref{}, fmt.Errorf("profile %s: %w", provider.Label(name), err)
	}
	f, err := p.load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(fmt.Errorf("%w: no profiles file", provider.ErrNotFound))
	case err != nil:
		return fail(err)
	}
	prof, ok := f.Get(name)
	if !ok {
		return fail(fmt.Errorf("%w: not defined", provider.ErrNotFound))
	}
	if caller == nil || caller.Validate() != nil || !prof.Allows(caller) {
		return fail(fmt.Errorf("%w: its \"allow\" does not name this caller", ErrNotOffered))
	}
	if !prof.PerSubject() {
		return fail(ErrNotPerSubject)
	}
	t, _ := parseTemplate(prof.Source) // valid: Parse checked it
	target, err := openForSubject(p.schemes, t, caller.Subject)
	if err != nil {
		return fail(err)
	}
	st, ok := target.Provider.(provider.Store)
	if !ok {
		return fail(fmt.Errorf("%w: its %s: source reads only; store per-user credentials in one that writes, such as vault (KV v2), keychain or encfile", provider.ErrReadOnly, target.Ref.Scheme))
	}
	return st, target.Ref, nil
}
