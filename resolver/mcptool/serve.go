package mcptool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The environment variables of a server that serves remote clients, which
// [ReadHTTPEnv] reads.
const (
	// EnvOAuthIssuer is the OpenID issuer URL whose access tokens are
	// accepted. Required.
	EnvOAuthIssuer = "MCP_OAUTH_ISSUER"

	// EnvResourceURL is the server's URL as clients reach it, such as
	// https://mcp.example.com/mcp: the audience tokens must carry, and the
	// path MCP is served at. Required.
	EnvResourceURL = "MCP_RESOURCE_URL"

	// EnvOAuthGroupsClaim names the token claim that lists the caller's
	// groups; default "groups".
	EnvOAuthGroupsClaim = "MCP_OAUTH_GROUPS_CLAIM"

	// EnvOAuthScopes lists, comma-separated, the scopes every token must
	// carry; default none.
	EnvOAuthScopes = "MCP_OAUTH_SCOPES"
)

// HTTPConfig configures [ServeHTTP].
type HTTPConfig struct {
	Issuer      string   // EnvOAuthIssuer
	ResourceURL string   // EnvResourceURL; plain http only on a loopback host
	GroupsClaim string   // EnvOAuthGroupsClaim (OIDCOptions.GroupsClaim)
	Scopes      []string // EnvOAuthScopes (HTTPOptions.Scopes)

	// ResourceName is the metadata's human-readable name of the server.
	ResourceName string

	// Pages are served beside MCP outside the bearer-token check
	// (HTTPOptions.Pages), such as resolver/enroll's.
	Pages map[string]http.Handler

	// Logger receives the verifier's refusals, the HTTP server's errors and
	// one record when serving starts. Default: discard.
	Logger *slog.Logger
}

// ReadHTTPEnv reads an HTTPConfig through getenv (os.Getenv, or a test's)
// and checks it as [ServeHTTP] does, so that a server can refuse a bad
// configuration before it starts.
func ReadHTTPEnv(getenv func(string) string) (HTTPConfig, error) {
	c := HTTPConfig{Issuer: getenv(EnvOAuthIssuer), ResourceURL: getenv(EnvResourceURL), GroupsClaim: getenv(EnvOAuthGroupsClaim)}
	for s := range strings.SplitSeq(getenv(EnvOAuthScopes), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.Scopes = append(c.Scopes, s)
		}
	}
	return c, c.check()
}

func (c HTTPConfig) check() error {
	if c.Issuer == "" || c.ResourceURL == "" {
		return errors.New("mcptool: serving over HTTP needs " + EnvOAuthIssuer + " (the OpenID issuer whose tokens are accepted) and " +
			EnvResourceURL + " (this server's URL as clients reach it, such as https://mcp.example.com/mcp)")
	}
	for _, u := range [][2]string{{"resource URL (" + EnvResourceURL + ")", c.ResourceURL}, {"issuer URL (" + EnvOAuthIssuer + ")", c.Issuer}} {
		if err := checkURL(u[0], u[1]); err != nil {
			return err
		}
		if err := plainHTTPOnLoopback(u[0], u[1]); err != nil {
			return err
		}
	}
	if u, _ := url.Parse(c.ResourceURL); u.RawQuery != "" {
		return errors.New("mcptool: the resource URL (" + EnvResourceURL + ") must not have a query")
	}
	return nil
}

// plainHTTPOnLoopback refuses an http URL whose host is not a loopback
// address: bearer tokens sent over plain HTTP are readable on the way.
func plainHTTPOnLoopback(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" {
		return nil
	}
	if h := u.Hostname(); h == "localhost" || net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback() {
		return nil
	}
	return fmt.Errorf("mcptool: the %s must be https unless its host is a loopback address: serve TLS, or put a TLS-terminating proxy in front", what)
}

// ServeHTTP serves srv to remote clients over Streamable HTTP on addr (as
// net.Listen takes it, such as 127.0.0.1:8080) until ctx ends, then shuts
// down, giving requests in flight 5 seconds. It is [HTTPHandler] (MCP at
// the resource URL's path, its Protected Resource Metadata) behind
// [NewOIDCVerifier] for cfg's issuer and resource URL. It returns nil
// once ctx has ended, and the error that stopped it otherwise.
//
// It serves plain HTTP: cfg.ResourceURL may be http only on a loopback
// host; an https resource URL needs a TLS-terminating proxy in front.
func ServeHTTP(ctx context.Context, srv *mcp.Server, addr string, cfg HTTPConfig) error {
	if err := cfg.check(); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	verify, err := NewOIDCVerifier(ctx, cfg.Issuer, cfg.ResourceURL, func(o *OIDCOptions) { o.GroupsClaim, o.Logger = cfg.GroupsClaim, log })
	if err != nil {
		return err
	}
	h, err := HTTPHandler(srv, verify, HTTPOptions{ResourceURL: cfg.ResourceURL, AuthorizationServers: []string{cfg.Issuer},
		Scopes: cfg.Scopes, ResourceName: cfg.ResourceName, Pages: cfg.Pages})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mcptool: %w", err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served, shut := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(shut)
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hs.Shutdown(sctx)
		case <-served:
		}
	}()
	log.Info("serving MCP over Streamable HTTP", "listen", ln.Addr().String(), "resource", cfg.ResourceURL, "issuer", cfg.Issuer, "metadata", WellKnownPRM)
	err = hs.Serve(ln)
	close(served)
	<-shut // Shutdown has returned
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
