package keychain

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mcpcred/mcpcred/provider"
)

// lockWrites serialises Store, Put, Delete, DeleteFields and
// CompareAndSwap across every Provider of this process with the same
// service prefix (see writeLock), so that their read-modify-write of the
// items and index items does not interleave. Other processes writing the
// same profile at the same moment can still race; the last index write
// wins (see "Listing" in the package doc).
func (p *Provider) lockWrites(ctx context.Context, profile string) (func(), error) {
	select {
	case p.writeMu <- struct{}{}:
		return func() { <-p.writeMu }, nil
	case <-ctx.Done():
		_, err := p.classify(ctx.Err(), profile, "")
		return nil, err
	}
}

// Store writes fields into profile's keychain items, one item per field,
// and records the field names in the profile's index item and the profile
// in the profile list. Fields already stored and not named in fields are
// kept. Every value is read back after writing and compared.
//
// All names and sizes are checked before anything is written: a value over
// Options.MaxValueBytes fails with a [*SizeError], an empty value with
// [ErrEmptyValue], a bad name with [ErrInvalidName]. Values are never
// truncated.
func (p *Provider) Store(ctx context.Context, profile string, fields map[string]provider.Secret) error {
	if err := p.ctxErr(ctx, profile); err != nil {
		return err
	}
	if r := validProfile(profile); r != "" {
		return invalid(profile, "", r)
	}
	service := p.ServiceName(profile)
	names := slices.Sorted(maps.Keys(fields))
	if err := p.checkFields(profile, service, names, func(n string) string { return fields[n].Reveal() }); err != nil {
		return err
	}
	unlock, err := p.lockWrites(ctx, profile)
	if err != nil {
		return err
	}
	defer unlock()

	// Existing field names: from the index, or probed, so that items made
	// by other tools stay visible once an index exists.
	existing, _, err := p.lookup(ctx, profile, service, false)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := p.write(ctx, profile, service, n, fields[n].Reveal()); err != nil {
			return err
		}
	}
	all := append(slices.Collect(maps.Keys(existing)), names...)
	if err := p.write(ctx, profile, service, FieldsAccount, encodeFieldIndex(all)); err != nil {
		return err
	}
	return p.updateProfiles(ctx, profile, true)
}

// checkFields checks the names and values of fields about to be written:
// at least one, each name valid, each value non-empty and within
// Options.MaxValueBytes. Errors never quote a value.
func (p *Provider) checkFields(profile, service string, names []string, value func(string) string) error {
	if len(names) == 0 {
		return &provider.Error{Provider: Name, Profile: profile, Locator: service, Err: wrapMsg("keychain: no fields to store; use Delete to remove a profile", ErrEmptyValue)}
	}
	for _, n := range names {
		loc := locator(service, n)
		if r := validField(n); r != "" {
			// Not quoted: a mistyped value may have landed in a name.
			return invalid(profile, service, r)
		}
		v := value(n)
		if v == "" {
			return &provider.Error{Provider: Name, Profile: profile, Locator: loc,
				Err: wrapMsg("keychain: field "+provider.Label(n)+" has an empty value; use Delete to remove a field", ErrEmptyValue)}
		}
		if len(v) > p.opts.MaxValueBytes {
			return &provider.Error{Provider: Name, Profile: profile, Locator: loc, Err: &SizeError{Field: n, Size: len(v), Limit: p.opts.MaxValueBytes}}
		}
	}
	return nil
}

// write sets one item and reads it back.
func (p *Provider) write(ctx context.Context, profile, service, account, value string) error {
	loc := locator(service, account)
	if len(value) > p.opts.MaxValueBytes {
		// Only index items get here: too many names for one item.
		return &provider.Error{Provider: Name, Profile: profile, Locator: loc, Err: &SizeError{Field: account, Size: len(value), Limit: p.opts.MaxValueBytes}}
	}
	if _, err := p.classify(p.set(ctx, service, account, value), profile, loc, value); err != nil {
		return err
	}
	got, err := p.get(ctx, service, account)
	if _, err := p.classify(err, profile, loc, value, got); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(value)) != 1 {
		return &provider.Error{Provider: Name, Profile: profile, Locator: loc,
			Err: wrapMsg(fmt.Sprintf("keychain: wrote %d bytes, read back %d bytes that differ; the keychain changed or truncated the value", len(value), len(got)), ErrReadBack)}
	}
	p.log.Debug("keychain: stored item", "service", service, "account", account, "bytes", len(value))
	return nil
}

// updateProfiles adds profile to, or removes it from, the profile list.
func (p *Provider) updateProfiles(ctx context.Context, profile string, add bool) error {
	list, err := p.profileList(ctx)
	if err != nil {
		return err
	}
	has := slices.Contains(list, profile)
	switch {
	case add && has, !add && !has:
		return nil
	case add:
		list = append(list, profile)
	default:
		list = slices.DeleteFunc(list, func(s string) bool { return s == profile })
	}
	if len(list) == 0 {
		err := p.del(ctx, p.opts.Service, ProfilesAccount)
		if k, rerr := p.classify(err, "", locator(p.opts.Service, ProfilesAccount)); k != kindOK && k != kindNotFound {
			return rerr
		}
		return nil
	}
	return p.write(ctx, "", p.opts.Service, ProfilesAccount, encodeProfileIndex(list))
}

// maxDeletesPerItem bounds how many items of one (service, account) Delete
// removes before it gives up: each keyring Delete may remove only one of
// several matching items (go-keyring over the Secret Service does), and
// more than a few are never made on purpose.
const maxDeletesPerItem = 32

// DeleteFields removes the named fields of profile, or, with no names, the
// whole profile (as [Provider.Delete] does, except that deleting nothing is
// an error). When it returns nil, nothing it deleted can be read any more:
//
//   - Every item of each name is removed, however many match it (items made
//     by hand can share a service and account), and each name is read back
//     to check it is gone; an item still readable is [ErrNotDeleted].
//   - Deleting the whole profile removes the fields its index lists, the
//     probed names (Options.Fields and [DefaultFields]) whether or not an
//     index lists them, the index item, and, when the keyring supports it
//     (the OS keyring does; see [Keyring]), every other item under the
//     profile's service. No Retrieve or #FIELD reference of the profile
//     resolves afterwards.
//   - Deleting named fields leaves the other fields as they were. When the
//     last listed field goes and items the index kept out of the profile
//     remain, an empty index is kept so that they do not become the profile.
//
// A profile left with no fields is dropped from the profile list. Deleting
// something that does not exist (no item of any name Delete knows, the
// index and probed names) is [provider.ErrNotFound], though other items of
// the service are still removed.
func (p *Provider) DeleteFields(ctx context.Context, profile string, fields ...string) error {
	if err := p.ctxErr(ctx, profile); err != nil {
		return err
	}
	if r := validProfile(profile); r != "" {
		return invalid(profile, "", r)
	}
	service := p.ServiceName(profile)
	for _, n := range fields {
		if r := validField(n); r != "" {
			return invalid(profile, service, r)
		}
	}
	unlock, err := p.lockWrites(ctx, profile)
	if err != nil {
		return err
	}
	defer unlock()
	deleted, err := p.deleteLocked(ctx, profile, service, fields)
	if err != nil {
		return err
	}
	if deleted == 0 {
		return provider.NotFound(Name, profile, service, "keychain: nothing to delete under service "+provider.Label(service))
	}
	return nil
}

// deleteLocked is DeleteFields with the names checked and the write lock
// held. It returns how many items it deleted.
func (p *Provider) deleteLocked(ctx context.Context, profile, service string, fields []string) (int, error) {
	whole := len(fields) == 0
	existing, indexed, err := p.lookup(ctx, profile, service, false)
	if whole && errors.Is(err, ErrBadIndex) {
		// A corrupt index must not keep the profile from being deleted: the
		// probed names, the index and the rest of the service go below.
		existing, indexed, err = map[string]string{}, true, nil
	}
	if err != nil {
		return 0, err
	}
	targets := normalize(fields)
	if whole {
		targets = normalize(slices.Concat(slices.Collect(maps.Keys(existing)), p.opts.Fields, DefaultFields()))
	}
	deleted := 0
	for _, n := range targets {
		k, err := p.purge(ctx, profile, service, n)
		deleted += k
		if err != nil {
			return deleted, err
		}
		delete(existing, n)
	}
	check := targets
	switch {
	case whole:
		k, err := p.purge(ctx, profile, service, FieldsAccount)
		deleted += k
		if err != nil {
			return deleted, err
		}
		if err := p.deleteService(ctx, profile, service); err != nil {
			return deleted, err
		}
		check = append(check, FieldsAccount)
	case len(existing) > 0 && indexed:
		if err := p.write(ctx, profile, service, FieldsAccount, encodeFieldIndex(slices.Collect(maps.Keys(existing)))); err != nil {
			return deleted, err
		}
	case indexed:
		// Without an index, Retrieve probes; items the index kept out of
		// the profile must not become it.
		hidden, err := p.anyOf(ctx, profile, service, slices.DeleteFunc(normalize(slices.Concat(p.opts.Fields, DefaultFields())),
			func(n string) bool { return slices.Contains(targets, n) }))
		if err != nil {
			return deleted, err
		}
		if hidden {
			p.log.Debug("keychain: keeping an empty index so that unlisted items stay out of the profile", "service", service)
			if err := p.write(ctx, profile, service, FieldsAccount, encodeFieldIndex(nil)); err != nil {
				return deleted, err
			}
			break
		}
		k, err := p.purge(ctx, profile, service, FieldsAccount)
		deleted += k
		if err != nil {
			return deleted, err
		}
		check = append(check, FieldsAccount)
	}
	for _, n := range check {
		if err := p.verifyGone(ctx, profile, service, n); err != nil {
			return deleted, err
		}
	}
	if len(existing) == 0 {
		if err := p.updateProfiles(ctx, profile, false); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// purge deletes (service, account) until the keyring says there is no such
// item, and returns how many items it deleted.
func (p *Provider) purge(ctx context.Context, profile, service, account string) (int, error) {
	loc := locator(service, account)
	for n := 0; ; {
		k, rerr := p.classify(p.del(ctx, service, account), profile, loc)
		switch k {
		case kindOK:
			n++
			if n == maxDeletesPerItem {
				return n, &provider.Error{Provider: Name, Profile: profile, Locator: loc,
					Err: wrapMsg(fmt.Sprintf("keychain: the item is still there after %d deletes", n), ErrNotDeleted)}
			}
		case kindNotFound:
			return n, nil
		default:
			return n, rerr
		}
	}
}

// deleteService removes every item of service, if the keyring can.
func (p *Provider) deleteService(ctx context.Context, profile, service string) error {
	sd, ok := p.kr.(serviceDeleter)
	if !ok {
		return nil
	}
	_, err := p.run(ctx, "", false, func() (string, error) { return "", sd.DeleteAll(service) })
	if k, rerr := p.classify(err, profile, service); k != kindOK && k != kindNotFound {
		return rerr
	}
	return nil
}

// verifyGone reads (service, account) back, with a call of its own rather
// than one shared with a concurrent read that may have started before the
// delete, and fails with ErrNotDeleted if the item is still there.
func (p *Provider) verifyGone(ctx context.Context, profile, service, account string) error {
	loc := locator(service, account)
	_, err := p.run(ctx, "", false, func() (string, error) { return p.kr.Get(service, account) })
	switch k, rerr := p.classify(err, profile, loc); k {
	case kindNotFound:
		return nil
	case kindOK:
		return &provider.Error{Provider: Name, Profile: profile, Locator: loc,
			Err: wrapMsg("keychain: the keychain reported the item deleted, but it can still be read", ErrNotDeleted)}
	default:
		return rerr
	}
}

// anyOf reports whether any of the items names exists under service.
func (p *Provider) anyOf(ctx context.Context, profile, service string, names []string) (bool, error) {
	for _, n := range names {
		_, err := p.get(ctx, service, n)
		switch k, rerr := p.classify(err, profile, locator(service, n)); k {
		case kindOK:
			return true, nil
		case kindNotFound:
		default:
			return false, rerr
		}
	}
	return false, nil
}
