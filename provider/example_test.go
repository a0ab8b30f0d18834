package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/mcpcred/mcpcred/provider"
)

func ExampleSecret() {
	s := provider.NewSecret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	b, _ := json.Marshal(map[string]provider.Secret{"secret_access_key": s})

	fmt.Println(s)
	fmt.Printf("%#v\n", s)
	fmt.Println(string(b))
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	logger.Info("signing", "secret", s)
	fmt.Println(len(s.Reveal())) // the one way out
	// Output:
	// [REDACTED]
	// provider.Secret("[REDACTED]")
	// {"secret_access_key":"[REDACTED]"}
	// level=INFO msg=signing secret=[REDACTED]
	// 40
}

func ExampleFunc() {
	// A provider is one function: answer for the profiles you have, say
	// ErrNotFound for the others.
	tokens := map[string]string{"default": "t0k3n"}
	p := provider.WithName(provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
		if err := ctx.Err(); err != nil {
			return provider.Credentials{}, err
		}
		t, ok := tokens[profile]
		if !ok {
			return provider.Credentials{}, provider.NotFound("mine", profile, "", "no token for this profile")
		}
		return provider.NewCredentials(map[string]string{provider.FieldToken: t}, provider.Source{Provider: "mine"}), nil
	}), "mine")

	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	fmt.Println(c, err)
	_, err = p.Retrieve(context.Background(), "prod")
	fmt.Println(err, provider.IsNotFound(err))
	// Output:
	// credentials{token} from mine <nil>
	// provider mine: profile "prod": no token for this profile true
}

func ExampleSchemes() {
	var schemes provider.Schemes
	schemes.Register("demo", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		if err := ref.OnlyParams(); err != nil {
			return provider.Target{}, err
		}
		p := provider.Func(func(context.Context, string) (provider.Credentials, error) {
			return provider.NewCredentials(map[string]string{ref.Field: "v"}, provider.Source{Provider: "demo", Locator: ref.Body}), nil
		})
		// The Target says what the reference reads, for the operator's policy.
		return provider.Target{Provider: p, Resources: []provider.Resource{{Scheme: "demo", Path: ref.Body}}}, nil
	}))

	t, _ := schemes.Open("demo:team/app#token")
	c, _ := t.Provider.Retrieve(context.Background(), provider.DefaultProfile)
	fmt.Printf("%s %q %q reads %v -> %v\n", t.Ref.Scheme, t.Ref.Body, t.Ref.Field, t.Resources, c)

	policy, _ := provider.NewRefPolicy("demo:team/*")
	fmt.Println(policy.Check(t))
	_, err := schemes.Open("demo:team/app?version=2#token")
	fmt.Println(err)

	_, err = schemes.Open("vault:secret/data/mcp/aws")
	fmt.Println(err)
	_, err = schemes.Open("file:../../etc/passwd")
	fmt.Println(err)
	// Output:
	// demo "team/app" "token" reads [demo:team/app] -> credentials{token} from demo (team/app)
	// <nil>
	// provider: invalid credential reference: the 29-byte demo: reference: its params has the param "version", but demo: takes no ?params
	// provider: credential reference scheme not registered: "vault" (registered: demo); import github.com/mcpcred/mcpcred/provider/vault and register its Scheme
	// provider: invalid credential reference: the 21-byte reference has a ".." path segment
}
