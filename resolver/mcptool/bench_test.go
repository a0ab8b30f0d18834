package mcptool_test

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

type benchOut struct {
	Body string `json:"body"`
}

// BenchmarkToolCall compares one tools/call through the SDK's client and
// server (in-memory transport), resolving a cached token, with a
// hand-written handler (mcp.AddTool, r.Resolve) and with mcptool (guard,
// Call.Resolve, scrubbing). The difference is mcptool's per-call overhead.
func BenchmarkToolCall(b *testing.B) {
	r, err := resolver.New([]provider.Provider{provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{provider.FieldToken: token1}, provider.Source{}), nil
	}), "static")}, func(o *resolver.Options) { o.Required = []string{provider.FieldToken} })
	if err != nil {
		b.Fatal(err)
	}
	args := map[string]any{"path": "/v1/items", "limit": 10}
	run := func(b *testing.B, register func(*mcp.Server)) {
		srv := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "0"}, nil)
		register(srv)
		st, ct := mcp.NewInMemoryTransports()
		ss, err := srv.Connect(context.Background(), mcptool.Local(st), nil)
		if err != nil {
			b.Fatal(err)
		}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(context.Background(), ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { cs.Close(); ss.Wait() }()
		params := &mcp.CallToolParams{Name: "get", Arguments: args}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			res, err := cs.CallTool(context.Background(), params)
			if err != nil || res.IsError {
				b.Fatal(err, res)
			}
		}
	}
	b.Run("hand-written", func(b *testing.B) {
		run(b, func(srv *mcp.Server) {
			mcp.AddTool(srv, &mcp.Tool{Name: "get"}, func(ctx context.Context, _ *mcp.CallToolRequest, in GetInput) (*mcp.CallToolResult, benchOut, error) {
				res, err := r.Resolve(ctx, in.Selection.Request())
				if err != nil {
					return nil, benchOut{}, err
				}
				return nil, benchOut{Body: "ok " + res.Credentials.Source.Provider}, nil
			})
		})
	})
	b.Run("mcptool", func(b *testing.B) {
		run(b, func(srv *mcp.Server) {
			ct, err := mcptool.New(srv, r, nil)
			if err != nil {
				b.Fatal(err)
			}
			mcptool.AddTool(ct, &mcp.Tool{Name: "get"}, func(ctx context.Context, c *mcptool.Call, in GetInput) (benchOut, error) {
				res, err := c.Resolve(ctx)
				if err != nil {
					return benchOut{}, err
				}
				return benchOut{Body: "ok " + res.Credentials.Source.Provider}, nil
			})
		})
	})
}
