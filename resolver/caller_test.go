package resolver_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// perCaller answers each caller with a credential of its own, read from
// the context the resolver hands it.
func perCaller(calls *sync.Map) provider.Provider {
	return provider.WithName(provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
		c := provider.CallerFromContext(ctx)
		if c == nil {
			return provider.Credentials{}, provider.NotFound("users", profile, "", "no verified caller")
		}
		n, _ := calls.LoadOrStore(c.Subject, new(int))
		*n.(*int)++
		return provider.NewCredentials(map[string]string{"token": "tok-" + c.Subject + "-" + profile}, provider.Source{Provider: "users"}), nil
	}), "users")
}

func TestCallersNeverShareCredentials(t *testing.T) {
	var calls sync.Map
	r := mustNew(t, []provider.Provider{perCaller(&calls)}, func(o *resolver.Options) {
		o.AllowProfile = func(c *provider.Caller, name string) bool { return c != nil && (name == "work" || name == "default") }
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := fmt.Sprintf("user%d", i%10)
			c := &provider.Caller{Issuer: "https://issuer.example", Subject: sub}
			for _, profile := range []string{"", "work"} {
				res, err := r.Resolve(ctx, resolver.Request{Caller: c, Profile: profile})
				if !assert.NoError(t, err) {
					return
				}
				want := "tok-" + sub + "-" + map[string]string{"": "default", "work": "work"}[profile]
				assert.Equal(t, want, res.Credentials.Value("token"))
			}
		}()
	}
	wg.Wait()
	calls.Range(func(k, v any) bool {
		assert.Equal(t, 2, *v.(*int), "%s: one walk per (caller, profile), cached after", k)
		return true
	})
	// Same subject, another issuer: another caller.
	res, err := r.Resolve(ctx, resolver.Request{Caller: &provider.Caller{Issuer: "https://other.example", Subject: "user1"}})
	require.NoError(t, err)
	assert.Equal(t, "tok-user1-default", res.Credentials.Value("token"))
	// No caller: the policy refuses the named profile, and the provider has nothing.
	_, err = r.Resolve(ctx, resolver.Request{Profile: "work"})
	assert.ErrorIs(t, err, resolver.ErrProfileRefused)
	_, err = r.Resolve(ctx, resolver.Request{})
	assert.ErrorIs(t, err, provider.ErrNotFound)
}

func TestInvalidCallerRefused(t *testing.T) {
	r := mustNew(t, []provider.Provider{answering("env", canary)})
	for _, c := range []*provider.Caller{
		{Issuer: "i"}, {Subject: "s"}, {Issuer: "i", Subject: "s\x00x"}, {Issuer: "i", Subject: strings.Repeat("s", 300)},
	} {
		_, err := r.Resolve(context.Background(), resolver.Request{Caller: c})
		assert.ErrorIs(t, err, resolver.ErrInvalidCaller)
	}
}

func TestAuditRecords(t *testing.T) {
	var buf bytes.Buffer
	r := mustNew(t, []provider.Provider{answering("env", canary)}, func(o *resolver.Options) {
		o.Audit = slog.New(slog.NewJSONHandler(&buf, nil))
		o.AllowProfile = func(_ *provider.Caller, n string) bool { return n == "prod" || n == "default" }
	})
	ctx := context.Background()
	c := &provider.Caller{Issuer: "https://issuer.example", Subject: "alice", ClientID: "claude"}
	for _, req := range []resolver.Request{
		{Caller: c, Tool: "api_get"},
		{Caller: c, Tool: "api_get", Profile: "prod"},
		{Caller: c, Tool: "api_get", Profile: "AKIAIOSFODNN7EXAMPLE"},
		{Caller: c, Tool: "api_get", CredentialID: "vault:secret/AKIAIOSFODNN7EXAMPLE"},
		{Caller: c, Tool: "api_get", Credentials: creds("inline-" + canary)},
	} {
		r.Resolve(ctx, req) //nolint:errcheck // the audit record is what is checked
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 5, "one record per Resolve")
	assert.Contains(t, lines[0], `"subject":"alice"`)
	assert.Contains(t, lines[0], `"client":"claude"`)
	assert.Contains(t, lines[0], `"selection":"default"`)
	assert.Contains(t, lines[0], `"outcome":"ok"`)
	assert.Contains(t, lines[1], `"profile":"prod"`)
	assert.Contains(t, lines[2], `"outcome":"refused"`)
	assert.Contains(t, lines[3], `"selection":"reference"`)
	assert.Contains(t, lines[4], `"selection":"credentials"`)
	assert.NotContains(t, buf.String(), "AKIAIOSFODNN7EXAMPLE")
	assert.NotContains(t, buf.String(), canary)
}

// A verified caller is never served the default profile (the operator's own
// credentials) unless the policy offers it to that caller.
func TestRemoteCallerNeedsPolicyForDefault(t *testing.T) {
	ctx := context.Background()
	alice := &provider.Caller{Issuer: "https://issuer.example", Subject: "alice"}
	r := mustNew(t, []provider.Provider{answering("env", canary)})
	_, err := r.Resolve(ctx, resolver.Request{Caller: alice})
	require.ErrorIs(t, err, resolver.ErrProfileRefused)
	_, err = r.Resolve(ctx, resolver.Request{Caller: alice, Profile: "default"})
	require.ErrorIs(t, err, resolver.ErrProfileRefused)
	res, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err, "the local user keeps the default profile")
	assert.Equal(t, "env", res.Credentials.Source.Provider)

	r = mustNew(t, []provider.Provider{answering("env", canary)}, func(o *resolver.Options) {
		o.AllowProfile = func(c *provider.Caller, name string) bool { return c.InGroup("ops") && name == "default" }
	})
	_, err = r.Resolve(ctx, resolver.Request{Caller: alice})
	require.ErrorIs(t, err, resolver.ErrProfileRefused)
	_, err = r.Resolve(ctx, resolver.Request{Caller: &provider.Caller{Issuer: "https://issuer.example", Subject: "bob", Groups: []string{"ops"}}})
	require.NoError(t, err)
}
