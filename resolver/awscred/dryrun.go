package awscred

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// ErrDryRun is wrapped by the error of every operation sent through a
// [DryRun]: its request was built and signed, and not sent.
var ErrDryRun = errors.New("awscred: dry run: the request was not sent")

// DryRun is an HTTP client for an aws-sdk-go-v2 service client
// (Options.HTTPClient) that records the request the SDK built and signed
// instead of sending it. Every operation made through it fails with an
// error wrapping [ErrDryRun], which the SDK's retryer does not retry, and
// has no effect on AWS. Use one DryRun per operation:
//
//	var d awscred.DryRun
//	_, err := client.AuthorizeSecurityGroupIngress(ctx, in, func(o *ec2.Options) { o.HTTPClient = &d })
//	if errors.Is(err, awscred.ErrDryRun) {
//		fmt.Println(d.Request().Action())
//	}
//
// It is safe for concurrent use.
type DryRun struct {
	mu  sync.Mutex
	req *Request
}

// Request is a request a [DryRun] recorded.
type Request struct {
	Method string
	URL    *url.URL
	Header http.Header // as signed, Authorization included (it holds the access key ID, never the secret)
	Body   []byte
}

// Do records r and sends nothing.
func (d *DryRun) Do(r *http.Request) (*http.Response, error) {
	rec := &Request{Method: r.Method, URL: r.URL, Header: r.Header.Clone()}
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		rec.Body = b
	}
	d.mu.Lock()
	d.req = rec
	d.mu.Unlock()
	return nil, dryRunError{}
}

// Request returns the last request d recorded, or nil.
func (d *DryRun) Request() *Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.req
}

type dryRunError struct{}

func (dryRunError) Error() string        { return ErrDryRun.Error() }
func (dryRunError) Unwrap() error        { return ErrDryRun }
func (dryRunError) RetryableError() bool { return false } // read by the SDK's retryer

// Endpoint returns where the request would have gone: scheme://host.
func (r *Request) Endpoint() string { return r.URL.Scheme + "://" + r.URL.Host }

// Action returns the operation: the Action parameter of the query
// protocol (EC2, IAM, STS), else what follows the last "." of the JSON
// protocols' X-Amz-Target (SSM, KMS); "" when neither is present.
func (r *Request) Action() string {
	if a := r.Params()["Action"]; a != "" {
		return a
	}
	t := r.Header.Get("X-Amz-Target")
	return t[strings.LastIndex(t, ".")+1:]
}

// Region returns the region of the request's SigV4 credential scope, or ""
// when it is not signed.
func (r *Request) Region() string {
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if parts := strings.Split(strings.Split(cred, ",")[0], "/"); len(parts) == 5 {
		return parts[2] // KEYID/DATE/REGION/SERVICE/aws4_request
	}
	return ""
}

// Summary is what a dry run reports of the request it did not send, such
// as in a tool's result: nothing of the signature or the credentials.
type Summary struct {
	Action     string            `json:"action"`
	Endpoint   string            `json:"endpoint"`
	Region     string            `json:"region"`
	Parameters map[string]string `json:"parameters" jsonschema:"the request's query and form parameters"`
}

// Summary returns r's [Summary].
func (r *Request) Summary() Summary {
	return Summary{Action: r.Action(), Endpoint: r.Endpoint(), Region: r.Region(), Parameters: r.Params()}
}

// Params returns the request's URL query parameters and, for a
// form-encoded body (the query protocol), its parameters, each with its
// values joined by ",".
func (r *Request) Params() map[string]string {
	vals := r.URL.Query()
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		form, _ := url.ParseQuery(string(bytes.TrimSpace(r.Body)))
		for k, v := range form {
			vals[k] = append(vals[k], v...)
		}
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		out[k] = strings.Join(v, ",")
	}
	return out
}
