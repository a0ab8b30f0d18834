package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/file"
)

// writeExample writes a credentials file the way a user should: mode 0600
// in a directory of mode 0700. It returns the file's path.
func writeExample(content string) (path string, cleanup func()) {
	home, err := os.MkdirTemp("", "home")
	if err != nil {
		panic(err)
	}
	dir := filepath.Join(home, ".mcp")
	if err := os.Mkdir(dir, 0o700); err != nil {
		panic(err)
	}
	path = filepath.Join(dir, "credentials")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		panic(err)
	}
	return path, func() { os.RemoveAll(home) }
}

const exampleFile = `[default]
aws_access_key_id = AKIAEXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG#bPxRfiCY
region = us-east-1

[github]
token = ghp_example
`

func ExampleNew() {
	path, cleanup := writeExample(exampleFile)
	defer cleanup()

	p := file.New(func(o *file.Options) { o.Path = path })
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Names())
	fmt.Println(c.Get(provider.FieldSecretAccessKey)) // redacted
	fmt.Println(len(c.Value(provider.FieldSecretAccessKey)))
	fmt.Println(strings.TrimPrefix(c.Source.Locator, path))

	_, err = p.Retrieve(context.Background(), "staging")
	fmt.Println(errors.Is(err, provider.ErrNotFound))
	// Output:
	// [access_key_id region secret_access_key]
	// [REDACTED]
	// 30
	//  [default]
	// true
}

// MCP_CREDENTIAL_PROFILE chooses the section for the default profile;
// HOME (or MCP_CREDENTIALS_FILE) chooses the file.
func ExampleNew_environment() {
	path, cleanup := writeExample(exampleFile)
	defer cleanup()
	home := filepath.Dir(filepath.Dir(path))

	vars := map[string]string{"HOME": home, "MCP_CREDENTIAL_PROFILE": "github"}
	p := file.New(func(o *file.Options) { o.Getenv = func(k string) string { return vars[k] } })
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Path() == path, p.Section(provider.DefaultProfile), c.Names())
	// Output:
	// true github [token]
}

// A malformed file is a *provider.SyntaxError wrapping ErrMalformed: it
// names the file and the line, never the line's text.
func ExampleErrMalformed() {
	path, cleanup := writeExample("[default]\naws_access_key_id = AKIAEXAMPLE\nwJalrXUtnFEMI/K7MDENG\n")
	defer cleanup()

	p := file.New(func(o *file.Options) { o.Path = path })
	_, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	var se *provider.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(errors.Is(err, file.ErrMalformed), se.Path == path, se.Line)
		fmt.Println(strings.ReplaceAll(se.Error(), path, "PATH"))
	}
	// Output:
	// true true 3
	// file: malformed credentials file: PATH:3: expected KEY = VALUE, a [section] header or a # comment; if it is the rest of the value on line 2, wrapped, join the wrapped value onto line 2
}

// Scheme serves "file:" references, such as the sources of a profiles file
// or a request's credential_id. The references to one file share one
// Provider, so the file is read and parsed once for all of its sections.
func ExampleScheme() {
	path, cleanup := writeExample(exampleFile)
	defer cleanup()
	home := filepath.Dir(filepath.Dir(path)) // the file is ~/.mcp/credentials

	var schemes provider.Schemes
	schemes.Register("file", file.Scheme(func(o *file.Options) {
		o.Getenv = func(k string) string { return map[string]string{"HOME": home}[k] }
	}))

	for _, ref := range []string{"file:github", "file:~/.mcp/credentials", "file:" + path + "?profile=staging"} {
		p, _, err := schemes.Provider(ref)
		if err != nil {
			fmt.Println(err)
			continue
		}
		c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
		fmt.Println(c.Names(), errors.Is(err, provider.ErrNotFound))
	}

	_, _, err := schemes.Provider("file:./credentials?profile=github")
	fmt.Println(err)
	// Output:
	// [token] false
	// [access_key_id region secret_access_key] false
	// [] true
	// provider: invalid credential reference: the 33-byte file: reference: its body is a relative path; use an absolute path or one starting with ~/
}
