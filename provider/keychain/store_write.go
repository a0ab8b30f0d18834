package keychain

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"

	"github.com/mcpcred/mcpcred/provider"
)

// Both the Provider and the Provider of a reference's Target store.
var (
	_ provider.Store = (*Provider)(nil)
	_ provider.Store = (*refProvider)(nil)
)

// writeStripes is the number of process-wide write locks.
const writeStripes = 64

// writeLocks are the process-wide write locks, one per stripe of service
// prefixes. They are the only state the package shares between Providers:
// CompareAndSwap is a read, a compare and a write that the keychain cannot
// do as one operation, so every Provider of this process that writes under
// the same prefix (those New returns and those a Scheme builds) must take
// the same lock. Prefixes that hash to one stripe merely wait for each
// other. Nothing is shared with other processes.
var writeLocks = func() (l [writeStripes]chan struct{}) {
	for i := range l {
		l[i] = make(chan struct{}, 1)
	}
	return l
}()

// writeLock returns the process-wide write lock of the service prefix.
func writeLock(prefix string) chan struct{} {
	h := fnv.New32a()
	h.Write([]byte(prefix))
	return writeLocks[h.Sum32()%writeStripes]
}

// Put replaces what profile holds with c's fields: one item per field, the
// profile's index item listing exactly those names, and the profile in the
// profile list; items of the profile that Retrieve read before and c does
// not hold (listed in the index, or probed) are deleted, so Retrieve
// returns exactly c's fields afterwards. c's Source, FetchedAt and Expires
// are not stored.
//
// Names and sizes are checked as [Provider.Store] checks them before
// anything is written: c must hold at least one field ([ErrEmptyValue]),
// every name must be valid ([ErrInvalidName]) and every value at most
// Options.MaxValueBytes ([*SizeError]). Every value is read back after
// writing. Put is part of [provider.Store].
func (p *Provider) Put(ctx context.Context, profile string, c provider.Credentials) error {
	service, err := p.checkPut(ctx, profile, c)
	if err != nil {
		return err
	}
	unlock, err := p.lockWrites(ctx, profile)
	if err != nil {
		return err
	}
	defer unlock()
	return p.putLocked(ctx, profile, service, c)
}

// Delete removes profile: every item [Provider.DeleteFields] removes for a
// whole profile (its fields, index item and every other item under its
// service), so that neither Retrieve nor any keychain:PROFILE#FIELD
// reference resolves afterwards. Deleting a profile that holds nothing is
// not an error. Delete is part of [provider.Store].
func (p *Provider) Delete(ctx context.Context, profile string) error {
	if err := p.ctxErr(ctx, profile); err != nil {
		return err
	}
	if r := validProfile(profile); r != "" {
		return invalid(profile, "", r)
	}
	unlock, err := p.lockWrites(ctx, profile)
	if err != nil {
		return err
	}
	defer unlock()
	_, err = p.deleteLocked(ctx, profile, p.ServiceName(profile), nil)
	return err
}

// CompareAndSwap stores next as [Provider.Put] does only if Retrieve would
// now return exactly old's fields ([provider.Credentials.Equal]; a zero old
// means the profile holds nothing), and otherwise stores nothing and
// returns an error wrapping [provider.ErrConflict]. next must hold at least
// one field; use Delete to remove a profile.
//
// The read, the compare and the write run under a lock that every Provider
// of this process writing under the same service prefix shares, so that
// compare-and-swaps in one process never lose a write. The keychain has no
// such lock: a process on the same host writing the same profile at the
// same moment is not excluded, and the last write wins. Share credentials
// that several processes refresh through a store that is atomic across
// them (provider/vault, provider/encfile). CompareAndSwap is part of
// [provider.Store].
func (p *Provider) CompareAndSwap(ctx context.Context, profile string, old, next provider.Credentials) error {
	service, err := p.checkPut(ctx, profile, next)
	if err != nil {
		return err
	}
	unlock, err := p.lockWrites(ctx, profile)
	if err != nil {
		return err
	}
	defer unlock()
	cur, _, err := p.lookup(ctx, profile, service, true)
	if err != nil {
		return err
	}
	if !provider.NewCredentials(cur, provider.Source{}).Equal(old) {
		return conflict(profile, service)
	}
	return p.putLocked(ctx, profile, service, next)
}

// checkPut checks profile and the credentials about to be stored, and
// returns the profile's service.
func (p *Provider) checkPut(ctx context.Context, profile string, c provider.Credentials) (string, error) {
	if err := p.ctxErr(ctx, profile); err != nil {
		return "", err
	}
	if r := validProfile(profile); r != "" {
		return "", invalid(profile, "", r)
	}
	service := p.ServiceName(profile)
	return service, p.checkFields(profile, service, c.Names(), c.Value)
}

// putLocked is Put with the credentials checked and the write lock held.
func (p *Provider) putLocked(ctx context.Context, profile, service string, c provider.Credentials) error {
	existing, _, err := p.lookup(ctx, profile, service, false)
	var stale []string
	switch {
	case errors.Is(err, ErrBadIndex):
		// The index is rewritten below; the probed names may be there.
		stale = normalize(slices.Concat(p.opts.Fields, DefaultFields()))
	case err != nil:
		return err
	default:
		stale = slices.Sorted(maps.Keys(existing))
	}
	names := c.Names()
	for _, n := range names {
		if err := p.write(ctx, profile, service, n, c.Value(n)); err != nil {
			return err
		}
	}
	if err := p.write(ctx, profile, service, FieldsAccount, encodeFieldIndex(names)); err != nil {
		return err
	}
	for _, n := range stale {
		if slices.Contains(names, n) {
			continue
		}
		if _, err := p.purge(ctx, profile, service, n); err != nil {
			return err
		}
		if err := p.verifyGone(ctx, profile, service, n); err != nil {
			return err
		}
	}
	return p.updateProfiles(ctx, profile, true)
}

func conflict(profile, loc string) error {
	return &provider.Error{Provider: Name, Profile: profile, Locator: loc,
		Err: wrapMsg("keychain: the stored credentials changed since they were read; read them again", provider.ErrConflict)}
}

// Put stores c where the reference points: for keychain:PROFILE, as
// [Provider.Put] stores the profile; for keychain:PROFILE#FIELD, c must
// hold exactly the field FIELD, and only that one item is written (the
// profile's index is left as it is). The profile argument is ignored.
func (r *refProvider) Put(ctx context.Context, _ string, c provider.Credentials) error {
	if r.field == "" {
		return r.p.Put(ctx, r.profile, c)
	}
	service, v, err := r.checkItem(ctx, c)
	if err != nil {
		return err
	}
	unlock, err := r.p.lockWrites(ctx, r.profile)
	if err != nil {
		return err
	}
	defer unlock()
	return r.p.write(ctx, r.profile, service, r.field, v)
}

// Delete removes what the reference reads: the whole profile, as
// [Provider.Delete] does, or for keychain:PROFILE#FIELD every item of that
// one name (the rest of the profile is left as it is). Deleting what is
// not there is not an error. The profile argument is ignored.
func (r *refProvider) Delete(ctx context.Context, _ string) error {
	if r.field == "" {
		return r.p.Delete(ctx, r.profile)
	}
	if err := r.p.ctxErr(ctx, r.profile); err != nil {
		return err
	}
	service := r.p.ServiceName(r.profile)
	unlock, err := r.p.lockWrites(ctx, r.profile)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := r.p.purge(ctx, r.profile, service, r.field); err != nil {
		return err
	}
	return r.p.verifyGone(ctx, r.profile, service, r.field)
}

// CompareAndSwap is [Provider.CompareAndSwap] on what the reference reads:
// the whole profile, or for keychain:PROFILE#FIELD that one item (old and
// next hold at most, and next exactly, the field FIELD). It is atomic only
// within this process. The profile argument is ignored.
func (r *refProvider) CompareAndSwap(ctx context.Context, _ string, old, next provider.Credentials) error {
	if r.field == "" {
		return r.p.CompareAndSwap(ctx, r.profile, old, next)
	}
	service, v, err := r.checkItem(ctx, next)
	if err != nil {
		return err
	}
	unlock, err := r.p.lockWrites(ctx, r.profile)
	if err != nil {
		return err
	}
	defer unlock()
	loc := locator(service, r.field)
	cur, err := r.p.get(ctx, service, r.field)
	switch k, rerr := r.p.classify(err, r.profile, loc); k {
	case kindOK:
	case kindNotFound:
		cur = ""
	default:
		return rerr
	}
	if !provider.NewCredentials(map[string]string{r.field: cur}, provider.Source{}).Equal(old) {
		return conflict(r.profile, loc)
	}
	return r.p.write(ctx, r.profile, service, r.field, v)
}

// checkItem checks credentials for a #FIELD reference: exactly the field
// FIELD, with a value Store would accept. It returns the service and the
// value.
func (r *refProvider) checkItem(ctx context.Context, c provider.Credentials) (string, string, error) {
	if err := r.p.ctxErr(ctx, r.profile); err != nil {
		return "", "", err
	}
	service := r.p.ServiceName(r.profile)
	if c.Len() != 1 || !c.Has(r.field) {
		return "", "", &provider.Error{Provider: Name, Profile: r.profile, Locator: locator(service, r.field),
			Err: wrapMsg(fmt.Sprintf("keychain: the reference names the one item %s, so the credentials must hold exactly the field %s (they hold %d fields)", r.field, r.field, c.Len()), ErrInvalidName)}
	}
	if err := r.p.checkFields(r.profile, service, []string{r.field}, c.Value); err != nil {
		return "", "", err
	}
	return service, c.Value(r.field), nil
}
