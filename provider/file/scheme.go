package file

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
)

// Scheme returns the [provider.Scheme] for "file:" references, to register
// in a [provider.Schemes]:
//
//	s.Register("file", file.Scheme())
//
// The forms are
//
//	file:                        section [default] of the default credentials file
//	file:SECTION                 section SECTION of the default credentials file
//	file:PATH                    section [default] of the file at PATH
//	file:PATH?profile=SECTION    section SECTION of the file at PATH
//	...#FIELD                    only the field FIELD of that section
//
// PATH is absolute or starts with "~/" (the home directory); a relative
// path is refused, since it would depend on the working directory. A body
// without "/" that does not start with "~" is a section name. The default
// file is the one [New] picks ($MCP_CREDENTIALS_FILE, else
// ~/.mcp/credentials). A reference names its section, so
// MCP_CREDENTIAL_PROFILE does not apply to it.
//
// The Target's one resource is the file's absolute path followed by the
// section as a last segment: file:/home/u/.mcp/credentials/production, so an
// operator allows file:/home/u/.mcp/credentials/* for every section of that
// file.
//
// optFns configure every Provider the Scheme builds (Getenv, UserHomeDir,
// Logger, MaxSize, Required, Now; Path sets the default file). All the
// references to one file share one Provider, and so one permission check
// and one parse per change of the file.
func Scheme(optFns ...func(*Options)) provider.Scheme {
	return &scheme{optFns: optFns, files: map[string]*Provider{}}
}

type scheme struct {
	optFns []func(*Options)

	mu    sync.Mutex
	files map[string]*Provider // by cleaned path; "" is the default file
}

// maxSchemeFiles bounds the distinct files a Scheme keeps Providers for.
const maxSchemeFiles = 64

func (s *scheme) Open(ref provider.Ref) (provider.Target, error) {
	if err := ref.OnlyParams("profile"); err != nil {
		return provider.Target{}, err
	}
	body, section := ref.Body, ref.Param("profile")
	isPath := strings.HasPrefix(body, "/") || strings.HasPrefix(body, "~") || strings.ContainsAny(body, `/\`)
	switch {
	case !isPath && section != "":
		return provider.Target{}, provider.InvalidRef(ref, "params", "has ?profile=, but the body already names a section; write file:SECTION, or file:PATH?profile=SECTION")
	case !isPath && body != "":
		section = body
		body = ""
	}
	if section == "" {
		section = provider.DefaultProfile
	}
	if err := validSection(section); err != nil {
		return provider.Target{}, provider.InvalidRef(ref, "body", "names a section that is not valid: "+err.Error())
	}
	path, err := s.path(ref, body)
	if err != nil {
		return provider.Target{}, err
	}
	fp := s.file(path)
	if fp.path == "" {
		return provider.Target{}, provider.InvalidRef(ref, "body", "names the default credentials file, which cannot be located: "+fp.pathErr)
	}
	abs, err := filepath.Abs(fp.path)
	if err != nil {
		return provider.Target{}, provider.InvalidRef(ref, "body", "names a file whose absolute path cannot be worked out")
	}
	var p provider.Provider = provider.Pin(fp, section)
	if ref.Field != "" {
		p = provider.OneField(p, ref.Field)
	}
	resources := []provider.Resource{{Scheme: "file", Path: filepath.ToSlash(abs) + "/" + section}}
	if real := securefile.RealPath(abs); real != abs {
		// Reached through a link: a policy must cover where it leads too.
		resources = append(resources, provider.Resource{Scheme: "file", Path: filepath.ToSlash(real) + "/" + section})
	}
	return provider.Target{Provider: p, Resources: resources}, nil
}

// ResourceShape says that every resource is a file's absolute path followed
// by a section: a [provider.ShapedScheme].
func (s *scheme) ResourceShape() provider.ResourceShape {
	return provider.ResourceShape{Pattern: "file:/*/**", Hint: "a file: pattern names a file's absolute path followed by a section, " +
		"such as file:/home/u/.mcp/credentials/* for every section of that file"}
}

// path turns a reference body into a cleaned absolute path, or "" for the
// default file.
func (s *scheme) path(ref provider.Ref, body string) (string, error) {
	switch {
	case body == "":
		return "", nil
	case strings.HasSuffix(body, "/") || body == "~":
		return "", provider.InvalidRef(ref, "body", "names a directory; name the credentials file")
	case strings.HasPrefix(body, "~/"):
		home, err := s.home()
		if err != nil || home == "" {
			return "", provider.InvalidRef(ref, "body", "starts with ~/, but there is no home directory to expand it to")
		}
		return filepath.Join(home, filepath.FromSlash(body[2:])), nil
	case strings.HasPrefix(body, "~"):
		return "", provider.InvalidRef(ref, "body", "starts with ~ but not ~/: only ~/ (your own home directory) is expanded")
	case !filepath.IsAbs(body):
		return "", provider.InvalidRef(ref, "body", "is a relative path; use an absolute path or one starting with ~/")
	}
	return filepath.Clean(body), nil
}

// home returns the home directory as New's default path would use it.
func (s *scheme) home() (string, error) {
	var o Options
	for _, fn := range s.optFns {
		fn(&o)
	}
	if o.UserHomeDir != nil {
		return o.UserHomeDir()
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return homeDir(getenv)
}

// file returns the shared Provider for path ("" for the default file).
func (s *scheme) file(path string) *Provider {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.files[path]; ok {
		return p
	}
	if len(s.files) >= maxSchemeFiles {
		clear(s.files) // Providers already handed out keep working.
	}
	fns := append(append(make([]func(*Options), 0, len(s.optFns)+1), s.optFns...), func(o *Options) {
		if path != "" {
			o.Path = path
		}
		getenv := o.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		// A reference names its section: MCP_CREDENTIAL_PROFILE must not
		// redirect file:PATH#default.
		o.Getenv = func(k string) string {
			if k == EnvProfile {
				return ""
			}
			return getenv(k)
		}
	})
	p := New(fns...)
	s.files[path] = p
	return p
}

// validSection reports why s cannot be a section name in a reference.
func validSection(s string) error {
	if err := provider.ValidName(s, 128); err != nil {
		return err
	}
	if strings.ContainsAny(s, "[]*") {
		return errors.New(`holds "[", "]" or "*"`)
	}
	return nil
}
