package vault_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mcpcred/mcpcred/provider/vault"
)

// exampleVault answers like a Vault server with a KV v2 mount at secret/
// holding secret/mcp/github.
func exampleVault() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/auth/token/lookup-self":
			fmt.Fprint(w, `{"data":{"ttl":0,"renewable":false}}`)
		case "/v1/sys/internal/ui/mounts/secret/mcp/github", "/v1/sys/internal/ui/mounts/secret/data/mcp/github":
			fmt.Fprint(w, `{"data":{"path":"secret/","type":"kv","options":{"version":"2"}}}`)
		case "/v1/secret/data/mcp/github":
			fmt.Fprint(w, `{"data":{"data":{"token":"ghp_example"},"metadata":{"version":4}}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[]}`)
		}
	}))
}

func Example() {
	srv := exampleVault()
	defer srv.Close()

	// Usually VAULT_ADDR and VAULT_TOKEN come from the environment; here
	// they are given explicitly.
	p, err := vault.New(func(o *vault.Options) {
		o.Address = srv.URL
		o.Auth = vault.TokenAuth("hvs.example")
		// Profile P lives at secret/mcp/P (the defaults).
		o.Mount = "secret"
		o.PathTemplate = "mcp/{profile}"
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	creds, err := p.Retrieve(context.Background(), "github")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(creds)
	fmt.Println(creds.Get("token"))

	_, err = p.Retrieve(context.Background(), "gitlab")
	fmt.Println(err)
	// Output:
	// credentials{token} from vault (secret/data/mcp/github?version=4)
	// [REDACTED]
	// provider vault: profile "gitlab": secret/data/mcp/gitlab: vault: no secret at this path
}

func ExampleParseRef() {
	r, err := vault.ParseRef("vault:secret/data/mcp/aws?version=2#access_key_id")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("path=%s field=%s version=%d\n", r.Path, r.Field, r.Version)
	// Output: path=secret/data/mcp/aws field=access_key_id version=2
}

func ExampleProvider_RetrieveRef() {
	srv := exampleVault()
	defer srv.Close()
	p, _ := vault.New(func(o *vault.Options) {
		o.Address = srv.URL
		o.Auth = vault.TokenAuth("hvs.example")
	})
	defer p.Close()

	ref, _ := vault.ParseRef("vault:secret/data/mcp/github#token")
	creds, err := p.RetrieveRef(context.Background(), ref)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(creds.Names(), creds.Source.Locator)
	// Output: [token] secret/data/mcp/github?version=4
}

func ExampleAppRoleAuth() {
	p, err := vault.New(func(o *vault.Options) {
		o.Address = "https://vault.example.com:8200"
		o.Auth = vault.AppRoleAuth(vault.AppRole{
			RoleID:       "3c8a1a2e-role-id",
			SecretIDFile: "/run/secrets/vault-secret-id",
			Wrapped:      true, // the file holds a response-wrapping token
		})
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	fmt.Println(p.Name())
	// Output: vault
}
