package profile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

func Example() {
	dir, _ := os.MkdirTemp("", "profiles")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "profiles.json")
	os.WriteFile(path, []byte(`{"profiles": {
		"default": {"source": "vault:secret/data/mcp/dev"},
		"prod":    {"source": "vault:secret/data/mcp/prod", "region": "us-west-2"}
	}}`), 0o600)

	// Register the schemes your program serves; here a stand-in for
	// provider/vault's Scheme.
	var schemes provider.Schemes
	schemes.Register("vault", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{
			Resources: []provider.Resource{{Scheme: "vault", Path: ref.Body}},
			Provider: provider.Func(func(context.Context, string) (provider.Credentials, error) {
				return provider.NewCredentials(map[string]string{"access_key_id": "AKIA-" + ref.Body, "secret_access_key": "s3cret"},
					provider.Source{Provider: "vault", Locator: ref.Body}), nil
			}),
		}, nil
	}))

	profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Path = path })
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := resolver.New([]provider.Provider{profiles}, func(o *resolver.Options) {
		o.AllowProfile = profiles.Allows                                        // requests may name the file's profiles
		o.Profile, _ = profile.ActiveProfile(func(string) string { return "" }) // MCP_ACTIVE_PROFILE, else "default"
	})
	if err != nil {
		panic(err)
	}

	res, _ := r.Resolve(context.Background(), resolver.Request{Profile: "prod"})
	fmt.Println(res.Credentials.Value("region"), res.Credentials.Get("secret_access_key"))

	_, err = r.Resolve(context.Background(), resolver.Request{Profile: "staging"})
	fmt.Println(err != nil)
	// Output:
	// us-west-2 [REDACTED]
	// true
}
