package awssdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/awssdk"
)

// fakeSTS answers AssumeRole in STS's query protocol. Role "denied" is
// refused, role "down" answers 503. It records which access key signed
// each call, and hands out keys derived from the role's name.
type fakeSTS struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string // "ROLE signed by AKID"
}

var credentialRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

func newFakeSTS(t *testing.T) *fakeSTS {
	f := &fakeSTS{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRole" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		arn := r.Form.Get("RoleArn")
		role := arn[strings.LastIndex(arn, "/")+1:]
		signer := ""
		if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			signer = m[1]
		}
		f.mu.Lock()
		f.calls = append(f.calls, role+" signed by "+signer)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		switch role {
		case "denied":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>`+
				`<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/base is not authorized to perform: sts:AssumeRole</Message>`+
				`</Error><RequestId>r1</RequestId></ErrorResponse>`)
			return
		case "down":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>try later</Message></Error></ErrorResponse>`)
			return
		}
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/%s/s</Arn><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			stsKey(role), "CANARY-sts-secret-"+role, "sts-session-token-"+role,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339), role)
	}))
	t.Cleanup(f.Close)
	return f
}

func stsKey(role string) string { return "ASIA" + strings.ToUpper(role) + "EXAMPLE" }

func (f *fakeSTS) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func TestAssumeRole(t *testing.T) {
	h := isolate(t)
	sts := newFakeSTS(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	write(t, h.credentials, "[base]\naws_access_key_id = "+staticKey+"\naws_secret_access_key = "+staticSecret+"\n")
	helper := fmt.Sprintf("%s ok %s %s", h.helper, procKey, procSecret)
	write(t, h.config, strings.Join([]string{
		"[profile role]", "role_arn = arn:aws:iam::123456789012:role/first", "source_profile = base", "region = us-east-1",
		"[profile procbase]", "credential_process = " + helper,
		"[profile procrole]", "role_arn = arn:aws:iam::123456789012:role/proc", "source_profile = procbase", "region = us-east-1",
		"[profile procself]", "role_arn = arn:aws:iam::123456789012:role/self", "credential_process = " + helper, "region = us-east-1",
		"[profile chain]", "role_arn = arn:aws:iam::123456789012:role/second", "source_profile = procrole", "region = eu-north-1",
		"[profile denied]", "role_arn = arn:aws:iam::123456789012:role/denied", "source_profile = base", "region = us-east-1",
		"[profile down]", "role_arn = arn:aws:iam::123456789012:role/down", "source_profile = base", "region = us-east-1",
	}, "\n")+"\n")
	// A helper that inherited stdin would read this and fail.
	stdinWithData(t)
	p := newProvider(t, func(o *awssdk.Options) {
		o.LoadOptions = append(o.LoadOptions, config.WithRetryMaxAttempts(2))
	})

	tests := []struct {
		profile, role, region, locator string
		calls                          []string
	}{
		{"role", "first", "us-east-1", `profile "role" (source_profile, static keys, assume role)`,
			[]string{"first signed by " + staticKey}},
		// The hook path: the STS client signing with a credential_process
		// helper's keys gets the safe helper.
		{"procrole", "proc", "us-east-1", `profile "procrole" (source_profile, credential_process, assume role)`,
			[]string{"proc signed by " + procKey}},
		{"procself", "self", "us-east-1", `profile "procself" (credential_process, assume role)`,
			[]string{"self signed by " + procKey}},
		{"chain", "second", "eu-north-1", `profile "chain" (source_profile, credential_process, assume role)`,
			[]string{"proc signed by " + procKey, "second signed by " + stsKey("proc")}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			before := len(sts.Calls())
			c, err := p.Retrieve(context.Background(), tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			if c.Value(provider.FieldAccessKeyID) != stsKey(tt.role) || c.Value(provider.FieldSecretAccessKey) != "CANARY-sts-secret-"+tt.role ||
				c.Value(provider.FieldSessionToken) != "sts-session-token-"+tt.role || c.Value(provider.FieldRegion) != tt.region {
				t.Fatalf("got %v", c)
			}
			if c.Expires.IsZero() {
				t.Error("STS credentials have no Expires")
			}
			if c.Source.Locator != tt.locator {
				t.Errorf("Locator = %q, want %q", c.Source.Locator, tt.locator)
			}
			if got := sts.Calls()[before:]; strings.Join(got, "; ") != strings.Join(tt.calls, "; ") {
				t.Errorf("STS calls %q, want %q", got, tt.calls)
			}
			// The SDK's cache reuses the role's credentials until they expire.
			before = len(sts.Calls())
			if _, err := p.Retrieve(context.Background(), tt.profile); err != nil {
				t.Fatal(err)
			}
			if got := sts.Calls()[before:]; len(got) != 0 {
				t.Errorf("second Retrieve called STS again: %q", got)
			}
		})
	}

	t.Run("denied", func(t *testing.T) {
		_, err := p.Retrieve(context.Background(), "denied")
		if err == nil || errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("err = %v, want a definite failure", err)
		}
		if !strings.Contains(err.Error(), "STS AssumeRole: AccessDenied") {
			t.Errorf("error %q does not name STS AssumeRole and AccessDenied", err)
		}
		checkNoLeak(t, err, staticSecret)
	})
	t.Run("down", func(t *testing.T) {
		_, err := p.Retrieve(context.Background(), "down")
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if !strings.Contains(err.Error(), "after 2 attempts") {
			t.Errorf("error %q does not count the attempts", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		t.Setenv("AWS_ENDPOINT_URL_STS", dead.URL)
		p := newProvider(t, func(o *awssdk.Options) {
			o.LoadOptions = append(o.LoadOptions, config.WithRetryMaxAttempts(1))
		})
		_, err := p.Retrieve(context.Background(), "role")
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		t.Log(err)
	})
}
