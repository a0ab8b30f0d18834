package ssm_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/internal/awstest"
)

// fakeSSM is a local endpoint that speaks SSM's JSON 1.1 protocol for
// GetParameter and GetParametersByPath, checks each request's SigV4
// signature against the identities it knows, and records who called what.
type fakeSSM struct {
	t      testing.TB
	srv    *httptest.Server
	known  awstest.Credentials
	region string

	mu       sync.Mutex
	params   map[string][]version // name -> versions, index = version-1
	pageSize int                  // items per page; 0 means the request's MaxResults
	// nextToken, if set, chooses the NextToken of a GetParametersByPath page
	// that served items [start, end) of total ("" ends the walk), to play a
	// server whose pagination does not make progress. Tokens it returns must
	// read "page-token-N" or "page-token-N-ANYTHING": the next page starts
	// at item N.
	nextToken func(start, end, total int) string
	failNext  []failure          // answered, in order, before anything else
	fail      map[string]failure // permanent failure for a name or path
	calls     []call
}

type version struct {
	typ    string
	value  string
	labels []string
}

type failure struct {
	status int
	code   string
	msg    string
}

type call struct {
	Op        string
	Signer    string // access key ID that signed
	Name      string // GetParameter
	Path      string // GetParametersByPath
	NextToken string
	Recursive bool
	Decrypt   bool
	Label     string
}

var (
	identityA = aws.Credentials{AccessKeyID: "AKIDSSMTESTA0000000", SecretAccessKey: "CANARY-SECRET-d3adb33f-aws-A", SessionToken: "token-A-d3adb33f"}
	identityB = aws.Credentials{AccessKeyID: "AKIDSSMTESTB0000000", SecretAccessKey: "CANARY-SECRET-d3adb33f-aws-B"}
)

const testRegion = "eu-central-1"

func newFakeSSM(t testing.TB) *fakeSSM {
	f := &fakeSSM{t: t, known: awstest.NewCredentials(identityA, identityB), region: testRegion,
		params: map[string][]version{}, fail: map[string]failure{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSSM) URL() string { return f.srv.URL }

// config returns an aws.Config for the real SDK client signed as id.
func (f *fakeSSM) config(id aws.Credentials) aws.Config {
	return awstest.Config(f.srv.URL, id, f.region)
}

func (f *fakeSSM) put(name, typ, value string, labels ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.params[name] = append(f.params[name], version{typ: typ, value: value, labels: labels})
}

func (f *fakeSSM) failAll(resource string, status int, code, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[resource] = failure{status, code, msg}
}

func (f *fakeSSM) queue(n, status int, code, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failNext = append(f.failNext, failure{status, code, msg})
	}
}

func (f *fakeSSM) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeSSM) writeErr(w http.ResponseWriter, e failure) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", "11111111-2222-3333-4444-555555555555")
	w.WriteHeader(e.status)
	body := map[string]string{"__type": e.code}
	if e.msg != "" {
		body["message"] = e.msg
	}
	json.NewEncoder(w).Encode(body)
}

func (f *fakeSSM) writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", "11111111-2222-3333-4444-555555555555")
	json.NewEncoder(w).Encode(v)
}

func (f *fakeSSM) serve(w http.ResponseWriter, r *http.Request) {
	body, err := awstest.ReadBody(r)
	if err != nil {
		f.writeErr(w, failure{400, "SerializationException", "cannot read body"})
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		f.t.Errorf("fake SSM: %s %s, want POST /", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		f.t.Errorf("fake SSM: Content-Type %q, want application/x-amz-json-1.1", ct)
	}
	signer, err := f.known.Verify(r, body, "ssm", f.region)
	if err != nil {
		// Real SSM: unknown key -> UnrecognizedClientException; bad signature -> InvalidSignatureException.
		code := "InvalidSignatureException"
		if strings.Contains(err.Error(), "unknown access key") {
			code = "UnrecognizedClientException"
		}
		f.writeErr(w, failure{400, code, "The security token included in the request is invalid."})
		return
	}
	var in struct {
		Name             string
		Path             string
		NextToken        string
		MaxResults       int
		Recursive        bool
		WithDecryption   bool
		ParameterFilters []struct {
			Key    string
			Option string
			Values []string
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		f.writeErr(w, failure{400, "SerializationException", "bad JSON"})
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AmazonSSM.")
	if !ok {
		f.t.Errorf("fake SSM: X-Amz-Target %q", target)
	}
	c := call{Op: op, Signer: signer.AccessKeyID, Name: in.Name, Path: in.Path, NextToken: in.NextToken, Recursive: in.Recursive, Decrypt: in.WithDecryption}
	for _, flt := range in.ParameterFilters {
		if flt.Key == "Label" && len(flt.Values) > 0 {
			c.Label = flt.Values[0]
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	if !in.WithDecryption {
		f.t.Errorf("fake SSM: %s without WithDecryption", op)
	}
	if len(f.failNext) > 0 {
		e := f.failNext[0]
		f.failNext = f.failNext[1:]
		f.writeErr(w, e)
		return
	}
	switch op {
	case "GetParameter":
		f.getParameter(w, in.Name)
	case "GetParametersByPath":
		f.getParametersByPath(w, in.Path, in.NextToken, in.MaxResults, in.Recursive, c.Label)
	default:
		f.writeErr(w, failure{400, "UnknownOperationException", ""})
	}
}

func paramJSON(name string, n int, v version, selector string) map[string]any {
	m := map[string]any{
		"ARN":              "arn:aws:ssm:" + testRegion + ":123456789012:parameter" + name,
		"DataType":         "text",
		"LastModifiedDate": 1.7e9,
		"Name":             name,
		"Type":             v.typ,
		"Value":            v.value,
		"Version":          n,
	}
	if selector != "" {
		m["Selector"] = selector
	}
	return m
}

func (f *fakeSSM) getParameter(w http.ResponseWriter, ref string) {
	name, sel := ref, ""
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		name, sel = ref[:i], ref[i+1:]
	}
	if e, ok := f.fail[name]; ok {
		f.writeErr(w, e)
		return
	}
	versions := f.params[name]
	if len(versions) == 0 {
		f.writeErr(w, failure{400, "ParameterNotFound", ""})
		return
	}
	n := len(versions)
	switch {
	case sel == "":
	case sel[0] >= '0' && sel[0] <= '9':
		v, _ := strconv.Atoi(sel)
		if v < 1 || v > len(versions) {
			f.writeErr(w, failure{400, "ParameterVersionNotFound", fmt.Sprintf("Systems Manager could not find version %s of %s. Verify the version and try again.", sel, name)})
			return
		}
		n = v
	default:
		n = 0
		for i, v := range versions {
			if slices.Contains(v.labels, sel) {
				n = i + 1
			}
		}
		if n == 0 {
			f.writeErr(w, failure{400, "ParameterNotFound", ""})
			return
		}
	}
	selector := ""
	if sel != "" {
		selector = ":" + sel
	}
	f.writeJSON(w, map[string]any{"Parameter": paramJSON(name, n, versions[n-1], selector)})
}

func (f *fakeSSM) getParametersByPath(w http.ResponseWriter, path, token string, max int, recursive bool, label string) {
	if e, ok := f.fail[path]; ok {
		f.writeErr(w, e)
		return
	}
	if max < 1 || max > 10 {
		f.writeErr(w, failure{400, "ValidationException", "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10"})
		return
	}
	if f.pageSize > 0 {
		max = f.pageSize
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	var names []string
	for name := range f.params {
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok || (!recursive && strings.Contains(rel, "/")) {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var items []map[string]any
	for _, name := range names {
		vs := f.params[name]
		n := len(vs)
		if label != "" {
			n = 0
			for i, v := range vs {
				if slices.Contains(v.labels, label) {
					n = i + 1
				}
			}
			if n == 0 {
				continue
			}
		}
		items = append(items, paramJSON(name, n, vs[n-1], ""))
	}
	start := 0
	if token != "" {
		s, ok := strings.CutPrefix(token, "page-token-")
		s, _, _ = strings.Cut(s, "-")
		var err error
		start, err = strconv.Atoi(s)
		if !ok || err != nil || start > len(items) {
			f.writeErr(w, failure{400, "InvalidNextToken", "The token is not valid."})
			return
		}
	}
	end := min(start+max, len(items))
	if items == nil {
		items = []map[string]any{}
	}
	out := map[string]any{"Parameters": items[start:end]}
	next := ""
	if end < len(items) {
		next = "page-token-" + strconv.Itoa(end)
	}
	if f.nextToken != nil {
		next = f.nextToken(start, end, len(items))
	}
	if next != "" {
		out["NextToken"] = next
	}
	f.writeJSON(w, out)
}
