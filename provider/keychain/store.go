package keychain

import (
	"context"
	"crypto/subtle"
	"fmt"
	"maps"
	"slices"

	"github.com/mcpcred/mcpcred/provider"
)

// lockWrites serialises Store and Delete within this Provider, so that their
// read-modify-write of the index items does not interleave. Other processes
// writing the same profile at the same moment can still race; the last
// index write wins (see "Listing" in the package doc).
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
	if len(fields) == 0 {
		return &provider.Error{Provider: Name, Profile: profile, Locator: service, Err: wrapMsg("keychain: no fields to store", ErrEmptyValue)}
	}
	names := slices.Sorted(maps.Keys(fields))
	for _, n := range names {
		loc := locator(service, n)
		if r := validField(n); r != "" {
			// Not quoted: a mistyped value may have landed in a name.
			return invalid(profile, service, r)
		}
		v := fields[n].Reveal()
		if v == "" {
			return &provider.Error{Provider: Name, Profile: profile, Locator: loc,
				Err: wrapMsg(fmt.Sprintf("keychain: field %q has an empty value; use Delete to remove a field", n), ErrEmptyValue)}
		}
		if len(v) > p.opts.MaxValueBytes {
			return &provider.Error{Provider: Name, Profile: profile, Locator: loc, Err: &SizeError{Field: n, Size: len(v), Limit: p.opts.MaxValueBytes}}
		}
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

// Delete removes the named fields of profile, or, with no names, every
// field of the profile (those in its index, or the probed Options.Fields)
// and its index item. A profile left with no fields is dropped from the
// profile list. Deleting something that does not exist is
// [provider.ErrNotFound].
func (p *Provider) Delete(ctx context.Context, profile string, fields ...string) error {
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

	existing, indexed, err := p.lookup(ctx, profile, service, false)
	if err != nil {
		return err
	}
	targets := fields
	if len(fields) == 0 {
		targets = slices.Sorted(maps.Keys(existing))
	}
	deleted := 0
	for _, n := range normalize(targets) {
		k, rerr := p.classify(p.del(ctx, service, n), profile, locator(service, n))
		switch k {
		case kindOK:
			deleted++
		case kindNotFound:
		default:
			return rerr
		}
		delete(existing, n)
	}
	if len(existing) > 0 && indexed {
		if err := p.write(ctx, profile, service, FieldsAccount, encodeFieldIndex(slices.Collect(maps.Keys(existing)))); err != nil {
			return err
		}
	} else if indexed {
		k, rerr := p.classify(p.del(ctx, service, FieldsAccount), profile, locator(service, FieldsAccount))
		if k != kindOK && k != kindNotFound {
			return rerr
		}
		deleted++
	}
	if len(existing) == 0 {
		if err := p.updateProfiles(ctx, profile, false); err != nil {
			return err
		}
	}
	if deleted == 0 {
		return provider.NotFound(Name, profile, service, fmt.Sprintf("keychain: nothing to delete under service %q", service))
	}
	return nil
}
