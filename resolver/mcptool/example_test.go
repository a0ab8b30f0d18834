package mcptool_test

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

func Example() {
	// The server's own token, from any provider chain.
	r, _ := resolver.New([]provider.Provider{provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{provider.FieldToken: "tok-Zq3T9xWm2LkP8vRb5NcY"}, provider.Source{Locator: "API_TOKEN"}), nil
	}), "env")}, func(o *resolver.Options) { o.Required = []string{provider.FieldToken} })

	srv := mcp.NewServer(&mcp.Implementation{Name: "example", Version: "1"}, nil)
	ct, _ := mcptool.New(srv, r, &mcptool.Options{Fields: mcptool.TokenFields})

	type Input struct {
		mcptool.Selection
		Path string `json:"path" jsonschema:"the API path"`
	}
	type Output struct {
		Body string `json:"body"`
	}
	mcptool.AddTool(ct, &mcp.Tool{Name: "get", Description: "GET an API path"},
		func(ctx context.Context, c *mcptool.Call, in Input) (Output, error) {
			var body string
			_, err := c.Do(ctx, func(ctx context.Context, creds provider.Credentials) error {
				// A careless upstream that echoes the token.
				body = "GET " + in.Path + " with token " + creds.Value(provider.FieldToken)
				return nil
			})
			return Output{Body: body}, err
		})

	// Drive it with the SDK's client.
	st, clt := mcp.NewInMemoryTransports()
	ss, _ := srv.Connect(context.Background(), mcptool.Local(st), nil)
	cs, _ := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "1"}, nil).Connect(context.Background(), clt, nil)
	defer func() { cs.Close(); ss.Wait() }()
	show := func(args map[string]any) {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "get", Arguments: args})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(res.IsError, res.Content[0].(*mcp.TextContent).Text)
	}
	show(map[string]any{"path": "/v1/items"})
	show(map[string]any{"path": "/v1/items", "credentials": map[string]any{"token": "ghp_pasted9xWm2LkP8vRb5N"}})
	show(map[string]any{"path": "/v1/items", "extra": "ghp_pasted9xWm2LkP8vRb5N"})
	// Output:
	// false {"body":"GET /v1/items with token [REDACTED]"}
	// true this server does not accept credentials in tool calls: leave out credentials and it uses the credentials its operator configured
	// true unknown argument (its name is not repeated); this tool takes: path
}
