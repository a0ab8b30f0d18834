package awscred_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver/awscred"
)

func TestReadEnv(t *testing.T) {
	tests := []struct {
		name    string
		service string
		env     map[string]string
		want    awscred.Env
		wantErr string
	}{
		{name: "nothing", service: "EC2"},
		{name: "AWS_REGION beats AWS_DEFAULT_REGION", service: "EC2", env: map[string]string{"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"},
			want: awscred.Env{Region: "eu-west-1", RegionFrom: "AWS_REGION"}},
		{name: "AWS_DEFAULT_REGION", service: "EC2", env: map[string]string{"AWS_DEFAULT_REGION": "us-gov-west-1"},
			want: awscred.Env{Region: "us-gov-west-1", RegionFrom: "AWS_DEFAULT_REGION"}},
		{name: "bad region", service: "EC2", env: map[string]string{"AWS_REGION": "mars\n1"},
			wantErr: "awscred: AWS_REGION=(a 6-byte value, not shown) is not an AWS region name such as us-east-1"},
		{name: "service endpoint beats the general one", service: "EC2", env: map[string]string{"AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL": "https://other"},
			want: awscred.Env{Endpoint: "http://127.0.0.1:4566"}},
		{name: "service ID with a space", service: "Secrets Manager", env: map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://sm.local", "AWS_ENDPOINT_URL": "https://other"},
			want: awscred.Env{Endpoint: "https://sm.local"}},
		{name: "other service's endpoint is not read", service: "SSM", env: map[string]string{"AWS_ENDPOINT_URL_EC2": "https://ec2.local", "AWS_ENDPOINT_URL": "https://all.local"},
			want: awscred.Env{Endpoint: "https://all.local"}},
		{name: "ignored", service: "EC2", env: map[string]string{"AWS_ENDPOINT_URL": "https://all.local", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}},
		{name: "ignore not a bool", service: "EC2", env: map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "yes"},
			wantErr: `awscred: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="yes": want true or false`},
		{name: "endpoint not a URL", service: "EC2", env: map[string]string{"AWS_ENDPOINT_URL": "localhost:4566"},
			wantErr: "awscred: AWS_ENDPOINT_URL=(a 14-byte value, not shown) is not an absolute http(s) URL"},
		{name: "endpoint without host", service: "EC2", env: map[string]string{"AWS_ENDPOINT_URL_EC2": "https://"},
			wantErr: "AWS_ENDPOINT_URL_EC2="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := awscred.ReadEnv(func(k string) string { return tt.env[k] }, tt.service)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadEnv = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestValidRegion(t *testing.T) {
	for r, want := range map[string]bool{"us-east-1": true, "eu-central-2": true, "us-gov-west-1": true, "cn-north-1": true, "ap-southeast-10": true,
		"": false, "us-east": false, "US-EAST-1": false, "us-east-1\n": false, "us-east-1a": false, "../x-1": false} {
		if got := awscred.ValidRegion(r); got != want {
			t.Errorf("ValidRegion(%q) = %v", r, got)
		}
	}
}

// An EC2 client built from Env.Config and Static sends to the endpoint
// read from the environment, in its region, signed with the credentials
// the resolver returned.
func TestEnvConfigAndStatic(t *testing.T) {
	f := newFakeAWS(t, keyA)
	e, err := awscred.ReadEnv(func(k string) string {
		return map[string]string{"AWS_REGION": testRegion, "AWS_ENDPOINT_URL_EC2": f.URL()}[k]
	}, "EC2")
	if err != nil {
		t.Fatal(err)
	}
	creds := provider.NewCredentials(map[string]string{provider.FieldAccessKeyID: keyA.AccessKeyID, provider.FieldSecretAccessKey: keyA.SecretAccessKey}, provider.Source{Provider: "test"})
	client := ec2.NewFromConfig(e.Config(), awscred.WithSigner)
	if _, err := client.DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{}, func(o *ec2.Options) { o.Credentials = awscred.Static(creds) }); err != nil {
		t.Fatal(err)
	}
	if got := signers(f.Calls()); len(got) != 1 || got[0] != keyA.AccessKeyID {
		t.Fatalf("signers = %q", got)
	}

	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	creds.Expires = exp
	got, err := awscred.Static(creds).Retrieve(context.Background())
	if err != nil || got.AccessKeyID != keyA.AccessKeyID || !got.CanExpire || !got.Expires.Equal(exp) || got.Source != "mcpcred: test" {
		t.Fatalf("Retrieve = %+v, %v", got, err)
	}
	if _, err := awscred.Static(provider.NewCredentials(map[string]string{provider.FieldAccessKeyID: "AKIAONLY"}, provider.Source{})).Retrieve(context.Background()); err == nil {
		t.Fatal("credentials without a secret: no error")
	}
}

// CallRegion: the call's region, else the credentials', else the
// environment's; an invalid one is named by where it came from, not shown.
func TestCallRegion(t *testing.T) {
	e := awscred.Env{Region: "us-west-2", RegionFrom: "AWS_REGION"}
	withRegion := func(r string) provider.Credentials {
		return provider.NewCredentials(map[string]string{provider.FieldRegion: r}, provider.Source{Provider: "file", Locator: "/c [p]"})
	}
	tests := []struct {
		name, given, from string
		creds             provider.Credentials
		want, wantErr     string
	}{
		{"given", "ca-central-1", "credentials.region", withRegion("eu-west-1"), "ca-central-1", ""},
		{"the credentials'", "", "credentials.region", withRegion("eu-west-1"), "eu-west-1", ""},
		{"the environment's", "", "credentials.region", provider.Credentials{}, "us-west-2", ""},
		{"bad given", "mars-1\n", "credentials.region", withRegion("eu-west-1"), "", "awscred: the region from credentials.region is not an AWS region name"},
		{"bad credentials'", "", "credentials.region", withRegion("CANARY-d3adb33f"), "", "the region from file (/c [p]) is not"},
		{"bad environment's", "", "x", provider.Credentials{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := e
			if tt.name == "bad environment's" {
				env, tt.wantErr = awscred.Env{RegionFrom: "default"}, "the region from default is not"
			}
			got, err := env.CallRegion(tt.given, tt.from, tt.creds)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "d3adb33f") || strings.Contains(err.Error(), "mars") {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CallRegion = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
