package awscred_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/static"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/awscred"
)

// exampleEndpoint starts a local EC2 endpoint that accepts requests signed
// by the given identities; the second result stops it.
func exampleEndpoint(known ...aws.Credentials) (*fakeAWS, func()) {
	f := &fakeAWS{region: testRegion}
	f.setKnown(known...)
	f.srv = httptest.NewServer(f)
	return f, f.srv.Close
}

// One EC2 client serves every tool call; each call's context says which
// credentials the resolver gives it.
func Example() {
	ops := aws.Credentials{AccessKeyID: "AKIDEXAMPLEOPS000001", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	dev := aws.Credentials{AccessKeyID: "AKIDEXAMPLEDEV000002", SecretAccessKey: "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"}
	endpoint, stop := exampleEndpoint(ops, dev)
	defer stop()

	r, err := resolver.New([]provider.Provider{static.NewProfiles(map[string]map[string]string{
		"default": {"access_key_id": ops.AccessKeyID, "secret_access_key": ops.SecretAccessKey},
		"dev":     {"access_key_id": dev.AccessKeyID, "secret_access_key": dev.SecretAccessKey},
	})}, func(o *resolver.Options) {
		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
		o.AllowProfile = func(_ *provider.Caller, name string) bool { return name == "dev" }
	})
	if err != nil {
		log.Fatal(err)
	}
	client := ec2.NewFromConfig(aws.Config{
		Region:       testRegion,
		Credentials:  awscred.NewContext(r),
		BaseEndpoint: aws.String(endpoint.URL()),
	}, awscred.WithSigner)

	for _, sel := range []resolver.Selection{{}, {CredentialProfile: "dev"}} {
		ctx := awscred.WithRequest(context.Background(), sel.Request())
		out, err := client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
		if err != nil {
			log.Fatal(err)
		}
		calls := endpoint.Calls()
		fmt.Println(aws.ToString(out.Regions[0].RegionName), "signed by", calls[len(calls)-1].Signer)
	}
	// Output:
	// eu-west-1 signed by AKIDEXAMPLEOPS000001
	// eu-west-1 signed by AKIDEXAMPLEDEV000002
}

// Do retries a call once with credentials read again when AWS rejected the
// cached ones: here the key was rotated at the source and at AWS.
func ExampleProvider_Do() {
	oldKey := aws.Credentials{AccessKeyID: "AKIDEXAMPLEOLD000001", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	newKey := aws.Credentials{AccessKeyID: "AKIDEXAMPLENEW000002", SecretAccessKey: "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"}
	endpoint, stop := exampleEndpoint(oldKey)
	defer stop()
	src := &source{cur: oldKey} // a credentials file, say
	r, err := resolver.New([]provider.Provider{src})
	if err != nil {
		log.Fatal(err)
	}
	p := awscred.New(r, resolver.Request{})
	client := ec2.NewFromConfig(aws.Config{Region: testRegion, Credentials: p, BaseEndpoint: aws.String(endpoint.URL())}, awscred.WithSigner)
	describe := func(ctx context.Context) error {
		_, err := client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
		return err
	}
	fmt.Println(p.Do(context.Background(), describe))

	src.set(newKey)           // the file is rewritten
	endpoint.setKnown(newKey) // and the old key deleted
	fmt.Println(p.Do(context.Background(), describe))
	for _, c := range endpoint.Calls() {
		fmt.Printf("signer %q, error %q\n", c.Signer, c.Code)
	}
	// Output:
	// <nil>
	// <nil>
	// signer "AKIDEXAMPLEOLD000001", error ""
	// signer "", error "AuthFailure"
	// signer "AKIDEXAMPLENEW000002", error ""
}

func ExampleRejected() {
	endpoint, stop := exampleEndpoint() // knows no key
	defer stop()
	r, err := resolver.New([]provider.Provider{static.New(map[string]string{
		"access_key_id": "AKIDEXAMPLE000000001", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	})})
	if err != nil {
		log.Fatal(err)
	}
	client := ec2.NewFromConfig(aws.Config{Region: testRegion, Credentials: awscred.New(r, resolver.Request{}),
		BaseEndpoint: aws.String(endpoint.URL())}, awscred.WithSigner)
	_, err = client.DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{})
	fmt.Println(awscred.Rejected(err))
	// Output:
	// true
}
