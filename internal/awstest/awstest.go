package awstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Sentinel errors wrapped by [*VerifyError].
var (
	// ErrMalformed means the request has no usable SigV4 Authorization
	// header or X-Amz-Date.
	ErrMalformed = errors.New("awstest: malformed or missing SigV4 authorization")
	// ErrUnknownKey means the access key ID in the request is not the
	// expected one, or not one of the known [Credentials].
	ErrUnknownKey = errors.New("awstest: unknown access key ID")
	// ErrScope means the credential scope names another date, region or
	// service than expected.
	ErrScope = errors.New("awstest: credential scope mismatch")
	// ErrSessionToken means the X-Amz-Security-Token header is missing,
	// unexpected, unsigned or different from the expected session token.
	ErrSessionToken = errors.New("awstest: session token mismatch")
	// ErrSignature means the signature does not match the one the SDK's
	// signer computes with the expected credentials.
	ErrSignature = errors.New("awstest: signature mismatch")
)

// VerifyError reports why a request's signature did not verify. It names the
// access key ID and scope the client used, never a secret.
type VerifyError struct {
	AccessKeyID string // access key ID the request claims, if it could be read
	Scope       string // credential scope the request claims: "20240102/us-east-1/ssm/aws4_request"
	Reason      string // what differed
	Err         error  // one of the sentinel errors above
}

func (e *VerifyError) Error() string {
	msg := e.Err.Error()
	if e.AccessKeyID != "" {
		msg += fmt.Sprintf(": access key %q", e.AccessKeyID)
	}
	if e.Scope != "" {
		msg += fmt.Sprintf(", scope %q", e.Scope)
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap returns the sentinel error.
func (e *VerifyError) Unwrap() error { return e.Err }

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string   // YYYYMMDD from the credential scope
	Region        string   // region from the credential scope
	Service       string   // service from the credential scope
	SignedHeaders []string // lower-case header names, in the order sent
	Signature     string   // hex signature
}

// Scope returns "DATE/REGION/SERVICE/aws4_request".
func (a Authorization) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

const algorithm = "AWS4-HMAC-SHA256"

// ParseAuthorization parses an Authorization header of the form
// "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
// SignedHeaders=a;b, Signature=hex".
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return a, &VerifyError{Err: ErrMalformed, Reason: "Authorization header does not start with " + algorithm}
	}
	var cred, signed string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, &VerifyError{Err: ErrMalformed, Reason: "Authorization header has a part without '='"}
		}
		switch k {
		case "Credential":
			cred, haveCred = v, true
		case "SignedHeaders":
			signed, haveSigned = v, true
		case "Signature":
			a.Signature, haveSig = v, true
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return a, &VerifyError{Err: ErrMalformed, Reason: "Authorization header lacks Credential, SignedHeaders or Signature"}
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return a, &VerifyError{Err: ErrMalformed, Reason: "Credential is not AKID/DATE/REGION/SERVICE/aws4_request"}
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	if signed == "" {
		return a, &VerifyError{AccessKeyID: a.AccessKeyID, Scope: a.Scope(), Err: ErrMalformed, Reason: "SignedHeaders is empty"}
	}
	a.SignedHeaders = strings.Split(signed, ";")
	return a, nil
}

// VerifySigV4 reports whether r, whose body the caller has already read into
// body, carries a SigV4 signature made with want for service and region. It
// recomputes the signature with aws-sdk-go-v2's signer over the received
// method, path, query, signed headers, body hash and X-Amz-Date, checks the
// credential scope, and, when want has a session token, that the request
// sent and signed the same X-Amz-Security-Token (and sent none when want has
// none). It returns nil on success and a [*VerifyError] otherwise.
//
// VerifySigV4 does not read or modify r.
func VerifySigV4(r *http.Request, body []byte, want aws.Credentials, service, region string) error {
	auth, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	verr := func(sentinel error, format string, args ...any) error {
		return &VerifyError{AccessKeyID: auth.AccessKeyID, Scope: auth.Scope(), Err: sentinel, Reason: fmt.Sprintf(format, args...)}
	}
	if subtle.ConstantTimeCompare([]byte(auth.AccessKeyID), []byte(want.AccessKeyID)) != 1 {
		return verr(ErrUnknownKey, "want access key %q", want.AccessKeyID)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signingTime, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return verr(ErrMalformed, "X-Amz-Date %q is not YYYYMMDDTHHMMSSZ", amzDate)
	}
	if auth.Date != signingTime.Format("20060102") {
		return verr(ErrScope, "scope date does not match X-Amz-Date %q", amzDate)
	}
	if auth.Region != region || auth.Service != service {
		return verr(ErrScope, "want region %q, service %q", region, service)
	}

	signed := make(map[string]bool, len(auth.SignedHeaders))
	for _, h := range auth.SignedHeaders {
		signed[h] = true
	}
	for _, h := range []string{"host", "x-amz-date"} {
		if !signed[h] {
			return verr(ErrMalformed, "header %q is not signed", h)
		}
	}
	gotToken := r.Header.Values("X-Amz-Security-Token")
	switch {
	case want.SessionToken == "" && len(gotToken) > 0:
		return verr(ErrSessionToken, "request sent X-Amz-Security-Token, none expected")
	case want.SessionToken != "" && len(gotToken) == 0:
		return verr(ErrSessionToken, "request sent no X-Amz-Security-Token")
	case want.SessionToken != "" && !signed["x-amz-security-token"]:
		return verr(ErrSessionToken, "X-Amz-Security-Token is not signed")
	case want.SessionToken != "" && (len(gotToken) != 1 || subtle.ConstantTimeCompare([]byte(gotToken[0]), []byte(want.SessionToken)) != 1):
		return verr(ErrSessionToken, "X-Amz-Security-Token differs from the expected session token")
	}

	// Rebuild the request as the client had it when it signed: same method,
	// host, path and query, and only the headers it listed as signed.
	u, err := url.Parse("http://" + r.Host + r.URL.RequestURI())
	if err != nil {
		return verr(ErrMalformed, "cannot rebuild request URL")
	}
	re := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: make(http.Header)}
	for _, h := range auth.SignedHeaders {
		switch h {
		case "host":
			continue
		case "content-length":
			re.ContentLength = r.ContentLength
			continue
		}
		vals := r.Header.Values(h)
		if len(vals) == 0 {
			return verr(ErrSignature, "signed header %q is missing from the request", h)
		}
		re.Header[http.CanonicalHeaderKey(h)] = append([]string(nil), vals...)
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash && h != "UNSIGNED-PAYLOAD" {
		return verr(ErrSignature, "X-Amz-Content-Sha256 does not match the body received")
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), want, re, payloadHash, service, region, signingTime); err != nil {
		return verr(ErrSignature, "signer: %v", err)
	}
	exp, err := ParseAuthorization(re.Header.Get("Authorization"))
	if err != nil {
		return verr(ErrSignature, "signer produced an unreadable Authorization header")
	}
	if e, g := strings.Join(exp.SignedHeaders, ";"), strings.Join(auth.SignedHeaders, ";"); e != g {
		return verr(ErrSignature, "signed headers %q, the SDK signer would sign %q", g, e)
	}
	if subtle.ConstantTimeCompare([]byte(exp.Signature), []byte(auth.Signature)) != 1 {
		return verr(ErrSignature, "signature does not match the expected secret key over %s %s with signed headers %q and a %d-byte body",
			r.Method, r.URL.RequestURI(), strings.Join(auth.SignedHeaders, ";"), len(body))
	}
	return nil
}

// Credentials is a set of known identities keyed by access key ID. Build it
// with [NewCredentials]; it is safe for concurrent reads.
type Credentials map[string]aws.Credentials

// NewCredentials returns the identities keyed by their access key IDs.
func NewCredentials(creds ...aws.Credentials) Credentials {
	m := make(Credentials, len(creds))
	for _, c := range creds {
		m[c.AccessKeyID] = c
	}
	return m
}

// Lookup returns the identity with accessKeyID.
func (c Credentials) Lookup(accessKeyID string) (aws.Credentials, bool) {
	v, ok := c[accessKeyID]
	return v, ok
}

// Verify finds the identity whose access key ID r's Authorization header
// names, checks the signature against it with [VerifySigV4], and returns it.
func (c Credentials) Verify(r *http.Request, body []byte, service, region string) (aws.Credentials, error) {
	auth, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return aws.Credentials{}, err
	}
	want, ok := c.Lookup(auth.AccessKeyID)
	if !ok {
		return aws.Credentials{}, &VerifyError{AccessKeyID: auth.AccessKeyID, Scope: auth.Scope(), Err: ErrUnknownKey, Reason: fmt.Sprintf("not one of the %d known identities", len(c))}
	}
	if err := VerifySigV4(r, body, want, service, region); err != nil {
		return aws.Credentials{}, err
	}
	return want, nil
}

// ReadBody reads and returns r's body and replaces it with a reader over the
// same bytes, so a handler can verify the signature and still decode the
// body.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

// Config returns an aws.Config for a client under test: static creds,
// region, BaseEndpoint set to endpoint (a httptest server's URL) and the
// default HTTP client. Service clients built from it with NewFromConfig send
// every request to endpoint.
func Config(endpoint string, creds aws.Credentials, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		BaseEndpoint: aws.String(endpoint),
	}
}
