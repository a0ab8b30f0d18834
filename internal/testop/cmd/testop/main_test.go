package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/internal/testop"
)

func TestRun(t *testing.T) {
	rp := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer rp.Close()
	web, _ := json.Marshal([]testop.WebClient{{ID: "app", Secret: "s", RedirectURIs: []string{rp.URL + "/cb"}, AccessTokenLifetime: 2e9}})
	env := map[string]string{
		"TESTOP_CLIENTS":     `[{"id":"cli-alice","secret":"s","subject":"alice","lifetime":"1m"}]`,
		"TESTOP_USERS":       `[{"subject":"alice","username":"alice","password":"pw-alice"}]`,
		"TESTOP_WEB_CLIENTS": string(web),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-resource", "http://127.0.0.1:9/mcp", "-token", "cli-alice"}, func(k string) string { return env[k] }, w, io.Discard)
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "http://127.0.0.1:") {
		t.Fatalf("first line %q", lines.Text())
	}
	issuer := lines.Text()
	if !lines.Scan() || strings.Count(lines.Text(), ".") != 2 {
		t.Fatalf("token line %q", lines.Text())
	}

	conf := &oauth2.Config{ClientID: "app", ClientSecret: "s", RedirectURL: rp.URL + "/cb", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/oauth/token"}}
	v := oauth2.GenerateVerifier()
	resp, err := testop.SignIn(ctx, testop.Browser(), conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v)), "alice", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok, err := conf.Exchange(ctx, resp.Request.URL.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"clients":     {"TESTOP_CLIENTS": `{`},
		"lifetime":    {"TESTOP_CLIENTS": `[{"id":"c","lifetime":"soon"}]`},
		"users":       {"TESTOP_USERS": `[{"subject":"a","username":"u"}]`},
		"web clients": {"TESTOP_WEB_CLIENTS": `[{"id":"w","redirect_uris":["https://rp/cb"],"redirectURIs":[]}]`},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"-resource", "http://127.0.0.1:9/mcp"}, func(k string) string { return env[k] }, &stdout, &stderr)
			if code != 2 || stdout.Len() != 0 || stderr.Len() == 0 {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
			}
		})
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), nil, func(string) string { return "" }, io.Discard, &stderr); code != 2 {
		t.Errorf("without -resource: exit %d", code)
	}
}
