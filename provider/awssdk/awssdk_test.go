package awssdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/awssdk"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

const (
	staticKey    = "AKIDSTATICEXAMPLE"
	staticSecret = "CANARY-static-secret-9d1e4b7c"
	procKey      = "AKIDPROCESSEXAMPLE"
	procSecret   = "CANARY-process-secret-51aa0f2e"
	leakSecret   = "CANARY-leaked-by-helper-c0ffee42"
)

// home is an isolated AWS setup: its own HOME, shared files, and no AWS
// variables from the environment the tests run in.
type home struct {
	dir, config, credentials, helper string
}

func isolate(t *testing.T) *home {
	t.Helper()
	dir := t.TempDir()
	h := &home{
		dir:         dir,
		config:      filepath.Join(dir, ".aws", "config"),
		credentials: filepath.Join(dir, ".aws", "credentials"),
		helper:      filepath.Join(dir, "helper.sh"),
	}
	if err := os.MkdirAll(filepath.Dir(h.config), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_STS", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	} {
		t.Setenv(v, "")
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", h.config)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", h.credentials)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// The helper is made executable here: a checkout need not keep modes.
	src, err := os.ReadFile(filepath.Join("testdata", "helper.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.helper, src, 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newProvider(t *testing.T, optFns ...func(*awssdk.Options)) *awssdk.Provider {
	t.Helper()
	p, err := awssdk.New(optFns...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkNoLeak fails if err, printed any way, shows one of secrets.
func checkNoLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	checkNoLeakText(t, err, secrets...)
	for _, secret := range secrets {
		if s := fmt.Sprintf("%#v", err); strings.Contains(s, secret) {
			t.Errorf("error reveals %q: %s", secret, s)
		}
	}
}

// checkNoLeakText is checkNoLeak for the text of err only, not its Go
// syntax (%#v), which shows a *provider.Error's Profile field as it is.
func checkNoLeakText(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%q", err)} {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("error reveals %q: %s", secret, s)
			}
		}
	}
}

// stdinWithData replaces os.Stdin, for the test, with a pipe holding a line
// of data: a helper that inherits stdin reads it and fails.
func stdinWithData(t *testing.T) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	old := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = old; r.Close() })
}

func TestConformance(t *testing.T) {
	h := isolate(t)
	write(t, h.credentials, "[static]\naws_access_key_id = "+staticKey+"\naws_secret_access_key = "+staticSecret+"\n")
	write(t, h.config, "[profile static]\nregion = eu-west-1\n")
	providertest.Run(t, newProvider(t), providertest.Options{
		Profile:        "static",
		MissingProfile: "nope",
		WantFields:     []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey, provider.FieldRegion},
		Secrets:        []string{staticSecret},
	})
}

func TestProcessStderrNotStdout(t *testing.T) {
	if _, err := awssdk.New(func(o *awssdk.Options) { o.ProcessStderr = os.Stdout }); err == nil {
		t.Fatal("New accepted os.Stdout as ProcessStderr")
	}
}

func TestStaticProfile(t *testing.T) {
	h := isolate(t)
	write(t, h.credentials, "[static]\naws_access_key_id = "+staticKey+"\naws_secret_access_key = "+staticSecret+"\n")
	write(t, h.config, "[profile static]\nregion = eu-west-1\n")
	p := newProvider(t)
	c, err := p.Retrieve(context.Background(), "static")
	if err != nil {
		t.Fatal(err)
	}
	if c.Value(provider.FieldAccessKeyID) != staticKey || c.Value(provider.FieldSecretAccessKey) != staticSecret || c.Value(provider.FieldRegion) != "eu-west-1" {
		t.Fatalf("got %v", c)
	}
	if c.Has(provider.FieldSessionToken) || !c.Expires.IsZero() {
		t.Errorf("static keys: want no session token and no expiry, got %v", c)
	}
	if want := (provider.Source{Provider: "awssdk", Locator: `profile "static" (static keys)`}); c.Source != want {
		t.Errorf("Source = %+v, want %+v", c.Source, want)
	}
	providertest.CheckRendering(t, c, staticSecret)
}

// A rewritten credentials file is read again: the loaded configuration is
// kept only while the shared files are unchanged.
func TestFileChangeReloads(t *testing.T) {
	h := isolate(t)
	write(t, h.credentials, "[static]\naws_access_key_id = "+staticKey+"\naws_secret_access_key = "+staticSecret+"\n")
	p := newProvider(t)
	if _, err := p.Retrieve(context.Background(), "static"); err != nil {
		t.Fatal(err)
	}
	write(t, h.credentials, "[static]\naws_access_key_id = AKIDROTATED\naws_secret_access_key = rotated-secret-value\n")
	// Same size or not, a new modification time is a change.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(h.credentials, future, future); err != nil {
		t.Fatal(err)
	}
	c, err := p.Retrieve(context.Background(), "static")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Value(provider.FieldAccessKeyID); got != "AKIDROTATED" {
		t.Fatalf("after rotation access_key_id = %q, want AKIDROTATED", got)
	}
	os.Remove(h.credentials)
	if _, err := p.Retrieve(context.Background(), "static"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after removing the file: %v, want ErrNotFound", err)
	}
}

func TestNotFoundAndConfigErrors(t *testing.T) {
	h := isolate(t)
	write(t, h.credentials, "[static]\naws_access_key_id = "+staticKey+"\naws_secret_access_key = "+staticSecret+"\n")
	write(t, h.config, strings.Join([]string{
		"[profile regiononly]", "region = eu-west-1",
		"[profile dangling]", "role_arn = arn:aws:iam::123456789012:role/r", "source_profile = gone",
		"[profile mfa]", "role_arn = arn:aws:iam::123456789012:role/r", "source_profile = static", "mfa_serial = arn:aws:iam::123456789012:mfa/u",
	}, "\n")+"\n")
	p := newProvider(t)
	tests := []struct {
		profile  string
		notFound bool
		want     string
	}{
		{"nope", true, "no such profile"},
		// A request may paste a secret where a profile name belongs.
		{leakSecret, true, "no such profile"},
		// The profile exists but the chain finds nothing before IMDS, which
		// is disabled.
		{"regiononly", true, "EC2 instance metadata"},
		// A broken chain is a definite failure, not "nothing here".
		{"dangling", false, `source_profile names profile "gone"`},
		{"mfa", false, "mfa_serial"},
	}
	for _, tt := range tests {
		t.Run(tt.profile[:min(len(tt.profile), 12)], func(t *testing.T) {
			_, err := p.Retrieve(context.Background(), tt.profile)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, provider.ErrNotFound) != tt.notFound {
				t.Errorf("IsNotFound = %v, want %v: %v", !tt.notFound, tt.notFound, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Provider != "awssdk" {
				t.Errorf("error %T is not a *provider.Error of awssdk", err)
			}
			checkNoLeakText(t, err, leakSecret)
			checkNoLeak(t, err, staticSecret)
		})
	}
}

// A shared file the SDK cannot use is a definite failure that names the
// file and quotes none of it.
func TestBrokenFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, h *home)
		want  string
	}{
		{"partial keys", func(t *testing.T, h *home) {
			write(t, h.credentials, "[broken]\naws_secret_access_key = "+leakSecret+"\n")
		}, "aws_access_key_id without aws_secret_access_key"},
		{"directory", func(t *testing.T, h *home) {
			if err := os.Mkdir(h.credentials, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "cannot read"},
		{"unopenable", func(t *testing.T, h *home) {
			// A socket cannot be opened as a file, even by root; the SDK
			// skips such a file as if it were absent.
			l, err := net.Listen("unix", h.credentials)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, "cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := isolate(t)
			tt.setup(t, h)
			_, err := newProvider(t).Retrieve(context.Background(), "broken")
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable) {
				t.Errorf("a broken file must be a definite failure: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), h.credentials) {
				t.Errorf("error %q does not say %q about %s", err, tt.want, h.credentials)
			}
			checkNoLeak(t, err, leakSecret)
		})
	}
}

func TestDefaultChainEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENVEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", staticSecret)
	t.Setenv("AWS_REGION", "ap-south-1")
	p := newProvider(t)
	for _, profile := range []string{provider.DefaultProfile, ""} {
		c, err := p.Retrieve(context.Background(), profile)
		if err != nil {
			t.Fatal(err)
		}
		if c.Value(provider.FieldAccessKeyID) != "AKIDENVEXAMPLE" || c.Value(provider.FieldRegion) != "ap-south-1" {
			t.Fatalf("got %v", c)
		}
		if want := "default chain (environment variables)"; c.Source.Locator != want {
			t.Errorf("Locator = %q, want %q", c.Source.Locator, want)
		}
	}
}

// With no keys anywhere and IMDS disabled, the default chain has nothing.
func TestDefaultChainNothing(t *testing.T) {
	isolate(t)
	_, err := newProvider(t).Retrieve(context.Background(), provider.DefaultProfile)
	if !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

// AWS_PROFILE naming a missing profile is the SDK's error for the default
// chain, not "nothing here".
func TestDefaultChainMissingAWSProfile(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_PROFILE", "absent")
	_, err := newProvider(t).Retrieve(context.Background(), provider.DefaultProfile)
	if err == nil || errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), "AWS_PROFILE") {
		t.Fatalf("err = %v, want a definite error naming AWS_PROFILE", err)
	}
}

func TestProcessHelper(t *testing.T) {
	h := isolate(t)
	count := filepath.Join(h.dir, "runs")
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	write(t, h.config, fmt.Sprintf("[profile proc]\nregion = us-west-2\ncredential_process = %s ok %s %s %s %s\n",
		h.helper, procKey, procSecret, expires.Format(time.RFC3339), count))
	stdinWithData(t)
	var stderr bytes.Buffer
	p := newProvider(t, func(o *awssdk.Options) { o.ProcessStderr = &stderr })
	c, err := p.Retrieve(context.Background(), "proc")
	if err != nil {
		t.Fatalf("Retrieve: %v (helper stderr: %q)", err, stderr.String())
	}
	if c.Value(provider.FieldAccessKeyID) != procKey || c.Value(provider.FieldSecretAccessKey) != procSecret ||
		c.Value(provider.FieldSessionToken) != "session-token-from-helper" || c.Value(provider.FieldRegion) != "us-west-2" ||
		c.Value(awssdk.FieldAccountID) != "123456789012" {
		t.Fatalf("got %v", c)
	}
	if !c.Expires.Equal(expires) {
		t.Errorf("Expires = %v, want %v", c.Expires, expires)
	}
	if want := `profile "proc" (credential_process)`; c.Source.Locator != want {
		t.Errorf("Locator = %q, want %q", c.Source.Locator, want)
	}
	// The helper's stderr went where Options.ProcessStderr says, and it saw
	// end of file on stdin (else it would have failed with status 3).
	if !strings.Contains(stderr.String(), "STDERR-JUNK-7f3a") || strings.Contains(stderr.String(), "read from stdin") {
		t.Errorf("helper stderr = %q", stderr.String())
	}
	// Expiring credentials are reused from the SDK's cache.
	if _, err := p.Retrieve(context.Background(), "proc"); err != nil {
		t.Fatal(err)
	}
	if runs := countLines(t, count); runs != 1 {
		t.Errorf("helper ran %d times for two Retrieves of unexpired credentials, want 1", runs)
	}
	// Invalidate makes the next Retrieve ask again.
	p.Invalidate("proc")
	if _, err := p.Retrieve(context.Background(), "proc"); err != nil {
		t.Fatal(err)
	}
	if runs := countLines(t, count); runs != 2 {
		t.Errorf("helper ran %d times after Invalidate, want 2", runs)
	}
	providertest.CheckRendering(t, c, procSecret)
}

// A helper whose credentials do not expire is asked again on every
// Retrieve: the SDK's cache would otherwise keep them for the life of the
// process, and a resolver's refresh would never reach the helper.
func TestProcessHelperWithoutExpiry(t *testing.T) {
	h := isolate(t)
	count := filepath.Join(h.dir, "runs")
	write(t, h.config, fmt.Sprintf("[profile proc]\ncredential_process = %s ok %s %s - %s\n", h.helper, procKey, procSecret, count))
	p := newProvider(t)
	for range 3 {
		c, err := p.Retrieve(context.Background(), "proc")
		if err != nil {
			t.Fatal(err)
		}
		if !c.Expires.IsZero() || c.Has(provider.FieldRegion) {
			t.Errorf("got %v, want no expiry and no region", c)
		}
	}
	if runs := countLines(t, count); runs != 3 {
		t.Errorf("helper ran %d times for three Retrieves, want 3", runs)
	}
}

// The default chain runs [default]'s credential_process the same safe way.
func TestProcessHelperDefaultChain(t *testing.T) {
	h := isolate(t)
	write(t, h.config, fmt.Sprintf("[default]\ncredential_process = %s ok %s %s\n", h.helper, procKey, procSecret))
	stdinWithData(t)
	c, err := newProvider(t).Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value(provider.FieldSecretAccessKey) != procSecret {
		t.Fatalf("got %v", c)
	}
}

func TestProcessHelperFailures(t *testing.T) {
	h := isolate(t)
	write(t, h.config, strings.Join([]string{
		"[profile fail]", fmt.Sprintf("credential_process = %s fail %s", h.helper, leakSecret),
		"[profile garbage]", fmt.Sprintf("credential_process = %s garbage %s", h.helper, leakSecret),
		"[profile version]", fmt.Sprintf("credential_process = %s version %s", h.helper, leakSecret),
		"[profile sleep]", fmt.Sprintf("credential_process = %s sleep", h.helper),
		"[profile missing]", "credential_process = " + filepath.Join(h.dir, "no-such-helper") + " " + leakSecret,
	}, "\n")+"\n")
	var stderr bytes.Buffer
	p := newProvider(t, func(o *awssdk.Options) {
		o.ProcessStderr = &stderr
		o.LoadOptions = append(o.LoadOptions, config.WithProcessCredentialOptions(func(po *processcreds.Options) {
			po.Timeout = 500 * time.Millisecond
		}))
	})
	tests := []struct {
		profile     string
		want        string
		exit        int
		unavailable bool
	}{
		{"fail", "exited with status 1", 1, false},
		{"garbage", "not credential JSON", -1, false},
		{"version", "output rejected: wrong version in process output (not 1)", -1, false},
		{"sleep", "ran past its timeout", -1, true},
		{"missing", "exited with status 127", 127, false},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			_, err := p.Retrieve(context.Background(), tt.profile)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			checkNoLeak(t, err, leakSecret)
			var pe *awssdk.ProcessError
			if !errors.As(err, &pe) || !errors.Is(err, awssdk.ErrProcess) {
				t.Fatalf("error %v is not a *ProcessError wrapping ErrProcess", err)
			}
			if !strings.Contains(err.Error(), tt.want) || pe.ExitCode != tt.exit {
				t.Errorf("error %q (exit %d), want %q (exit %d)", err, pe.ExitCode, tt.want, tt.exit)
			}
			if errors.Is(err, provider.ErrUnavailable) != tt.unavailable || errors.Is(err, provider.ErrNotFound) {
				t.Errorf("IsUnavailable = %v, want %v; IsNotFound = %v", errors.Is(err, provider.ErrUnavailable), tt.unavailable, errors.Is(err, provider.ErrNotFound))
			}
		})
	}
	// What the helper printed went to ProcessStderr only.
	if !strings.Contains(stderr.String(), leakSecret) {
		t.Errorf("the helper's stderr did not reach Options.ProcessStderr: %q", stderr.String())
	}
}

// The SDK's own process provider hands the helper this process's stdin:
// the reason this package replaces it. If this test fails, the SDK changed
// and the replacement may be revisited.
func TestSDKProcessProviderInheritsStdin(t *testing.T) {
	h := isolate(t)
	stdinWithData(t)
	_, err := processcreds.NewProvider(h.helper + " ok " + procKey + " " + procSecret).Retrieve(context.Background())
	var pe *processcreds.ProviderError
	if err == nil || !errors.As(err, &pe) {
		t.Fatalf("the SDK's helper did not read stdin (err %v): the SDK no longer passes it on", err)
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}
