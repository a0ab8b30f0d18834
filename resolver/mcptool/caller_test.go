package mcptool_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// bearer adds an Authorization header to every request.
type bearer struct{ tok string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return http.DefaultTransport.RoundTrip(r)
}

// TestCallerFromVerifiedToken runs the server behind the SDK's bearer-token
// middleware over streamable HTTP: Call.Caller is the verified user.
func TestCallerFromVerifiedToken(t *testing.T) {
	r, err := resolver.New([]provider.Provider{newRotating(token1).provider()}, func(o *resolver.Options) {
		o.Required = []string{provider.FieldToken}
		o.AllowProfile = resolver.AnyProfile // the default profile is offered to verified callers
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "remote", Version: "0"}, nil)
	ct, err := mcptool.New(srv, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	mcptool.AddTool(ct, &mcp.Tool{Name: "whoami", Description: "who calls"}, func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
		_, err := c.Resolve(ctx)
		return GetOutput{Body: c.Caller().Subject}, err
	})
	verify := func(_ context.Context, tok string, _ *http.Request) (*auth.TokenInfo, error) {
		if tok != "alice-session-token" {
			return nil, auth.ErrInvalidToken
		}
		return mcptool.TokenInfo(&provider.Caller{Issuer: "https://idp.test", Subject: "alice"}, time.Now().Add(time.Hour)), nil
	}
	h := auth.RequireBearerToken(verify, nil)(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	hs := httptest.NewServer(h)
	defer hs.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: hs.URL, HTTPClient: &http.Client{Transport: bearer{"alice-session-token"}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{"path": "/"}})
	if err != nil || res.IsError {
		t.Fatal(err, res)
	}
	if got := res.StructuredContent.(map[string]any)["body"]; got != "alice" {
		t.Fatalf("Caller() = %v, want alice", got)
	}
}
