package resolver_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

func Example() {
	// Two providers: the first has nothing, the second answers.
	nothing := provider.WithName(provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
		return provider.Credentials{}, provider.NotFound("env", profile, "", "AWS_ACCESS_KEY_ID is not set")
	}), "env")
	file := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{
			provider.FieldAccessKeyID:     "AKIAEXAMPLE",
			provider.FieldSecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		}, provider.Source{Locator: "~/.mcp/credentials [default]"}), nil
	}), "file")

	r, err := resolver.New([]provider.Provider{nothing, file}, func(o *resolver.Options) {
		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
	})
	if err != nil {
		panic(err)
	}
	res, err := r.Resolve(context.Background(), resolver.Request{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Credentials) // redacted: names and source only
	for _, s := range res.Skipped {
		fmt.Println("skipped", s)
	}
	// Output:
	// credentials{access_key_id, secret_access_key} from file (~/.mcp/credentials [default])
	// skipped env: profile "default": AWS_ACCESS_KEY_ID is not set
}

func ExampleResolver_Resolve_requestCredentials() {
	r, err := resolver.New(nil, func(o *resolver.Options) {
		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
		o.AllowRequestCredentials = true // off by default
	})
	if err != nil {
		panic(err)
	}
	// Credentials passed in a tool call win, and are never cached.
	inline := provider.NewCredentials(map[string]string{
		provider.FieldAccessKeyID:     "AKIAOVERRIDE",
		provider.FieldSecretAccessKey: "override-secret",
	}, provider.Source{})
	res, err := r.Resolve(context.Background(), resolver.Request{Credentials: inline})
	fmt.Println(res.Credentials.Source.Provider, err)

	// By default they are refused.
	strict, err := resolver.New(nil) // request credentials are refused by default
	if err != nil {
		panic(err)
	}
	_, err = strict.Resolve(context.Background(), resolver.Request{Credentials: inline})
	fmt.Println(errors.Is(err, resolver.ErrRequestCredentialsRefused))
	// Output:
	// request <nil>
	// true
}

func ExampleChainError() {
	down := provider.WithName(provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
		return provider.Credentials{}, provider.Unavailable("vault", profile, "secret/mcp/prod", errors.New("connection refused"))
	}), "vault")
	r, err := resolver.New([]provider.Provider{down}, func(o *resolver.Options) { o.Profile = "prod" })
	if err != nil {
		panic(err)
	}
	_, err = r.Resolve(context.Background(), resolver.Request{})
	fmt.Println(err)
	fmt.Println(errors.Is(err, resolver.ErrNoCredentials), errors.Is(err, provider.ErrUnavailable))
	// Output:
	// resolver: no credentials for profile "prod", tried:
	//   - vault: profile "prod": secret/mcp/prod: connection refused
	// true true
}

func ExampleResolver_Invalidate() {
	version := 0
	rotating := provider.Func(func(context.Context, string) (provider.Credentials, error) {
		version++
		return provider.NewCredentials(map[string]string{"token": fmt.Sprintf("token-v%d", version)}, provider.Source{Provider: "file"}), nil
	})
	r, err := resolver.New([]provider.Provider{rotating})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	res, _ := r.Resolve(ctx, resolver.Request{})
	fmt.Println(res.Credentials.Value("token"))
	// The backend rejected the token (say AWS answered AuthFailure):
	r.Invalidate("")
	res, _ = r.Resolve(ctx, resolver.Request{})
	fmt.Println(res.Credentials.Value("token"))
	// Output:
	// token-v1
	// token-v2
}
