// Command testop runs package testop's OpenID provider on a loopback port
// for end-to-end tests. It prints the issuer URL on the first line of
// stdout and serves until stdin closes or it is interrupted. Clients get
// tokens from its token endpoint (client credentials), as an OAuth client
// does; with -token CLIENT it also prints, on the next line, a token for
// that registered client. Users sign in on its login page for web clients
// (authorization code with PKCE S256, refresh tokens that rotate).
//
//	TESTOP_CLIENTS='[{"id":"cli-alice","secret":"s","subject":"alice","groups":["sre"]},
//	                 {"id":"cli-old","secret":"s","subject":"alice","lifetime":"-1m"}]' \
//	TESTOP_USERS='[{"subject":"alice","username":"alice","password":"pw-alice","groups":["sre"]}]' \
//	TESTOP_WEB_CLIENTS='[{"id":"mcp-enroll","secret":"s","redirect_uris":["http://127.0.0.1:8080/enroll/callback"],
//	                     "access_token_lifetime":"2s","audience":["https://api.example"]}]' \
//	    testop -resource http://127.0.0.1:8080/mcp
//
// TESTOP_CLIENTS: [{"id","secret","subject","groups","audience","lifetime"}]
// (client credentials; lifetime a Go duration, negative: issued expired).
// TESTOP_USERS: [{"subject","username","password","groups"}].
// TESTOP_WEB_CLIENTS: [{"id","secret","redirect_uris","access_token_lifetime","audience"}]
// (no secret: a public client; access_token_lifetime a Go duration of at
// least 2s, default 5m, also accepted as "lifetime"; audience default the
// -resource). Unknown fields in the last two are refused.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/mcpcred/mcpcred/internal/testop"
)

// client is testop.Client with a lifetime written as a Go duration.
type client struct {
	testop.Client
	Lifetime string `json:"lifetime,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { io.Copy(io.Discard, os.Stdin); stop() }()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run serves until ctx is done and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	resource := fs.String("resource", "", "the resource (MCP server URL) its tokens are for")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	token := fs.String("token", "", "print a token for this client after the issuer URL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *resource == "" {
		fmt.Fprintln(stderr, "testop: -resource is required")
		return 2
	}
	clients, users, webs, err := config(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	op, err := testop.Listen(*listen, *resource, clients...)
	if err != nil {
		fmt.Fprintln(stderr, "testop:", err)
		return 1
	}
	defer op.Close()
	for _, u := range users {
		if err := op.AddUser(u); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	for _, c := range webs {
		if err := op.AddWebClient(c); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	fmt.Fprintln(stdout, op.Issuer)
	if *token != "" {
		for _, c := range clients {
			if c.ID == *token {
				tok, err := op.Token(ctx, c.ID, c.Secret)
				if err != nil {
					fmt.Fprintln(stderr, "testop:", err)
					return 1
				}
				fmt.Fprintln(stdout, tok)
			}
		}
	}
	<-ctx.Done()
	return 0
}

// config reads TESTOP_CLIENTS, TESTOP_USERS and TESTOP_WEB_CLIENTS.
func config(getenv func(string) string) ([]testop.Client, []testop.User, []testop.WebClient, error) {
	var cs []client
	if v := getenv("TESTOP_CLIENTS"); v != "" {
		if err := json.Unmarshal([]byte(v), &cs); err != nil {
			return nil, nil, nil, errors.New("testop: TESTOP_CLIENTS is not a JSON array of clients")
		}
	}
	clients := make([]testop.Client, len(cs))
	for i, c := range cs {
		clients[i] = c.Client
		if c.Lifetime != "" {
			d, err := time.ParseDuration(c.Lifetime)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("testop: TESTOP_CLIENTS: client %d: lifetime is not a Go duration", i+1)
			}
			clients[i].Lifetime = d
		}
	}
	var users []testop.User
	if v := getenv("TESTOP_USERS"); v != "" {
		var err error
		if users, err = testop.ParseUsers([]byte(v)); err != nil {
			return nil, nil, nil, fmt.Errorf("TESTOP_USERS: %w", err)
		}
	}
	var webs []testop.WebClient
	if v := getenv("TESTOP_WEB_CLIENTS"); v != "" {
		var err error
		if webs, err = testop.ParseWebClients([]byte(v)); err != nil {
			return nil, nil, nil, fmt.Errorf("TESTOP_WEB_CLIENTS: %w", err)
		}
	}
	return clients, users, webs, nil
}
