package mcptool_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// rotating is a credential source whose token the test replaces.
type rotating struct {
	tok   atomic.Value // string
	calls atomic.Int32
}

func newRotating(tok string) *rotating {
	r := &rotating{}
	r.tok.Store(tok)
	return r
}

func (r *rotating) provider() provider.Provider {
	return provider.WithName(provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
		r.calls.Add(1)
		if profile != provider.DefaultProfile && profile != "staging" {
			return provider.Credentials{}, provider.NotFound("vaultish", profile, "/srv/secret/tokens.ini ["+profile+"]", "no such section")
		}
		return provider.NewCredentials(map[string]string{provider.FieldToken: r.tok.Load().(string)},
			provider.Source{Locator: "/srv/secret/tokens.ini [" + profile + "]"}), nil
	}), "vaultish")
}

// upstream is an API that accepts one token and, when asked, echoes it.
type upstream struct {
	mu     sync.Mutex
	want   string
	calls  int
	echo   bool
	reject bool // reject every token
}

var errUpstream = errors.New("upstream failed")

func (u *upstream) call(tok string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	if u.reject || tok != u.want {
		return "", fmt.Errorf("%w: API answered 401 for token %s", mcptool.ErrCredentialRejected, tok)
	}
	if u.echo {
		return "you sent " + tok, fmt.Errorf("%w: and I echo %s", errUpstream, tok)
	}
	return "ok", nil
}

type GetInput struct {
	mcptool.Selection
	Path  string `json:"path" jsonschema:"the API path"`
	Limit int    `json:"limit,omitempty" jsonschema:"at most this many items"`
}

type GetOutput struct {
	Body   string `json:"body"`
	Source string `json:"source"`
}

type env struct {
	r      *resolver.Resolver
	ct     *mcptool.Server
	cs     *mcp.ClientSession
	up     *upstream
	src    *rotating
	log    *bytes.Buffer
	failed func() bool
}

const token1 = "tok-ZqT9xWm2LkP8vRb5NcY7hJd4"

func newEnv(t testing.TB, o *mcptool.Options, ro func(*resolver.Options)) *env {
	t.Helper()
	e := &env{src: newRotating(token1), up: &upstream{want: token1}, log: &bytes.Buffer{}}
	var err error
	e.r, err = resolver.New([]provider.Provider{e.src.provider()}, func(opts *resolver.Options) {
		opts.Required = []string{provider.FieldToken}
		if ro != nil {
			ro(opts)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "0"}, nil)
	if o == nil {
		o = &mcptool.Options{}
	}
	if o.Logger == nil {
		var mu sync.Mutex
		o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, e.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e.ct, err = mcptool.New(srv, e.r, o)
	if err != nil {
		t.Fatal(err)
	}
	mcptool.AddTool(e.ct, &mcp.Tool{Name: "get", Description: "GET a path"}, func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
		var body string
		res, err := c.Do(ctx, func(ctx context.Context, creds provider.Credentials) error {
			var err error
			body, err = e.up.call(creds.Value(provider.FieldToken))
			return err
		})
		return GetOutput{Body: body, Source: res.Credentials.Source.Provider}, err
	})
	schema, err := jsonschema.For[GetInput](&jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		reflect.TypeFor[provider.Secret](): {Type: "string"}}})
	if err != nil {
		t.Fatal(err)
	}
	schema.Properties["path"].Pattern = "^/[a-z/]*$"
	min := 1.0
	schema.Properties["limit"].Minimum = &min
	mcptool.AddTool(e.ct, &mcp.Tool{Name: "strict", Description: "GET with constraints", InputSchema: schema},
		func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
			return GetOutput{Body: "ok"}, nil
		})
	st, ct := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(context.Background(), mcptool.Local(st), nil)
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "0"}, nil)
	e.cs, err = client.Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.cs.Close(); ss.Wait() })
	return e
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// call calls a tool and returns the whole result as JSON followed by the
// text of its content, and whether it is an error (a tool error or a
// JSON-RPC error).
func (e *env) call(t testing.TB, name string, args any) (string, bool) {
	t.Helper()
	res, err := e.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return err.Error(), true
	}
	b, _ := json.Marshal(res)
	out := string(b)
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			out += "\n" + tc.Text
		}
	}
	return out, res.IsError
}

func TestSchemaAdvertisesWhatTheOperatorOffers(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    mcptool.Options
		want []string // selection arguments shown
	}{
		{"default offers none", mcptool.Options{}, nil},
		{"request credentials", mcptool.Options{RequestCredentials: true}, []string{"credentials"}},
		{"profiles", mcptool.Options{Profiles: true}, []string{"credential_profile"}},
		{"everything", mcptool.Options{RequestCredentials: true, Profiles: true, References: true},
			[]string{"credentials", "credential_profile", "credential_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &tc.o, nil)
			tools, err := e.cs.ListTools(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, tool := range tools.Tools {
				b, _ := json.Marshal(tool.InputSchema)
				var s struct {
					Properties map[string]struct {
						Type                 any             `json:"type"`
						WriteOnly            bool            `json:"writeOnly"`
						Properties           map[string]any  `json:"properties"`
						AdditionalProperties json.RawMessage `json:"additionalProperties"`
					} `json:"properties"`
				}
				if err := json.Unmarshal(b, &s); err != nil {
					t.Fatal(err)
				}
				for _, arg := range []string{"credentials", "credential_profile", "credential_id"} {
					_, shown := s.Properties[arg]
					want := strings.Contains(strings.Join(tc.want, ","), arg)
					if shown != want {
						t.Errorf("%s: %s shown = %v, want %v: %s", tool.Name, arg, shown, want, b)
					}
				}
				if c, ok := s.Properties["credentials"]; ok {
					tok, _ := json.Marshal(c.Properties["token"])
					if c.Type != "object" || len(c.Properties) != 1 || string(tok) != `{"description":"API token for this call only","type":"string","writeOnly":true}` ||
						string(c.AdditionalProperties) != "false" {
						t.Errorf("%s: credentials schema: %s", tool.Name, b)
					}
				}
				if p := s.Properties["path"]; p.Type != "string" {
					t.Errorf("%s: path schema: %s", tool.Name, b)
				}
			}
		})
	}
}

func TestCallResolvesAndRetriesOnRotation(t *testing.T) {
	e := newEnv(t, nil, nil)
	if out, isErr := e.call(t, "get", map[string]any{"path": "/x"}); isErr || !strings.Contains(out, `"body":"ok"`) {
		t.Fatalf("first call: %s", out)
	}
	// The token rotates at the source; the cached one is rejected once.
	const token2 = "tok-Rotated7hJd4GsF6aQe1Ut0xx"
	e.src.tok.Store(token2)
	e.up.want = token2
	e.up.calls = 0
	out, isErr := e.call(t, "get", map[string]any{"path": "/x"})
	if isErr || !strings.Contains(out, `"body":"ok"`) || e.up.calls != 2 {
		t.Fatalf("after rotation: %s (upstream calls %d, want 2)", out, e.up.calls)
	}
	// The source still holds a token the upstream rejects: no retry.
	e.up.reject = true
	e.up.calls = 0
	out, isErr = e.call(t, "get", map[string]any{"path": "/x"})
	if !isErr || e.up.calls != 1 || !strings.Contains(out, "still holds the same credential") {
		t.Fatalf("rejected, unchanged: %s (upstream calls %d, want 1)", out, e.up.calls)
	}
	if strings.Contains(out, token2) || strings.Contains(out, "/srv/secret") {
		t.Fatalf("leaked: %s", out)
	}
}

func TestRequestCredentialsAreNotRetried(t *testing.T) {
	e := newEnv(t, &mcptool.Options{RequestCredentials: true}, func(o *resolver.Options) { o.AllowRequestCredentials = true })
	const mine = "tok-FromTheCallZq3T9xWm2LkP8"
	out, isErr := e.call(t, "get", map[string]any{"path": "/x", "credentials": map[string]any{"token": mine}})
	if !isErr || e.up.calls != 1 || !strings.Contains(out, "passed in this call were rejected") || strings.Contains(out, mine) {
		t.Fatalf("%s (upstream calls %d, want 1)", out, e.up.calls)
	}
}

func TestUpstreamEchoIsScrubbed(t *testing.T) {
	for _, tok := range []string{token1, `tok<with>"json&escapes\and/slashes`} {
		t.Run("", func(t *testing.T) {
			e := newEnv(t, nil, nil)
			e.src.tok.Store(tok)
			e.up.want = tok
			e.up.echo = true
			// Upstream's error echoes the token.
			out, isErr := e.call(t, "get", map[string]any{"path": "/x"})
			if !isErr || !strings.Contains(out, "I echo [REDACTED]") {
				t.Fatalf("error: %s", out)
			}
			assertNoSecret(t, out, tok)
			// Upstream's answer echoes the token into the structured output.
			e.up.echo = false
			mcptool.AddTool(e.ct, &mcp.Tool{Name: "echo", Description: "echo"}, func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
				res, err := c.Resolve(ctx)
				return GetOutput{Body: "you sent " + res.Credentials.Value(provider.FieldToken), Source: res.Credentials.Source.Provider}, err
			})
			res, err := e.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"path": "/x"}})
			if err != nil || res.IsError {
				t.Fatalf("%v %v", err, res)
			}
			b, _ := json.Marshal(res)
			assertNoSecret(t, string(b), tok)
			if sc, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(sc), `"body":"you sent [REDACTED]"`) {
				t.Fatalf("structured content: %s", sc)
			}
		})
	}
}

// assertNoSecret fails if out holds v in any spelling the wire may use.
func assertNoSecret(t testing.TB, out, v string) {
	t.Helper()
	jv, _ := json.Marshal(v)
	for _, form := range []string{v, string(jv[1 : len(jv)-1])} {
		if strings.Contains(out, form) {
			t.Fatalf("the secret leaked: %s", out)
		}
	}
}

func TestModelFacingErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        mcptool.Options
		ro       func(*resolver.Options)
		args     map[string]any
		want     string
		detailed bool
	}{
		{"no credentials, default", mcptool.Options{Profiles: true, Hints: mcptool.Hints{Configure: "set API_TOKEN"}},
			func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile },
			map[string]any{"path": "/x", "credential_profile": "prod"}, "credential_profile: no credentials found (tried vaultish); set API_TOKEN", false},
		{"no credentials, detailed", mcptool.Options{Profiles: true, DetailedErrors: true},
			func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile },
			map[string]any{"path": "/x", "credential_profile": "prod"}, "/srv/secret/tokens.ini [prod]", true},
		{"profile refused", mcptool.Options{Profiles: true, OfferedProfiles: func() []string { return []string{"default", "staging"} },
			Hints: mcptool.Hints{Profiles: "the operator adds profiles to ~/.mcp/profiles.json"}}, nil,
			map[string]any{"path": "/x", "credential_profile": "prod"},
			`credential_profile names no profile this server offers (offered: "default", "staging"); the operator adds profiles to ~/.mcp/profiles.json`, false},
		{"request credentials not offered", mcptool.Options{Hints: mcptool.Hints{RequestCredentials: "the operator allows them with MCP_ALLOW_REQUEST_CREDENTIALS=true"}}, nil,
			map[string]any{"path": "/x", "credentials": map[string]any{"token": "x"}},
			"this server does not accept credentials in tool calls: leave out credentials and it uses the credentials its operator configured; the operator allows them with MCP_ALLOW_REQUEST_CREDENTIALS=true", false},
		{"offered by the tool, refused by the resolver", mcptool.Options{RequestCredentials: true}, nil,
			map[string]any{"path": "/x", "credentials": map[string]any{"token": "tok-abc"}},
			"this server does not accept credentials in tool calls", false},
		{"references refused", mcptool.Options{References: true, Hints: mcptool.Hints{References: "see MCP_ALLOWED_REFERENCES"}}, nil,
			map[string]any{"path": "/x", "credential_id": "env:API_TOKEN"},
			"credential_id is refused: the operator's policy does not allow what it reads; see MCP_ALLOWED_REFERENCES", false},
		{"references not offered", mcptool.Options{}, nil,
			map[string]any{"path": "/x", "credential_id": "env:API_TOKEN"},
			"this server accepts no credential references", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &tc.o, tc.ro)
			out, isErr := e.call(t, "get", tc.args)
			if !isErr || !strings.Contains(out, tc.want) {
				t.Fatalf("got %s\nwant %s", out, tc.want)
			}
			if !tc.detailed && strings.Contains(out, "/srv/secret") {
				t.Fatalf("a path reached the model: %s", out)
			}
		})
	}
}

func TestModelFacingErrorsLogTheFullAccount(t *testing.T) {
	e := newEnv(t, &mcptool.Options{Profiles: true}, func(o *resolver.Options) { o.AllowProfile = resolver.AnyProfile })
	out, _ := e.call(t, "get", map[string]any{"path": "/x", "credential_profile": "prod"})
	if strings.Contains(out, "tokens.ini") {
		t.Fatalf("model sees the path: %s", out)
	}
	if !strings.Contains(e.log.String(), "/srv/secret/tokens.ini [prod]") {
		t.Fatalf("the operator's log lacks the full account: %s", e.log.String())
	}
}

func TestHTTPClientRetriesOn401AndScrubs(t *testing.T) {
	var mu sync.Mutex
	want, hits := token1, 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hits++
		if r.Header.Get("Authorization") != "Bearer "+want {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "hello; your header was %s", r.Header.Get("Authorization"))
	}))
	defer api.Close()
	e := newEnv(t, nil, nil)
	mcptool.AddTool(e.ct, &mcp.Tool{Name: "http_get", Description: "GET"}, func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
		client, err := c.HTTPClient(ctx, nil)
		if err != nil {
			return GetOutput{}, err
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", api.URL+in.Path, nil)
		resp, err := client.Do(req)
		if err != nil {
			return GetOutput{}, err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		if resp.StatusCode != 200 {
			return GetOutput{}, fmt.Errorf("the API answered %s", resp.Status)
		}
		return GetOutput{Body: b.String()}, nil
	})
	if out, isErr := e.call(t, "http_get", map[string]any{"path": "/x"}); isErr || !strings.Contains(out, "Bearer [REDACTED]") {
		t.Fatalf("%s", out)
	}
	const token2 = "tok-SecondOne9xWm2LkP8vRb5Nc"
	mu.Lock()
	want, hits = token2, 0
	mu.Unlock()
	e.src.tok.Store(token2)
	out, isErr := e.call(t, "http_get", map[string]any{"path": "/x"})
	if isErr || hits != 2 || !strings.Contains(out, "Bearer [REDACTED]") {
		t.Fatalf("after rotation: %s (hits %d, want 2)", out, hits)
	}
	assertNoSecret(t, out, token2)
}
