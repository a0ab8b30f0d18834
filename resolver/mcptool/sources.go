package mcptool

import (
	"context"
	"errors"
	"io/fs"
	"slices"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
)

// CheckSources looks once, at start, at the sources of a server's chain that
// it can read locally and quickly, so that a misconfigured one is reported
// with the source's own account (the file, the line or mode, the fix)
// before the first call fails with a short error that names no path: the
// profiles file of every profile.Provider in chain (a missing one is
// fine), and each provider whose name (provider.NameOf) is in local, such
// as env.Name, file.Name and secretfile.Name, asked for profile. A source
// that has nothing or is unavailable is no error; the first other one is
// returned. Nothing else is asked, so no keychain prompt or remote backend
// delays the start. ctx bounds the whole check.
func CheckSources(ctx context.Context, chain []provider.Provider, profileName string, local ...string) error {
	for _, p := range chain {
		if pp, ok := p.(*profile.Provider); ok {
			if _, err := pp.Load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	for _, p := range chain {
		if p == nil || !slices.Contains(local, provider.NameOf(p)) {
			continue
		}
		_, err := p.Retrieve(ctx, profileName)
		if err != nil && !errors.Is(err, provider.ErrNotFound) && !errors.Is(err, provider.ErrUnavailable) {
			return err
		}
	}
	return nil
}
