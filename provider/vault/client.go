package vault

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Environment variables read besides those api.DefaultConfig reads.
const (
	envHTTPProxy = "VAULT_HTTP_PROXY"
	envProxyAddr = "VAULT_PROXY_ADDR" // supersedes VAULT_HTTP_PROXY, as in the api package
)

// urlVars returns the variables holding URLs, which may carry a password
// (http://user:password@proxy:3128). A malformed one is named, never quoted.
func urlVars() []string {
	return []string{api.EnvVaultAddress, api.EnvVaultAgentAddr, envHTTPProxy, envProxyAddr}
}

// checkURL parses a URL from configuration. Errors name where it came from
// and never quote it: url.Parse quotes the whole text, password included.
func checkURL(what, v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("vault: %s is not a valid URL", what)
	}
	return u, nil
}

// configError replaces an error from api.DefaultConfig or api.NewClient with
// one that holds no configuration value: url.Parse quotes a whole URL (a
// proxy password with it), strconv quotes the text it could not parse.
func configError(op string, err error, getenv func(string) string) error {
	var ue *url.Error
	var ne *strconv.NumError
	switch {
	case errors.As(err, &ue):
		for _, v := range urlVars() {
			if s := getenv(v); s != "" {
				if _, err := url.Parse(s); err != nil {
					return fmt.Errorf("vault: %s: %s is not a valid URL", op, v)
				}
			}
		}
		return fmt.Errorf("vault: %s: an address or proxy URL (%s) is not valid", op, strings.Join(urlVars(), ", "))
	case errors.As(err, &ne):
		return fmt.Errorf("vault: %s: a numeric VAULT_* variable is not a number", op)
	}
	msg := err.Error()
	if strings.Contains(msg, "://") || strings.Contains(msg, "@") {
		// Some other error that may quote a URL.
		return fmt.Errorf("vault: %s: invalid configuration (%T)", op, err)
	}
	return fmt.Errorf("vault: %s: %s", op, msg)
}

// applyProxy sets the proxy from VAULT_PROXY_ADDR or VAULT_HTTP_PROXY as
// Getenv supplies them.
func applyProxy(cfg *api.Config, getenv func(string) string) error {
	name, v := envProxyAddr, getenv(envProxyAddr)
	if v == "" {
		name, v = envHTTPProxy, getenv(envHTTPProxy)
	}
	if v == "" {
		return nil
	}
	u, err := checkURL(name, v)
	if err != nil {
		return err
	}
	t, ok := cfg.HttpClient.Transport.(*http.Transport)
	if !ok {
		return fmt.Errorf("vault: %s is set but the HTTP client's transport is %T, not *http.Transport", name, cfg.HttpClient.Transport)
	}
	t.Proxy = http.ProxyURL(u)
	return nil
}

// redirectError is a 3xx answer pointing at another host. The api client
// follows one redirect by itself, sending the request again with its
// X-Vault-Token header and body (an AppRole secret_id) to wherever Location
// says; the guard transport refuses before that happens.
type redirectError struct{ status int }

func (e *redirectError) Error() string {
	return "Vault answered HTTP " + strconv.Itoa(e.status) + " with a redirect to another host, which is not followed (point VAULT_ADDR at the active node or its load balancer)"
}

// redirectGuard lets through redirects to the request's own scheme and host
// (the api client then follows them) and turns every other redirect into a
// redirectError, so no token or login data reaches another host. With
// sameHostToo (VAULT_DISABLE_REDIRECTS) every redirect is refused, since the
// api client would otherwise read the redirect's empty body as "no secret".
type redirectGuard struct {
	base        http.RoundTripper
	sameHostToo bool
}

func (g *redirectGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.base.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return resp, nil
	}
	loc, lerr := resp.Location()
	if g.sameHostToo || lerr != nil || loc.Host != req.URL.Host || loc.Scheme != req.URL.Scheme {
		resp.Body.Close()
		return nil, &redirectError{status: resp.StatusCode}
	}
	return resp, nil
}

// guardRedirects installs the redirect guard on client's HTTP client, which
// every clone of client (logins, lookups) and every LifetimeWatcher shares.
// It is done after api.NewClient, which needs the bare *http.Transport.
func guardRedirects(client *api.Client, cfg *api.Config) {
	if cfg.HttpClient == nil || cfg.HttpClient.Transport == nil {
		return
	}
	if _, done := cfg.HttpClient.Transport.(*redirectGuard); done {
		return
	}
	addr := cfg.Address
	if cfg.AgentAddress != "" {
		addr = cfg.AgentAddress
	}
	cfg.HttpClient.Transport = &redirectGuard{base: cfg.HttpClient.Transport, sameHostToo: cfg.DisableRedirects}
	if strings.HasPrefix(addr, "unix://") {
		// The transport already dials the socket. Clone would parse the
		// unix:// address again and insist on a bare *http.Transport; give
		// it the address requests use instead.
		cfg.AgentAddress = ""
		client.SetAddress("http://localhost")
	}
}
