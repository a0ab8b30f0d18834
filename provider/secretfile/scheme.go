package secretfile

import (
	"path/filepath"
	"strings"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// Scheme returns the [provider.Scheme] for "secretfile:" references, to
// register in a [provider.Schemes]:
//
//	s.Register("secretfile", secretfile.Scheme())
//
// The forms are
//
//	secretfile:            the default profile in the secrets directory (default /run/secrets)
//	secretfile:NAME        profile NAME in the secrets directory
//	secretfile:/DIR/NAME   profile NAME in the directory /DIR
//	...#FIELD              only the field FIELD of that profile
//
// NAME follows [ValidName]; /DIR must be absolute. Profile NAME is read as
// Retrieve reads it, with every layout (NAME.json, NAME.ini, NAME/ and
// Options.Files), and the default profile also from per-field files
// directly in the directory. No ?params.
//
// The Target's one resource is the directory and the profile as a path:
// secretfile:/run/secrets/aws-prod, so an operator allows
// secretfile:/run/secrets/* for every entry of that directory. optFns
// configure every Provider the Scheme builds (Dir sets the default
// directory; Files, Fields, MaxFileSize, Now, Logger apply as they are).
func Scheme(optFns ...func(*Options)) provider.Scheme {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	defDir := o.Dir
	if defDir == "" {
		defDir = DefaultDir
	}
	return &scheme{open: func(ref provider.Ref) (provider.Target, error) {
		if err := ref.OnlyParams(); err != nil {
			return provider.Target{}, err
		}
		dir, name := "", ref.Body
		switch {
		case ref.Body == "":
			name = provider.DefaultProfile
		case filepath.IsAbs(ref.Body):
			if strings.HasSuffix(ref.Body, "/") {
				return provider.Target{}, provider.InvalidRef(ref, "body", "ends in /; name the secret in the directory, as in secretfile:/DIR/NAME")
			}
			dir, name = filepath.Dir(filepath.Clean(ref.Body)), filepath.Base(ref.Body)
			if dir == "/" {
				return provider.Target{}, provider.InvalidRef(ref, "body", "names a secret directly in /; name a secrets directory, as in secretfile:/DIR/NAME")
			}
		}
		if strings.Contains(ref.Body, "*") {
			return provider.Target{}, provider.InvalidRef(ref, "body", `holds "*": references name one secret, patterns are the operator's`)
		}
		if err := ValidName(name); err != nil {
			return provider.Target{}, provider.InvalidRef(ref, "body", "is neither a secret name ("+err.Error()+") nor an absolute /DIR/NAME")
		}
		fns := optFns
		if dir != "" {
			fns = append(append(make([]func(*Options), 0, len(optFns)+1), optFns...), func(o *Options) { o.Dir = dir })
		} else {
			dir = defDir
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return provider.Target{}, provider.InvalidRef(ref, "body", "names a directory whose absolute path cannot be worked out")
		}
		var p provider.Provider = provider.Pin(New(fns...), name)
		if ref.Field != "" {
			p = provider.OneField(p, ref.Field)
		}
		entry := filepath.ToSlash(filepath.Clean(abs)) + "/" + name
		resources := []provider.Resource{{Scheme: "secretfile", Path: entry}}
		if real := securefile.RealPath(filepath.Join(abs, name)); filepath.ToSlash(real) != entry {
			// Reached through a link: a policy must cover where it leads too.
			resources = append(resources, provider.Resource{Scheme: "secretfile", Path: filepath.ToSlash(real)})
		}
		return provider.Target{Provider: p, Resources: resources}, nil
	}}
}

type scheme struct {
	open func(ref provider.Ref) (provider.Target, error)
}

func (s *scheme) Open(ref provider.Ref) (provider.Target, error) { return s.open(ref) }

// ResourceShape says that every resource is an absolute path: a directory
// and an entry in it. It is a [provider.ShapedScheme].
func (s *scheme) ResourceShape() provider.ResourceShape {
	return provider.ResourceShape{Pattern: "secretfile:/**", Hint: "a secretfile: pattern names a directory's absolute path followed by an entry, " +
		"such as secretfile:" + DefaultDir + "/* for every entry of " + DefaultDir}
}
