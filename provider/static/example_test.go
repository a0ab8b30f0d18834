package static_test

import (
	"context"
	"fmt"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/static"
)

func ExampleNew() {
	p := static.New(map[string]string{
		provider.FieldAccessKeyID:     "AKIDEXAMPLE",
		provider.FieldSecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	})
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	fmt.Println(c, err)
	fmt.Println(c.Value(provider.FieldAccessKeyID))

	_, err = p.Retrieve(context.Background(), "prod")
	fmt.Println(err)
	// Output:
	// credentials{access_key_id, secret_access_key} from static <nil>
	// AKIDEXAMPLE
	// provider static: profile "prod": static: only profile "default" is configured
}

func ExampleNewProfiles() {
	p := static.NewProfiles(map[string]map[string]string{
		"dev":  {provider.FieldToken: "dev-token"},
		"prod": {provider.FieldToken: "prod-token"},
	}, func(o *static.Options) { o.Locator = "wired in main.go" })
	c, _ := p.Retrieve(context.Background(), "prod")
	fmt.Println(c)
	_, err := p.Retrieve(context.Background(), "staging")
	fmt.Println(err)
	// Output:
	// credentials{token} from static (wired in main.go)
	// provider static: profile "staging": static: profile is not configured (have "dev", "prod")
}
