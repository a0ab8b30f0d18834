package mcptool

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

type benchIn struct {
	Selection
	Path  string `json:"path"`
	Limit int    `json:"limit,omitempty"`
}

// BenchmarkGuard measures the middleware alone around a handler that
// returns a fixed result: the argument check, the Call, and the scrubbing
// of a result against one remembered token.
func BenchmarkGuard(b *testing.B) {
	r, _ := resolver.New(nil)
	srv := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "0"}, nil)
	s, err := New(srv, r, &Options{Profiles: true})
	if err != nil {
		b.Fatal(err)
	}
	AddTool(s, &mcp.Tool{Name: "get"}, func(context.Context, *Call, benchIn) (struct{}, error) { return struct{}{}, nil })
	s.served.record(provider.NewCredentials(map[string]string{provider.FieldToken: "tok-ZqT9xWm2LkP8vRb5NcY7hJd4"}, provider.Source{}))
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: `{"body":"a response of ordinary length, with nothing secret in it"}`}},
		StructuredContent: json.RawMessage(`{"body":"a response of ordinary length, with nothing secret in it"}`)}
	h := s.guard(func(ctx context.Context, _ string, _ mcp.Request) (mcp.Result, error) {
		ctx.Value(callKey{}).(*Call).ran = true
		return res, nil
	})
	req := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "get", Arguments: json.RawMessage(`{"path":"/v1/items","limit":10,"credential_profile":"default"}`)}}
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		if _, err := h(ctx, "tools/call", req); err != nil {
			b.Fatal(err)
		}
	}
}
