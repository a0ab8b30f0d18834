package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mcpcred/mcpcred/provider"
)

// Scheme returns the [provider.Scheme] for "file:" references, to register
// in a [provider.Schemes]:
//
//	s.Register("file", file.Scheme())
//
// The forms are
//
//	file:#SECTION          section SECTION of the default credentials file
//	file:PATH#SECTION      section SECTION of the file at PATH
//	file:PATH              section [default] of the file at PATH
//	file:                  section [default] of the default credentials file
//
// PATH is absolute or starts with "~/" (the home directory); a relative
// path is refused, since it would depend on the working directory. The
// default file is the one [New] picks ($MCP_CREDENTIALS_FILE, else
// ~/.mcp/credentials). A reference names its section, so
// MCP_CREDENTIAL_PROFILE does not apply to it.
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

func (s *scheme) Provider(ref provider.Ref) (provider.Provider, error) {
	section := ref.Fragment
	if section == "" {
		section = provider.DefaultProfile
	} else if err := validSection(section); err != nil {
		return nil, refError("fragment", "section %s %v", quote(section), err)
	}
	path, err := s.path(ref.Body)
	if err != nil {
		return nil, err
	}
	return provider.Pin(s.file(path), section), nil
}

// path turns a reference body into a cleaned absolute path, or "" for the
// default file.
func (s *scheme) path(body string) (string, error) {
	switch {
	case body == "":
		return "", nil
	case strings.HasSuffix(body, "/") || body == "~":
		return "", refError("body", "%s names a directory; name the credentials file", quote(body))
	case strings.HasPrefix(body, "~/"):
		home, err := s.home()
		if err != nil {
			return "", refError("body", "%s: cannot expand ~/: %v", quote(body), err)
		}
		return filepath.Join(home, filepath.FromSlash(body[2:])), nil
	case strings.HasPrefix(body, "~"):
		return "", refError("body", "%s: only ~/ (your own home directory) is expanded", quote(body))
	case !filepath.IsAbs(body):
		return "", refError("body", "%s is a relative path; use an absolute path or one starting with ~/", quote(body))
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
	switch {
	case len(s) > 128:
		return errors.New("is longer than 128 bytes")
	case strings.TrimSpace(s) != s:
		return errors.New("has leading or trailing white space (section names are trimmed)")
	case strings.ContainsAny(s, "[]"):
		return errors.New(`holds "[" or "]"`)
	}
	return nil
}

func refError(part, format string, args ...any) error {
	return fmt.Errorf("%w: file: %s: %s", provider.ErrInvalidRef, part, fmt.Sprintf(format, args...))
}

func quote(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("(%d bytes)", len(s))
	}
	return fmt.Sprintf("%q", s)
}
