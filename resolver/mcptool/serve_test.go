package mcptool_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/internal/testop"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

func TestReadHTTPEnv(t *testing.T) {
	const issuer, resource = "https://idp.example.com", "https://mcp.example.com/mcp"
	tests := []struct {
		name    string
		env     map[string]string
		want    mcptool.HTTPConfig
		wantErr string
	}{
		{"https", map[string]string{"MCP_OAUTH_ISSUER": issuer, "MCP_RESOURCE_URL": resource, "MCP_OAUTH_GROUPS_CLAIM": "roles", "MCP_OAUTH_SCOPES": " mcp.tools, ,mcp.admin,"},
			mcptool.HTTPConfig{Issuer: issuer, ResourceURL: resource, GroupsClaim: "roles", Scopes: []string{"mcp.tools", "mcp.admin"}}, ""},
		{"plain http on loopback", map[string]string{"MCP_OAUTH_ISSUER": "http://127.0.0.1:9000", "MCP_RESOURCE_URL": "http://localhost:8080/mcp"},
			mcptool.HTTPConfig{Issuer: "http://127.0.0.1:9000", ResourceURL: "http://localhost:8080/mcp"}, ""},
		{"plain http on IPv6 loopback", map[string]string{"MCP_OAUTH_ISSUER": issuer, "MCP_RESOURCE_URL": "http://[::1]:8080/mcp"},
			mcptool.HTTPConfig{Issuer: issuer, ResourceURL: "http://[::1]:8080/mcp"}, ""},
		{"no issuer", map[string]string{"MCP_RESOURCE_URL": resource}, mcptool.HTTPConfig{}, "serving over HTTP needs MCP_OAUTH_ISSUER"},
		{"no resource", map[string]string{"MCP_OAUTH_ISSUER": issuer}, mcptool.HTTPConfig{}, "and MCP_RESOURCE_URL"},
		{"resource not a URL", map[string]string{"MCP_OAUTH_ISSUER": issuer, "MCP_RESOURCE_URL": "mcp.example.com/mcp"}, mcptool.HTTPConfig{}, "resource URL (MCP_RESOURCE_URL) must be an absolute http(s) URL"},
		{"resource with a query", map[string]string{"MCP_OAUTH_ISSUER": issuer, "MCP_RESOURCE_URL": resource + "?x=1"}, mcptool.HTTPConfig{}, "must not have a query"},
		{"plain http resource off loopback", map[string]string{"MCP_OAUTH_ISSUER": issuer, "MCP_RESOURCE_URL": "http://mcp.example.com/mcp"}, mcptool.HTTPConfig{},
			"resource URL (MCP_RESOURCE_URL) must be https unless its host is a loopback address"},
		{"plain http resource on a LAN address", map[string]string{"MCP_OAUTH_ISSUER": issuer, "MCP_RESOURCE_URL": "http://10.0.0.5:8080/mcp"}, mcptool.HTTPConfig{}, "must be https"},
		{"plain http resource on localhost.example", map[string]string{"MCP_OAUTH_ISSUER": issuer, "MCP_RESOURCE_URL": "http://localhost.example.com/mcp"}, mcptool.HTTPConfig{}, "must be https"},
		{"plain http issuer off loopback", map[string]string{"MCP_OAUTH_ISSUER": "http://idp.example.com", "MCP_RESOURCE_URL": resource}, mcptool.HTTPConfig{},
			"issuer URL (MCP_OAUTH_ISSUER) must be https unless"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mcptool.ReadHTTPEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Issuer != tt.want.Issuer || got.ResourceURL != tt.want.ResourceURL || got.GroupsClaim != tt.want.GroupsClaim || !slices.Equal(got.Scopes, tt.want.Scopes) {
				t.Fatalf("ReadHTTPEnv = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// HTTPHandler refuses plain-http resource and authorization server URLs
// off loopback, as ServeHTTP does: clients would send tokens over them.
func TestHTTPHandlerRefusesPlainHTTPOffLoopback(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	for _, tt := range []struct{ resource, as string }{
		{"http://mcp.example.com/mcp", "https://idp.example.com"},
		{"http://192.168.1.2:8080/mcp", "https://idp.example.com"},
		{"https://mcp.example.com/mcp", "http://idp.example.com"},
	} {
		_, err := mcptool.HTTPHandler(srv, noVerifier, mcptool.HTTPOptions{ResourceURL: tt.resource, AuthorizationServers: []string{tt.as}})
		if err == nil || !strings.Contains(err.Error(), "must be https unless its host is a loopback address") {
			t.Errorf("%s, %s: err = %v", tt.resource, tt.as, err)
		}
	}
	if _, err := mcptool.HTTPHandler(srv, noVerifier, mcptool.HTTPOptions{ResourceURL: "http://127.0.0.1:8080/mcp", AuthorizationServers: []string{"http://localhost:9000"}}); err != nil {
		t.Errorf("loopback: %v", err)
	}
}

func noVerifier(context.Context, string, *http.Request) (*auth.TokenInfo, error) {
	return nil, auth.ErrInvalidToken
}

// started is a slog handler that closes ch at ServeHTTP's "serving" record.
type started struct {
	slog.Handler
	ch chan struct{}
}

func (started) Enabled(context.Context, slog.Level) bool { return true }

func (h started) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "serving MCP over Streamable HTTP" {
		close(h.ch)
	}
	return nil
}

// TestServeHTTP: ServeHTTP, configured from the environment, serves the
// SDK's client with a token from the real OP as that token's subject,
// refuses a request without one with the metadata's URL, publishes the
// metadata, and stops when its context ends.
func TestServeHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	resource := "http://" + addr + "/mcp"
	alice := testop.Client{ID: "cli-alice", Secret: "secret-alice", Subject: "alice", Groups: []string{"sre"}}
	op, err := testop.Start(resource, alice)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	cfg, err := mcptool.ReadHTTPEnv(func(k string) string {
		return map[string]string{"MCP_OAUTH_ISSUER": op.Issuer, "MCP_RESOURCE_URL": resource, "MCP_OAUTH_SCOPES": "mcp.tools"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ready := started{Handler: slog.DiscardHandler, ch: make(chan struct{})}
	cfg.Logger, cfg.ResourceName = slog.New(ready), "serve-test"

	r, err := resolver.New([]provider.Provider{provider.WithName(provider.Func(func(ctx context.Context, _ string) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{provider.FieldToken: "tok-" + provider.CallerFromContext(ctx).Subject}, provider.Source{}), nil
	}), "per-subject")}, func(o *resolver.Options) {
		o.Required, o.AllowProfile = []string{provider.FieldToken}, resolver.AnyProfile
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "serve", Version: "0"}, nil)
	ct, err := mcptool.New(srv, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	mcptool.AddTool(ct, &mcp.Tool{Name: "whoami", Description: "the caller"}, func(ctx context.Context, c *mcptool.Call, in WhoInput) (WhoOutput, error) {
		if _, err := c.Resolve(ctx); err != nil {
			return WhoOutput{}, err
		}
		return WhoOutput{Caller: c.Caller().Subject}, nil
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- mcptool.ServeHTTP(ctx, srv, addr, cfg) }()
	select {
	case <-ready.ch:
	case err := <-served:
		t.Fatalf("ServeHTTP: %v", err)
	}

	resp, err := http.Post(resource, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if wa := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(wa, `resource_metadata="http://`+addr+`/.well-known/oauth-protected-resource/mcp"`) {
		t.Fatalf("without a token: %d, WWW-Authenticate %q", resp.StatusCode, wa)
	}
	resp, err = http.Get("http://" + addr + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		Scopes               []string `json:"scopes_supported"`
		Name                 string   `json:"resource_name"`
	}
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if err != nil || meta.Resource != resource || !slices.Equal(meta.AuthorizationServers, []string{op.Issuer}) || !slices.Equal(meta.Scopes, []string{"mcp.tools"}) || meta.Name != "serve-test" {
		t.Fatalf("metadata = %+v, %v", meta, err)
	}

	tok, err := op.Token(context.Background(), alice.ID, alice.Secret, "mcp.tools")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: resource, HTTPClient: &http.Client{Transport: bearer{tok}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("whoami: %v %+v", err, res)
	}
	if got := res.StructuredContent.(map[string]any)["caller"]; got != "alice" {
		t.Fatalf("caller = %v, want alice", got)
	}
	cs.Close()

	// A token without the required scope is refused.
	noScope, err := op.Token(context.Background(), alice.ID, alice.Secret)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, resource, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+noScope)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("token without the scope: %d, want 403", resp.StatusCode)
	}

	cancel()
	if err := <-served; err != nil {
		t.Fatalf("ServeHTTP after its context ended = %v, want nil", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("still listening after ServeHTTP returned")
	}
}

// ServeHTTP refuses what ReadHTTPEnv refuses, for a config built by hand.
func TestServeHTTPChecksConfig(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	err := mcptool.ServeHTTP(context.Background(), srv, "127.0.0.1:0", mcptool.HTTPConfig{Issuer: "https://idp.example.com", ResourceURL: "http://mcp.example.com/mcp"})
	if err == nil || !strings.Contains(err.Error(), "must be https") {
		t.Fatalf("err = %v", err)
	}
}
