package awscred_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/static"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/awscred"
)

// TestConcurrentCalls: one client signs, from many goroutines at once, for
// the server's credential, for other request credentials, and for a wrong
// secret under the server's access key ID; each call is signed with its own
// credential.
func TestConcurrentCalls(t *testing.T) {
	f := newFakeAWS(t, keyA, keyB)
	r := newResolver(t, []provider.Provider{static.New(fields(keyA))}, func(o *resolver.Options) { o.AllowRequestCredentials = true })
	client := ec2.NewFromConfig(f.config(awscred.NewContext(r)), awscred.WithSigner)
	ctx := context.Background()
	cases := []struct {
		ctx  context.Context
		want string // the signer the endpoint verifies; "" for a rejection
	}{
		{ctx, keyA.AccessKeyID},
		{awscred.WithRequest(ctx, resolver.Request{Credentials: requestCreds(keyA2)}), ""},
		{awscred.WithRequest(ctx, resolver.Request{Credentials: requestCreds(keyB)}), keyB.AccessKeyID},
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 12 {
		wg.Go(func() {
			for i := range 10 {
				c := cases[(g+i)%len(cases)]
				err := describe(c.ctx, client)
				if (c.want == "") != awscred.Rejected(err) || (c.want != "" && err != nil) {
					errs <- err.Error()
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	count := map[string]int{}
	for _, c := range f.Calls() {
		count[c.Signer+"!"+c.Code]++
	}
	if count[keyA.AccessKeyID+"!"] != 40 || count[keyB.AccessKeyID+"!"] != 40 || count["!AuthFailure"] != 40 {
		t.Errorf("calls by outcome: %v, want 40 each", count)
	}
}

// BenchmarkRetrieve is the cost Retrieve adds to each request: a resolver
// hit and the conversion (which unmasks the two or three secret fields).
func BenchmarkRetrieve(b *testing.B) {
	r := newResolver(b, []provider.Provider{static.New(fields(keyB))})
	p := awscred.New(r, resolver.Request{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Retrieve(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign compares signing one request with the SDK's shared signer
// (its derived-key cache hit) and with Signer (a key derived per request).
func BenchmarkSign(b *testing.B) {
	at := time.Now()
	const hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	for _, bc := range []struct {
		name string
		s    v4.HTTPSigner
	}{{"sdk-shared", v4.NewSigner()}, {"awscred.Signer", awscred.NewSigner()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, _ := http.NewRequest(http.MethodPost, "https://ec2.eu-west-1.amazonaws.com/", nil)
				if err := bc.s.SignHTTP(context.Background(), keyB, r, hash, "ec2", testRegion, at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
