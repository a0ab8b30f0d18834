package awscred_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/internal/awstest"
)

// fakeAWS is a local endpoint for two AWS protocols, as aws-sdk-go-v2's
// clients speak them: EC2's query protocol (DescribeRegions; form-encoded
// POST, XML answers and EC2's XML errors) and SSM's JSON 1.1 protocol
// (GetParameter; errors as {"__type": CODE}). It verifies every request's
// SigV4 signature with internal/awstest, which recomputes it with the SDK's
// own signer, against the identities it currently knows, and answers as AWS
// does when it does not verify: AuthFailure for EC2,
// UnrecognizedClientException (unknown key) or InvalidSignatureException
// (wrong secret) for SSM.
type fakeAWS struct {
	srv    *httptest.Server
	region string

	mu       sync.Mutex
	known    awstest.Credentials
	failNext []failure // answered, in order, to the next requests, before verifying
	calls    []fakeCall
}

type failure struct {
	status int
	code   string
	// jsonType, if set, is the __type the JSON protocol sends instead of
	// code (such as "com.amazon.coral.service#" + code).
	jsonType string
	// inHeader sends the JSON error code in X-Amzn-ErrorType only.
	inHeader bool
}

// fakeCall is one request the endpoint received.
type fakeCall struct {
	Service string // "ec2" or "ssm"
	Action  string
	Signer  string // access key ID whose signature verified; "" if none
	Code    string // error code answered; "" for success
	Verify  error  // why the signature did not verify
	Day     string // the day of X-Amz-Date, YYYYMMDD
}

const testRegion = "eu-west-1"

func newFakeAWS(t testing.TB, known ...aws.Credentials) *fakeAWS {
	f := &fakeAWS{region: testRegion, known: awstest.NewCredentials(known...)}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the endpoint's base URL.
func (f *fakeAWS) URL() string { return f.srv.URL }

// setKnown replaces the identities the endpoint accepts.
func (f *fakeAWS) setKnown(known ...aws.Credentials) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.known = awstest.NewCredentials(known...)
}

// queue makes the next requests answer these failures, in order.
func (f *fakeAWS) queue(fs ...failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = append(f.failNext, fs...)
}

func (f *fakeAWS) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeAWS) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := awstest.ReadBody(r)
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "want a POST with a body", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		f.serveSSM(w, r, body)
		return
	}
	f.serveEC2(w, r, body)
}

func (f *fakeAWS) next() (failure, bool) {
	if len(f.failNext) == 0 {
		return failure{}, false
	}
	e := f.failNext[0]
	f.failNext = f.failNext[1:]
	return e, true
}

func (f *fakeAWS) serveEC2(w http.ResponseWriter, r *http.Request, body []byte) {
	form, _ := url.ParseQuery(string(body))
	c := fakeCall{Service: "ec2", Action: form.Get("Action"), Day: day(r)}
	const requestID = "00000000-0000-4000-8000-000000000001"
	answer := func(e failure) {
		c.Code = e.code
		f.calls = append(f.calls, c)
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(e.status)
		xml.NewEncoder(w).Encode(ec2Error{Code: e.code, Message: "Simulated " + e.code + ".", RequestID: requestID})
	}
	if e, ok := f.next(); ok {
		answer(e)
		return
	}
	who, err := f.known.Verify(r, body, "ec2", f.region)
	if err != nil {
		c.Verify = err
		answer(failure{status: http.StatusUnauthorized, code: "AuthFailure"})
		return
	}
	c.Signer = who.AccessKeyID
	if c.Action != "DescribeRegions" {
		answer(failure{status: http.StatusBadRequest, code: "InvalidAction"})
		return
	}
	f.calls = append(f.calls, c)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	fmt.Fprintf(w, `%s<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>%s</requestId>`+
		`<regionInfo><item><regionName>%s</regionName><regionEndpoint>ec2.%[3]s.amazonaws.com</regionEndpoint></item></regionInfo></DescribeRegionsResponse>`,
		xml.Header, requestID, f.region)
}

type ec2Error struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

func (f *fakeAWS) serveSSM(w http.ResponseWriter, r *http.Request, body []byte) {
	c := fakeCall{Service: "ssm", Action: strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM."), Day: day(r)}
	answer := func(e failure) {
		c.Code = e.code
		f.calls = append(f.calls, c)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-RequestId", "11111111-2222-3333-4444-555555555555")
		typ := e.code
		if e.jsonType != "" {
			typ = e.jsonType
		}
		msg := map[string]string{"message": "Simulated " + e.code + "."}
		if e.inHeader {
			w.Header().Set("X-Amzn-ErrorType", typ)
		} else {
			msg["__type"] = typ
		}
		w.WriteHeader(e.status)
		json.NewEncoder(w).Encode(msg)
	}
	if e, ok := f.next(); ok {
		answer(e)
		return
	}
	who, err := f.known.Verify(r, body, "ssm", f.region)
	if err != nil {
		c.Verify = err
		code := "InvalidSignatureException"
		if errors.Is(err, awstest.ErrUnknownKey) {
			code = "UnrecognizedClientException"
		}
		answer(failure{status: http.StatusBadRequest, code: code})
		return
	}
	c.Signer = who.AccessKeyID
	var in struct{ Name string }
	if json.Unmarshal(body, &in) != nil || c.Action != "GetParameter" {
		answer(failure{status: http.StatusBadRequest, code: "ValidationException"})
		return
	}
	f.calls = append(f.calls, c)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "String", "Value": "v", "Version": 1}})
}

func day(r *http.Request) string {
	d, _, _ := strings.Cut(r.Header.Get("X-Amz-Date"), "T")
	return d
}
