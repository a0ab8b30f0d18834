// Command whitelist-mcp is an MCP server that manages the ingress rules of
// AWS EC2 security groups: whitelist_add, whitelist_remove, whitelist_list
// and whitelist_check. It serves one user over stdio or, with --http ADDR,
// remote users over Streamable HTTP behind an OAuth bearer-token check
// (mcptool.ServeHTTP: MCP_OAUTH_ISSUER, MCP_RESOURCE_URL,
// MCP_OAUTH_GROUPS_CLAIM, MCP_OAUTH_SCOPES). Tool calls take their AWS
// credentials from mcpcred's provider chain, as each remote caller's
// verified subject; a client's token never reaches AWS. See README.md.
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
	httpAddr := flag.String("http", "", "serve remote clients over Streamable HTTP on `ADDR` (such as 127.0.0.1:8080) behind a bearer-token check, "+
		"instead of stdio; reads MCP_OAUTH_ISSUER and MCP_RESOURCE_URL")
	flag.Parse()

	cfg, err := loadConfig(os.Getenv)
	var remote mcptool.HTTPConfig
	if err == nil && *httpAddr != "" {
		remote, err = mcptool.ReadHTTPEnv(os.Getenv)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "whitelist-mcp:", err)
		os.Exit(2)
	}
	cfg.DryRun = cfg.DryRun || *dryRun
	cfg.Environ = os.Environ // for env:PREFIX_* references

	// stdout carries the MCP protocol over stdio: logs go to stderr, always.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	cfg.Env.Audit = log.With("log", "audit")
	log.Info("whitelist-mcp starting", "version", version, "dry_run", cfg.DryRun, "region", cfg.AWS.Region, "http", *httpAddr)
	srv, err := newServer(cfg, log, version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "whitelist-mcp:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *httpAddr == "" {
		err = srv.Run(ctx, mcptool.StdioTransport())
	} else {
		remote.ResourceName, remote.Logger = "whitelist-mcp", log
		err = mcptool.ServeHTTP(ctx, srv, *httpAddr, remote)
	}
	if err != nil && ctx.Err() == nil {
		log.Error("server stopped", "error", err)
		os.Exit(1)
	}
}
