// Package fakeec2 is a local EC2 endpoint for tests. It speaks EC2's query
// protocol as aws-sdk-go-v2's ec2 client does (form-encoded POST bodies,
// XML answers in the 2016-11-15 namespace, EC2's XML error bodies), checks
// every request's SigV4 signature with internal/awstest against the
// identities it knows, and keeps security-group state so that add, list,
// check and remove agree. It implements AuthorizeSecurityGroupIngress,
// RevokeSecurityGroupIngress and DescribeSecurityGroups, and records which
// identity signed each call.
package fakeec2

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/internal/awstest"
)

const (
	// Version is the EC2 API version the SDK sends.
	Version = "2016-11-15"
	// Namespace is the XML namespace of EC2 answers.
	Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
)

// Call is one request the server received.
type Call struct {
	Action      string
	AccessKeyID string // the identity whose signature verified; "" if none did
	Code        string // the error code answered; "" for success
	Params      url.Values
}

// Permission is one stored ingress rule for one address range.
type Permission struct {
	Protocol    string
	FromPort    int32
	ToPort      int32
	CIDR        string
	Description string
}

func (p Permission) key() string {
	return fmt.Sprintf("%s|%d|%d|%s", p.Protocol, p.FromPort, p.ToPort, p.CIDR)
}

// Server is the endpoint; use it as an http.Handler. It is safe for
// concurrent use.
type Server struct {
	region string

	mu       sync.Mutex
	known    map[string]aws.Credentials
	revoked  map[string]bool
	groups   map[string][]Permission
	calls    []Call
	failNext map[string]string // action -> error code for its next call
	seq      int
}

// New returns a server for region that accepts requests signed by
// identities.
func New(region string, identities ...aws.Credentials) *Server {
	s := &Server{region: region, known: map[string]aws.Credentials{}, revoked: map[string]bool{},
		groups: map[string][]Permission{}, failNext: map[string]string{}}
	for _, c := range identities {
		s.known[c.AccessKeyID] = c
	}
	return s
}

// AddIdentity makes the server accept requests signed by c.
func (s *Server) AddIdentity(c aws.Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.known[c.AccessKeyID] = c
	delete(s.revoked, c.AccessKeyID)
}

// Revoke makes requests signed with accessKeyID fail with AuthFailure, as
// AWS does for a deleted key.
func (s *Server) Revoke(accessKeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[accessKeyID] = true
}

// AddGroup creates an empty security group.
func (s *Server) AddGroup(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[id]; !ok {
		s.groups[id] = []Permission{}
	}
}

// Rules returns the group's rules.
func (s *Server) Rules(group string) []Permission {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.groups[group])
}

// FailNext makes the next call of action answer the EC2 error code.
func (s *Server) FailNext(action, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[action] = code
}

// Calls returns the calls received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ResetCalls forgets the calls received so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// apiError is an EC2 error answer.
type apiError struct {
	status  int
	code    string
	message string
}

var messages = map[string]apiError{
	"AuthFailure":           {http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"},
	"UnauthorizedOperation": {http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation."},
	"RequestLimitExceeded":  {http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded."},
	"ExpiredToken":          {http.StatusBadRequest, "ExpiredToken", "The security token included in the request is expired"},
}

func errorFor(code string) *apiError {
	if e, ok := messages[code]; ok {
		return &e
	}
	return &apiError{http.StatusBadRequest, code, "Simulated " + code + "."}
}

// ServeHTTP answers one EC2 query-protocol request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := awstest.ReadBody(r)
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "want a POST with a body", http.StatusBadRequest)
		return
	}
	form, perr := url.ParseQuery(string(body))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	requestID := fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq)
	call := Call{Action: form.Get("Action"), Params: form}

	var res any
	aerr := func() *apiError {
		who, err := awstest.NewCredentials(values(s.known)...).Verify(r, body, "ec2", s.region)
		if err != nil {
			return errorFor("AuthFailure")
		}
		call.AccessKeyID = who.AccessKeyID // the signature verified
		if s.revoked[who.AccessKeyID] {
			return errorFor("AuthFailure")
		}
		if perr != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			return &apiError{http.StatusBadRequest, "MalformedQueryString", "The query string is malformed."}
		}
		if v := form.Get("Version"); v != Version {
			return &apiError{http.StatusBadRequest, "InvalidParameterValue", "Unsupported Version"}
		}
		if code, ok := s.failNext[call.Action]; ok {
			delete(s.failNext, call.Action)
			return errorFor(code)
		}
		var e *apiError
		switch call.Action {
		case "AuthorizeSecurityGroupIngress":
			res, e = s.authorize(form, requestID)
		case "RevokeSecurityGroupIngress":
			res, e = s.revoke(form, requestID)
		case "DescribeSecurityGroups":
			res, e = s.describe(form, requestID)
		default:
			e = &apiError{http.StatusBadRequest, "InvalidAction", "The action " + call.Action + " is not valid for this web service."}
		}
		return e
	}()
	if aerr != nil {
		call.Code = aerr.code
		s.calls = append(s.calls, call)
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(aerr.status)
		xml.NewEncoder(w).Encode(errorResponse{Code: aerr.code, Message: aerr.message, RequestID: requestID})
		return
	}
	s.calls = append(s.calls, call)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(res)
}

func values(m map[string]aws.Credentials) []aws.Credentials {
	out := make([]aws.Credentials, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	return out
}

// permissions reads IpPermissions.N.* from the form, one Permission per
// address range.
func permissions(form url.Values) ([]Permission, *apiError) {
	var out []Permission
	for n := 1; ; n++ {
		pre := "IpPermissions." + strconv.Itoa(n) + "."
		proto := form.Get(pre + "IpProtocol")
		if proto == "" {
			break
		}
		from, err1 := strconv.ParseInt(form.Get(pre+"FromPort"), 10, 32)
		to, err2 := strconv.ParseInt(form.Get(pre+"ToPort"), 10, 32)
		if err1 != nil || err2 != nil {
			return nil, &apiError{http.StatusBadRequest, "InvalidParameterValue", "Invalid value for portRange"}
		}
		for _, kind := range []string{"IpRanges", "Ipv6Ranges"} {
			field := "CidrIp"
			if kind == "Ipv6Ranges" {
				field = "CidrIpv6"
			}
			for m := 1; ; m++ {
				rp := pre + kind + "." + strconv.Itoa(m) + "."
				cidr := form.Get(rp + field)
				if cidr == "" {
					break
				}
				out = append(out, Permission{Protocol: proto, FromPort: int32(from), ToPort: int32(to), CIDR: cidr, Description: form.Get(rp + "Description")})
			}
		}
	}
	if len(out) == 0 {
		return nil, &apiError{http.StatusBadRequest, "MissingParameter", "The request must contain the parameter ipPermissions"}
	}
	return out, nil
}

func (s *Server) group(form url.Values, key string) (string, *apiError) {
	id := form.Get(key)
	if _, ok := s.groups[id]; !ok {
		return "", &apiError{http.StatusBadRequest, "InvalidGroup.NotFound", "The security group '" + id + "' does not exist"}
	}
	return id, nil
}

func (s *Server) authorize(form url.Values, requestID string) (any, *apiError) {
	g, e := s.group(form, "GroupId")
	if e != nil {
		return nil, e
	}
	perms, e := permissions(form)
	if e != nil {
		return nil, e
	}
	for _, p := range perms {
		if slices.ContainsFunc(s.groups[g], func(q Permission) bool { return q.key() == p.key() }) {
			return nil, &apiError{http.StatusBadRequest, "InvalidPermission.Duplicate",
				fmt.Sprintf("the specified rule \"peer: %s, %s, from port: %d, to port: %d, ALLOW\" already exists", p.CIDR, strings.ToUpper(p.Protocol), p.FromPort, p.ToPort)}
		}
	}
	s.groups[g] = append(s.groups[g], perms...)
	return changeResponse{XMLName: xml.Name{Space: Namespace, Local: "AuthorizeSecurityGroupIngressResponse"}, RequestID: requestID, Return: true}, nil
}

func (s *Server) revoke(form url.Values, requestID string) (any, *apiError) {
	g, e := s.group(form, "GroupId")
	if e != nil {
		return nil, e
	}
	perms, e := permissions(form)
	if e != nil {
		return nil, e
	}
	for _, p := range perms {
		if !slices.ContainsFunc(s.groups[g], func(q Permission) bool { return q.key() == p.key() }) {
			return nil, &apiError{http.StatusBadRequest, "InvalidPermission.NotFound", "The specified rule does not exist in this security group."}
		}
	}
	for _, p := range perms {
		s.groups[g] = slices.DeleteFunc(s.groups[g], func(q Permission) bool { return q.key() == p.key() })
	}
	return changeResponse{XMLName: xml.Name{Space: Namespace, Local: "RevokeSecurityGroupIngressResponse"}, RequestID: requestID, Return: true}, nil
}

func (s *Server) describe(form url.Values, requestID string) (any, *apiError) {
	out := describeResponse{RequestID: requestID}
	for n := 1; ; n++ {
		key := "GroupId." + strconv.Itoa(n)
		if form.Get(key) == "" {
			break
		}
		g, e := s.group(form, key)
		if e != nil {
			return nil, e
		}
		item := securityGroup{OwnerID: "123456789012", GroupID: g, GroupName: "whitelist-" + g, Description: "test group", VpcID: "vpc-0123456789abcdef0"}
		for _, p := range s.groups[g] {
			perm := ipPermission{Protocol: p.Protocol, FromPort: p.FromPort, ToPort: p.ToPort}
			if strings.Contains(p.CIDR, ":") {
				perm.Ipv6Ranges = []ipRange{{CIDRv6: p.CIDR, Description: p.Description}}
			} else {
				perm.IPRanges = []ipRange{{CIDR: p.CIDR, Description: p.Description}}
			}
			item.Ingress = append(item.Ingress, perm)
		}
		out.Groups = append(out.Groups, item)
	}
	return out, nil
}

// XML shapes, as EC2 writes them.

type errorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

type changeResponse struct {
	XMLName   xml.Name
	RequestID string `xml:"requestId"`
	Return    bool   `xml:"return"`
}

type describeResponse struct {
	XMLName   xml.Name        `xml:"http://ec2.amazonaws.com/doc/2016-11-15/ DescribeSecurityGroupsResponse"`
	RequestID string          `xml:"requestId"`
	Groups    []securityGroup `xml:"securityGroupInfo>item"`
}

type securityGroup struct {
	OwnerID     string         `xml:"ownerId"`
	GroupID     string         `xml:"groupId"`
	GroupName   string         `xml:"groupName"`
	Description string         `xml:"groupDescription"`
	VpcID       string         `xml:"vpcId"`
	Ingress     []ipPermission `xml:"ipPermissions>item"`
}

type ipPermission struct {
	Protocol   string    `xml:"ipProtocol"`
	FromPort   int32     `xml:"fromPort"`
	ToPort     int32     `xml:"toPort"`
	IPRanges   []ipRange `xml:"ipRanges>item"`
	Ipv6Ranges []ipRange `xml:"ipv6Ranges>item"`
}

type ipRange struct {
	CIDR        string `xml:"cidrIp,omitempty"`
	CIDRv6      string `xml:"cidrIpv6,omitempty"`
	Description string `xml:"description,omitempty"`
}
