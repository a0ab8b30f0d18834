package ssm_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/ssm"
)

// exampleEndpoint stands in for SSM in the examples: it answers
// GetParametersByPath and GetParameter in SSM's JSON 1.1 protocol. A real
// program leaves BaseEndpoint unset and talks to AWS.
func exampleEndpoint() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSSM.GetParametersByPath":
			fmt.Fprint(w, `{"Parameters":[
				{"Name":"/mcp/prod/access_key_id","Type":"String","Value":"AKIAEXAMPLE","Version":1},
				{"Name":"/mcp/prod/secret_access_key","Type":"SecureString","Value":"wJalrXUtnFEMI","Version":4}]}`)
		case "AmazonSSM.GetParameter":
			fmt.Fprint(w, `{"Parameter":{"Name":"/shared/github-token","Selector":":3","Type":"SecureString","Value":"ghp_example","Version":3}}`)
		}
	}))
}

func exampleConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       "eu-central-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example"}, nil
		}),
	}
}

// A profile is the hierarchy /mcp/PROFILE/, read with one paginated
// GetParametersByPath walk. Real programs pass the aws.Config from
// config.LoadDefaultConfig, or call NewFromDefaultConfig.
func ExampleNew() {
	srv := exampleEndpoint()
	defer srv.Close()

	p, err := ssm.New(exampleConfig(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	creds, err := p.Retrieve(context.Background(), "prod")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(creds)
	fmt.Println(creds.Value("access_key_id"))
	// Output:
	// credentials{access_key_id, secret_access_key} from ssm (/mcp/prod/)
	// AKIAEXAMPLE
}

// A profile can also map fields to single parameters, with a version or
// label selector.
func ExampleOptions_parameters() {
	srv := exampleEndpoint()
	defer srv.Close()

	p, err := ssm.New(exampleConfig(srv.URL), func(o *ssm.Options) {
		o.Parameters = map[string]map[string]string{
			"github": {"token": "/shared/github-token:3"},
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	creds, err := p.Retrieve(context.Background(), "github")
	fmt.Println(creds, err)
	// Output:
	// credentials{token} from ssm (/shared/github-token:3) <nil>
}

func ExampleParseRef() {
	for _, s := range []string{"/mcp/prod/token", "/mcp/prod/token:3", "/mcp/prod/token:current", "/mcp/prod/token:"} {
		r, err := ssm.ParseRef(s)
		fmt.Printf("%q version=%d label=%q err=%v\n", r.Name, r.Version, r.Label, err)
	}
	// Output:
	// "/mcp/prod/token" version=0 label="" err=<nil>
	// "/mcp/prod/token" version=3 label="" err=<nil>
	// "/mcp/prod/token" version=0 label="current" err=<nil>
	// "" version=0 label="" err=ssm: invalid parameter name: "/mcp/prod/token:": empty selector after ':'
}

// Scheme serves "ssm:" references, such as the sources of a profiles file
// or a request's credential_id. Real programs pass the aws.Config from
// config.LoadDefaultConfig, or register SchemeFromDefaultConfig().
func ExampleScheme() {
	srv := exampleEndpoint()
	defer srv.Close()

	var schemes provider.Schemes
	schemes.Register("ssm", ssm.Scheme(exampleConfig(srv.URL)))

	for _, ref := range []string{"ssm:/mcp/prod/", "ssm:/shared/github-token?version=3#token"} {
		p, _, err := schemes.Provider(ref)
		if err != nil {
			fmt.Println(err)
			continue
		}
		c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
		fmt.Println(ref, "=>", c, err)
	}

	_, _, err := schemes.Provider("ssm:/shared/github-token")
	fmt.Println(err)
	// Output:
	// ssm:/mcp/prod/ => credentials{access_key_id, secret_access_key} from ssm (/mcp/prod/) <nil>
	// ssm:/shared/github-token?version=3#token => credentials{token} from ssm (/shared/github-token:3) <nil>
	// provider: invalid credential reference: the 24-byte ssm: reference: its field is missing: one parameter needs #FIELD to name its field (such as #token), or end a path with / to read every parameter under it
}
