// Command quickstart shows mcpcred resolving credentials with no setup: it
// makes a throwaway home directory with a sample ~/.mcp/credentials file and
// a sample secrets directory, sets sample environment variables, and walks
// the chain env → file → secretfile, printing each step's attribution and
// the redacted result.
//
//	go run ./examples/quickstart
//
// Nothing it prints is a secret value: credentials print as field names and
// their source, and values as [REDACTED].
package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/resolver"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// sample is the throwaway environment the quickstart runs in.
type sample struct {
	home, creds, secrets string
}

func setUp() (*sample, error) {
	home, err := os.MkdirTemp("", "mcpcred-quickstart-")
	if err != nil {
		return nil, err
	}
	s := &sample{home: home, creds: filepath.Join(home, ".mcp", "credentials"), secrets: filepath.Join(home, "run-secrets")}
	if err := os.MkdirAll(filepath.Dir(s.creds), 0o700); err != nil {
		return nil, err
	}
	if err := writeCredentials(s.creds, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.secrets, 0o700); err != nil {
		return nil, err
	}
	docker := `{"aws_access_key_id": "AKIADOCKEREXAMPLE", "aws_secret_access_key": "docker/secret/EXAMPLEKEY"}`
	if err := os.WriteFile(filepath.Join(s.secrets, "docker.json"), []byte(docker), 0o600); err != nil {
		return nil, err
	}
	// The providers read these when they are built.
	os.Setenv("HOME", home)
	os.Unsetenv("MCP_CREDENTIALS_FILE")
	os.Unsetenv("MCP_CREDENTIAL_PROFILE")
	os.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "env/secret/EXAMPLEKEY")
	os.Setenv("AWS_REGION", "eu-west-1")
	return s, nil
}

func writeCredentials(path, defaultSecret string) error {
	ini := `[default]
aws_access_key_id = AKIAFILEEXAMPLE
aws_secret_access_key = ` + defaultSecret + `

[production]
aws_access_key_id = AKIAPRODEXAMPLE
aws_secret_access_key = prod/secret#with;comment-chars
region = us-west-2
`
	return os.WriteFile(path, []byte(ini), 0o600)
}

func run(ctx context.Context, out io.Writer) error {
	s, err := setUp()
	if err != nil {
		return err
	}
	defer os.RemoveAll(s.home)

	// 1. Build the chain: environment variables, then ~/.mcp/credentials,
	//    then the secrets directory. Each provider is its own package.
	chain := []provider.Provider{
		env.New(),
		file.New(),
		secretfile.New(func(o *secretfile.Options) { o.Dir = s.secrets }),
	}
	r, err := resolver.New(chain, func(o *resolver.Options) {
		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
		o.AllowProfile = resolver.AnyProfile // this program picks profiles itself
		o.AllowRequestCredentials = true     // shown below; off by default
		o.Logger = slog.New(slog.DiscardHandler)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "chain: %s\n", strings.Join(r.Providers(), " → "))

	step := func(title string, req resolver.Request) {
		fmt.Fprintf(out, "\n== %s\n", title)
		res, err := r.Resolve(ctx, req)
		if err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
			return
		}
		report(out, res)
	}

	step("default profile, AWS variables set: env answers", resolver.Request{})

	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		os.Unsetenv(v)
	}
	r.InvalidateAll()
	step("AWS variables unset: env is skipped, the file's [default] section answers", resolver.Request{})

	step(`profile "production": the file's [production] section`, resolver.Request{Profile: "production"})
	step(`profile "docker": not in the file, so the secrets directory answers`, resolver.Request{Profile: "docker"})

	before, _ := r.Resolve(ctx, resolver.Request{})
	if err := writeCredentials(s.creds, "rotated/secret/EXAMPLEKEY"); err != nil {
		return err
	}
	r.Invalidate("") // what a server does when AWS answers AuthFailure
	after, err := r.Resolve(ctx, resolver.Request{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== rotation: the file was rewritten; after Invalidate the new value is used without a restart\n")
	fmt.Fprintf(out, "secret_access_key fingerprint before %s, after %s\n",
		fingerprint(before.Credentials.Get(provider.FieldSecretAccessKey)), fingerprint(after.Credentials.Get(provider.FieldSecretAccessKey)))

	step("credentials passed in the request win, and are never cached", resolver.Request{
		Credentials: provider.NewCredentials(map[string]string{
			provider.FieldAccessKeyID:     "AKIAREQUESTEXAMPLE",
			provider.FieldSecretAccessKey: "request/secret/EXAMPLEKEY",
		}, provider.Source{}),
	})

	step(`profile "staging": nobody has it, and the error says why for each provider`, resolver.Request{Profile: "staging"})

	os.Chmod(s.creds, 0o644)
	r.InvalidateAll()
	step("the credentials file made world-readable: refused, with the fix", resolver.Request{})
	return nil
}

func report(out io.Writer, res resolver.Result) {
	for _, a := range res.Skipped {
		fmt.Fprintf(out, "skipped %s\n", a)
	}
	fmt.Fprintf(out, "got %v\n", res.Credentials)
	for _, n := range res.Credentials.Names() {
		v := res.Credentials.Get(n)
		if n == provider.FieldRegion {
			fmt.Fprintf(out, "  %s = %s\n", n, v.Reveal()) // a region is not secret
			continue
		}
		fmt.Fprintf(out, "  %s = %v\n", n, v)
	}
}

// fingerprint identifies a value without revealing it: the first bytes of
// its SHA-256.
func fingerprint(s provider.Secret) string {
	if s.IsZero() {
		return "(none)"
	}
	sum := sha256.Sum256([]byte(s.Reveal()))
	return fmt.Sprintf("sha256:%x…", sum[:4])
}
