package mcptool_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// Only a Local transport is the local user. A server reached any other way
// (an SSE handler, an unmarked in-process transport) without a verified
// caller is refused, never served the operator's default profile.
func TestOnlyLocalTransportsAreTheLocalUser(t *testing.T) {
	var calls atomic.Int32
	newServer := func() *mcp.Server {
		r, err := resolver.New([]provider.Provider{provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
			calls.Add(1)
			return provider.NewCredentials(map[string]string{provider.FieldToken: "operator-token-Zq3T9xWm2"}, provider.Source{}), nil
		}), "env")}, func(o *resolver.Options) { o.Required = []string{provider.FieldToken} })
		if err != nil {
			t.Fatal(err)
		}
		srv := mcp.NewServer(&mcp.Implementation{Name: "local", Version: "0"}, nil)
		ct, err := mcptool.New(srv, r, &mcptool.Options{Fields: mcptool.TokenFields})
		if err != nil {
			t.Fatal(err)
		}
		type In struct{ mcptool.Selection }
		type Out struct {
			OK bool `json:"ok"`
		}
		mcptool.AddTool(ct, &mcp.Tool{Name: "use"}, func(ctx context.Context, c *mcptool.Call, _ In) (Out, error) {
			_, err := c.Resolve(ctx)
			return Out{OK: err == nil}, err
		})
		return srv
	}
	call := func(t *testing.T, cs *mcp.ClientSession) bool {
		t.Helper()
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "use", Arguments: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		return !res.IsError
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil)

	t.Run("local in-process", func(t *testing.T) {
		st, ct := mcp.NewInMemoryTransports()
		ss, err := newServer().Connect(context.Background(), mcptool.Local(st), nil)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := client.Connect(context.Background(), ct, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { cs.Close(); ss.Wait() }()
		if !call(t, cs) {
			t.Fatal("the local user was refused")
		}
	})
	before := calls.Load()
	t.Run("unmarked in-process", func(t *testing.T) {
		st, ct := mcp.NewInMemoryTransports()
		ss, err := newServer().Connect(context.Background(), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := client.Connect(context.Background(), ct, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { cs.Close(); ss.Wait() }()
		if call(t, cs) {
			t.Fatal("a call on an unmarked transport was served as the local user")
		}
	})
	t.Run("SSE without a token", func(t *testing.T) {
		srv := newServer()
		hs := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return srv }, nil))
		defer hs.Close()
		cs, err := client.Connect(context.Background(), &mcp.SSEClientTransport{Endpoint: hs.URL}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		if call(t, cs) {
			t.Fatal("an SSE call without a verified caller was served as the local user")
		}
	})
	if n := calls.Load(); n != before {
		t.Fatalf("the operator's provider was asked %d times for remote calls", n-before)
	}
}
