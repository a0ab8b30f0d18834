package secretfile

import (
	"fmt"
	"path/filepath"

	"github.com/mcpcred/mcpcred/provider"
)

// Scheme returns the [provider.Scheme] for "secretfile:" references, to
// register in a [provider.Schemes]:
//
//	s.Register("secretfile", secretfile.Scheme())
//
// The forms are
//
//	secretfile:NAME        profile NAME in the secrets directory (default /run/secrets)
//	secretfile:            the default profile in the secrets directory
//	secretfile:/DIR#NAME   profile NAME in the directory /DIR
//	secretfile:/DIR        the default profile in the directory /DIR
//
// NAME follows [ValidName]; /DIR must be absolute. Profile NAME is read as
// Retrieve reads it, with every layout (NAME.json, NAME.ini, NAME/ and
// Options.Files), and the default profile also from per-field files
// directly in the directory. optFns configure every Provider the Scheme
// builds (Dir sets the default directory; Files, Fields, MaxFileSize, Now,
// Logger apply as they are).
func Scheme(optFns ...func(*Options)) provider.Scheme {
	return provider.SchemeFunc(func(ref provider.Ref) (provider.Provider, error) {
		name, dir := ref.Body, ""
		switch {
		case ref.Body == "":
			name = provider.DefaultProfile
			if ref.Fragment != "" {
				return nil, refError("fragment", "%s: a #NAME follows a directory (secretfile:/DIR#NAME); for a secret in the default directory write secretfile:NAME",
					quote(ref.Fragment))
			}
		case filepath.IsAbs(ref.Body):
			dir, name = filepath.Clean(ref.Body), ref.Fragment
			if name == "" {
				name = provider.DefaultProfile
			}
			if err := ValidName(name); err != nil {
				return nil, refError("fragment", "%s is not a secret name: %v", quote(ref.Fragment), err)
			}
		default:
			if err := ValidName(ref.Body); err != nil {
				return nil, refError("body", "%s is neither a secret name (%v) nor an absolute directory", quote(ref.Body), err)
			}
			if ref.Fragment != "" {
				return nil, refError("fragment", "%s: a #NAME follows a directory (secretfile:/DIR#NAME), not the secret name %s",
					quote(ref.Fragment), quote(ref.Body))
			}
		}
		fns := optFns
		if dir != "" {
			fns = append(append(make([]func(*Options), 0, len(optFns)+1), optFns...), func(o *Options) { o.Dir = dir })
		}
		return provider.Pin(New(fns...), name), nil
	})
}

func refError(part, format string, args ...any) error {
	return fmt.Errorf("%w: secretfile: %s: %s", provider.ErrInvalidRef, part, fmt.Sprintf(format, args...))
}

func quote(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("(%d bytes)", len(s))
	}
	return fmt.Sprintf("%q", s)
}
