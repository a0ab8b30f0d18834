package oauth2cred_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/static"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/oauth2cred"
)

// A client whose token lives in a secrets store that rotates it: the
// Transport picks the new token up on the first 401 and retries once.
func Example() {
	// The secrets store, and an API that accepts only its current token.
	var mu sync.Mutex
	current := "token-v1"
	store := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		mu.Lock()
		defer mu.Unlock()
		return provider.NewCredentials(map[string]string{provider.FieldToken: current}, provider.Source{}), nil
	}), "store")
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ok := r.Header.Get("Authorization") == "Bearer "+current
		mu.Unlock()
		if !ok {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "hello")
	}))
	defer api.Close()

	r, err := resolver.New([]provider.Provider{store}, func(o *resolver.Options) {
		o.Required = []string{provider.FieldToken}
	})
	if err != nil {
		panic(err)
	}
	src, err := oauth2cred.New(r, resolver.Request{})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: &oauth2cred.Transport{Source: src}}

	get := func() {
		resp, err := client.Get(api.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
	}
	get()

	// The store rotates the token and the API revokes the old one, while
	// the resolver still caches it: the next request is answered 401,
	// resolves again and is retried with the new token.
	mu.Lock()
	current = "token-v2"
	mu.Unlock()
	get()
	// Output:
	// 200 hello
	// 200 hello
}

// An oauth2.TokenSource for APIs that take one. The token is under
// "access_token" here, with an expiry.
func ExampleSource_TokenSource() {
	r, err := resolver.New([]provider.Provider{
		static.New(map[string]string{"access_token": "gho_example"}),
	})
	if err != nil {
		panic(err)
	}
	src, err := oauth2cred.New(r, resolver.Request{}, func(o *oauth2cred.Options) {
		o.Field = "access_token"
	})
	if err != nil {
		panic(err)
	}
	// The TokenSource resolves with this context on every Token call.
	ts := src.TokenSource(context.Background())
	tok, err := ts.Token()
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Type(), tok.AccessToken, tok.Expiry.IsZero())

	// Without the field, the error names the fields, not their values.
	other, err := oauth2cred.New(r, resolver.Request{})
	if err != nil {
		panic(err)
	}
	_, err = other.Token(context.Background())
	fmt.Println(err)
	// Output:
	// Bearer gho_example true
	// oauth2cred: no token in the credentials: the credentials from static have no field "token" (they have access_token)
}
