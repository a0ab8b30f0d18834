package awstest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/mcpcred/mcpcred/internal/awstest"
)

const (
	secretA = "CANARY-SECRET-d3adb33f-A"
	secretB = "CANARY-SECRET-d3adb33f-B"
	tokenA  = "CANARY-TOKEN-d3adb33f-A"
)

var (
	credA = aws.Credentials{AccessKeyID: "AKIDAAAAAAAAAAAAAAAA", SecretAccessKey: secretA}
	credB = aws.Credentials{AccessKeyID: "AKIDBBBBBBBBBBBBBBBB", SecretAccessKey: secretB}
)

type captured struct {
	req  *http.Request
	body []byte
}

// capture runs one real SSM GetParameter call signed with creds and returns
// the request as the server received it.
func capture(t *testing.T, creds aws.Credentials) captured {
	t.Helper()
	var mu sync.Mutex
	var got []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := awstest.ReadBody(r)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		mu.Lock()
		got = append(got, captured{r.Clone(context.Background()), body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write([]byte(`{"Parameter":{"Name":"/x","Type":"String","Value":"v","Version":1}}`))
	}))
	defer srv.Close()
	client := ssm.NewFromConfig(awstest.Config(srv.URL, creds, "eu-west-1"))
	if _, err := client.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/mcp/prod/secret"), WithDecryption: aws.Bool(true)}); err != nil {
		t.Fatalf("GetParameter: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(got))
	}
	return got[0]
}

func TestVerifySigV4(t *testing.T) {
	withToken := credA
	withToken.SessionToken = tokenA
	a := capture(t, credA)
	at := capture(t, withToken)

	tests := []struct {
		name    string
		c       captured
		mutate  func(r *http.Request, body []byte) []byte
		want    aws.Credentials
		service string
		region  string
		wantErr error
	}{
		{name: "signed with A verifies against A", c: a, want: credA},
		{name: "session token verifies", c: at, want: withToken},
		{name: "against B", c: a, want: credB, wantErr: awstest.ErrUnknownKey},
		{name: "same key ID other secret", c: a, want: aws.Credentials{AccessKeyID: credA.AccessKeyID, SecretAccessKey: secretB}, wantErr: awstest.ErrSignature},
		{name: "body tampered", c: a, want: credA, wantErr: awstest.ErrSignature,
			mutate: func(_ *http.Request, b []byte) []byte {
				return []byte(strings.Replace(string(b), "/mcp/prod", "/mcp/evil", 1))
			}},
		{name: "signed header tampered", c: a, want: credA, wantErr: awstest.ErrSignature,
			mutate: func(r *http.Request, b []byte) []byte {
				r.Header.Set("X-Amz-Target", "AmazonSSM.DeleteParameter")
				return b
			}},
		{name: "signed header removed", c: a, want: credA, wantErr: awstest.ErrSignature,
			mutate: func(r *http.Request, b []byte) []byte { r.Header.Del("Content-Type"); return b }},
		{name: "path tampered", c: a, want: credA, wantErr: awstest.ErrSignature,
			mutate: func(r *http.Request, b []byte) []byte { r.URL.Path = "/other"; return b }},
		{name: "unsigned header changed is fine", c: a, want: credA,
			mutate: func(r *http.Request, b []byte) []byte { r.Header.Set("User-Agent", "x"); return b }},
		{name: "wrong region", c: a, want: credA, region: "us-east-1", wantErr: awstest.ErrScope},
		{name: "wrong service", c: a, want: credA, service: "ec2", wantErr: awstest.ErrScope},
		{name: "token expected, none sent", c: a, want: withToken, wantErr: awstest.ErrSessionToken},
		{name: "token sent, none expected", c: at, want: credA, wantErr: awstest.ErrSessionToken},
		{name: "token differs", c: at, want: aws.Credentials{AccessKeyID: credA.AccessKeyID, SecretAccessKey: secretA, SessionToken: "other-token"}, wantErr: awstest.ErrSessionToken},
		{name: "no authorization", c: a, want: credA, wantErr: awstest.ErrMalformed,
			mutate: func(r *http.Request, b []byte) []byte { r.Header.Del("Authorization"); return b }},
		{name: "bad date", c: a, want: credA, wantErr: awstest.ErrMalformed,
			mutate: func(r *http.Request, b []byte) []byte { r.Header.Set("X-Amz-Date", "yesterday"); return b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.req.Clone(context.Background())
			body := append([]byte(nil), tt.c.body...)
			if tt.mutate != nil {
				body = tt.mutate(r, body)
			}
			service, region := "ssm", "eu-west-1"
			if tt.service != "" {
				service = tt.service
			}
			if tt.region != "" {
				region = tt.region
			}
			err := awstest.VerifySigV4(r, body, tt.want, service, region)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("VerifySigV4: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifySigV4 = %v, want an error wrapping %v", err, tt.wantErr)
			}
			var ve *awstest.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *VerifyError", err)
			}
			for _, s := range []string{secretA, secretB, tokenA} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error reveals a secret: %v", err)
				}
			}
			t.Logf("%v", err)
		})
	}
}

func TestCredentialsVerifyTellsWhichSigned(t *testing.T) {
	known := awstest.NewCredentials(credA, credB)
	for _, c := range []aws.Credentials{credA, credB} {
		got := capture(t, c)
		who, err := known.Verify(got.req, got.body, "ssm", "eu-west-1")
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if who.AccessKeyID != c.AccessKeyID {
			t.Fatalf("Verify says %s signed, want %s", who.AccessKeyID, c.AccessKeyID)
		}
	}
	stranger := capture(t, aws.Credentials{AccessKeyID: "AKIDCCCCCCCCCCCCCCCC", SecretAccessKey: "x"})
	if _, err := known.Verify(stranger.req, stranger.body, "ssm", "eu-west-1"); !errors.Is(err, awstest.ErrUnknownKey) {
		t.Fatalf("Verify(unknown key) = %v, want ErrUnknownKey", err)
	}
	// A request claiming A's key ID but signed with another secret.
	forged := capture(t, aws.Credentials{AccessKeyID: credA.AccessKeyID, SecretAccessKey: "forged"})
	if _, err := known.Verify(forged.req, forged.body, "ssm", "eu-west-1"); !errors.Is(err, awstest.ErrSignature) {
		t.Fatalf("Verify(forged) = %v, want ErrSignature", err)
	}
}

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want awstest.Authorization
	}{
		{in: "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc", ok: true,
			want: awstest.Authorization{AccessKeyID: "AKID", Date: "20240102", Region: "us-east-1", Service: "ssm", SignedHeaders: []string{"host", "x-amz-date"}, Signature: "abc"}},
		{in: ""},
		{in: "Bearer x"},
		{in: "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/ssm/aws4_request, SignedHeaders=host"},
		{in: "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/aws4_request, SignedHeaders=host, Signature=abc"},
		{in: "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/ssm/aws4_request, SignedHeaders=, Signature=abc"},
		{in: "AWS4-HMAC-SHA256 junk"},
	}
	for _, tt := range tests {
		got, err := awstest.ParseAuthorization(tt.in)
		if tt.ok != (err == nil) {
			t.Errorf("ParseAuthorization(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (got.AccessKeyID != tt.want.AccessKeyID || got.Scope() != tt.want.Scope() || strings.Join(got.SignedHeaders, ";") != strings.Join(tt.want.SignedHeaders, ";") || got.Signature != tt.want.Signature) {
			t.Errorf("ParseAuthorization(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	f.Add("AWS4-HMAC-SHA256 ,,,=")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := awstest.ParseAuthorization(h)
		if err == nil && (a.AccessKeyID == "" || len(a.SignedHeaders) == 0) {
			t.Fatalf("accepted %q with empty key or signed headers", h)
		}
	})
}
