// Command token-mcp is an MCP server (stdio) whose tool api_get GETs a path of the API at
// TOKEN_MCP_API_URL with a bearer token from API_TOKEN, ~/.mcp/credentials (key token), a
// profile of ~/.mcp/profiles.json or the OS keychain; on a 401 it re-resolves and retries once.
package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

type GetInput struct {
	mcptool.Selection
	Path string `json:"path" jsonschema:"the API path to GET, starting with /, such as /v1/items"`
}

type GetOutput struct {
	Status int    `json:"status"`
	Body   string `json:"body" jsonschema:"the response body, up to 64 KiB"`
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)) // stdout carries the protocol
	check := func(err error) {
		if err != nil {
			log.Error("token-mcp stopped", "error", err)
			os.Exit(1)
		}
	}
	api, allow := strings.TrimSuffix(os.Getenv("TOKEN_MCP_API_URL"), "/"), os.Getenv("MCP_ALLOW_REQUEST_CREDENTIALS") == "true"
	var schemes provider.Schemes // what a profile's "source" may read
	schemes.Register("env", env.Scheme())
	schemes.Register("file", file.Scheme())
	profiles, err := profile.New(&schemes)
	check(err)
	r, err := resolver.New([]provider.Provider{profiles, env.New(func(o *env.Options) { o.Vars = map[string][]string{"token": {"API_TOKEN"}} }),
		file.New(), keychain.New()}, func(o *resolver.Options) {
		o.Required, o.AllowRequestCredentials, o.AllowProfile, o.Logger = []string{provider.FieldToken}, allow, profiles.Allows, log
	})
	check(err)
	srv := mcp.NewServer(&mcp.Implementation{Name: "token-mcp", Version: "0.1.0"}, nil)
	ct, err := mcptool.New(srv, r, &mcptool.Options{RequestCredentials: allow, Profiles: true, Logger: log, Hints: mcptool.Hints{
		RequestCredentials: "the operator allows them with MCP_ALLOW_REQUEST_CREDENTIALS=true",
		Profiles:           "the operator offers profiles in ~/.mcp/profiles.json",
		Configure:          "the operator sets API_TOKEN, or token in ~/.mcp/credentials"}})
	check(err)
	mcptool.AddTool(ct, &mcp.Tool{Name: "api_get", Description: "GET a path of the API with the server's token."},
		func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+in.Path, nil)
			if !strings.HasPrefix(in.Path, "/") || strings.HasPrefix(in.Path, "//") || err != nil {
				return GetOutput{}, errors.New("path must be an absolute path, such as /v1/items")
			}
			client, err := c.HTTPClient(ctx, nil) // bearer token; 401 → re-resolve → retry once
			if err != nil {
				return GetOutput{}, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return GetOutput{}, err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			return GetOutput{Status: resp.StatusCode, Body: string(body)}, nil
		})
	check(srv.Run(context.Background(), mcptool.StdioTransport()))
}
