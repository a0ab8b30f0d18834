package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/mcpcred/mcpcred/resolver/mcptool"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tool-call overhead in process, through the SDK's in-memory transports:
// validation, the resolver's cached hit, building (and, against the local
// endpoint, signing, sending and parsing) the EC2 request, and the MCP
// round trip.

func BenchmarkToolCallDryRun(b *testing.B) {
	env := envOf(envKey)
	env["WHITELIST_DRY_RUN"] = "1"
	h := start(b, env, nil)
	args := map[string]any{"security_group_id": sg, "ip_address": "203.0.113.7", "port": 443}
	h.ok("whitelist_add", args)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := h.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whitelist_add", Arguments: args})
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
	}
}

func BenchmarkToolCallLocalEndpoint(b *testing.B) {
	h := start(b, envOf(envKey), nil)
	h.ok("whitelist_add", map[string]any{"security_group_id": sg, "ip_address": "203.0.113.7"})
	args := map[string]any{"security_group_id": sg, "ip_address": "203.0.113.7"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := h.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whitelist_check", Arguments: args})
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
	}
}

func BenchmarkToolCallInvalid(b *testing.B) {
	h := start(b, envOf(envKey), nil)
	args := map[string]any{"security_group_id": "sg-bad", "ip_address": "203.0.113.7"}
	b.ReportAllocs()
	for b.Loop() {
		res, err := h.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whitelist_add", Arguments: args})
		if err != nil || !res.IsError {
			b.Fatal(err, res)
		}
	}
}

// BenchmarkStartToToolsList measures server construction (config, provider
// chain, resolver, EC2 client, four tools), the MCP handshake and the first
// tools/list answer.
func BenchmarkStartToToolsList(b *testing.B) {
	env := envOf(envKey)
	env["HOME"] = b.TempDir() // no profiles or credentials file
	getenv := func(k string) string { return env[k] }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := loadConfig(getenv)
		if err != nil {
			b.Fatal(err)
		}
		cfg.keyring = &memKeyring{m: map[string]string{}}
		ct, st := mcp.NewInMemoryTransports()
		srv, err := newServer(cfg, log, "bench")
		if err != nil {
			b.Fatal(err)
		}
		ss, err := srv.Connect(ctx, mcptool.Local(st), nil)
		if err != nil {
			b.Fatal(err)
		}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(ctx, ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res, err := cs.ListTools(ctx, nil); err != nil || len(res.Tools) != 4 {
			b.Fatal(err)
		}
		cs.Close()
		ss.Wait()
	}
}
