package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
	"github.com/mcpcred/mcpcred/provider/vault"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/enroll"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// ForgetInput selects the profile whose stored credential the caller removes.
type ForgetInput struct {
	mcptool.Selection
}

// ForgetOutput says what was removed.
type ForgetOutput struct {
	Removed string `json:"removed" jsonschema:"the profile whose credential of yours was removed"`
}

// serveRemote serves remote users over Streamable HTTP (mcptool.ServeHTTP: MCP_OAUTH_ISSUER,
// MCP_RESOURCE_URL). Each user's token lives where a per-subject profile of the profiles file
// points ("vault:secret/data/mcp/users/{sub}", "encfile:/var/lib/token-mcp/{sub}"); nothing of
// the operator's environment is served. With MCP_ENROLL_URL set (resolver/enroll.ReadEnv), a
// user who has none yet is sent to add it in the browser, pasting a token, or connecting the
// third party of TOKEN_MCP_OAUTH_ISSUER for the profiles TOKEN_MCP_OAUTH_PROFILES names; the
// tool forget_credential removes the caller's own.
func serveRemote(ctx context.Context, addr, api string, log *slog.Logger) error {
	httpCfg, err := mcptool.ReadHTTPEnv(os.Getenv)
	if err != nil {
		return err
	}
	env, err := mcptool.ReadEnv(os.Getenv)
	if err != nil {
		return err
	}
	enrollCfg, err := enroll.ReadEnv(os.Getenv)
	if err != nil {
		return err
	}
	tp, err := thirdParty(ctx, os.Getenv)
	if err != nil {
		return err
	}
	var clients []*enroll.OAuth
	if tp.client != nil {
		clients = append(clients, tp.client)
	}
	refresh := func(o *enroll.RefreshOptions) { o.Margin, o.Logger = tp.margin, log }
	var schemes provider.Schemes          // where each user's token is stored
	stores := map[string]provider.Scheme{ // one Vault client and login for the profiles and the ledger
		"vault":   vault.Scheme(func(o *vault.Options) { o.Logger = log }),
		"encfile": encfile.Scheme(), // one host: MCPCRED_ENCFILE_KEY
	}
	// The ledger's claims each open a reference once: they get Schemes of their own over the
	// same stores, so that they never push the profiles' Targets out of the shared cache.
	var ledger provider.Schemes
	for name, sc := range stores {
		schemes.Register(name, enroll.Refresh(sc, clients, refresh))
		ledger.Register(name, sc)
	}
	profiles, err := profile.New(&schemes)
	if err != nil {
		return err
	}
	r, err := resolver.New([]provider.Provider{profiles}, env.Resolver, func(o *resolver.Options) {
		o.Required, o.AllowProfile, o.Logger, o.Audit = []string{provider.FieldToken}, profiles.Allows, log, log
	})
	if err != nil {
		return err
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "token-mcp", Version: "0.2.0"}, nil)
	opts := env.Options(profiles, "the operator points a per-user profile at where each user's token is stored")
	opts.Logger = log
	var e *enroll.Enroller
	if enrollCfg.Enabled() {
		if e, err = newEnroller(ctx, profiles, r, &ledger, enrollCfg, httpCfg.Issuer, tp, log); err != nil {
			return err
		}
		defer e.Close()
		opts.Enroll = e
		u, _ := url.Parse(enrollCfg.BaseURL) // ReadEnv checked it
		httpCfg.Pages = map[string]http.Handler{strings.TrimSuffix(u.Path, "/") + "/": e.Handler()}
	}
	ct, err := mcptool.New(srv, r, &opts)
	if err != nil {
		return err
	}
	addAPIGet(ct, api)
	if e != nil {
		mcptool.AddTool(ct, &mcp.Tool{Name: "forget_credential", Description: "Remove the token of yours this server stores for a profile " +
			"(default: the active one). The next call asks you to add one again."},
			func(ctx context.Context, c *mcptool.Call, in ForgetInput) (ForgetOutput, error) {
				name := in.CredentialProfile
				if name == "" {
					name = r.DefaultProfile()
				}
				if err := e.Remove(ctx, c.Caller(), name); err != nil {
					log.WarnContext(ctx, "forget_credential failed", "profile", provider.Label(name), "error", err)
					return ForgetOutput{}, fmt.Errorf("could not remove your %s credential (the server's log says why)", provider.Label(name))
				}
				return ForgetOutput{Removed: name}, nil
			})
	}
	httpCfg.Logger, httpCfg.ResourceName = log, "token-mcp"
	return mcptool.ServeHTTP(ctx, srv, addr, httpCfg)
}

// newEnroller offers every per-subject profile for enrollment: a pasted token, or the third
// party's OAuth connection for the profiles TOKEN_MCP_OAUTH_PROFILES names.
func newEnroller(ctx context.Context, profiles *profile.Provider, r *resolver.Resolver, ledger *provider.Schemes,
	cfg enroll.Config, issuer string, tp thirdPartyConfig, log *slog.Logger) (*enroll.Enroller, error) {
	f, err := profiles.Load()
	if err != nil {
		return nil, err
	}
	offered := map[string]enroll.Profile{}
	for _, name := range f.Names() {
		p, _ := f.Get(name)
		if !p.PerSubject() {
			continue
		}
		title := p.Description
		if title == "" {
			title = name
		}
		ep := enroll.Profile{Title: title, Fields: []enroll.Field{{Name: provider.FieldToken, Label: "API token"}}}
		if tp.profiles[name] {
			ep = enroll.Profile{Title: title, OAuth: tp.client}
		}
		offered[name] = ep
	}
	return enroll.New(ctx, profiles, enroll.Options{
		BaseURL: cfg.BaseURL, Key: cfg.Key, Issuer: issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Profiles: offered, Ledger: cfg.NewLedger(ledger), Resolver: r, Logger: log,
	})
}

// thirdPartyConfig is the OAuth third party users connect (authorization code + PKCE).
type thirdPartyConfig struct {
	client   *enroll.OAuth
	profiles map[string]bool
	margin   time.Duration
}

// thirdParty reads TOKEN_MCP_OAUTH_ISSUER (an OpenID issuer, whose endpoints are discovered),
// TOKEN_MCP_OAUTH_CLIENT_ID, TOKEN_MCP_OAUTH_CLIENT_SECRET, TOKEN_MCP_OAUTH_SCOPES (space
// separated), TOKEN_MCP_OAUTH_PROFILES (comma separated) and TOKEN_MCP_OAUTH_REFRESH_MARGIN
// (how long before expiry a token is refreshed; default 1m).
func thirdParty(ctx context.Context, getenv func(string) string) (thirdPartyConfig, error) {
	c := thirdPartyConfig{profiles: map[string]bool{}, margin: time.Minute}
	if v := getenv("TOKEN_MCP_OAUTH_REFRESH_MARGIN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("TOKEN_MCP_OAUTH_REFRESH_MARGIN=%s: want a positive Go duration, such as 1m", provider.Describe(v))
		}
		c.margin = d
	}
	issuer := getenv("TOKEN_MCP_OAUTH_ISSUER")
	if issuer == "" {
		return c, nil
	}
	op, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return c, fmt.Errorf("TOKEN_MCP_OAUTH_ISSUER: discovering the third party's endpoints: %w", err)
	}
	c.client = &enroll.OAuth{Name: "thirdparty", Config: &oauth2.Config{
		ClientID: getenv("TOKEN_MCP_OAUTH_CLIENT_ID"), ClientSecret: getenv("TOKEN_MCP_OAUTH_CLIENT_SECRET"),
		Endpoint: op.Endpoint(), Scopes: strings.Fields(getenv("TOKEN_MCP_OAUTH_SCOPES")),
	}, Issuer: issuer}
	for n := range strings.SplitSeq(getenv("TOKEN_MCP_OAUTH_PROFILES"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			c.profiles[n] = true
		}
	}
	return c, nil
}
