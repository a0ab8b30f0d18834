package resolver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// hostileProfiles are profile names a prompt-injected model might send.
var hostileProfiles = []string{
	"../../etc/passwd", "..", "/etc/shadow", `..\..\secrets`,
	"prod\x00", "prod\n", "default\r\nX: y", "admin", "root", "*", "%", "?",
	"${AWS_SECRET_ACCESS_KEY}", "$(id)", "prod; rm -rf /", "prod' OR '1'='1",
	"DEFAULT", " default", "default ", "dеfault", // Cyrillic е
	"pro\u200bd", "prod\u202e", "\ufeffprod",
	strings.Repeat("p", 200), "vault:secret/data/mcp/aws", "file:#production",
}

func TestHostileProfilesRefused(t *testing.T) {
	p := answering("file", canary)
	offered := map[string]bool{"default": true, "prod": true}
	var logs bytes.Buffer
	r := mustNew(t, []provider.Provider{p}, func(o *resolver.Options) {
		o.AllowProfile = func(_ *provider.Caller, n string) bool { return offered[n] }
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ctx := context.Background()
	for _, name := range hostileProfiles {
		_, err := r.Resolve(ctx, resolver.Request{Profile: name})
		require.Error(t, err, "%q", name)
		assert.True(t, errIsAny(err, resolver.ErrProfileRefused, resolver.ErrInvalidProfile), "%q: %v", name, err)
	}
	assert.EqualValues(t, 0, p.calls.Load(), "no provider is asked for a refused profile")
	assert.Contains(t, logs.String(), "refused profile selection")

	_, err := r.Resolve(ctx, resolver.Request{Profile: "prod"})
	require.NoError(t, err)
}

// Even a policy that allows every profile never lets a provider see a name
// that could escape a directory or read differently than it is.
func TestHostileProfilesRefusedUnderAnyProfile(t *testing.T) {
	p := answering("custom", canary)
	r := mustNew(t, []provider.Provider{p}, func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile })
	for _, name := range []string{"../../etc/passwd", "..", ".", "a/b", `a\b`, "pro\u200bd", "prod\u202e", "\ufeffprod",
		" default", "default ", "prod\x00", "prod\n", strings.Repeat("p", 200), "bad\xffutf8"} {
		_, err := r.Resolve(context.Background(), resolver.Request{Profile: name})
		require.ErrorIs(t, err, resolver.ErrInvalidProfile, "%q", name)
		assert.Less(t, len(err.Error()), 200)
	}
	assert.EqualValues(t, 0, p.calls.Load())
	_, err := r.Resolve(context.Background(), resolver.Request{Profile: "team.prod-1"})
	require.NoError(t, err)
}

func TestDefaultPolicyOffersOnlyTheDefaultProfile(t *testing.T) {
	r := mustNew(t, []provider.Provider{answering("file", canary)}, func(o *resolver.Options) { o.Profile = "mcp-prod" })
	ctx := context.Background()
	_, err := r.Resolve(ctx, resolver.Request{Profile: "mcp-prod"})
	require.NoError(t, err)
	_, err = r.Resolve(ctx, resolver.Request{Profile: "default"})
	require.ErrorIs(t, err, resolver.ErrProfileRefused)
	assert.Contains(t, err.Error(), "Options.AllowProfile")
}

func TestPolicyCheckedOnHits(t *testing.T) {
	offered := map[string]bool{"prod": true}
	r := mustNew(t, []provider.Provider{answering("file", canary)}, func(o *resolver.Options) {
		o.AllowProfile = func(_ *provider.Caller, n string) bool { return offered[n] }
	})
	ctx := context.Background()
	_, err := r.Resolve(ctx, resolver.Request{Profile: "prod"})
	require.NoError(t, err)
	delete(offered, "prod") // the operator withdraws it
	_, err = r.Resolve(ctx, resolver.Request{Profile: "prod"})
	assert.ErrorIs(t, err, resolver.ErrProfileRefused)
}

func refSchemes(calls *int) *provider.Schemes {
	var s provider.Schemes
	s.Register("vault", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		p := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
			*calls++
			return provider.NewCredentials(map[string]string{
				provider.FieldAccessKeyID:     "AKID-" + ref.Body,
				provider.FieldSecretAccessKey: fmt.Sprintf("%s-%d", canary, *calls),
			}, provider.Source{Provider: "vault", Locator: ref.Body}), nil
		}), "vault")
		return vaultTarget(ref, p)
	}))
	return &s
}

// vaultTarget is a test scheme's Target: one resource, the trimmed body.
func vaultTarget(ref provider.Ref, p provider.Provider) (provider.Target, error) {
	path := strings.Trim(ref.Body, "/")
	if path == "" || strings.Contains(path, "//") {
		return provider.Target{}, provider.InvalidRef(ref, "body", "is not a path")
	}
	return provider.Target{Provider: p, Resources: []provider.Resource{{Scheme: "vault", Path: path}}}, nil
}

// allow compiles a reference policy for a test.
func allow(t testing.TB, patterns ...string) *provider.RefPolicy {
	t.Helper()
	p, err := provider.NewRefPolicy(patterns...)
	require.NoError(t, err)
	return p
}

func TestReferences(t *testing.T) {
	calls := 0
	ctx := context.Background()

	// Default: refused, even with schemes registered.
	r := mustNew(t, nil, func(o *resolver.Options) { o.References = refSchemes(&calls) })
	_, err := r.Resolve(ctx, resolver.Request{CredentialID: "vault:secret/data/mcp/aws"})
	require.ErrorIs(t, err, resolver.ErrReferenceRefused)
	assert.Contains(t, err.Error(), "allows no references")

	r = mustNew(t, []provider.Provider{answering("env", "env-secret")}, func(o *resolver.Options) {
		o.References = refSchemes(&calls)
		o.AllowReferences = allow(t, "vault:secret/data/mcp/*")
		o.AllowProfile = resolver.AnyProfile
	})
	res, err := r.Resolve(ctx, resolver.Request{CredentialID: "vault:secret/data/mcp/aws", Profile: "ignored"})
	require.NoError(t, err)
	assert.Equal(t, "vault", res.Credentials.Source.Provider)
	assert.Equal(t, "vault:secret/data/mcp/aws", res.Reference)
	assert.Equal(t, "", res.Profile)
	_, err = r.Resolve(ctx, resolver.Request{CredentialID: "vault:secret/data/mcp/aws"})
	require.NoError(t, err)
	assert.Equal(t, 1, calls, "references are cached like profiles")
	r.InvalidateResult(res)
	res, err = r.Resolve(ctx, resolver.Request{CredentialID: "vault:secret/data/mcp/aws"})
	require.NoError(t, err)
	assert.Equal(t, 2, calls)
	assert.True(t, strings.HasSuffix(res.Credentials.Value(provider.FieldSecretAccessKey), "-2"))

	// A profile cannot take a reference's place: its text is not a valid
	// profile name, and cache keys of references cannot be profile names.
	_, err = r.Resolve(ctx, resolver.Request{Profile: "vault:secret/data/mcp/aws"})
	require.ErrorIs(t, err, resolver.ErrInvalidProfile)
	res, err = r.Resolve(ctx, resolver.Request{Profile: "vault:aws"})
	require.NoError(t, err)
	assert.Equal(t, "env", res.Credentials.Source.Provider)

	for _, ref := range []string{
		"vault:secret/data/mcp/aws/../../sys/raw", "vault:secret/data/mcp/nested/deeper",
		"vault:secret/data/other", "vault:sys/raw/core", "file:production", "env:*", "env:",
		"vault:secret/data/mcp/", "vault:secret/data/mcp", "vault:secret/data/mcp/?version=1", "vault:secret/data/mcp/#field",
		"vault:secret/data/mcp/aws\u202e", "vault:secret/data/mcp/aws\x00", "secret/data/mcp/aws",
		"keychain:mcpcred/ops", strings.Repeat("v", 5000),
	} {
		_, err := r.Resolve(ctx, resolver.Request{CredentialID: ref})
		require.Error(t, err, "%q", ref)
		assert.True(t, errIsAny(err, resolver.ErrReferenceRefused, provider.ErrInvalidRef), "%q: %v", ref, err)
		assert.Less(t, len(err.Error()), 400)
	}
	assert.Equal(t, 2, calls)

	// Allowed by pattern but the scheme is not registered: refused, without
	// telling the request which schemes are.
	r = mustNew(t, nil, func(o *resolver.Options) {
		o.References = &provider.Schemes{}
		o.AllowReferences = allow(t, "ssm:/mcp/**")
	})
	_, err = r.Resolve(ctx, resolver.Request{CredentialID: "ssm:/mcp/prod/"})
	require.ErrorIs(t, err, resolver.ErrReferenceRefused)
	assert.NotContains(t, err.Error(), "registered")
}

func TestReferenceWithNothing(t *testing.T) {
	var s provider.Schemes
	s.Register("vault", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return vaultTarget(ref, provider.WithName(provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
			return provider.Credentials{}, provider.NotFound("vault", "", ref.Body, "no secret at this path")
		}), "vault"))
	}))
	r := mustNew(t, nil, func(o *resolver.Options) {
		o.References = &s
		o.AllowReferences = allow(t, "vault:secret/data/mcp/*")
	})
	_, err := r.Resolve(context.Background(), resolver.Request{CredentialID: "vault:secret/data/mcp/gone"})
	require.ErrorIs(t, err, resolver.ErrNoCredentials)
	assert.Equal(t, `resolver: no credentials for a 26-byte "vault": reference, tried:
  - vault: secret/data/mcp/gone: no secret at this path`, err.Error())
	var ce *resolver.ChainError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "vault:secret/data/mcp/gone", ce.Reference)
	assert.Empty(t, ce.Profile)
}

func TestRequestOrder(t *testing.T) {
	calls := 0
	r := mustNew(t, []provider.Provider{answering("env", "env-secret")}, func(o *resolver.Options) {
		o.References = refSchemes(&calls)
		o.AllowReferences = allow(t, "vault:*")
		o.AllowProfile = resolver.AnyProfile
		o.AllowRequestCredentials = true
	})
	ctx := context.Background()
	inline := creds("inline-secret")
	for _, tc := range []struct {
		req  resolver.Request
		want string
	}{
		{resolver.Request{Credentials: inline, CredentialID: "vault:x", Profile: "prod"}, "request"},
		{resolver.Request{CredentialID: "vault:x", Profile: "prod"}, "vault"},
		{resolver.Request{Profile: "prod"}, "env"},
		{resolver.Request{}, "env"},
	} {
		res, err := r.Resolve(ctx, tc.req)
		require.NoError(t, err)
		assert.Equal(t, tc.want, res.Credentials.Source.Provider)
	}
}

type addInput struct {
	resolver.Selection
	SecurityGroupID string `json:"security_group_id" jsonschema:"the security group"`
}

func TestSelection(t *testing.T) {
	schema, err := jsonschema.For[addInput](nil)
	require.NoError(t, err)
	b, err := json.Marshal(schema)
	require.NoError(t, err)
	js := string(b)
	for _, want := range []string{`"credentials"`, `"credential_profile"`, `"credential_id"`, `"access_key_id"`,
		`"secret_access_key"`, `"session_token"`, `"region"`, "Optional: a named credential profile"} {
		assert.Contains(t, js, want)
	}
	assert.Equal(t, []string{"security_group_id"}, schema.Required, "the selection is optional")
	assert.Equal(t, "string", schema.Properties["credentials"].Properties["secret_access_key"].Type)

	var in addInput
	require.NoError(t, json.Unmarshal([]byte(`{"security_group_id":"sg-1","credential_profile":"prod",
		"credentials":{"access_key_id":"AKIDX","secret_access_key":"`+canary+`","region":"eu-west-1"}}`), &in))
	req := in.Request()
	assert.Equal(t, "prod", req.Profile)
	assert.Equal(t, canary, req.Credentials.Value(provider.FieldSecretAccessKey))
	assert.Equal(t, "eu-west-1", req.Credentials.Value(provider.FieldRegion))
	assert.False(t, req.Credentials.Has(provider.FieldSessionToken))

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("tool call", "input", in, "creds", in.Credentials)
	out, err := json.Marshal(in)
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprintf("%v", in), fmt.Sprintf("%+v", in), fmt.Sprintf("%#v", in),
		fmt.Sprintf("%s", in.Credentials), fmt.Sprintf("%v", *in.Credentials), string(out), logs.String()} {
		assert.NotContains(t, s, canary)
		assert.NotContains(t, s, "AKIDX")
	}
	assert.Contains(t, string(out), "eu-west-1")
	assert.Equal(t, resolver.Request{}, resolver.Selection{}.Request())
}

func errIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errorsIs(err, t) {
			return true
		}
	}
	return false
}

func TestMalformedReferencePatternIsAnError(t *testing.T) {
	_, err := provider.NewRefPolicy("vault:secret//x", "vault:secret/data/mcp/*")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"vault:secret//x"`)
}

// A reference is allowed by what it reads: each resource its scheme lists
// must be covered, so a list, a parent or a deeper path is refused even when
// its text starts like an allowed one.
func TestReferencePolicyByResources(t *testing.T) {
	var s provider.Schemes
	calls := 0
	s.Register("env", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		var rs []provider.Resource
		for _, v := range strings.Split(ref.Body, ",") {
			if v == "" {
				return provider.Target{}, provider.InvalidRef(ref, "body", "has an empty item")
			}
			rs = append(rs, provider.Resource{Scheme: "env", Path: v})
		}
		return provider.Target{Resources: rs, Provider: provider.Func(func(context.Context, string) (provider.Credentials, error) {
			calls++
			return provider.NewCredentials(map[string]string{"token": "t"}, provider.Source{Provider: "env"}), nil
		})}, nil
	}))
	r := mustNew(t, nil, func(o *resolver.Options) {
		o.References = &s
		o.AllowReferences = allow(t, "env:MCP_CI_*")
	})
	ctx := context.Background()
	_, err := r.Resolve(ctx, resolver.Request{CredentialID: "env:MCP_CI_TOKEN"})
	require.NoError(t, err)
	for _, ref := range []string{"env:MCP_CI_TOKEN,AWS_SECRET_ACCESS_KEY", "env:MCP_CI_", "env:VAULT_TOKEN,MCP_CI_X"} {
		_, err := r.Resolve(ctx, resolver.Request{CredentialID: ref})
		require.ErrorIs(t, err, resolver.ErrReferenceRefused, ref)
		assert.ErrorIs(t, err, provider.ErrRefNotAllowed, ref)
	}
	assert.Equal(t, 1, calls, "a refused reference is never read")
}

// Expired answers are skipped with the reason and never served or cached;
// a valid provider later in the chain answers.
func TestExpiredAnswerIsSkipped(t *testing.T) {
	old := provider.Func(func(context.Context, string) (provider.Credentials, error) {
		c := provider.NewCredentials(map[string]string{provider.FieldAccessKeyID: "OLD", provider.FieldSecretAccessKey: "old"}, provider.Source{Provider: "secretfile"})
		c.Expires = time.Now().Add(-time.Hour)
		return c, nil
	})
	r := mustNew(t, []provider.Provider{provider.WithName(old, "secretfile"), answering("env", "env-secret")})
	res, err := r.Resolve(context.Background(), resolver.Request{})
	require.NoError(t, err)
	assert.Equal(t, "env", res.Credentials.Source.Provider)
	require.Len(t, res.Skipped, 1)
	assert.Contains(t, res.Skipped[0].String(), "expired at")

	r = mustNew(t, []provider.Provider{provider.WithName(old, "secretfile")})
	_, err = r.Resolve(context.Background(), resolver.Request{})
	require.ErrorIs(t, err, resolver.ErrNoCredentials)
	assert.Contains(t, err.Error(), "expired at")
}

// A model may paste a secret where a profile name or reference belongs:
// refusals describe it by length, in errors and in logs.
func TestRefusalsDoNotRepeatSecretLookingInput(t *testing.T) {
	var logs bytes.Buffer
	calls := 0
	r := mustNew(t, []provider.Provider{answering("file", "x")}, func(o *resolver.Options) {
		o.AllowProfile = func(_ *provider.Caller, n string) bool { return n == "prod" }
		o.References = refSchemes(&calls)
		o.AllowReferences = allow(t, "vault:secret/data/mcp/*")
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ctx := context.Background()
	for _, req := range []resolver.Request{
		{Profile: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, // invalid name
		{Profile: "Hunter2Secret"},                            // valid name, not offered
		{CredentialID: "admin:Hunter2Secret"},                 // valid reference, not allowed
	} {
		_, err := r.Resolve(ctx, req)
		require.Error(t, err)
		for _, s := range []string{"wJalrXUtnFEMI", "Hunter2Secret"} {
			assert.NotContains(t, err.Error(), s)
		}
	}
	_, err := r.Resolve(ctx, resolver.Request{Profile: "staging"})
	assert.Contains(t, err.Error(), `profile "staging"`, "an ordinary profile name is still named")
	assert.NotContains(t, logs.String(), "wJalrXUtnFEMI")
	assert.NotContains(t, logs.String(), "Hunter2Secret")
	assert.Contains(t, logs.String(), "not shown")
}

func TestCachedReferencesAreBounded(t *testing.T) {
	calls := 0
	r := mustNew(t, nil, func(o *resolver.Options) {
		o.References = refSchemes(&calls)
		o.AllowReferences = allow(t, "vault:**")
	})
	ctx := context.Background()
	for i := range resolver.MaxCachedReferences + 10 {
		_, err := r.Resolve(ctx, resolver.Request{CredentialID: fmt.Sprintf("vault:secret/data/mcp/s%d", i)})
		require.NoError(t, err)
	}
	require.Equal(t, resolver.MaxCachedReferences+10, calls)
	_, err := r.Resolve(ctx, resolver.Request{CredentialID: "vault:secret/data/mcp/s0"})
	require.NoError(t, err)
	assert.Equal(t, resolver.MaxCachedReferences+10, calls, "the first references are cached")
	_, err = r.Resolve(ctx, resolver.Request{CredentialID: fmt.Sprintf("vault:secret/data/mcp/s%d", resolver.MaxCachedReferences+5)})
	require.NoError(t, err)
	assert.Equal(t, resolver.MaxCachedReferences+11, calls, "past the bound a reference is resolved, not cached")
}

func TestCanceledReferenceIsNamed(t *testing.T) {
	calls := 0
	r := mustNew(t, nil, func(o *resolver.Options) {
		o.References = refSchemes(&calls)
		o.AllowReferences = allow(t, "vault:secret/data/mcp/*")
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Resolve(ctx, resolver.Request{CredentialID: "vault:secret/data/mcp/aws"})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, `resolver: a 25-byte "vault": reference: context canceled`, err.Error())
	assert.Zero(t, calls)
}

// Whatever AllowProfile allows, the profiles a request can make the cache
// keep are bounded by Options.MaxEntries; past it they resolve uncached.
func TestCachedProfilesAreBounded(t *testing.T) {
	p := answering("env", "x")
	r := mustNew(t, []provider.Provider{p}, func(o *resolver.Options) {
		o.AllowProfile = resolver.AnyProfile
		o.MaxEntries = 50
	})
	ctx := context.Background()
	for i := range 200 {
		_, err := r.Resolve(ctx, resolver.Request{Profile: fmt.Sprintf("p%d", i)})
		require.NoError(t, err)
	}
	require.EqualValues(t, 200, p.calls.Load())
	for i := range 50 {
		_, err := r.Resolve(ctx, resolver.Request{Profile: fmt.Sprintf("p%d", i)})
		require.NoError(t, err)
	}
	assert.EqualValues(t, 200, p.calls.Load(), "the first MaxEntries profiles are cached")
	_, err := r.Resolve(ctx, resolver.Request{Profile: "p150"})
	require.NoError(t, err)
	assert.EqualValues(t, 201, p.calls.Load(), "past the bound a profile is resolved, not cached")
}
