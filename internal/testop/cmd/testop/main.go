// Command testop runs package testop's OpenID provider on a loopback port
// for end-to-end tests. It prints the issuer URL on the first line of
// stdout and serves until stdin closes or it is interrupted; clients get
// tokens from its token endpoint (client credentials), as an OAuth client
// does. With -token CLIENT it also prints, on the next line, a token for
// that registered client.
//
//	TESTOP_CLIENTS='[{"id":"cli-alice","secret":"s","subject":"alice","groups":["sre"]},
//	                 {"id":"cli-old","secret":"s","subject":"alice","lifetime":"-1m"}]' \
//	    testop -resource http://127.0.0.1:8080/mcp
package main

import (
	"context"
	"encoding/json"
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
	resource := flag.String("resource", "", "the resource (MCP server URL) its tokens are for")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	token := flag.String("token", "", "print a token for this client after the issuer URL")
	flag.Parse()
	if *resource == "" {
		fmt.Fprintln(os.Stderr, "testop: -resource is required")
		os.Exit(2)
	}
	var cs []client
	if v := os.Getenv("TESTOP_CLIENTS"); v != "" {
		if err := json.Unmarshal([]byte(v), &cs); err != nil {
			fmt.Fprintln(os.Stderr, "testop: TESTOP_CLIENTS:", err)
			os.Exit(2)
		}
	}
	clients := make([]testop.Client, len(cs))
	for i, c := range cs {
		clients[i] = c.Client
		if c.Lifetime != "" {
			d, err := time.ParseDuration(c.Lifetime)
			if err != nil {
				fmt.Fprintln(os.Stderr, "testop: lifetime:", err)
				os.Exit(2)
			}
			clients[i].Lifetime = d
		}
	}
	op, err := testop.Listen(*listen, *resource, clients...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testop:", err)
		os.Exit(1)
	}
	defer op.Close()
	fmt.Println(op.Issuer)
	if *token != "" {
		for _, c := range clients {
			if c.ID == *token {
				tok, err := op.Token(context.Background(), c.ID, c.Secret)
				if err != nil {
					fmt.Fprintln(os.Stderr, "testop:", err)
					os.Exit(1)
				}
				fmt.Println(tok)
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { io.Copy(io.Discard, os.Stdin); stop() }()
	<-ctx.Done()
}
