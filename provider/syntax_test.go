package provider_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
)

func TestSyntaxError(t *testing.T) {
	errBad := errors.New("pkg: malformed file")
	for _, tt := range []struct {
		name string
		err  provider.SyntaxError
		want string
	}{
		{"everything", provider.SyntaxError{Path: "/etc/creds", Format: "INI", Line: 3, Column: 7, Reason: "what is wrong", Err: errBad},
			"pkg: malformed file: /etc/creds:3:7: what is wrong"},
		{"no column", provider.SyntaxError{Path: "/etc/creds", Line: 3, Reason: "what is wrong", Err: errBad},
			"pkg: malformed file: /etc/creds:3: what is wrong"},
		{"no position", provider.SyntaxError{Path: "/etc/creds", Reason: "what is wrong", Err: errBad},
			"pkg: malformed file: /etc/creds: what is wrong"},
		{"column without a line", provider.SyntaxError{Path: "/etc/creds", Column: 7, Reason: "what is wrong", Err: errBad},
			"pkg: malformed file: /etc/creds: what is wrong"},
		{"no path", provider.SyntaxError{Line: 3, Column: 7, Reason: "what is wrong", Err: errBad},
			"pkg: malformed file: 3:7: what is wrong"},
		{"line only", provider.SyntaxError{Line: 3, Reason: "what is wrong", Err: errBad},
			"pkg: malformed file: 3: what is wrong"},
		{"no reason", provider.SyntaxError{Path: "/etc/creds", Line: 3, Err: errBad},
			"pkg: malformed file: /etc/creds:3"},
		{"reason only", provider.SyntaxError{Reason: "what is wrong", Err: errBad},
			"pkg: malformed file: what is wrong"},
		{"no sentinel", provider.SyntaxError{Path: "/etc/creds", Line: 3, Reason: "what is wrong"},
			"/etc/creds:3: what is wrong"},
		{"sentinel only", provider.SyntaxError{Err: errBad}, "pkg: malformed file"},
		{"negative position", provider.SyntaxError{Line: -1, Column: -1, Reason: "what is wrong", Err: errBad},
			"pkg: malformed file: what is wrong"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.err
			if got := e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			var err error = fmt.Errorf("wrapped: %w", &e)
			if !errors.Is(err, errBad) != (tt.err.Err == nil) {
				t.Errorf("errors.Is(err, sentinel) = %v with Err = %v", errors.Is(err, errBad), tt.err.Err)
			}
			var se *provider.SyntaxError
			if !errors.As(err, &se) || se != &e {
				t.Errorf("errors.As did not find the *SyntaxError in %v", err)
			}
			if errors.Is(err, fs.ErrNotExist) || provider.IsNotFound(err) || provider.IsUnavailable(err) {
				t.Errorf("%v unwraps to an unrelated sentinel", err)
			}
		})
	}
}

func ExampleSyntaxError() {
	// A parsing package declares a sentinel named after itself ...
	errMalformed := errors.New("file: malformed credentials file")
	// ... and returns a *SyntaxError for each problem it finds.
	var err error = &provider.SyntaxError{
		Path:   "/home/u/.mcp/credentials",
		Format: "INI",
		Line:   3,
		Reason: "key outside any section; put a [section] header above it",
		Err:    errMalformed,
	}

	fmt.Println(err)
	var se *provider.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Path, se.Line, errors.Is(err, errMalformed))
	}
	// Output:
	// file: malformed credentials file: /home/u/.mcp/credentials:3: key outside any section; put a [section] header above it
	// /home/u/.mcp/credentials 3 true
}
