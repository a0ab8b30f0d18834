package mcptool_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/internal/testop"
	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// enrollRig is a remote server whose profile "mine" reads each caller's
// token from DIR/sub-SUBJECT.json, with an Enroller that records what it
// offered; complete stores a caller's token as an enrollment page would
// and notifies the session.
type enrollRig struct {
	op    *testop.OP
	url   string
	dir   string
	r     *resolver.Resolver
	mu    sync.Mutex
	asked []string // profiles Enroll was asked for
	ss    map[string]*mcp.ServerSession
}

func newEnrollRig(t *testing.T, clients ...testop.Client) *enrollRig {
	t.Helper()
	rig := &enrollRig{dir: t.TempDir(), ss: map[string]*mcp.ServerSession{}}
	if err := os.Chmod(rig.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	rig.url = "http://" + ts.Listener.Addr().String() + "/mcp"
	var err error
	if rig.op, err = testop.Start(rig.url, clients...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rig.op.Close() })
	profiles := filepath.Join(rig.dir, "profiles.json")
	users := filepath.Join(rig.dir, "users")
	if err := os.Mkdir(users, 0o700); err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"profiles": map[string]any{
		"mine":   map[string]any{"source": "secretfile:" + users + "/{sub}", "allow": map[string]any{"issuers": []string{rig.op.Issuer}}},
		"shared": map[string]any{"source": "secretfile:" + users + "/shared", "allow": map[string]any{"issuers": []string{rig.op.Issuer}}},
	}})
	if err := os.WriteFile(profiles, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	var schemes provider.Schemes
	schemes.Register("secretfile", secretfile.Scheme())
	pp, err := profile.New(&schemes, func(o *profile.Options) { o.Path = profiles })
	if err != nil {
		t.Fatal(err)
	}
	rig.r, err = resolver.New([]provider.Provider{pp}, func(o *resolver.Options) {
		o.Profile, o.Required, o.AllowProfile = "mine", []string{provider.FieldToken}, pp.Allows
	})
	if err != nil {
		t.Fatal(err)
	}
	verify, err := mcptool.NewOIDCVerifier(context.Background(), rig.op.Issuer, rig.url)
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "enroll", Version: "0"}, nil)
	ct, err := mcptool.New(srv, rig.r, &mcptool.Options{Profiles: true, Enroll: mcptool.EnrollerFunc(
		func(ctx context.Context, ss *mcp.ServerSession, c *provider.Caller, name string) (*mcp.ElicitParams, bool, error) {
			rig.mu.Lock()
			defer rig.mu.Unlock()
			rig.asked = append(rig.asked, name)
			if _, _, err := pp.StoreFor(c, name); err != nil && !errors.Is(err, provider.ErrReadOnly) {
				return nil, false, nil // not per subject, not offered: nothing to enroll
			}
			id := fmt.Sprintf("e%d-%s", len(rig.asked), c.Subject)
			rig.ss[id] = ss
			return &mcp.ElicitParams{Mode: "url", URL: "https://mcp.example.com/enroll/start?t=opaque", ElicitationID: id,
				Message: "Add your API token for this server in the browser."}, true, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	mcptool.AddTool(ct, &mcp.Tool{Name: "whoami", Description: "whose credential a call gets"}, func(ctx context.Context, c *mcptool.Call, in WhoInput) (WhoOutput, error) {
		res, err := c.Resolve(ctx)
		if err != nil {
			return WhoOutput{}, err
		}
		return WhoOutput{Caller: c.Caller().Subject, Fingerprint: fingerprint(res.Credentials.Value(provider.FieldToken))}, nil
	})
	if h, err = mcptool.HTTPHandler(srv, verify, mcptool.HTTPOptions{ResourceURL: rig.url, AuthorizationServers: []string{rig.op.Issuer}}); err != nil {
		t.Fatal(err)
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return rig
}

// complete stores sub's token, drops the resolver's cached answer and
// notifies the session that was sent to enroll, as resolver/enroll does.
func (rig *enrollRig) complete(t *testing.T, id, sub, token string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"token": token})
	if err := os.WriteFile(filepath.Join(rig.dir, "users", profile.EncodeSubject(sub)+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	rig.r.InvalidateFor(&provider.Caller{Issuer: rig.op.Issuer, Subject: sub}, "mine")
	rig.mu.Lock()
	ss := rig.ss[id]
	rig.mu.Unlock()
	if err := ss.NotifyElicitationComplete(context.Background(), &mcp.ElicitationCompleteParams{ElicitationID: id}); err != nil {
		t.Fatal(err)
	}
}

func (rig *enrollRig) client(t *testing.T, tok string, url bool, done chan<- string) *mcp.ClientSession {
	t.Helper()
	opts := &mcp.ClientOptions{ElicitationCompleteHandler: func(_ context.Context, r *mcp.ElicitationCompleteNotificationRequest) {
		done <- r.Params.ElicitationID
	}}
	if url {
		opts.Capabilities = &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{URL: &mcp.URLElicitationCapabilities{}}}
		opts.ElicitationHandler = func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept"}, nil
		}
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, opts).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: rig.url, HTTPClient: &http.Client{Transport: bearer{tok}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// TestEnrollmentElicitation: a verified caller whose own source holds
// nothing gets URLElicitationRequired with the Enroller's URL (a client
// that declared URL elicitation) and, once the credential is stored and
// the session notified, the retried call succeeds.
func TestEnrollmentElicitation(t *testing.T) {
	alice := user("alice")
	rig := newEnrollRig(t, alice)
	done := make(chan string, 4)
	cs := rig.client(t, mustToken(t, rig.op, alice), true, done)

	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	var we *jsonrpc.Error
	if !errors.As(err, &we) || we.Code != mcp.CodeURLElicitationRequired {
		t.Fatalf("first call: %v, want JSON-RPC error %d", err, mcp.CodeURLElicitationRequired)
	}
	var data struct{ Elicitations []mcp.ElicitParams }
	if err := json.Unmarshal(we.Data, &data); err != nil || len(data.Elicitations) != 1 {
		t.Fatalf("error data %s: %v", we.Data, err)
	}
	e := data.Elicitations[0]
	if e.Mode != "url" || e.URL != "https://mcp.example.com/enroll/start?t=opaque" || e.ElicitationID != "e1-alice" || e.Message == "" {
		t.Fatalf("elicitation %+v", e)
	}

	rig.complete(t, e.ElicitationID, "alice", "tok-alice-enrolled-0123456789")
	select {
	case id := <-done:
		if id != e.ElicitationID {
			t.Fatalf("completed %q, want %q", id, e.ElicitationID)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no notifications/elicitation/complete")
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("retried call: %v %+v", err, res)
	}
	var out WhoOutput
	b, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(b, &out)
	if out.Caller != "alice" || out.Fingerprint != fingerprint("tok-alice-enrolled-0123456789") {
		t.Fatalf("retried call answered %+v", out)
	}
}

// TestEnrollmentWithoutURLElicitation: a client that did not declare URL
// elicitation gets a tool error that gives the URL and says not to paste
// the secret into the chat; an explicit credential_profile is what is
// enrolled; a profile the Enroller does not offer fails as before.
func TestEnrollmentWithoutURLElicitation(t *testing.T) {
	bob := user("bob")
	rig := newEnrollRig(t, bob)
	cs := rig.client(t, mustToken(t, rig.op, bob), false, make(chan string, 4))
	for _, tc := range []struct {
		args    map[string]any
		profile string
		want    string
	}{
		{map[string]any{}, "mine", "open https://mcp.example.com/enroll/start?t=opaque in a browser"},
		{map[string]any{"credential_profile": "mine"}, "mine", "never paste it into this chat"},
		{map[string]any{"credential_profile": "shared"}, "shared", "misconfigured"},
	} {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: tc.args})
		if err != nil || !res.IsError {
			t.Fatalf("%v: %v %+v, want a tool error", tc.args, err, res)
		}
		text := res.Content[0].(*mcp.TextContent).Text
		if !strings.Contains(text, tc.want) {
			t.Errorf("%v: %q, want it to hold %q", tc.args, text, tc.want)
		}
		rig.mu.Lock()
		last := rig.asked[len(rig.asked)-1]
		rig.mu.Unlock()
		if last != tc.profile {
			t.Errorf("%v: Enroll asked for %q, want %q", tc.args, last, tc.profile)
		}
	}
}

func mustToken(t *testing.T, op *testop.OP, c testop.Client) string {
	t.Helper()
	tok, err := op.Token(context.Background(), c.ID, c.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestHTTPPages: pages are served beside MCP without a bearer token; a
// pattern that would shadow MCP or its metadata is refused.
func TestHTTPPages(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "p", Version: "0"}, nil)
	verify := func(context.Context, string, *http.Request) (*auth.TokenInfo, error) {
		return nil, auth.ErrInvalidToken
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page "+r.URL.Path) })
	for _, bad := range []string{"/mcp", "GET /mcp", "/mcp/{$}", mcptool.WellKnownPRM, mcptool.WellKnownPRM + "/mcp", "example.com/enroll/", "enroll/", "/enroll/{"} {
		if _, err := mcptool.HTTPHandler(srv, verify, mcptool.HTTPOptions{ResourceURL: "http://127.0.0.1:1/mcp",
			AuthorizationServers: []string{"http://127.0.0.1:2"}, Pages: map[string]http.Handler{bad: page}}); err == nil {
			t.Errorf("Pages[%q] accepted", bad)
		}
	}
	h, err := mcptool.HTTPHandler(srv, verify, mcptool.HTTPOptions{ResourceURL: "http://127.0.0.1:1/mcp",
		AuthorizationServers: []string{"http://127.0.0.1:2"}, Pages: map[string]http.Handler{"/enroll/": page}})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/enroll/": 200, "/enroll/start": 200, "/mcp": 401} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}

// relayIn is the argument of the tools of TestForeignURLElicitation.
type relayIn struct {
	Text string `json:"text"`
}

// foreignElicitation is what a tool could return that relays an upstream's
// URLElicitationRequired answer (-32042): text from the request in the
// message, in the elicitation's message, URL, id and _meta.
func foreignElicitation(text string) error {
	data, _ := json.Marshal(map[string]any{"elicitations": []map[string]any{{
		"mode": "url", "url": "https://upstream.example.com/x?q=" + text, "elicitationId": "id-" + text,
		"message": "upstream says " + text, "_meta": map[string]any{"echo": text},
	}}})
	return &jsonrpc.Error{Code: mcp.CodeURLElicitationRequired, Message: "upstream quoted " + text, Data: data}
}

// TestForeignURLElicitation: the transports let a URLElicitationRequired
// error (-32042) through with its data, for the Enroller's link. A tool's
// own -32042 (one that relays an upstream's answer, quoting the request)
// is not the Enroller's: it reaches the client without any text of the
// request, whether the tool is registered through AddTool or directly on
// the SDK's server; and what does pass carries the fixed message and no
// _meta.
func TestForeignURLElicitation(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	r, err := resolver.New([]provider.Provider{provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return provider.Credentials{}, nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mcptool.New(srv, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	mcptool.AddTool(ms, &mcp.Tool{Name: "relay"}, func(ctx context.Context, c *mcptool.Call, in relayIn) (struct{}, error) {
		return struct{}{}, foreignElicitation(in.Text)
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "raw"}, func(ctx context.Context, req *mcp.CallToolRequest, in relayIn) (*mcp.CallToolResult, struct{}, error) {
		return nil, struct{}{}, foreignElicitation(in.Text)
	})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go srv.Run(context.Background(), mcptool.IOTransport(inR, outW))
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	const canary = "sk-live-9Zq7RelayCanary31"
	for _, name := range []string{"relay", "raw"} {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: map[string]any{"text": canary}})
		var shown string
		if res != nil {
			b, _ := json.Marshal(res)
			shown += string(b)
		}
		if err != nil {
			shown += err.Error()
			var we *jsonrpc.Error
			if errors.As(err, &we) {
				shown += we.Message + string(we.Data)
			}
		}
		if shown == "" {
			t.Fatalf("%s: no answer", name)
		}
		if strings.Contains(shown, canary) || strings.Contains(shown, `"echo"`) {
			t.Errorf("%s: the client was shown request text: %s", name, shown)
		}
	}
}
