package mcptool_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// secretLooking is text a model may paste into any argument.
var secretLooking = []string{
	"AKIAIOSFODNN7EXAMPLE",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"ghp_Zq3T9xWm2LkP8vRb5NcY7hJd4GsF6aQe1Ut0",
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
	"kqzjxwvmtnbplrhgfdyscoae",
}

func TestCanaryArgumentsNeverEchoed(t *testing.T) {
	type tc struct {
		name string
		tool string
		args func(c string) any
		want string // in the message
	}
	cases := []tc{
		{"unknown argument name", "get", func(c string) any { return map[string]any{"path": "/x", c: "v"} }, "unknown argument"},
		{"unknown argument value", "get", func(c string) any { return map[string]any{"path": "/x", "tokne": c} }, "unknown argument"},
		{"string for an integer", "get", func(c string) any { return map[string]any{"path": "/x", "limit": c} }, "argument limit must be an integer"},
		{"object for a string", "get", func(c string) any { return map[string]any{"path": map[string]any{"k": c}} }, "argument path must be a string"},
		{"arguments not an object", "get", func(c string) any { return []string{c} }, "must be a JSON object"},
		{"required missing", "get", func(c string) any { return map[string]any{"credential_profile": c} }, "argument path is required"},
		{"credentials unknown field", "get", func(c string) any {
			return map[string]any{"path": "/x", "credentials": map[string]any{"tokn": c}}
		}, "credentials has an unknown field"},
		{"credentials field named by the secret", "get", func(c string) any {
			return map[string]any{"path": "/x", "credentials": map[string]any{c: "x"}}
		}, "credentials has an unknown field"},
		{"credentials value not a string", "get", func(c string) any {
			return map[string]any{"path": "/x", "credentials": map[string]any{"token": []string{c}}}
		}, "credentials.token must be a string"},
		{"credentials not an object", "get", func(c string) any { return map[string]any{"path": "/x", "credentials": c} }, "argument credentials must be an object"},
		{"one-of: credentials and profile", "get", func(c string) any {
			return map[string]any{"path": "/x", "credentials": map[string]any{"token": c}, "credential_profile": c}
		}, "give at most one of credentials, credential_profile and credential_id; this call gave credentials and credential_profile"},
		{"one-of: all three", "get", func(c string) any {
			return map[string]any{"path": "/x", "credentials": map[string]any{"token": c}, "credential_profile": c, "credential_id": "env:" + c}
		}, "this call gave credentials and credential_profile and credential_id"},
		{"pattern (the SDK's validation)", "strict", func(c string) any { return map[string]any{"path": c} }, "argument path does not satisfy its schema"},
		{"profile not offered", "get", func(c string) any { return map[string]any{"path": "/x", "credential_profile": c} }, "credential_profile names no profile"},
		{"reference refused", "get", func(c string) any { return map[string]any{"path": "/x", "credential_id": "env:" + c} }, "credential_id"},
		{"reference malformed", "get", func(c string) any { return map[string]any{"path": "/x", "credential_id": c} }, "credential_id"},
		{"invalid request credentials", "get", func(c string) any {
			return map[string]any{"path": "/x", "credentials": map[string]any{"token": c + "\x01"}}
		}, "credentials: field token holds control characters"},
		{"unknown tool", "", func(c string) any { return map[string]any{"path": c} }, "unknown tool"},
		{"handler error quoting an argument", "echo_arg", func(c string) any { return map[string]any{"path": "/x/" + c} }, "no such path [REDACTED]"},
	}
	e := newEnv(t, &mcptool.Options{RequestCredentials: true, Profiles: true, References: true},
		func(o *resolver.Options) { o.AllowRequestCredentials = true })
	mcptool.AddTool(e.ct, &mcp.Tool{Name: "echo_arg", Description: "fails quoting its argument"},
		func(ctx context.Context, c *mcptool.Call, in GetInput) (GetOutput, error) {
			return GetOutput{}, fmt.Errorf("no such path %s", in.Path)
		})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range secretLooking {
				tool := tc.tool
				if tool == "" {
					tool = c
				}
				out, isErr := e.call(t, tool, tc.args(c))
				if !isErr || !strings.Contains(out, tc.want) {
					t.Errorf("%s: got %s\nwant an error saying %q", c, out, tc.want)
				}
				if strings.Contains(out, c) {
					t.Errorf("the argument came back: %s", out)
				}
				if strings.Contains(e.log.String(), c) {
					t.Errorf("the argument reached the operator's log: %s", e.log.String())
				}
			}
		})
	}
}

func TestCanaryArgumentsNotOffered(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, args := range []func(c string) any{
		func(c string) any { return map[string]any{"path": "/x", "credentials": map[string]any{"token": c}} },
		func(c string) any { return map[string]any{"path": "/x", "credential_profile": c} },
		func(c string) any { return map[string]any{"path": "/x", "credential_id": c} },
	} {
		for _, c := range secretLooking {
			out, isErr := e.call(t, "get", args(c))
			if !isErr || !strings.Contains(out, "leave out") || strings.Contains(out, c) {
				t.Errorf("%s", out)
			}
		}
	}
}

// TestTransportRewritesErrors sends a tools/call whose params do not
// decode: the SDK's message quotes the request, and the transport replaces
// it.
func TestTransportRewritesErrors(t *testing.T) {
	e := newEnv(t, nil, nil)
	_ = e
	srv := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	if _, err := mcptool.New(srv, e.r, nil); err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go srv.Run(context.Background(), mcptool.IOTransport(inR, outW))
	canary := secretLooking[2]
	go func() {
		io.WriteString(inW, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"0"}}}`+"\n")
		io.WriteString(inW, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n")
		io.WriteString(inW, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":7,"arguments":{"token":"`+canary+`"}}}`+"\n")
	}()
	buf := make([]byte, 0, 4096)
	for !strings.Contains(string(buf), `"id":2`) {
		p := make([]byte, 1024)
		n, err := outR.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf, p[:n]...)
	}
	inW.Close()
	out := string(buf)
	if strings.Contains(out, canary) || !strings.Contains(out, "invalid params") {
		t.Fatalf("%s", out)
	}
}
