// Command fakeec2 serves package fakeec2 on a loopback port for end-to-end
// tests. It prints its URL on the first line of stdout and serves until
// stdin closes or it is interrupted.
//
//	FAKEEC2_IDENTITIES="AKID1:secret1,AKID2:secret2" fakeec2 -region us-east-1 -groups sg-0123456789abcdef0
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/examples/whitelist-mcp/internal/fakeec2"
)

func main() {
	region := flag.String("region", "us-east-1", "region the signatures must be scoped to")
	groups := flag.String("groups", "sg-0123456789abcdef0", "comma-separated security group IDs to create")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	flag.Parse()

	var ids []aws.Credentials
	for pair := range strings.SplitSeq(os.Getenv("FAKEEC2_IDENTITIES"), ",") {
		if k, v, ok := strings.Cut(pair, ":"); ok {
			ids = append(ids, aws.Credentials{AccessKeyID: k, SecretAccessKey: v})
		}
	}
	if len(ids) == 0 {
		fmt.Fprintln(os.Stderr, "fakeec2: set FAKEEC2_IDENTITIES=AKID:secret[,AKID:secret]")
		os.Exit(2)
	}
	srv := fakeec2.New(*region, ids...)
	for g := range strings.SplitSeq(*groups, ",") {
		srv.AddGroup(g)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeec2:", err)
		os.Exit(1)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { io.Copy(io.Discard, os.Stdin); stop() }()
	hs := &http.Server{Handler: srv}
	go func() { <-ctx.Done(); hs.Close() }()
	if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "fakeec2:", err)
		os.Exit(1)
	}
}
