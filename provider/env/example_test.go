package env_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
)

// fakeEnv returns a Getenv and an Environ over a fixed map.
func fakeEnv(m map[string]string) (func(string) string, func() []string) {
	return func(k string) string { return m[k] }, func() []string {
		var out []string
		for k, v := range m {
			out = append(out, k+"="+v)
		}
		return out
	}
}

func ExampleNew() {
	getenv, _ := fakeEnv(map[string]string{
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_DEFAULT_REGION":    "eu-west-1",
	})
	p := env.New(func(o *env.Options) { o.Getenv = getenv })

	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	fmt.Println(c, err)
	fmt.Println(c.Value(provider.FieldRegion))

	_, err = p.Retrieve(context.Background(), "prod")
	fmt.Println(errors.Is(err, provider.ErrNotFound))
	// Output:
	// credentials{access_key_id, region, secret_access_key} from env (AWS_ACCESS_KEY_ID, AWS_DEFAULT_REGION, AWS_SECRET_ACCESS_KEY) <nil>
	// eu-west-1
	// true
}

func ExampleNew_fileIndirection() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "aws_secret")
	os.WriteFile(path, []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"), 0o600)

	getenv, _ := fakeEnv(map[string]string{
		"AWS_ACCESS_KEY_ID":          "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY_FILE": path,
	})
	p := env.New(func(o *env.Options) { o.Getenv = getenv })
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	fmt.Println(c.Source, err)
	fmt.Println(len(c.Value(provider.FieldSecretAccessKey)))
	// Output:
	// env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY_FILE) <nil>
	// 40
}

func ExampleNew_prefix() {
	getenv, environ := fakeEnv(map[string]string{
		"MCP_CI_API_TOKEN": "tok-123",
		"MCP_CI_USERNAME":  "ci-bot",
		"HOME":             "/root",
	})
	p := env.New(func(o *env.Options) {
		o.Prefix = "MCP_CI_"
		o.Getenv, o.Environ = getenv, environ
		o.AllProfiles = true
	})
	c, err := p.Retrieve(context.Background(), "ci")
	fmt.Println(c, err)
	// Output:
	// credentials{api_token, username} from env (MCP_CI_API_TOKEN, MCP_CI_USERNAME) <nil>
}

func ExampleNew_customVars() {
	getenv, _ := fakeEnv(map[string]string{"GH_TOKEN": "ghp_example"})
	p := env.New(func(o *env.Options) {
		o.Getenv = getenv
		o.Vars = map[string][]string{provider.FieldToken: {"GITHUB_TOKEN", "GH_TOKEN"}}
	})
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	fmt.Println(c, err)
	// Output:
	// credentials{token} from env (GH_TOKEN) <nil>
}

func ExampleFileValue() {
	v, _ := env.FileValue([]byte("s3cr3t\r\n"), 0)
	fmt.Printf("%q\n", v)
	v, _ = env.FileValue([]byte("two\n\n"), 0)
	fmt.Printf("%q\n", v)
	// Output:
	// "s3cr3t"
	// "two\n"
}

func ExamplePrefixField() {
	for _, name := range []string{"MCP_CI_API_TOKEN", "MCP_CI_API_TOKEN_FILE", "MCP_CI_", "MCP_CI_BAD-NAME"} {
		field, isFile, ok := env.PrefixField("MCP_CI_", name)
		fmt.Println(name, field, isFile, ok)
	}
	// Output:
	// MCP_CI_API_TOKEN api_token false true
	// MCP_CI_API_TOKEN_FILE api_token true true
	// MCP_CI_  false false
	// MCP_CI_BAD-NAME  false false
}

// Scheme serves "env:" references, such as the sources of a profiles file
// or a request's credential_id.
func ExampleScheme() {
	getenv, environ := fakeEnv(map[string]string{
		"MCP_CI_TOKEN":    "ci-token",
		"MCP_CI_USERNAME": "ci-bot",
		"GITHUB_TOKEN":    "ghp_example",
	})
	var schemes provider.Schemes
	schemes.Register("env", env.Scheme(func(o *env.Options) { o.Getenv, o.Environ = getenv, environ }))

	for _, ref := range []string{"env:MCP_CI_*", "env:GITHUB_TOKEN#token"} {
		p, _, err := schemes.Provider(ref)
		if err != nil {
			fmt.Println(err)
			continue
		}
		c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
		fmt.Println(ref, "=>", c, err)
	}

	// env: is AWS's variables; none is set here.
	p, _, _ := schemes.Provider("env:")
	_, err := p.Retrieve(context.Background(), "prod")
	fmt.Println(errors.Is(err, provider.ErrNotFound))

	_, _, err = schemes.Provider("env:MCP-CI_*")
	fmt.Println(err)
	// Output:
	// env:MCP_CI_* => credentials{token, username} from env (MCP_CI_TOKEN, MCP_CI_USERNAME) <nil>
	// env:GITHUB_TOKEN#token => credentials{token} from env (GITHUB_TOKEN) <nil>
	// true
	// provider: invalid credential reference: the 12-byte env: reference: its body is not a prefix: a prefix is a variable name followed by one *, such as MCP_CI_*
}
