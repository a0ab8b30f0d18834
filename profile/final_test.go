package profile_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/resolver"
)

// TestDefinedProfileNeverFallsThrough resolves profiles defined in the
// profiles file through a real resolver chain [profile provider, env
// provider], where the env provider knows every profile name and holds
// other keys and another region. Whatever goes wrong with a defined
// profile (a source that answers without a required field, an empty, unknown
// or expired source, inline credentials lacking a field), the answer is a
// final error from the profile provider naming the problem, and the lower
// provider is never asked.
func TestDefinedProfileNeverFallsThrough(t *testing.T) {
	vars := map[string]string{
		// What the profile "prod" points at: only the region is set.
		"PROD_AWS_REGION": "eu-west-1",
		// What the lower provider would answer with.
		"AWS_ACCESS_KEY_ID":     "AKIALOWERPROVIDER000",
		"AWS_SECRET_ACCESS_KEY": "lower-provider-secret",
		"AWS_REGION":            "us-east-1",
		// A complete set for the profile that works.
		"OK_AWS_ACCESS_KEY_ID":     "AKIAOKPROFILE0000000",
		"OK_AWS_SECRET_ACCESS_KEY": "ok-secret",
	}
	getenv := func(k string) string { return vars[k] }
	environ := func() []string {
		var out []string
		for k, v := range vars {
			out = append(out, k+"="+v)
		}
		return out
	}
	var schemes provider.Schemes
	schemes.Register("env", env.Scheme(func(o *env.Options) { o.Getenv, o.Environ = getenv, environ }))
	schemes.Register("expired", testScheme(func(provider.Ref) provider.Provider {
		return provider.Func(func(context.Context, string) (provider.Credentials, error) {
			c := provider.NewCredentials(map[string]string{"access_key_id": "AKIAEXPIRED000000000", "secret_access_key": "s"},
				provider.Source{Provider: "expired"})
			c.Expires = time.Now().Add(-time.Hour)
			return c, nil
		})
	}))
	required := []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
	path := write(t, `{"profiles": {
		"prod":    {"source": "env:PROD_AWS_*", "region": "us-west-2"},
		"gone":    {"source": "env:NOTHING_SET_*"},
		"stale":   {"source": "expired:x"},
		"unknown": {"source": "keychain:ops"},
		"half":    {"credentials": {"access_key_id": "AKIAHALFINLINE000000"}},
		"ok":      {"source": "env:OK_AWS_*"}
	}}`, 0o600)
	profiles, err := profile.New(&schemes, func(o *profile.Options) {
		o.Path, o.Getenv, o.Required = path, getenv, required
	})
	require.NoError(t, err)

	var lowerCalls atomic.Int64
	lowerEnv := env.New(func(o *env.Options) { o.Getenv, o.AllProfiles = getenv, true })
	lower := provider.WithName(provider.Func(func(ctx context.Context, name string) (provider.Credentials, error) {
		lowerCalls.Add(1)
		return lowerEnv.Retrieve(ctx, name)
	}), "env")
	r, err := resolver.New([]provider.Provider{profiles, lower}, func(o *resolver.Options) {
		o.AllowProfile = profiles.Allows
		o.Required = required
	})
	require.NoError(t, err)
	ctx := context.Background()

	for _, tc := range []struct {
		profile string
		want    error
		has     []string
	}{
		{"prod", profile.ErrIncomplete, []string{"its env: source gave region, but not access_key_id, secret_access_key"}},
		{"gone", profile.ErrSourceEmpty, []string{"its env: source"}},
		{"stale", profile.ErrExpired, []string{"expired at"}},
		{"unknown", provider.ErrUnknownScheme, nil},
		{"half", profile.ErrIncomplete, []string{"inline credentials gave access_key_id, but not secret_access_key"}},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			res, err := r.Resolve(ctx, resolver.Request{Profile: tc.profile})
			require.Error(t, err, "resolved %v", res.Credentials)
			assert.ErrorIs(t, err, tc.want)
			assert.ErrorIs(t, err, provider.ErrFinal)
			for _, s := range tc.has {
				assert.Contains(t, err.Error(), s)
			}
			assert.NotContains(t, err.Error(), "AKIALOWERPROVIDER")
			var ce *resolver.ChainError
			require.True(t, errors.As(err, &ce), "%T", err)
			require.Len(t, ce.Attempts, 1, "the walk stops at the profile provider")
			assert.Equal(t, "profile", ce.Attempts[0].Provider)
			assert.Zero(t, lowerCalls.Load(), "the lower provider was asked")
		})
	}

	res, err := r.Resolve(ctx, resolver.Request{Profile: "ok"})
	require.NoError(t, err)
	assert.Equal(t, "AKIAOKPROFILE0000000", res.Credentials.Value(provider.FieldAccessKeyID))
	assert.Zero(t, lowerCalls.Load())

	// Without Required, the profile provider answers "prod" with the region
	// alone, and only the resolver's own check stands between that and the
	// lower provider: document why Required belongs on both.
	direct, err := profile.New(&schemes, func(o *profile.Options) { o.Path, o.Getenv = path, getenv })
	require.NoError(t, err)
	c, err := direct.Retrieve(ctx, "prod")
	require.NoError(t, err)
	assert.Equal(t, []string{"region"}, c.Names())
}
