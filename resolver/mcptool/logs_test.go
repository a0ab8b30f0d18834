package mcptool_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// serve connects a client to a new mcp.Server whose credential layer
// resolves through r, after register has added its tools.
func serve(t *testing.T, r *resolver.Resolver, o *mcptool.Options, register func(*mcptool.Server)) *mcp.ClientSession {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "0"}, nil)
	ct, err := mcptool.New(srv, r, o)
	if err != nil {
		t.Fatal(err)
	}
	register(ct)
	st, clt := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(context.Background(), mcptool.Local(st), nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "0"}, nil).Connect(context.Background(), clt, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close(); ss.Wait() })
	return cs
}

func callText(t *testing.T, cs *mcp.ClientSession, tool string, args any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return err.Error(), true
	}
	b, _ := json.Marshal(res)
	return string(b), res.IsError
}

// Code that serves a call (a provider written elsewhere, a handler) may
// format the call's argument text into a log record. Through a LogHandler
// given as Options.ScrubLogs, no such record holds it, whether it was
// logged with the call's context or without; names stay readable.
func TestLogHandlerScrubsCallsInFlight(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	lh := mcptool.NewLogHandler(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	log := slog.New(lh).With("component", "lib")
	r, err := resolver.New([]provider.Provider{newRotating(token1).provider()}, func(o *resolver.Options) {
		o.Required = []string{provider.FieldToken}
		o.Logger = log
	})
	if err != nil {
		t.Fatal(err)
	}
	cs := serve(t, r, &mcptool.Options{ScrubLogs: lh, Logger: log}, func(ct *mcptool.Server) {
		mcptool.AddTool(ct, &mcp.Tool{Name: "get"}, func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
			log.InfoContext(ctx, "fetching "+in.Path, "path", in.Path, "err", errors.New("no such "+in.Path), "group", slog.GroupValue(slog.String("p", in.Path)))
			log.Info("without the context: " + in.Path)
			return GetOutput{Body: "ok"}, nil
		})
	})
	for _, c := range secretLooking {
		if _, isErr := callText(t, cs, "get", map[string]any{"path": "/items/" + c}); isErr {
			t.Fatal("the call failed")
		}
	}
	callText(t, cs, "get", map[string]any{"path": "production"})
	out := buf.String()
	for _, c := range secretLooking {
		if strings.Contains(out, c) {
			t.Errorf("the log holds %s:\n%s", c, out)
		}
	}
	if !strings.Contains(out, "fetching production") || !strings.Contains(out, "component=lib") {
		t.Errorf("names and the logger's own attributes should stay readable:\n%s", out)
	}
	// Once no call is in flight, records pass unchanged.
	log.Info("after: " + secretLooking[0])
	if !strings.Contains(buf.String(), "after: "+secretLooking[0]) {
		t.Errorf("a record logged outside any call was changed:\n%s", buf.String())
	}
}

// The SDK formats request data into some debug messages: SDKLogHandler
// keeps the fixed start of the message and renders attributes through
// provider.Describe.
func TestSDKLogHandler(t *testing.T) {
	for _, c := range secretLooking {
		var buf bytes.Buffer
		log := slog.New(mcptool.SDKLogHandler(slog.NewTextHandler(&buf, nil))).With("session", c)
		log.Info(`calling tools/call: unmarshaling "`+c+`"`, "params", c, "err", errors.New(c), "ok", "tools/call")
		out := buf.String()
		if strings.Contains(out, c) || !strings.Contains(out, "calling tools/call") && !strings.Contains(out, "calling tools/call (details") {
			t.Errorf("%s", out)
		}
		if !strings.Contains(out, `ok="\"tools/call\""`) && !strings.Contains(out, `tools/call`) {
			t.Errorf("a name was hidden: %s", out)
		}
	}
}

// A credentials argument holding only plain fields (a region) is no
// request for credentials: it counts for none of the one-of rule, and the
// call resolves the server's own credentials; the handler reads the region.
func TestPlainOnlyCredentialsSelectNothing(t *testing.T) {
	r, err := resolver.New([]provider.Provider{newRotating(token1).provider()}, func(o *resolver.Options) {
		o.Required = []string{provider.FieldToken}
		o.AllowRequestCredentials = true
	})
	if err != nil {
		t.Fatal(err)
	}
	fields := []mcptool.Field{{Name: provider.FieldToken}, {Name: provider.FieldRegion, Plain: true}}
	cs := serve(t, r, &mcptool.Options{Fields: fields, RequestCredentials: true}, func(ct *mcptool.Server) {
		mcptool.AddTool(ct, &mcp.Tool{Name: "get"}, func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
			res, err := c.Resolve(ctx)
			if err != nil {
				return GetOutput{}, err
			}
			return GetOutput{Body: c.Selection().Credentials[provider.FieldRegion].Reveal(), Source: res.Credentials.Source.Provider}, nil
		})
	})
	out, isErr := callText(t, cs, "get", map[string]any{"path": "/x", "credentials": map[string]any{"region": "eu-west-1"}})
	if isErr || !strings.Contains(out, `"body":"eu-west-1"`) || !strings.Contains(out, `"source":"vaultish"`) {
		t.Errorf("region alone: %s", out)
	}
	out, isErr = callText(t, cs, "get", map[string]any{"path": "/x", "credentials": map[string]any{"token": "tok-" + strings.Repeat("Zq3", 8)}})
	if isErr || !strings.Contains(out, `"source":"request"`) {
		t.Errorf("a token is request credentials: %s", out)
	}
}

// An integer argument takes only an integer literal that fits: 1.5, 1e3,
// 1.0 and 1e30 are refused by the guard, with a message that names the
// argument, before the SDK's decoder could fail with one quoting the value.
func TestIntegerArgumentRefusesOtherNumbers(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, raw := range []string{"1.5", "1e3", "1.0", "1e30", "99999999999999999999"} {
		out, isErr := e.call(t, "get", json.RawMessage(`{"path":"/x","limit":`+raw+`}`))
		if !isErr || !strings.Contains(out, "argument limit must be an integer") {
			t.Errorf("limit %s: %s", raw, out)
		}
	}
	if out, isErr := e.call(t, "get", json.RawMessage(`{"path":"/x","limit":-7}`)); isErr {
		t.Errorf("limit -7: %s", out)
	}
}

// A broken source is named with what is wrong with it, in words without a
// path; a reference that does not parse is refused with the parser's
// reason, which never quotes it.
func TestErrorsSayWhatIsBroken(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"malformed", &provider.SyntaxError{Path: "/srv/secret/x.ini", Format: "INI", Line: 3, Reason: "no ]", Err: errors.New("ini: malformed")}, "misconfigured (ini: a malformed INI file)"},
		{"insecure", &securefile.PermissionError{Path: "/srv/secret/x.ini"}, "misconfigured (ini: a file other users could read or change)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broken := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
				return provider.Credentials{}, tc.err
			}), "ini")
			r, err := resolver.New([]provider.Provider{broken})
			if err != nil {
				t.Fatal(err)
			}
			cs := serve(t, r, nil, func(ct *mcptool.Server) {
				mcptool.AddTool(ct, &mcp.Tool{Name: "get"}, func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
					_, err := c.Resolve(ctx)
					return GetOutput{}, err
				})
			})
			out, isErr := callText(t, cs, "get", map[string]any{"path": "/x"})
			if !isErr || !strings.Contains(out, tc.want) || strings.Contains(out, "/srv/secret") {
				t.Errorf("%s", out)
			}
		})
	}
	e := newEnv(t, &mcptool.Options{References: true}, nil)
	for _, c := range secretLooking {
		out, _ := e.call(t, "get", map[string]any{"path": "/x", "credential_id": c})
		if !strings.Contains(out, "credential_id is not a credential reference this server reads: it has no scheme") || strings.Contains(out, c) {
			t.Errorf("%s", out)
		}
	}
}
