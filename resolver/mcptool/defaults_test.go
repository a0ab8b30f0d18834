package mcptool_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

type portArgs struct {
	Port     int    `json:"port,omitempty" default:"443" jsonschema:"the port"`
	Protocol string `json:"protocol,omitempty" default:"tcp"`
}

type defaultsInput struct {
	portArgs
	Verbose bool `json:"verbose,omitempty" default:"true"`
	Name    string
	mcptool.Selection
}

// A default tag, on a field of In or of a struct it embeds, becomes the
// property's default in tools/list, and the SDK fills it in for a call
// that omits the argument; an explicit value is kept.
func TestAddToolDefaultTags(t *testing.T) {
	r, err := resolver.New([]provider.Provider{provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{provider.FieldToken: "tok-0123456789"}, provider.Source{}), nil
	}), "static")})
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "defaults", Version: "0"}, nil)
	ct, err := mcptool.New(srv, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	mcptool.AddTool(ct, &mcp.Tool{Name: "echo", Description: "echo"}, func(_ context.Context, _ *mcptool.Call, in defaultsInput) (defaultsInput, error) {
		return in, nil
	})
	st, ct2 := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := srv.Connect(ctx, mcptool.Local(st), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(ctx, ct2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tools.Tools[0].InputSchema)
	var schema struct {
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"properties"`
	}
	json.Unmarshal(b, &schema)
	for prop, want := range map[string]string{"port": "443", "protocol": `"tcp"`, "verbose": "true", "Name": ""} {
		if got := string(schema.Properties[prop].Default); got != want {
			t.Errorf("%s default = %s, want %s (%s)", prop, got, want, b)
		}
	}
	for args, want := range map[string]string{
		`{"Name":"x"}`: `"port":443,"protocol":"tcp"`,
		`{"Name":"x","port":8443,"protocol":"udp"}`: `"port":8443,"protocol":"udp"`,
	} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: json.RawMessage(args)})
		if err != nil || res.IsError {
			t.Fatalf("%s: %v %+v", args, err, res)
		}
		out, _ := json.Marshal(res.StructuredContent)
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: result %s, want %s", args, out, want)
		}
	}
}

// A default tag that is not JSON (for a non-string property) makes AddTool
// panic, as a schema it cannot build does.
func TestAddToolBadDefaultTagPanics(t *testing.T) {
	type bad struct {
		Port int `json:"port,omitempty" default:"four"`
	}
	r, _ := resolver.New(nil)
	ct, err := mcptool.New(mcp.NewServer(&mcp.Implementation{Name: "bad", Version: "0"}, nil), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "field Port: its default tag is not JSON") {
			t.Fatalf("panic = %v", p)
		}
	}()
	mcptool.AddTool(ct, &mcp.Tool{Name: "bad"}, func(context.Context, *mcptool.Call, bad) (bad, error) { return bad{}, nil })
}
