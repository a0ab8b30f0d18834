package awssdk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/awssdk"
)

// Resolve a profile of ~/.aws/config and ~/.aws/credentials with the AWS
// SDK's own chain. Here the files are written to a temporary directory; a
// real program leaves Getenv unset.
func Example() {
	dir, err := os.MkdirTemp("", "awssdk-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cfgFile, credFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	os.WriteFile(cfgFile, []byte("[profile prod]\nregion = eu-west-1\n"), 0o600)
	os.WriteFile(credFile, []byte("[prod]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = wJalrXUtnFEMIK7MDENG\n"), 0o600)

	p, err := awssdk.New(func(o *awssdk.Options) {
		o.Getenv = func(name string) string {
			return map[string]string{"AWS_CONFIG_FILE": cfgFile, "AWS_SHARED_CREDENTIALS_FILE": credFile}[name]
		}
	})
	if err != nil {
		panic(err)
	}
	c, err := p.Retrieve(context.Background(), "prod")
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Names())
	fmt.Println(c.Source)
	fmt.Println(c.Value(provider.FieldRegion))

	_, err = p.Retrieve(context.Background(), "staging")
	fmt.Println(errors.Is(err, provider.ErrNotFound))
	// Output:
	// [access_key_id region secret_access_key]
	// awssdk (profile "prod" (static keys))
	// eu-west-1
	// true
}
