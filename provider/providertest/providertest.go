package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
)

// Options describes what the provider under test holds.
type Options struct {
	// Profile has data in the provider. Default provider.DefaultProfile.
	Profile string
	// MissingProfile has no data in the provider; Retrieve for it must wrap
	// provider.ErrNotFound. Leave empty for providers that answer every
	// profile (such as a static provider configured to do so).
	MissingProfile string
	// WantFields must be present in the result for Profile.
	WantFields []string
	// Secrets are values that must never appear in errors or renderings.
	// The suite also checks every value the provider returns.
	Secrets []string
	// Concurrency is the number of goroutines in the concurrency check.
	// Default 16.
	Concurrency int
	// Timeout bounds every call the suite makes. Default 10s.
	Timeout time.Duration
	// SkipCancellation skips the cancellation check, for providers whose
	// answer never involves I/O and which document that they ignore ctx.
	SkipCancellation bool
}

// Run runs the conformance suite against p as subtests of t.
func Run(t *testing.T, p provider.Provider, opts Options) {
	t.Helper()
	if opts.Profile == "" {
		opts.Profile = provider.DefaultProfile
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	name := provider.NameOf(p)

	var secrets []string
	secrets = append(secrets, opts.Secrets...)

	t.Run("Retrieve", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
		defer cancel()
		c, err := p.Retrieve(ctx, opts.Profile)
		if err != nil {
			t.Fatalf("Retrieve(%q): %v", opts.Profile, err)
		}
		if c.IsZero() {
			t.Fatalf("Retrieve(%q) returned no fields and no error", opts.Profile)
		}
		if c.Source.Provider == "" {
			t.Errorf("Retrieve(%q): Source.Provider is empty; it should name the provider (%s)", opts.Profile, name)
		}
		if missing := c.Missing(opts.WantFields...); len(missing) > 0 {
			t.Errorf("Retrieve(%q): missing fields %v (have %v)", opts.Profile, missing, c.Names())
		}
		for _, n := range c.Names() {
			secrets = append(secrets, c.Value(n))
		}
		checkRendering(t, c, secrets)
	})

	if opts.MissingProfile != "" {
		t.Run("NotFound", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
			defer cancel()
			c, err := p.Retrieve(ctx, opts.MissingProfile)
			if err == nil {
				t.Fatalf("Retrieve(%q) = %v, want an error wrapping provider.ErrNotFound", opts.MissingProfile, c)
			}
			if !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("Retrieve(%q) error %q does not wrap provider.ErrNotFound", opts.MissingProfile, err)
			}
			checkError(t, err, secrets)
		})
	}

	if !opts.SkipCancellation {
		t.Run("Canceled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			checkDone(t, p, ctx, opts, context.Canceled, secrets)
		})
		t.Run("DeadlineExceeded", func(t *testing.T) {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			checkDone(t, p, ctx, opts, context.DeadlineExceeded, secrets)
		})
	}

	t.Run("Concurrent", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
		defer cancel()
		var wg sync.WaitGroup
		results := make([]provider.Credentials, opts.Concurrency)
		errs := make([]error, opts.Concurrency)
		for i := range opts.Concurrency {
			wg.Go(func() { results[i], errs[i] = p.Retrieve(ctx, opts.Profile) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("goroutine %d: Retrieve(%q): %v", i, opts.Profile, err)
			}
		}
		first := results[0]
		for i, c := range results[1:] {
			if !sameFields(first, c) {
				t.Fatalf("goroutine %d got fields %v, goroutine 0 got %v, or their values differ", i+1, c.Names(), first.Names())
			}
		}
	})
}

func checkDone(t *testing.T, p provider.Provider, ctx context.Context, opts Options, want error, secrets []string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := p.Retrieve(ctx, opts.Profile)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("Retrieve with a done context returned no error; want one wrapping %v", want)
		}
		if !errors.Is(err, want) {
			t.Fatalf("Retrieve with a done context: error %q does not wrap %v", err, want)
		}
		checkError(t, err, secrets)
	case <-time.After(opts.Timeout):
		t.Fatalf("Retrieve with a done context did not return within %v", opts.Timeout)
	}
}

func sameFields(a, b provider.Credentials) bool {
	an, bn := a.Names(), b.Names()
	if len(an) != len(bn) {
		return false
	}
	for i := range an {
		if an[i] != bn[i] || !a.Get(an[i]).Equal(b.Get(bn[i])) {
			return false
		}
	}
	return true
}

func checkError(t *testing.T, err error, secrets []string) {
	t.Helper()
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if leak := findSecret(s, secrets); leak != "" {
			t.Errorf("error text reveals a secret value (%d chars): %q", len(leak), redactFor(s, secrets))
		}
	}
	var pe *provider.Error
	if !errors.As(err, &pe) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("note: error %T is not a *provider.Error; naming the provider in errors helps users", err)
	}
}

// CheckRendering fails t if printing, encoding or logging c reveals any of
// secrets or any of c's own values. Provider and resolver tests use it on
// their results.
func CheckRendering(t testing.TB, c provider.Credentials, secrets ...string) {
	t.Helper()
	for _, n := range c.Names() {
		secrets = append(secrets, c.Value(n))
	}
	checkRendering(t, c, secrets)
}

func checkRendering(t testing.TB, c provider.Credentials, secrets []string) {
	t.Helper()
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, c))
		outs = append(outs, fmt.Sprintf(verb, &c))
		outs = append(outs, fmt.Sprintf(verb, struct{ c provider.Credentials }{c}))
	}
	for _, n := range c.Names() {
		s := c.Get(n)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
			outs = append(outs, fmt.Sprintf(verb, s))
			outs = append(outs, fmt.Sprintf(verb, struct{ s provider.Secret }{s}))
			outs = append(outs, fmt.Sprintf(verb, []provider.Secret{s}))
		}
	}
	if b, err := json.Marshal(c); err == nil {
		outs = append(outs, string(b))
	} else {
		t.Errorf("json.Marshal(credentials): %v", err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "creds", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "creds", c)
	outs = append(outs, buf.String())
	for _, o := range outs {
		if leak := findSecret(o, secrets); leak != "" {
			t.Errorf("rendering reveals a secret value (%d chars): %q", len(leak), redactFor(o, secrets))
		}
	}
}

// minSecretLen is the shortest value the rendering checks look for: a
// shorter one ("true", a port "5432") turns up by chance in the hex or
// base64 of a masked Secret, which reflection-based renderings show.
const minSecretLen = 8

func findSecret(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= minSecretLen && strings.Contains(s, v) {
			return v
		}
	}
	return ""
}

func redactFor(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= minSecretLen {
			s = strings.ReplaceAll(s, v, "<LEAKED>")
		}
	}
	return s
}
