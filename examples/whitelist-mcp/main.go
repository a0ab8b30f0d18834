// Command whitelist-mcp is an MCP server, over stdio, that manages the
// ingress rules of AWS EC2 security groups: whitelist_add, whitelist_remove,
// whitelist_list and whitelist_check.
//
// Tool calls need no credentials: the server resolves them through mcpcred's
// provider chain (the profiles file ~/.mcp/profiles.json, environment,
// ~/.mcp/credentials, secret files, the OS keychain) and caches them; a call
// may pick a credential_profile the profiles file defines and, if the
// operator allows them, pass a credential_id reference
// (MCP_ALLOWED_REFERENCES) or its own credentials
// (MCP_ALLOW_REQUEST_CREDENTIALS=true). See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

const version = "0.1.0"

func main() {
	dryRun := flag.Bool("dry-run", false, "validate and resolve credentials, report the EC2 call each tool would make, and make none (also WHITELIST_DRY_RUN=1)")
	flag.Parse()

	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "whitelist-mcp:", err)
		os.Exit(2)
	}
	cfg.DryRun = cfg.DryRun || *dryRun
	cfg.Environ = os.Environ // for env:PREFIX_* references

	// stdout carries the MCP protocol: logs go to stderr, always.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("whitelist-mcp starting", "version", version, "dry_run", cfg.DryRun, "region", cfg.Region)

	srv, err := newServer(cfg, log, version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "whitelist-mcp:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx, mcptool.StdioTransport()); err != nil && ctx.Err() == nil {
		log.Error("server stopped", "error", err)
		os.Exit(1)
	}
}
