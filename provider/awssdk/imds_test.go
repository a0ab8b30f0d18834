package awssdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/awssdk"
)

// fakeIMDS answers the EC2 instance metadata calls the SDK makes for an
// instance role (IMDSv2: a token, the role name, the role's credentials).
func fakeIMDS(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			fmt.Fprint(w, "imds-token")
		case r.Header.Get("X-Aws-Ec2-Metadata-Token") != "imds-token":
			http.Error(w, "no token", http.StatusUnauthorized)
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			fmt.Fprint(w, "instance-role")
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/instance-role":
			fmt.Fprintf(w, `{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDSEXAMPLE","SecretAccessKey":"CANARY-imds-secret","Token":"imds-session","Expiration":%q}`,
				time.Now().Add(6*time.Hour).UTC().Format(time.RFC3339))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestDefaultChainIMDS(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fakeIMDS(t).URL)
	c, err := newProvider(t).Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value(provider.FieldAccessKeyID) != "ASIAIMDSEXAMPLE" || c.Value(provider.FieldSessionToken) != "imds-session" || c.Expires.IsZero() {
		t.Fatalf("got %v", c)
	}
	if want := "default chain (EC2 instance metadata)"; c.Source.Locator != want {
		t.Errorf("Locator = %q, want %q", c.Source.Locator, want)
	}
}

// Instance metadata that does not answer is unavailable, not "nothing".
func TestDefaultChainIMDSUnreachable(t *testing.T) {
	isolate(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", dead.URL)
	_, err := newProvider(t).Retrieve(context.Background(), provider.DefaultProfile)
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	t.Log(err)
}

// A chain that runs a credential_process helper the provider cannot reach
// to secure (here: a caller's AssumeRole options swap the STS client for
// one of their own type) is refused, not run with the server's stdin.
func TestUnsafeProcessRefused(t *testing.T) {
	h := isolate(t)
	write(t, h.config, fmt.Sprintf("[profile procrole]\nrole_arn = arn:aws:iam::123456789012:role/r\ncredential_process = %s ok %s %s\nregion = us-east-1\n",
		h.helper, procKey, procSecret))
	p := newProvider(t, func(o *awssdk.Options) {
		o.LoadOptions = append(o.LoadOptions, config.WithAssumeRoleCredentialOptions(func(ar *stscreds.AssumeRoleOptions) {
			if c, ok := ar.Client.(*sts.Client); ok {
				ar.Client = wrappedClient{c}
			}
		}))
	})
	_, err := p.Retrieve(context.Background(), "procrole")
	if !errors.Is(err, awssdk.ErrUnsafeProcess) || errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("err = %v, want a definite ErrUnsafeProcess", err)
	}
	if !strings.Contains(err.Error(), "standard input") {
		t.Errorf("error %q does not say why", err)
	}
}

type wrappedClient struct{ *sts.Client }
