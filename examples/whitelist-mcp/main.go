// Command whitelist-mcp is an MCP server that manages the ingress rules of
// AWS EC2 security groups: whitelist_add, whitelist_remove, whitelist_list
// and whitelist_check. It serves one user over stdio, or, with --http ADDR,
// many remote users over Streamable HTTP behind an OAuth bearer-token
// check.
//
// Tool calls need no credentials: the server resolves them through mcpcred's
// provider chain (the profiles file ~/.mcp/profiles.json, environment,
// ~/.mcp/credentials, secret files, the OS keychain) and caches them; a call
// may pick a credential_profile the profiles file defines and, if the
// operator allows them, pass a credential_id reference
// (MCP_ALLOWED_REFERENCES) or its own credentials
// (MCP_ALLOW_REQUEST_CREDENTIALS=true). See README.md.
//
// Remote mode (--http ADDR) reads:
//
//	MCP_OAUTH_ISSUER        the OpenID issuer URL whose access tokens are accepted (required)
//	MCP_RESOURCE_URL        this server's URL as clients reach it, such as https://mcp.example.com/mcp:
//	                        the audience tokens must carry, and the path MCP is served at (required)
//	MCP_OAUTH_GROUPS_CLAIM  the token claim that lists the caller's groups (default "groups")
//	MCP_OAUTH_SCOPES        comma-separated scopes every token must carry (default none)
//
// Each call is made as the token's verified subject: the profiles file's
// "allow" decides which profiles a caller may use, and a source with {sub}
// reads that caller's own credentials. Profiles without "allow" are offered
// only over stdio. The client's token is verified and dropped; it never
// reaches AWS. Every resolution is logged as an audit record (subject,
// issuer, client, tool, profile, outcome; never a value).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

const version = "0.1.0"

func main() {
	dryRun := flag.Bool("dry-run", false, "validate and resolve credentials, report the EC2 call each tool would make, and make none (also WHITELIST_DRY_RUN=1)")
	httpAddr := flag.String("http", "", "serve remote clients over Streamable HTTP on `ADDR` (such as 127.0.0.1:8080) behind a bearer-token check, "+
		"instead of stdio; reads MCP_OAUTH_ISSUER and MCP_RESOURCE_URL")
	flag.Parse()

	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "whitelist-mcp:", err)
		os.Exit(2)
	}
	cfg.DryRun = cfg.DryRun || *dryRun
	cfg.Environ = os.Environ // for env:PREFIX_* references

	// stdout carries the MCP protocol over stdio: logs go to stderr, always.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	cfg.Env.Audit = log.With("log", "audit")
	log.Info("whitelist-mcp starting", "version", version, "dry_run", cfg.DryRun, "region", cfg.Region, "http", *httpAddr)

	var remote remoteConfig
	if *httpAddr != "" {
		if remote, err = loadRemote(os.Getenv, *httpAddr); err != nil {
			fmt.Fprintln(os.Stderr, "whitelist-mcp:", err)
			os.Exit(2)
		}
	}
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
		err = serveHTTP(ctx, remote, srv, log)
	}
	if err != nil && ctx.Err() == nil {
		log.Error("server stopped", "error", err)
		os.Exit(1)
	}
}

// remoteConfig is what --http reads from the environment.
type remoteConfig struct {
	Addr, Issuer, Resource, GroupsClaim string
	Scopes                              []string
}

func loadRemote(getenv func(string) string, addr string) (remoteConfig, error) {
	rc := remoteConfig{Addr: addr, Issuer: getenv("MCP_OAUTH_ISSUER"), Resource: getenv("MCP_RESOURCE_URL"), GroupsClaim: getenv("MCP_OAUTH_GROUPS_CLAIM")}
	for s := range strings.SplitSeq(getenv("MCP_OAUTH_SCOPES"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			rc.Scopes = append(rc.Scopes, s)
		}
	}
	if rc.Issuer == "" || rc.Resource == "" {
		return rc, errors.New("--http needs MCP_OAUTH_ISSUER (the OpenID issuer whose tokens are accepted) and " +
			"MCP_RESOURCE_URL (this server's URL as clients reach it, such as https://mcp.example.com/mcp)")
	}
	u, err := url.Parse(rc.Resource)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return rc, errors.New("MCP_RESOURCE_URL must be an absolute https URL")
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		// Bearer tokens over plain HTTP are readable on the way.
		return rc, errors.New("MCP_RESOURCE_URL must be https unless it is a loopback address: serve TLS, or put a TLS-terminating proxy in front")
	}
	return rc, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveHTTP serves srv at rc.Resource's path on rc.Addr until ctx ends.
func serveHTTP(ctx context.Context, rc remoteConfig, srv *mcp.Server, log *slog.Logger) error {
	verify, err := mcptool.NewOIDCVerifier(ctx, rc.Issuer, rc.Resource, func(o *mcptool.OIDCOptions) {
		o.GroupsClaim, o.Logger = rc.GroupsClaim, log
	})
	if err != nil {
		return err
	}
	h, err := mcptool.HTTPHandler(srv, verify, mcptool.HTTPOptions{
		ResourceURL:          rc.Resource,
		AuthorizationServers: []string{rc.Issuer},
		Scopes:               rc.Scopes,
		ResourceName:         "whitelist-mcp",
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", rc.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	log.Info("serving MCP over Streamable HTTP", "listen", ln.Addr().String(), "resource", rc.Resource, "issuer", rc.Issuer,
		"metadata", mcptool.WellKnownPRM)
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
