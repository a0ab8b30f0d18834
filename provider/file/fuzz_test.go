package file

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"gopkg.in/ini.v1"
)

// syntaxMessage is the only shape a parse error may have: the sentinel, the
// file and line, and a fixed reason, no input bytes.
var syntaxMessage = regexp.MustCompile(`^file: malformed credentials file: /fuzz/credentials(:[0-9]+)?: (` + strings.Join([]string{
	`the INI parser rejected the file`,
	`the file is UTF-16; save it as UTF-8`,
	`section header has no closing \]`,
	`empty section name`,
	`key outside any section; put a \[section\] header above it`,
	`quoted key names are not supported`,
	`expected KEY = VALUE, a \[section\] header or a # comment`,
	`empty key name`,
	`the text before = is not a key: a key is letters, digits and _, such as aws_session_token`,
	`the value is only = signs`,
	`the key is not a known field name and has no value; remove the line`,
	"value starts with ` or \"\"\", which INI reads as a quoted multi-line string; this is not supported",
}, "|") + `)(; if it is the rest of the value on line [0-9]+, wrapped, join the wrapped value onto line [0-9]+)?$`)

// FuzzParse checks the parser and the section lookup on arbitrary files:
// no panics; lint is at least as strict as ini.v1, so every rejection gets a
// line number; accepted values are single lines; parse errors contain no
// input bytes; lookup errors contain no values.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata", "testdata/malformed"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data, "default")
		}
	}
	f.Add([]byte("[a]\nk = v\n[profile a]\nk = w\n"), "a")
	f.Add([]byte("[a]\naws_region = x\nregion = y\n"), "a")
	f.Add([]byte("[a]\nk = \"\"\"\nv\n\"\"\"\n"), "a")
	f.Add([]byte("[a]\nk = `v`\n"), "a")
	f.Add([]byte("[a]\nk = v\\\nw\n"), "a")
	f.Add([]byte("[a.b]\nk = v\n[a]\nj = w\n"), "a.b")
	f.Add([]byte("[DEFAULT]\nk = %(j)s\nj = x\n"), "DEFAULT")
	f.Add([]byte("\xef\xbb\xbf[a]\n\xef\xbb\xbfk=v"), "a")
	f.Add([]byte("[a]\naws_session_token = IQoJb3JpZ2luX2VjEJr\nTAIL0FD3Bm9yZXhhbXBsZQ=\n"), "a")
	f.Add([]byte("[a]\naws_session_token = IQoJb3JpZ2luX2VjEJr\n  Zm9yZXhh/bXBsZQ==\n"), "a")

	p := New(func(o *Options) { o.Path = "/fuzz/credentials"; o.Getenv = env(nil) })
	f.Fuzz(func(t *testing.T, data []byte, profile string) {
		_, iniErr := ini.LoadSources(loadOptions, data)
		lintErr := lint(data)
		if lintErr == nil && iniErr != nil {
			t.Fatalf("lint accepts a file ini.v1 rejects (%v)", iniErr)
		}
		pf, err := parseAt(p.Path())(data)
		if err != nil {
			var se *provider.SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrMalformed) || se.Path != p.Path() || se.Format != "INI" {
				t.Fatalf("parse error %T (%v) is not a *provider.SyntaxError wrapping ErrMalformed and naming the file", err, err)
			}
			if se.Reason == "the INI parser rejected the file" || se.Line < 1 {
				t.Fatalf("parse error without a line number: %v", err)
			}
			if !syntaxMessage.MatchString(err.Error()) {
				t.Fatalf("parse error has an unexpected shape, maybe input bytes: %q", err)
			}
			return
		}
		// Lookup errors must not depend on the values: the same file with
		// every non-empty value replaced must give the same error text.
		masked := &parsed{names: pf.names, sections: map[string]*section{}, profiles: map[string]*section{}}
		for name, sec := range pf.sections {
			m := *sec
			m.fields = make(map[string]provider.Secret, len(sec.fields))
			for field, v := range sec.fields {
				if !provider.ValidField(field) {
					t.Fatalf("a key that is not a field name became field %q", field)
				}
				if strings.Contains(v.Reveal(), "\n") || v.Reveal() != strings.TrimSpace(v.Reveal()) {
					t.Fatalf("value of %s in [%s] is not a trimmed single line", field, name)
				}
				m.fields[field] = provider.NewSecret("masked")
			}
			masked.sections[name] = &m
		}
		for alias, sec := range pf.profiles {
			masked.profiles[alias] = masked.sections[sec.name]
		}
		for _, name := range []string{p.Section(profile), "default", profile} {
			c, err := p.credentials(pf, profile, name)
			mc, merr := p.credentials(masked, profile, name)
			if (err == nil) != (merr == nil) {
				t.Fatalf("lookup of [%s]: error %v, with values masked %v", name, err, merr)
			}
			if err == nil {
				if c.IsZero() || c.Source != mc.Source || c.Source.Provider != Name {
					t.Fatalf("credentials %v, with values masked %v", c, mc)
				}
				continue
			}
			if err.Error() != merr.Error() {
				t.Fatalf("lookup error depends on values:\n%q\n%q", err, merr)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("lookup error %T is not a *provider.Error", err)
			}
		}
	})
}
