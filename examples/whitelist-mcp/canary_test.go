package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// Secret-looking text a model may paste into any argument. None of it may
// come back: not in a tool result (text or structured content), not in a
// JSON-RPC error, not in the log.
var canaries = []string{
	"AKIAIOSFODNN7EXAMPLE",                          // an AWS access key ID
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",      // an AWS secret key
	"ghp_" + "Zq3T9xWm2LkP8vRb5NcY7hJd4GsF6aQe1Ut0", // a GitHub token
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",      // 40 hex digits
	"kqzjxwvmtnbplrhgfdyscoae",                      // 24 lower-case letters
}

// leaked reports whether s holds c, or a 12-byte run of it (a cut or
// partly escaped echo).
func leaked(s, c string) bool {
	if strings.Contains(s, c) {
		return true
	}
	for i := 0; i+12 <= len(c); i += 4 {
		if strings.Contains(s, c[i:i+12]) {
			return true
		}
	}
	return false
}

// canaryCalls returns, for canary c, tool calls that each fail and each
// carry c in one or more arguments: every argument, every selection kind,
// wrong types, unknown arguments and fields, oversize input.
func canaryCalls(c string) []map[string]any {
	rule := map[string]any{"security_group_id": sg, "ip_address": "203.0.113.7"}
	with := func(kv ...any) map[string]any {
		m := maps.Clone(rule)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	big := strings.Repeat(c+" ", 2000/len(c))
	calls := []map[string]any{
		// Each argument in turn.
		with("security_group_id", c), with("security_group_id", "sg-"+c), with("security_group_id", "sg-"+strings.ToLower(c)),
		with("ip_address", c), with("ip_address", c+"/8"), with("ip_address", "10.0.0.0/"+c), with("ip_address", "::ffff:"+c),
		with("port", c), with("port", []any{c}), with("port", map[string]any{"p": c}),
		with("protocol", c), with("protocol", []any{c}),
		with("description", c, "port", 0), with("description", c+"<"), with("description", big), with("description", c, "ip_address", "0.0.0.0/1"),
		// Credentials in the call.
		with("credentials", c), with("credentials", []any{c}),
		with("credentials", map[string]any{"access_key_id": c}),
		with("credentials", map[string]any{"secret_access_key": c}),
		with("credentials", map[string]any{"session_token": c}),
		with("credentials", map[string]any{"access_key_id": c, "secret_access_key": c}),
		with("credentials", map[string]any{"access_key_id": "AKIACANARYTESTXXXXXX", "secret_access_key": c, "session_token": c}),
		with("credentials", map[string]any{"region": c}),
		with("credentials", map[string]any{"region": c, "access_key_id": c}),
		with("credentials", map[string]any{c: c}),
		with("credentials", map[string]any{"secret_access_key": 12345, "access_key_id": c}),
		with("credentials", map[string]any{"secret_access_key": c + "\x00"}),
		with("credentials", map[string]any{"secret_access_key": strings.Repeat(c, 5000/len(c)+1), "access_key_id": "AKIACANARYTESTXXXXXX"}),
		// credential_id, in every form a reference takes.
		with("credential_id", c), with("credential_id", c+":x"), with("credential_id", "file:"+c), with("credential_id", "file:/"+c),
		with("credential_id", "file:~/"+c+"?profile="+c), with("credential_id", "file:~/"+c+"?profile="+c+"#"+c), with("credential_id", "file:"+c+"#"+c),
		with("credential_id", "file:/tmp/"+c+"?"+c+"="+c), with("credential_id", "file:"+c+"?profile=x"),
		with("credential_id", "env:"+c), with("credential_id", "env:"+c+"_*"), with("credential_id", "env:"+c+"#"+c), with("credential_id", "env:A,"+c),
		with("credential_id", "keychain:"+c), with("credential_id", "keychain:"+c+"#"+c), with("credential_id", "keychain:"+c+"/"+c),
		with("credential_id", "secretfile:"+c), with("credential_id", "secretfile:/run/secrets/"+c), with("credential_id", "secretfile:"+c+"?label="+c),
		with("credential_id", "vault:secret/data/"+c), with("credential_id", "vault:secret/data/"+c+"?version="+c),
		with("credential_id", "ssm:/"+c), with("credential_id", "ssm:/mcp/"+c+"?version=3#"+c), with("credential_id", "ssm:/mcp/x?label="+c+"#token"),
		with("credential_id", "FILE:"+c), with("credential_id", " file:"+c), with("credential_id", "file:"+c+"\u202e"), with("credential_id", "file:"+c+"#"),
		with("credential_id", []any{c}), with("credential_id", map[string]any{"id": c}), with("credential_id", 7),
		// credential_profile.
		with("credential_profile", c), with("credential_profile", c+"/x"), with("credential_profile", "../"+c),
		with("credential_profile", c+"\x00"), with("credential_profile", strings.Repeat(c, 3)), with("credential_profile", []any{c}),
		// Selections together.
		with("credential_id", c, "credential_profile", c), with("credential_id", c, "credentials", map[string]any{"secret_access_key": c}),
		with("credential_profile", c, "credentials", map[string]any{"access_key_id": c, "secret_access_key": c}),
		// Unknown arguments, oversize, everything at once.
		with(c, c), with("security_group_name", c), with("ip_address", big),
		with("description", strings.Repeat(c, (20<<10)/len(c))),
		{"security_group_id": c, "ip_address": c, "port": c, "protocol": c, "description": c,
			"credentials":   map[string]any{"access_key_id": c, "secret_access_key": c, "session_token": c, "region": c},
			"credential_id": c, "credential_profile": c},
		{"security_group_id": map[string]any{"id": c}},
	}
	return calls
}

// TestNothingRequestedIsRepeated drives every error path of every tool,
// under configurations that reach each selection kind, with canary secrets
// in every argument, and checks that no canary comes back in a result, a
// JSON-RPC error or the log.
func TestNothingRequestedIsRepeated(t *testing.T) {
	dir := t.TempDir()
	file := withFile(t, dir, section("default", fileKey)+section("staging", stagingKey))
	profiles := withProfiles(t, `{"profiles": {"staging": {"source": "file:staging"}, "empty": {"source": "file:nosuch"}}}`)
	configs := map[string]map[string]string{
		"env credentials":         envOf(envKey),
		"references allowed":      plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_ALLOWED_REFERENCES", "file:**,env:**,keychain:**,secretfile:**"),
		"profiles file":           {"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles},
		"request credentials off": plus(envOf(envKey), "MCP_ALLOW_REQUEST_CREDENTIALS", "false"),
		"request credentials on":  plus(envOf(envKey), "MCP_ALLOW_REQUEST_CREDENTIALS", "true"),
		"no credentials":          nil,
		"dry run":                 plus(envOf(envKey), "WHITELIST_DRY_RUN", "1"),
	}
	tools := []string{"whitelist_add", "whitelist_remove", "whitelist_list", "whitelist_check"}
	for name, env := range configs {
		t.Run(name, func(t *testing.T) {
			h := start(t, env, nil)
			var out strings.Builder
			for _, c := range canaries {
				for _, args := range canaryCalls(c) {
					for _, tool := range tools {
						res, err := h.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
						var got string
						switch {
						case err != nil:
							got = err.Error()
						default: // a tool error, or a dry run or an AWS call that went through
							b, _ := json.Marshal(res)
							got = string(b)
						}
						if leaked(got, c) {
							t.Errorf("%s(%v) repeats the canary:\n%s", tool, args, got)
						}
						out.WriteString(got + "\n")
					}
				}
				// A tools/call naming no tool.
				_, err := h.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: c, Arguments: map[string]any{"x": c}})
				if err == nil || leaked(err.Error(), c) {
					t.Errorf("unknown tool: %v", err)
				}
			}
			for _, c := range canaries {
				if leaked(h.logs.String(), c) {
					t.Errorf("the log repeats the canary %s:\n%s", c, h.logs.String())
				}
			}
			if testing.Verbose() {
				t.Logf("%d bytes of errors, %d of log", out.Len(), len(h.logs.String()))
			}
		})
	}
}

// TestNothingRequestedIsRepeatedOnTheWire sends raw JSON-RPC the SDK
// refuses before any handler runs (params of the wrong shape, unknown
// methods, a tool named by a secret) and checks the bytes the server writes
// and logs.
func TestNothingRequestedIsRepeatedOnTheWire(t *testing.T) {
	h, srv := newTestServer(t, envOf(envKey), nil)
	serverIn, clientOut := io.Pipe()
	clientIn, serverOut := io.Pipe()
	ss, err := srv.Connect(context.Background(), mcptool.IOTransport(serverIn, serverOut), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clientOut.Close(); ss.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(clientIn)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	id := 0
	send := func(method string, params any) string {
		t.Helper()
		id++
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
		if _, err := clientOut.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
		select {
		case l := <-lines:
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer to %s", method)
		}
		return ""
	}
	send("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "raw", "version": "1"}})
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	clientOut.Write(append(b, '\n'))

	for _, c := range canaries {
		args := map[string]any{"security_group_id": sg, "credentials": map[string]any{"secret_access_key": c}}
		for i, m := range []struct {
			method string
			params any
		}{
			{"tools/call", map[string]any{"name": "whitelist_list", "arguments": args, "_meta": c}},
			{"tools/call", map[string]any{"name": 7, "arguments": args}},
			{"tools/call", map[string]any{"name": "whitelist_list", "arguments": c}},
			{"tools/call", map[string]any{"name": []any{c}}},
			{"tools/call", map[string]any{"name": c, "arguments": args}},
			{"tools/call", c},
			{c, map[string]any{"x": c}},
			{"resources/read", map[string]any{"uri": c}},
			{"prompts/get", map[string]any{"name": c, "arguments": map[string]any{"a": c}}},
			{"logging/setLevel", map[string]any{"level": c}},
			{"completion/complete", map[string]any{"ref": map[string]any{"type": c, "name": c}, "argument": map[string]any{"name": c, "value": c}}},
			{"tools/list", map[string]any{"cursor": c}},
		} {
			got := send(m.method, m.params)
			if leaked(got, c) {
				t.Errorf("%d %s: the answer repeats the canary:\n%s", i, m.method, got)
			}
		}
	}
	for _, c := range canaries {
		if leaked(h.logs.String(), c) {
			t.Errorf("the log repeats the canary %s:\n%s", c, h.logs.String())
		}
	}
}
