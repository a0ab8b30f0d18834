package encfile

import (
	"context"
	"crypto/cipher"
	"path"
	"path/filepath"
	"strings"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// Scheme returns the [provider.Scheme] for "encfile:" references, to
// register in a [provider.Schemes]:
//
//	s.Register("encfile", encfile.Scheme())
//
// The forms are
//
//	encfile:/DIR/NAME          the credential file NAME in the directory /DIR
//	encfile:/DIR/NAME#FIELD    only the field FIELD of it
//
// /DIR is absolute and not "/"; NAME follows [ValidName]. No ?params. A
// profiles file names one file per user with {sub}:
//
//	"mine": {"source": "encfile:/var/lib/mcp/users/{sub}", "allow": {"issuers": ["https://idp.example.com"]}}
//
// The Target's resource is the file's path, encfile:/DIR/NAME (and its real
// path too when a symbolic link leads elsewhere), so an operator allows
// encfile:/var/lib/mcp/users/* for every file of that directory. The
// Target's Provider is a [provider.Store]: for encfile:/DIR/NAME it reads
// and writes the whole file as [Provider] does for profile NAME of /DIR;
// for #FIELD it reads that one field, and writes and deletes only that
// field of the file (under the directory's lock), keeping the others.
//
// The key is loaded once, when Scheme runs (Options.Key, else
// MCPCRED_ENCFILE_KEY, else MCPCRED_ENCFILE_KEY_FILE); without a valid key
// references still open, and every read and write fails with [ErrNoKey]
// or [ErrBadKey]. optFns configure every Provider the Scheme builds
// (Options.Dir is ignored: the directory is the reference's).
func Scheme(optFns ...func(*Options)) provider.Scheme {
	o := options(optFns)
	aead, err := loadKey(&o)
	o.Key = nil
	return &scheme{o: &o, aead: aead, keyErr: err}
}

type scheme struct {
	o      *Options
	aead   cipher.AEAD
	keyErr error
}

var _ provider.ShapedScheme = (*scheme)(nil)

func (s *scheme) Open(ref provider.Ref) (provider.Target, error) {
	if err := ref.OnlyParams(); err != nil {
		return provider.Target{}, err
	}
	body := ref.Body
	switch {
	case !strings.HasPrefix(body, "/"):
		return provider.Target{}, provider.InvalidRef(ref, "body", "is not an absolute path; the form is encfile:/DIR/NAME")
	case strings.HasSuffix(body, "/"):
		return provider.Target{}, provider.InvalidRef(ref, "body", "ends in /; name the file in the directory, as in encfile:/DIR/NAME")
	case strings.Contains(body, "*"):
		return provider.Target{}, provider.InvalidRef(ref, "body", `holds "*": references name one file, patterns are the operator's`)
	case strings.ContainsAny(body, `\,`):
		return provider.Target{}, provider.InvalidRef(ref, "body", `holds "\" or ","; the form is encfile:/DIR/NAME`)
	}
	i := strings.LastIndexByte(body, '/')
	dir, name := path.Clean(body[:i+1]), body[i+1:]
	clean := path.Join(dir, name)
	if dir == "/" {
		return provider.Target{}, provider.InvalidRef(ref, "body", "names a file directly in /; name a directory, as in encfile:/DIR/NAME")
	}
	if err := ValidName(name); err != nil {
		return provider.Target{}, provider.InvalidRef(ref, "body", "names a file that is not valid: "+err.Error())
	}
	if ref.Field != "" {
		if r := validField(ref.Field); r != "" {
			return provider.Target{}, provider.InvalidRef(ref, "field", r)
		}
	}
	p := &Provider{dir: filepath.FromSlash(dir), aead: s.aead, keyErr: s.keyErr, o: s.o}
	resources := []provider.Resource{{Scheme: Name, Path: clean}}
	if real := filepath.ToSlash(securefile.RealPath(filepath.FromSlash(clean))); real != clean {
		// Reached through a link: a policy must cover where it leads too.
		resources = append(resources, provider.Resource{Scheme: Name, Path: real})
	}
	return provider.Target{
		Ref:       provider.Ref{Scheme: ref.Scheme, Body: clean, Field: ref.Field},
		Provider:  &refProvider{p: p, name: name, field: ref.Field},
		Resources: resources,
	}, nil
}

// ResourceShape says that every resource is an absolute path: a directory
// and a file in it.
func (s *scheme) ResourceShape() provider.ResourceShape {
	return provider.ResourceShape{Pattern: "encfile:/**", Hint: "an encfile: pattern names a file's absolute path, " +
		"such as encfile:/var/lib/mcp/users/* for every file of that directory"}
}

// refProvider answers for one file, or one field of it, whatever profile
// it is asked for.
type refProvider struct {
	p     *Provider
	name  string
	field string // "" for the whole file
}

var _ provider.Store = (*refProvider)(nil)

func (r *refProvider) Name() string { return Name }

func (r *refProvider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := r.p.ctxErr(ctx, profile); err != nil {
		return provider.Credentials{}, err
	}
	c, err := r.p.retrieve(profile, r.name)
	if err != nil || r.field == "" {
		return c, err
	}
	if !c.Has(r.field) {
		return provider.Credentials{}, provider.NotFound(Name, profile, r.p.shown(r.name), "encfile: the credential file has no field "+provider.Describe(r.field))
	}
	one := provider.NewCredentialsFromSecrets(map[string]provider.Secret{r.field: c.Get(r.field)}, c.Source)
	one.FetchedAt = c.FetchedAt
	return one, nil
}

// Put stores c in the file: the whole file, or for #FIELD exactly the
// field FIELD (c must hold only it), keeping the file's other fields.
func (r *refProvider) Put(ctx context.Context, profile string, c provider.Credentials) error {
	if err := r.checkWrite(ctx, profile, c); err != nil {
		return err
	}
	return r.p.update(ctx, profile, r.name, r.field, nil, fieldsOf(c))
}

// Delete removes the file, or for #FIELD that field of it (and the file
// when it was the last). Nothing there is not an error.
func (r *refProvider) Delete(ctx context.Context, profile string) error {
	if err := r.p.ctxErr(ctx, profile); err != nil {
		return err
	}
	return r.p.update(ctx, profile, r.name, r.field, nil, nil)
}

// CompareAndSwap is [Provider.CompareAndSwap] on what the reference reads:
// the whole file, or for #FIELD that one field.
func (r *refProvider) CompareAndSwap(ctx context.Context, profile string, old, next provider.Credentials) error {
	if err := r.checkWrite(ctx, profile, next); err != nil {
		return err
	}
	return r.p.update(ctx, profile, r.name, r.field, &old, fieldsOf(next))
}

func (r *refProvider) checkWrite(ctx context.Context, profile string, c provider.Credentials) error {
	if err := r.p.ctxErr(ctx, profile); err != nil {
		return err
	}
	if r.field != "" && (c.Len() != 1 || !c.Has(r.field)) {
		return r.p.fail(profile, r.name, wrapMsg("encfile: the reference names the one field "+provider.Describe(r.field)+", so the credentials must hold exactly that field", ErrInvalidName))
	}
	return r.p.checkFields(profile, r.name, c)
}
