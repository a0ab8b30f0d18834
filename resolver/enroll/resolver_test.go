package enroll

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// enroller is resolver/mcptool's Enroller interface.
type enroller interface {
	Enroll(ctx context.Context, ss *mcp.ServerSession, caller *provider.Caller, profile string) (*mcp.ElicitParams, bool, error)
}

var _ enroller = (*Enroller)(nil)

// TestResolverInvalidated: a stored credential is served by the resolver
// at once, not after its cached predecessor's TTL; so is a removal.
func TestResolverInvalidated(t *testing.T) {
	ev := newEnv(t)
	r, err := resolver.New([]provider.Provider{ev.pp}, func(o *resolver.Options) {
		o.AllowProfile = ev.pp.Allows
		o.Required = []string{"token"}
	})
	require.NoError(t, err)
	ev.e.opts.Resolver = r
	ctx := context.Background()
	a := alice(ev.op.Issuer)
	require.NoError(t, memTarget{ev.store, "users/sub-alice/mine"}.Put(ctx, "", provider.NewCredentials(map[string]string{"token": "first-token-000000"}, provider.Source{})))
	res, err := r.Resolve(ctx, resolver.Request{Caller: a, Profile: "mine"})
	require.NoError(t, err)
	require.Equal(t, "first-token-000000", res.Credentials.Value("token"))

	b, status, page := ev.signIn(ev.link(a, "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrfOf(t, page)}, "token": {aliceToken}})
	require.Equal(t, http.StatusOK, status)
	res, err = r.Resolve(ctx, resolver.Request{Caller: a, Profile: "mine"})
	require.NoError(t, err)
	assert.Equal(t, aliceToken, res.Credentials.Value("token"))

	require.NoError(t, ev.e.Remove(ctx, a, "mine"))
	_, err = r.Resolve(ctx, resolver.Request{Caller: a, Profile: "mine"})
	assert.Error(t, err)
}
