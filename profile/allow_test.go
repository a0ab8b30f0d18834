package profile_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

const (
	issuer = "https://idp.example.com"
	other  = "https://other.example.com"
)

func caller(sub string, groups ...string) *provider.Caller {
	return &provider.Caller{Issuer: issuer, Subject: sub, ClientID: "desktop", Groups: groups}
}

func TestAllowMatches(t *testing.T) {
	alice := caller("alice")
	for _, tc := range []struct {
		name  string
		allow *profile.Allow
		c     *provider.Caller
		want  bool
	}{
		{"no allow: no caller", nil, nil, false}, // Allow.Matches; Profile.Allows offers it on stdio
		{"stdio never matches a list", &profile.Allow{Subjects: []string{"alice"}}, nil, false},
		{"stdio never matches an issuer", &profile.Allow{Issuers: []string{""}}, nil, false},
		{"subject listed", &profile.Allow{Subjects: []string{"bob", "alice"}}, alice, true},
		{"subject not listed", &profile.Allow{Subjects: []string{"bob"}}, alice, false},
		{"subject case", &profile.Allow{Subjects: []string{"Alice"}}, alice, false},
		{"subject prefix", &profile.Allow{Subjects: []string{"alic"}}, alice, false},
		{"subject with space", &profile.Allow{Subjects: []string{"alice "}}, alice, false},
		{"group listed", &profile.Allow{Groups: []string{"sre"}}, caller("carol", "dev", "sre"), true},
		{"group not listed", &profile.Allow{Groups: []string{"sre"}}, caller("carol", "dev"), false},
		{"no groups", &profile.Allow{Groups: []string{"sre"}}, alice, false},
		{"subject or group", &profile.Allow{Subjects: []string{"bob"}, Groups: []string{"sre"}}, caller("carol", "sre"), true},
		{"subject or group: subject", &profile.Allow{Subjects: []string{"carol"}, Groups: []string{"sre"}}, caller("carol"), true},
		{"subject or group: neither", &profile.Allow{Subjects: []string{"bob"}, Groups: []string{"sre"}}, caller("carol", "dev"), false},
		{"a group named like the subject", &profile.Allow{Groups: []string{"alice"}}, alice, false},
		{"a subject named like a group", &profile.Allow{Subjects: []string{"sre"}}, caller("carol", "sre"), false},
		{"issuer only", &profile.Allow{Issuers: []string{issuer}}, alice, true},
		{"issuer only, other issuer", &profile.Allow{Issuers: []string{issuer}}, &provider.Caller{Issuer: other, Subject: "alice"}, false},
		{"subject and issuer", &profile.Allow{Subjects: []string{"alice"}, Issuers: []string{issuer}}, alice, true},
		{"subject, other issuer", &profile.Allow{Subjects: []string{"alice"}, Issuers: []string{issuer}}, &provider.Caller{Issuer: other, Subject: "alice"}, false},
		{"issuer with a trailing slash", &profile.Allow{Issuers: []string{issuer + "/"}}, alice, false},
		{"client listed", &profile.Allow{Subjects: []string{"alice"}, Clients: []string{"desktop"}}, alice, true},
		{"client not listed", &profile.Allow{Subjects: []string{"alice"}, Clients: []string{"cli"}}, alice, false},
		{"client unknown", &profile.Allow{Clients: []string{"desktop"}}, &provider.Caller{Issuer: issuer, Subject: "alice"}, false},
		{"client only", &profile.Allow{Clients: []string{"desktop"}}, alice, true},
		{"group, client and issuer", &profile.Allow{Groups: []string{"sre"}, Clients: []string{"desktop"}, Issuers: []string{issuer}}, caller("dan", "sre"), true},
		{"group, client, other issuer", &profile.Allow{Groups: []string{"sre"}, Clients: []string{"desktop"}, Issuers: []string{other}}, caller("dan", "sre"), false},
		{"invalid caller: empty subject", &profile.Allow{Issuers: []string{issuer}}, &provider.Caller{Issuer: issuer}, false},
		{"invalid caller: NUL", &profile.Allow{Subjects: []string{"alice\x00"}}, &provider.Caller{Issuer: issuer, Subject: "alice\x00"}, false},
		{"invalid caller: no issuer", &profile.Allow{Subjects: []string{"alice"}}, &provider.Caller{Subject: "alice"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.allow.Matches(tc.c))
			assert.Equal(t, tc.want, profile.Profile{Source: "env:", Allow: tc.allow}.Allows(tc.c) && tc.allow != nil)
		})
	}
	// Without "allow", a profile is offered on stdio only.
	assert.True(t, profile.Profile{Source: "env:"}.Allows(nil))
	assert.False(t, profile.Profile{Source: "env:"}.Allows(alice))
}

const allowFile = `{"profiles": {
	"default": {"source": "static:default"},
	"team":    {"source": "static:team", "allow": {"subjects": ["alice", "bob"], "issuers": ["https://idp.example.com"]}},
	"sre":     {"source": "static:sre", "allow": {"groups": ["sre"], "clients": ["desktop"]}},
	"everyone":{"source": "static:everyone", "allow": {"issuers": ["https://idp.example.com"]}},
	"secret-ops-plan": {"source": "static:ops", "allow": {"subjects": ["root"]}}
}}`

func TestProviderAllows(t *testing.T) {
	p := newProvider(t, write(t, allowFile, 0o600), nil, nil)
	for _, tc := range []struct {
		c    *provider.Caller
		want []string
	}{
		{nil, []string{"default"}},
		{caller("alice"), []string{"everyone", "team"}},
		{caller("carol", "sre"), []string{"everyone", "sre"}},
		{&provider.Caller{Issuer: other, Subject: "alice"}, nil},
		{&provider.Caller{Issuer: other, Subject: "root"}, []string{"secret-ops-plan"}},
		{&provider.Caller{Issuer: issuer, Subject: "alice\u202e"}, nil}, // invalid caller
	} {
		var got []string
		for _, name := range []string{"default", "team", "sre", "everyone", "secret-ops-plan", "missing"} {
			if p.Allows(tc.c, name) {
				got = append(got, name)
			}
		}
		assert.ElementsMatch(t, tc.want, got, "caller %+v", tc.c)
	}
	assert.True(t, p.Has("team"), "Has is about the file only")
}

// TestResolverRefusesCallersNotNamed drives the policy through a real
// resolver: a caller is served the profiles its "allow" names and refused
// the others, in words that do not reveal which other profiles exist, and
// the default profile is subject to "allow" too, with a definite refusal.
func TestResolverRefusesCallersNotNamed(t *testing.T) {
	p := newProvider(t, write(t, allowFile, 0o600), nil, nil)
	fallback := provider.WithName(provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{"token": "from-fallback-" + profile}, provider.Source{}), nil
	}), "fallback")
	newResolver := func(active string) *resolver.Resolver {
		r, err := resolver.New([]provider.Provider{p, fallback}, func(o *resolver.Options) {
			o.AllowProfile = p.Allows
			o.Profile = active
		})
		require.NoError(t, err)
		return r
	}
	r := newResolver("default")
	ctx := context.Background()
	served := func(c *provider.Caller, name, want string) {
		t.Helper()
		res, err := r.Resolve(ctx, resolver.Request{Caller: c, Profile: name})
		require.NoError(t, err, "%s for %+v", name, c)
		assert.Equal(t, "AKID-"+want, res.Credentials.Value(provider.FieldAccessKeyID))
	}
	refused := func(c *provider.Caller, name string) {
		t.Helper()
		_, err := r.Resolve(ctx, resolver.Request{Caller: c, Profile: name})
		require.ErrorIs(t, err, resolver.ErrProfileRefused, "%s for %+v", name, c)
		for _, n := range []string{"team", "sre", "everyone", "secret-ops-plan", "static"} {
			if n != name {
				assert.NotContains(t, err.Error(), n, "a refusal names no other profile")
			}
		}
	}
	served(caller("alice"), "team", "team")
	served(caller("bob"), "team", "team")
	served(caller("alice"), "everyone", "everyone")
	served(caller("carol", "sre"), "sre", "sre")
	refused(caller("carol"), "team")
	refused(caller("carol"), "sre")
	refused(&provider.Caller{Issuer: issuer, Subject: "carol", Groups: []string{"sre"}}, "sre") // no client
	refused(&provider.Caller{Issuer: other, Subject: "alice"}, "team")
	refused(caller("alice"), "secret-ops-plan")
	refused(caller("alice"), "nosuch")
	refused(nil, "team") // stdio never matches an "allow" list
	refused(nil, "everyone")
	served(nil, "default", "default")

	// A refusal of a defined profile reads as that of an undefined one.
	_, errDefined := r.Resolve(ctx, resolver.Request{Caller: caller("carol"), Profile: "team"})
	_, errUndefined := r.Resolve(ctx, resolver.Request{Caller: caller("carol"), Profile: "tean"})
	assert.Equal(t, strings.ReplaceAll(errDefined.Error(), `"team"`, `"tean"`), errUndefined.Error())

	// The default profile: a verified caller not named gets a definite
	// refusal, never the fallback's credentials under the same name. The
	// resolver asks the policy (Allows) before any provider; Retrieve
	// refuses too (ErrNotOffered) for a chain that skips that check.
	for _, c := range []*provider.Caller{caller("alice"), caller("carol", "sre")} {
		_, err := r.Resolve(ctx, resolver.Request{Caller: c})
		require.ErrorIs(t, err, resolver.ErrProfileRefused)
		assert.NotContains(t, err.Error(), "from-fallback")
		_, err = p.Retrieve(provider.ContextWithCaller(ctx, c), "default")
		require.ErrorIs(t, err, profile.ErrNotOffered)
		require.ErrorIs(t, err, provider.ErrFinal)
	}
	for active, c := range map[string]*provider.Caller{"team": caller("carol"), "sre": nil, "everyone": {Issuer: other, Subject: "alice"}} {
		r := newResolver(active)
		_, err := r.Resolve(ctx, resolver.Request{Caller: c})
		// A verified caller is refused by the policy before any provider;
		// stdio reaches Retrieve, which refuses definitely.
		if c != nil {
			require.ErrorIs(t, err, resolver.ErrProfileRefused, "%s for %+v", active, c)
		} else {
			require.ErrorIs(t, err, profile.ErrNotOffered, "%s on stdio", active)
			require.ErrorIs(t, err, provider.ErrFinal)
		}
		assert.NotContains(t, err.Error(), "from-fallback")
		for _, n := range []string{"team", "sre", "everyone", "secret-ops-plan", "default"} {
			if n != active {
				assert.NotContains(t, err.Error(), `"`+n+`"`)
				assert.NotContains(t, err.Error(), n+",")
			}
		}
	}
	res, err := newResolver("team").Resolve(ctx, resolver.Request{Caller: caller("bob")})
	require.NoError(t, err)
	assert.Equal(t, "AKID-team", res.Credentials.Value(provider.FieldAccessKeyID))

	// An undefined default profile lists only what this caller may use.
	_, err = p.Retrieve(provider.ContextWithCaller(ctx, caller("alice")), "nosuch")
	require.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "not defined (profiles: everyone, team)")
	_, err = p.Retrieve(provider.ContextWithCaller(ctx, &provider.Caller{Issuer: other, Subject: "eve"}), "nosuch")
	assert.Contains(t, err.Error(), "not defined (no profile is offered to this caller)")
	_, err = p.Retrieve(ctx, "nosuch")
	assert.Contains(t, err.Error(), "not defined (profiles: default)")
	assert.False(t, errors.Is(err, provider.ErrFinal))
}

// TestAllowEditsApply checks that the resolver's policy follows the file:
// removing a caller from "allow" refuses them at once, cached value or not.
func TestAllowEditsApply(t *testing.T) {
	path := write(t, allowFile, 0o600)
	now := time.Unix(1_700_000_000, 0)
	p, err := profile.New(staticSchemes(), func(o *profile.Options) { o.Path = path; o.Now = func() time.Time { return now } })
	require.NoError(t, err)
	r, err := resolver.New([]provider.Provider{p}, func(o *resolver.Options) { o.AllowProfile = p.Allows })
	require.NoError(t, err)
	ctx := context.Background()
	_, err = r.Resolve(ctx, resolver.Request{Caller: caller("bob"), Profile: "team"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(allowFile, `"alice", "bob"`, `"alice"`, 1)), 0o600))
	now = now.Add(2 * time.Second) // past the second Allows trusts the file
	_, err = r.Resolve(ctx, resolver.Request{Caller: caller("bob"), Profile: "team"})
	require.ErrorIs(t, err, resolver.ErrProfileRefused)
	_, err = r.Resolve(ctx, resolver.Request{Caller: caller("alice"), Profile: "team"})
	require.NoError(t, err)
}

// TestRefusalsRevealNothing: a caller refused a profile, or the default
// profile, learns nothing of the file: not the names of other profiles, not
// who they are offered to, and not the text of its own request.
func TestRefusalsRevealNothing(t *testing.T) {
	for _, c := range canaries {
		name := strings.ReplaceAll(c, "/", "_")
		js := strings.ReplaceAll(c, "/", `\/`)
		file := `{"profiles": {
			"default": {"source": "static:default", "allow": {"subjects": ["` + js + `"], "groups": ["` + js + `"]}},
			"` + name + `": {"source": "static:x", "allow": {"subjects": ["` + js + `"], "clients": ["` + js + `"]}},
			"per-user": {"source": "static:users/{sub}", "allow": {"issuers": ["` + js + `"]}}
		}}`
		var logs strings.Builder
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		p := newProvider(t, write(t, file, 0o600), nil, logger)
		r, err := resolver.New([]provider.Provider{p}, func(o *resolver.Options) { o.AllowProfile = p.Allows; o.Logger = logger })
		require.NoError(t, err)
		eve := caller("eve", "staff")
		var texts []string
		for _, req := range []resolver.Request{
			{Caller: eve}, {Caller: eve, Profile: name}, {Caller: eve, Profile: "per-user"}, {Caller: eve, Profile: name + "x"}, {Caller: eve, Profile: c},
			{}, {Profile: name}, {Profile: "per-user"},
		} {
			_, err := r.Resolve(context.Background(), req)
			require.Error(t, err)
			texts = append(texts, fmt.Sprintf("%v\n%+v", err, err))
		}
		for _, ctx := range []context.Context{provider.ContextWithCaller(context.Background(), eve), context.Background()} {
			for _, n := range []string{"default", name, "per-user", "nosuch"} {
				_, err := p.Retrieve(ctx, n)
				require.Error(t, err)
				var pe *provider.Error
				require.ErrorAs(t, err, &pe)
				texts = append(texts, pe.Locator+"\n"+pe.Err.Error())
			}
		}
		texts = append(texts, logs.String())
		for _, text := range texts {
			low := strings.ToLower(text)
			if strings.Contains(low, strings.ToLower(c)) || strings.Contains(text, js) || strings.Contains(text, name) || strings.Contains(text, "per-user,") {
				t.Errorf("a refusal reveals the file or the request: %s", text)
			}
		}
	}
}
