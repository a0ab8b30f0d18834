package awstest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/mcpcred/mcpcred/internal/awstest"
)

// A local endpoint that knows two identities tells which one signed a call
// made by the real SDK client.
func ExampleCredentials_Verify() {
	alice := aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: "alice-secret"}
	bob := aws.Credentials{AccessKeyID: "AKIDBOB", SecretAccessKey: "bob-secret"}
	known := awstest.NewCredentials(alice, bob)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := awstest.ReadBody(r)
		who, err := known.Verify(r, body, "ssm", "us-east-1")
		if err != nil {
			fmt.Println("rejected:", err)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		fmt.Println("signed by", who.AccessKeyID)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write([]byte(`{"Parameter":{"Name":"/p","Type":"String","Value":"v","Version":1}}`))
	}))
	defer srv.Close()

	client := ssm.NewFromConfig(awstest.Config(srv.URL, bob, "us-east-1"), func(o *ssm.Options) {
		o.RetryMaxAttempts = 1
	})
	_, err := client.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/p")})
	fmt.Println("error:", err)
	// Output:
	// signed by AKIDBOB
	// error: <nil>
}
