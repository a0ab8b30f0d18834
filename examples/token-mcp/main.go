// Command token-mcp is an MCP server whose tool api_get GETs a path of the API at
// TOKEN_MCP_API_URL with a bearer token; on a 401 it re-resolves and retries once. Over stdio
// the token comes from API_TOKEN, ~/.mcp/credentials (key token), a profile of
// ~/.mcp/profiles.json or the OS keychain. With --http ADDR it serves remote users instead,
// each with their own token (remote.go).
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

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
	addr := flag.String("http", "", "serve remote users over Streamable HTTP on `ADDR` (such as 127.0.0.1:8080) instead of stdio")
	flag.Parse()
	api, allow := strings.TrimSuffix(os.Getenv("TOKEN_MCP_API_URL"), "/"), os.Getenv("MCP_ALLOW_REQUEST_CREDENTIALS") == "true"
	if *addr != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		check(serveRemote(ctx, *addr, api, log))
		return
	}
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
	addAPIGet(ct, api)
	check(srv.Run(context.Background(), mcptool.StdioTransport()))
}

// addAPIGet adds the tool api_get.
func addAPIGet(ct *mcptool.Server, api string) {
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
}
