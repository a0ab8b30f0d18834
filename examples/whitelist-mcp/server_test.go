package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/zalando/go-keyring"

	"github.com/mcpcred/mcpcred/examples/whitelist-mcp/internal/fakeec2"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// Every secret in these tests contains canary, and no output may.
const (
	canary = "CANARY-SECRET-d3adb33f"
	sg     = "sg-0123456789abcdef0"
	sg2    = "sg-0a1b2c3d"
)

func identity_(name string) aws.Credentials {
	id := "AKIA" + strings.ToUpper(name) + strings.Repeat("X", 16-len(name))
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: canary + "-" + name}
}

var (
	envKey      = identity_("env")
	fileKey     = identity_("file")
	stagingKey  = identity_("staging")
	workKey     = identity_("work")
	requestKey  = identity_("request")
	rotatedKey  = identity_("rotated")
	keychainKey = identity_("keychain")
	secretKey   = identity_("secretfile")
	allKeys     = []aws.Credentials{envKey, fileKey, stagingKey, workKey, requestKey, rotatedKey, keychainKey, secretKey}
)

// harness runs the server in process, connected to an MCP client through
// the SDK's in-memory transports, against a fakeec2 endpoint.
type harness struct {
	t    testing.TB
	ec2  *fakeec2.Server
	home string

	mu     sync.Mutex
	env    map[string]string
	reads  map[string]int // getenv calls per variable
	listed int            // environ calls
	seen   []string       // every result as JSON, for the leak check

	logs syncBuffer
	cs   *mcp.ClientSession
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// memKeyring is an in-memory keychain.Keyring.
type memKeyring struct {
	mu   sync.Mutex
	m    map[string]string
	gets int // Get calls
}

func (k *memKeyring) Get(service, account string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gets++
	v, ok := k.m[service+"\x00"+account]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (k *memKeyring) Set(service, account, value string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[service+"\x00"+account] = value
	return nil
}

func (k *memKeyring) Delete(service, account string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, service+"\x00"+account)
	return nil
}

// start runs a server configured by env (plus AWS_ENDPOINT_URL pointing at
// the fake endpoint and an empty HOME) and the keyring kr (nil: empty).
func start(t testing.TB, env map[string]string, kr keychain.Keyring) *harness {
	t.Helper()
	h, srv := newTestServer(t, env, kr)
	// The server's own transport (as in main) over pipes, so what the
	// client reads is what the server writes to stdout.
	serverIn, clientOut := io.Pipe()
	clientIn, serverOut := io.Pipe()
	ctx := context.Background()
	ss, err := srv.Connect(ctx, mcptool.IOTransport(serverIn, serverOut), nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, &mcp.IOTransport{Reader: clientIn, Writer: clientOut}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.cs = cs
	t.Cleanup(func() {
		cs.Close()
		ss.Wait()
		h.checkNoLeak()
	})
	return h
}

// newTestServer returns a harness without a client, and the server.
func newTestServer(t testing.TB, env map[string]string, kr keychain.Keyring) (*harness, *mcp.Server) {
	t.Helper()
	h := &harness{t: t, ec2: fakeec2.New("us-east-1", allKeys...), home: t.TempDir()}
	h.ec2.AddGroup(sg)
	h.ec2.AddGroup(sg2)
	ts := httptest.NewServer(h.ec2)
	t.Cleanup(ts.Close)
	h.env = map[string]string{"AWS_ENDPOINT_URL": ts.URL, "HOME": h.home}
	maps.Copy(h.env, env)
	cfg, err := loadConfig(h.getenv)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if kr == nil {
		kr = &memKeyring{m: map[string]string{}}
	}
	cfg.keyring = kr
	cfg.Environ = h.environ
	log := slog.New(slog.NewTextHandler(&h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := newServer(cfg, log, "test")
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	return h, srv
}

func (h *harness) getenv(k string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reads == nil {
		h.reads = map[string]int{}
	}
	h.reads[k]++
	return h.env[k]
}

// environ lists the injected environment, for env:PREFIX_* references.
func (h *harness) environ() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.listed++
	var kv []string
	for k, v := range h.env {
		kv = append(kv, k+"="+v)
	}
	return kv
}

func (h *harness) setenv(k, v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.env[k] = v
}

// call calls tool and returns the result, whose text and structured content
// are kept for the leak check.
func (h *harness) call(tool string, args map[string]any) *mcp.CallToolResult {
	h.t.Helper()
	res, err := h.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		h.t.Fatalf("%s: protocol error: %v", tool, err)
	}
	b, _ := json.Marshal(res)
	h.mu.Lock()
	h.seen = append(h.seen, string(b))
	h.mu.Unlock()
	return res
}

// ok calls tool, fails the test on a tool error, and decodes the structured
// content into a map.
func (h *harness) ok(tool string, args map[string]any) map[string]any {
	h.t.Helper()
	res := h.call(tool, args)
	if res.IsError {
		h.t.Fatalf("%s(%v): tool error: %s", tool, args, text(res))
	}
	var out map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil {
		h.t.Fatalf("%s: structured content: %v", tool, err)
	}
	return out
}

// fails calls tool and expects a tool error holding every string in want.
func (h *harness) fails(tool string, args map[string]any, want ...string) string {
	h.t.Helper()
	res := h.call(tool, args)
	if !res.IsError {
		h.t.Fatalf("%s(%v) succeeded, want a tool error: %s", tool, args, text(res))
	}
	msg := text(res)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			h.t.Errorf("%s error %q does not contain %q", tool, msg, w)
		}
	}
	return msg
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

// signers returns the access key ID that signed each call, in order.
func (h *harness) signers() []string {
	var out []string
	for _, c := range h.ec2.Calls() {
		out = append(out, c.AccessKeyID+" "+c.Action+" "+c.Code)
	}
	return out
}

func (h *harness) checkNoLeak() {
	h.t.Helper()
	h.mu.Lock()
	all := strings.Join(h.seen, "\n")
	h.mu.Unlock()
	for name, s := range map[string]string{"tool results": all, "logs": h.logs.String()} {
		if strings.Contains(s, "d3adb33f") {
			h.t.Errorf("a canary secret appears in the %s:\n%s", name, s)
		}
	}
}

func withFile(t *testing.T, dir, content string) string {
	t.Helper()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "credentials")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// withProfiles writes a profiles file (0600, in a 0700 directory) and
// returns its path, for MCP_PROFILES_PATH.
func withProfiles(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "profiles.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// plus returns a copy of m with the key-value pairs kv added.
func plus(m map[string]string, kv ...string) map[string]string {
	m = maps.Clone(m)
	if m == nil {
		m = map[string]string{}
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func section(name string, c aws.Credentials, extra ...string) string {
	s := "[" + name + "]\naws_access_key_id = " + c.AccessKeyID + "\naws_secret_access_key = " + c.SecretAccessKey + "\n"
	for _, e := range extra {
		s += e + "\n"
	}
	return s
}

func secretsDir(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func envOf(c aws.Credentials) map[string]string {
	return map[string]string{"AWS_ACCESS_KEY_ID": c.AccessKeyID, "AWS_SECRET_ACCESS_KEY": c.SecretAccessKey}
}

// Credentials in tool calls are off by default, and a server that refuses
// them does not advertise the credentials argument; MCP_ALLOW_REQUEST_CREDENTIALS=true
// turns both on. port is a plain integer with a documented default, which
// every client can send.
func TestToolsList(t *testing.T) {
	for _, allow := range []bool{false, true} {
		env := envOf(envKey)
		if allow {
			env["MCP_ALLOW_REQUEST_CREDENTIALS"] = "true"
		}
		checkToolsList(t, start(t, env, nil), allow)
	}
}

func checkToolsList(t *testing.T, h *harness, allow bool) {
	res, err := h.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		b, _ := json.Marshal(tool.InputSchema)
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		}
		json.Unmarshal(b, &schema)
		for _, p := range []string{"security_group_id", "credential_profile", "credential_id"} {
			if _, ok := schema.Properties[p]; !ok {
				t.Errorf("%s: no argument %s", tool.Name, p)
			}
		}
		if _, ok := schema.Properties["credentials"]; ok != allow {
			t.Errorf("%s: credentials advertised = %v, want %v (MCP_ALLOW_REQUEST_CREDENTIALS)", tool.Name, ok, allow)
		}
		var port struct {
			Type    any `json:"type"`
			Default any `json:"default"`
		}
		if p, ok := schema.Properties["port"]; ok && (json.Unmarshal(p, &port) != nil || port.Type != "integer" || port.Default != 443.0) {
			t.Errorf("%s: port schema = %s, want a plain integer with default 443", tool.Name, p)
		}
		if !slices.Contains(schema.Required, "security_group_id") || slices.Contains(schema.Required, "credentials") || slices.Contains(schema.Required, "credential_profile") || slices.Contains(schema.Required, "credential_id") {
			t.Errorf("%s: required = %v", tool.Name, schema.Required)
		}
		if tool.OutputSchema == nil {
			t.Errorf("%s: no output schema", tool.Name)
		}
	}
	slices.Sort(names)
	if want := []string{"whitelist_add", "whitelist_check", "whitelist_list", "whitelist_remove"}; !slices.Equal(names, want) {
		t.Fatalf("tools = %v, want %v", names, want)
	}
}

func TestLifecycle(t *testing.T) {
	h := start(t, envOf(envKey), nil)
	rule := map[string]any{"security_group_id": sg, "ip_address": "203.0.113.7"}
	with := func(extra map[string]any) map[string]any {
		m := maps.Clone(rule)
		maps.Copy(m, extra)
		return m
	}

	if out := h.ok("whitelist_add", with(map[string]any{"description": "office VPN"})); out["status"] != "added" {
		t.Fatalf("add: %v", out)
	}
	if out := h.ok("whitelist_add", rule); out["status"] != "already_present" || !strings.Contains(out["message"].(string), "already present") {
		t.Fatalf("second add: %v", out)
	}
	h.ok("whitelist_add", map[string]any{"security_group_id": sg, "ip_address": "2001:db8::7", "port": 22})
	h.ok("whitelist_add", map[string]any{"security_group_id": sg, "ip_address": "10.20.0.0/16", "protocol": "udp", "port": 53})
	h.ok("whitelist_add", map[string]any{"security_group_id": sg, "ip_address": "198.51.100.0/24", "protocol": "icmp"})

	list := h.ok("whitelist_list", map[string]any{"security_group_id": sg})
	rules := list["rules"].([]any)
	if len(rules) != 4 {
		t.Fatalf("list: %d rules, want 4: %v", len(rules), list)
	}
	first := rules[0].(map[string]any)
	if first["cidr"] != "203.0.113.7/32" || first["protocol"] != "tcp" || first["from_port"] != 443.0 || first["description"] != "office VPN" {
		t.Errorf("first rule = %v", first)
	}
	if v6 := rules[1].(map[string]any); v6["cidr"] != "2001:db8::7/128" || v6["from_port"] != 22.0 {
		t.Errorf("IPv6 rule = %v", v6)
	}

	checks := []struct {
		args    map[string]any
		allowed bool
	}{
		{rule, true},
		{with(map[string]any{"port": 444}), false},
		{with(map[string]any{"protocol": "udp"}), false},
		{map[string]any{"security_group_id": sg, "ip_address": "10.20.30.40", "protocol": "udp", "port": 53}, true},
		{map[string]any{"security_group_id": sg, "ip_address": "10.20.0.0/16", "protocol": "udp", "port": 53}, true},
		{map[string]any{"security_group_id": sg, "ip_address": "11.0.0.1", "protocol": "udp", "port": 53}, false},
		{map[string]any{"security_group_id": sg, "ip_address": "2001:db8::7", "port": 22}, true},
		{map[string]any{"security_group_id": sg, "ip_address": "198.51.100.9", "protocol": "icmp"}, true},
		{map[string]any{"security_group_id": sg2, "ip_address": "203.0.113.7"}, false},
	}
	for _, c := range checks {
		out := h.ok("whitelist_check", c.args)
		if out["allowed"] != c.allowed {
			t.Errorf("check %v: allowed = %v, want %v (%v)", c.args, out["allowed"], c.allowed, out["message"])
		}
	}

	if out := h.ok("whitelist_remove", rule); out["status"] != "removed" {
		t.Fatalf("remove: %v", out)
	}
	if out := h.ok("whitelist_remove", rule); out["status"] != "not_present" || !strings.Contains(out["message"].(string), "nothing was removed") {
		t.Fatalf("second remove: %v", out)
	}
	if out := h.ok("whitelist_check", rule); out["allowed"] != false {
		t.Fatalf("check after remove: %v", out)
	}
	if n := len(h.ec2.Rules(sg)); n != 3 {
		t.Fatalf("group holds %d rules, want 3", n)
	}
	for _, c := range h.ec2.Calls() {
		if c.AccessKeyID != envKey.AccessKeyID {
			t.Fatalf("call %s signed by %q, want the env key", c.Action, c.AccessKeyID)
		}
	}
}

func TestCredentialSources(t *testing.T) {
	dir := t.TempDir()
	file := withFile(t, dir, section("default", fileKey)+section("staging", stagingKey, "region = us-east-1")+section("work", workKey)+
		section("empty", workKey)) // [empty] must not be reached through the profile "empty"
	fileAll := "file:" + file + "/*" // every section of that file
	insecure := withFile(t, t.TempDir(), section("default", fileKey))
	if err := os.Chmod(insecure, 0o644); err != nil {
		t.Fatal(err)
	}
	list := map[string]any{"security_group_id": sg}
	withArgs := func(extra map[string]any) map[string]any {
		m := maps.Clone(list)
		maps.Copy(m, extra)
		return m
	}
	reqCreds := map[string]any{"access_key_id": requestKey.AccessKeyID, "secret_access_key": requestKey.SecretAccessKey}
	profiles := withProfiles(t, `{
  "profiles": {
    "default": {"source": "file:work"},
    "staging": {"source": "file:staging", "description": "the staging account"},
    "ci":      {"source": "env:STAGING_*"},
    "ops":     {"source": "keychain:ops"},
    "empty":   {"source": "file:nosuch"}
  }
}`)
	missingProfiles := filepath.Join(t.TempDir(), "nowhere", "profiles.json")
	secrets := secretsDir(t, map[string]string{
		"aws.json": `{"aws_access_key_id": "` + secretKey.AccessKeyID + `", "aws_secret_access_key": "` + secretKey.SecretAccessKey + `"}`})
	keyringWith := func(profile string, c aws.Credentials) func(*testing.T) keychain.Keyring {
		return func(t *testing.T) keychain.Keyring {
			kr := &memKeyring{m: map[string]string{}}
			err := keychain.New(func(o *keychain.Options) { o.Keyring = kr }).Store(context.Background(), profile, map[string]provider.Secret{
				"access_key_id": provider.NewSecret(c.AccessKeyID), "secret_access_key": provider.NewSecret(c.SecretAccessKey)})
			if err != nil {
				t.Fatal(err)
			}
			return kr
		}
	}

	tests := []struct {
		name       string
		env        map[string]string
		keyring    func(*testing.T) keychain.Keyring
		args       map[string]any
		wantKey    string // access key that must sign the one call
		wantSource string
		wantErr    []string // a tool error with these strings, and no AWS call
		wantNot    []string // strings the tool error must not hold
	}{
		{name: "env", env: envOf(envKey), args: list, wantKey: envKey.AccessKeyID, wantSource: "env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"},
		{name: "request overrides env", env: plus(envOf(envKey), "MCP_ALLOW_REQUEST_CREDENTIALS", "true"), args: withArgs(map[string]any{"credentials": reqCreds}), wantKey: requestKey.AccessKeyID, wantSource: "request"},
		{name: "request refused by default", env: envOf(envKey),
			args: withArgs(map[string]any{"credentials": reqCreds}), wantErr: []string{"does not accept credentials in tool calls", "MCP_ALLOW_REQUEST_CREDENTIALS=true"}},
		{name: "request refused by operator", env: plus(envOf(envKey), "MCP_ALLOW_REQUEST_CREDENTIALS", "false"),
			args: withArgs(map[string]any{"credentials": reqCreds}), wantErr: []string{"does not accept credentials in tool calls", "MCP_ALLOW_REQUEST_CREDENTIALS=true"}},
		{name: "request without secret", env: plus(envOf(envKey), "MCP_ALLOW_REQUEST_CREDENTIALS", "true"), args: withArgs(map[string]any{"credentials": map[string]any{"access_key_id": requestKey.AccessKeyID}}),
			wantErr: []string{"secret_access_key"}},
		{name: "file default section", env: map[string]string{"MCP_CREDENTIALS_FILE": file}, args: list, wantKey: fileKey.AccessKeyID, wantSource: "file (" + file + " [default])"},
		{name: "file MCP_CREDENTIAL_PROFILE", env: map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_CREDENTIAL_PROFILE": "work"}, args: list, wantKey: workKey.AccessKeyID},
		{name: "env wins over file", env: map[string]string{"MCP_CREDENTIALS_FILE": file, "AWS_ACCESS_KEY_ID": envKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY": envKey.SecretAccessKey}, args: list, wantKey: envKey.AccessKeyID},
		{name: "profile not offered without a profiles file", env: map[string]string{"MCP_CREDENTIALS_FILE": file},
			args:    withArgs(map[string]any{"credential_profile": "staging"}),
			wantErr: []string{`credential_profile names no profile this server offers`, `(offered: "default")`, "~/.mcp/profiles.json", "MCP_PROFILES_PATH", "adds profiles to the profiles file"}},
		{name: "profile not offered: MCP_PROFILES_PATH names no file", env: map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": missingProfiles},
			args: withArgs(map[string]any{"credential_profile": "staging"}), wantErr: []string{`names no profile this server offers`, `(offered: "default")`}, wantNot: []string{missingProfiles}},
		{name: "profile offered: file source", env: plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_PROFILES_PATH", profiles),
			args: withArgs(map[string]any{"credential_profile": "staging"}), wantKey: stagingKey.AccessKeyID, wantSource: "profile (" + profiles + " [staging] via file (" + file + " [staging]))"},
		{name: "profile offered: env prefix source", env: plus(envOf(envKey), "MCP_PROFILES_PATH", profiles,
			"STAGING_ACCESS_KEY_ID", stagingKey.AccessKeyID, "STAGING_SECRET_ACCESS_KEY", stagingKey.SecretAccessKey),
			args: withArgs(map[string]any{"credential_profile": "ci"}), wantKey: stagingKey.AccessKeyID, wantSource: "[ci] via env"},
		{name: "profile offered: secretfile source", env: plus(envOf(envKey), "MCP_PROFILES_PATH", withProfiles(t, `{"profiles": {"docker": {"source": "secretfile:`+secrets+`/aws"}}}`)),
			args: withArgs(map[string]any{"credential_profile": "docker"}), wantKey: secretKey.AccessKeyID, wantSource: "[docker] via secretfile"},
		{name: "profile offered: keychain source", env: plus(envOf(envKey), "MCP_PROFILES_PATH", profiles), keyring: keyringWith("ops", keychainKey),
			args: withArgs(map[string]any{"credential_profile": "ops"}), wantKey: keychainKey.AccessKeyID, wantSource: "[ops] via keychain"},
		{name: "profile not in the profiles file", env: map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles},
			args:    withArgs(map[string]any{"credential_profile": "work"}), // [work] is in the credentials file, but not offered
			wantErr: []string{`names no profile this server offers`, `(offered: "ci", "default", "empty", "ops", "staging")`, "adds profiles to the profiles file"}, wantNot: []string{profiles}},
		{name: "profile whose source is empty does not fall through", env: plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_PROFILES_PATH", profiles),
			args: withArgs(map[string]any{"credential_profile": "empty"}), wantErr: []string{`credential_profile: a credential source is misconfigured (profile)`}},
		{name: "default profile always allowed", env: map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": withProfiles(t, `{"profiles": {"staging": {"source": "file:staging"}}}`)},
			args: list, wantKey: fileKey.AccessKeyID, wantSource: "file (" + file + " [default])"},
		{name: "profiles file default wins over env", env: plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_PROFILES_PATH", profiles),
			args: list, wantKey: workKey.AccessKeyID, wantSource: "[default] via file"},
		{name: "MCP_ACTIVE_PROFILE picks the default", env: plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_PROFILES_PATH", profiles, "MCP_ACTIVE_PROFILE", "staging"),
			args: list, wantKey: stagingKey.AccessKeyID, wantSource: "[staging] via file"},
		{name: "MCP_ACTIVE_PROFILE may be named without a profiles file", env: map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_ACTIVE_PROFILE": "work"},
			args: withArgs(map[string]any{"credential_profile": "work"}), wantKey: workKey.AccessKeyID, wantSource: "file (" + file + " [work])"},
		{name: "MCP_ACTIVE_PROFILE: default is then not offered", env: map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_ACTIVE_PROFILE": "work"},
			args: withArgs(map[string]any{"credential_profile": "default"}), wantErr: []string{`names no profile this server offers`, `(offered: "work")`}},
		{name: "credential_id refused by default", env: plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file),
			args: withArgs(map[string]any{"credential_id": "file:staging"}), wantErr: []string{`credential_id is refused`, "accepts no credential references until its operator sets MCP_ALLOWED_REFERENCES"}},
		{name: "credential_id allowed", env: plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_ALLOWED_REFERENCES", fileAll),
			args: withArgs(map[string]any{"credential_id": "file:staging"}), wantKey: stagingKey.AccessKeyID, wantSource: "file (" + file + " [staging])"},
		{name: "credential_id allowed: the same section by path", env: plus(envOf(envKey), "MCP_ALLOWED_REFERENCES", fileAll),
			// (the source names the file through the request's text, which results never repeat in full)
			args: withArgs(map[string]any{"credential_id": "file:" + file + "?profile=staging"}), wantKey: stagingKey.AccessKeyID, wantSource: "/credentials [staging])"},
		{name: "credential_id env prefix", env: plus(envOf(envKey), "MCP_ALLOWED_REFERENCES", fileAll+", env:STAGING_*",
			"STAGING_ACCESS_KEY_ID", stagingKey.AccessKeyID, "STAGING_SECRET_ACCESS_KEY", stagingKey.SecretAccessKey),
			args: withArgs(map[string]any{"credential_id": "env:STAGING_*"}), wantKey: stagingKey.AccessKeyID, wantSource: "STAGING_ACCESS_KEY_ID, "},
		{name: "credential_id matching no pattern", env: plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_ALLOWED_REFERENCES", "file:"+file+"/work,env:STAGING_*"),
			args:    withArgs(map[string]any{"credential_id": "file:staging"}),
			wantErr: []string{`credential_id is refused`, `does not allow what it reads`, `(MCP_ALLOWED_REFERENCES: "file:` + file + `/work", "env:STAGING_*")`}},
		{name: "credential_id with nothing there", env: plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_ALLOWED_REFERENCES", fileAll),
			args: withArgs(map[string]any{"credential_id": "file:nosuch"}), wantErr: []string{`credential_id: no credentials found (tried file)`}},
		// What a call's reference reads is the call's choice: its failure is
		// not reported as the server's configuration.
		{name: "credential_id naming variables some of which are unset", env: plus(envOf(envKey), "MCP_ALLOWED_REFERENCES", "env:*"),
			args:    withArgs(map[string]any{"credential_id": "env:AWS_ACCESS_KEY_ID,NOPE_SECRET_ACCESS_KEY"}),
			wantErr: []string{"credential_id: what it reads cannot be used (env)"},
			wantNot: []string{"configuration is broken", "not the problem", "AWS_ACCESS_KEY_ID", "NOPE"}},
		{name: "credential_id reading a file others can read", env: plus(envOf(envKey), "MCP_ALLOWED_REFERENCES", "file:/**"),
			args:    withArgs(map[string]any{"credential_id": "file:" + insecure}),
			wantErr: []string{"credential_id: what it reads cannot be used (file: a file other users could read or change)"},
			wantNot: []string{"configuration is broken", "not the problem", insecure}},
		// The resolver refuses a scheme the server does not serve as it
		// refuses what no pattern covers, so a call learns nothing about
		// which schemes are registered (an operator's pattern naming one is
		// refused at start: TestConfigErrors).
		{name: "credential_id scheme not registered", env: plus(envOf(envKey), "MCP_ALLOWED_REFERENCES", "env:**"),
			args: withArgs(map[string]any{"credential_id": "vault:secret/data/mcp/aws"}), wantErr: []string{`credential_id is refused`, `(MCP_ALLOWED_REFERENCES: "env:**")`}},
		{name: "profile and credentials", env: map[string]string{"MCP_PROFILES_PATH": profiles, "MCP_ALLOW_REQUEST_CREDENTIALS": "true"},
			args: withArgs(map[string]any{"credential_profile": "staging", "credentials": reqCreds}), wantErr: []string{"give at most one of credentials, credential_profile and credential_id; this call gave credentials and credential_profile"}},
		{name: "credential_id and credentials", env: map[string]string{"MCP_ALLOWED_REFERENCES": fileAll, "MCP_ALLOW_REQUEST_CREDENTIALS": "true"},
			args: withArgs(map[string]any{"credential_id": "file:staging", "credentials": reqCreds}), wantErr: []string{"this call gave credentials and credential_id"}},
		{name: "credential_id and credential_profile", env: map[string]string{"MCP_PROFILES_PATH": profiles, "MCP_ALLOWED_REFERENCES": fileAll},
			args: withArgs(map[string]any{"credential_id": "file:staging", "credential_profile": "staging"}), wantErr: []string{"this call gave credential_profile and credential_id"}},
		{name: "all three", env: map[string]string{"MCP_PROFILES_PATH": profiles, "MCP_ALLOWED_REFERENCES": fileAll, "MCP_ALLOW_REQUEST_CREDENTIALS": "true"},
			args: withArgs(map[string]any{"credential_id": "file:staging", "credential_profile": "staging", "credentials": reqCreds}), wantErr: []string{"this call gave credentials and credential_profile and credential_id"}},
		{name: "region alone with credential_profile", env: plus(envOf(envKey), "MCP_CREDENTIALS_FILE", file, "MCP_PROFILES_PATH", profiles, "MCP_ALLOW_REQUEST_CREDENTIALS", "true"),
			args: withArgs(map[string]any{"credential_profile": "staging", "credentials": map[string]any{"region": "us-east-1"}}), wantKey: stagingKey.AccessKeyID, wantSource: "[staging]"},
		{name: "keychain", keyring: func(t *testing.T) keychain.Keyring {
			kr := &memKeyring{m: map[string]string{}}
			err := keychain.New(func(o *keychain.Options) { o.Keyring = kr }).Store(context.Background(), "default", map[string]provider.Secret{
				"access_key_id": provider.NewSecret(keychainKey.AccessKeyID), "secret_access_key": provider.NewSecret(keychainKey.SecretAccessKey)})
			if err != nil {
				t.Fatal(err)
			}
			return kr
		}, args: list, wantKey: keychainKey.AccessKeyID, wantSource: "keychain"},
		{name: "docker secret aws_credentials (seed 6.2)", env: map[string]string{"MCP_CREDENTIAL_SOURCE": "docker-secrets", "MCP_SECRETS_DIR": secretsDir(t, map[string]string{
			"aws_credentials": `{"aws_access_key_id": "` + secretKey.AccessKeyID + `", "aws_secret_access_key": "` + secretKey.SecretAccessKey + `"}`})},
			args: list, wantKey: secretKey.AccessKeyID, wantSource: "secretfile"},
		{name: "docker secrets one file per field", env: map[string]string{"MCP_CREDENTIAL_SOURCE": "docker-secrets", "MCP_SECRETS_DIR": secretsDir(t, map[string]string{
			"access_key_id": secretKey.AccessKeyID + "\n", "secret_access_key": secretKey.SecretAccessKey + "\n"})},
			args: list, wantKey: secretKey.AccessKeyID, wantSource: "secretfile"},
		{name: "docker secrets: env still first", env: map[string]string{"MCP_CREDENTIAL_SOURCE": "docker-secrets", "AWS_ACCESS_KEY_ID": envKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY": envKey.SecretAccessKey,
			"MCP_SECRETS_DIR": secretsDir(t, map[string]string{"access_key_id": secretKey.AccessKeyID, "secret_access_key": secretKey.SecretAccessKey})},
			args: list, wantKey: envKey.AccessKeyID},
		{name: "docker secrets: nothing", env: map[string]string{"MCP_CREDENTIAL_SOURCE": "docker-secrets", "MCP_SECRETS_DIR": secretsDir(t, nil)},
			args: list, wantErr: []string{"no credentials found (tried profile, env, file, secretfile)", "mounts the secret aws_credentials"}},
		{name: "nothing anywhere", args: list, wantErr: []string{"no credentials found (tried profile, env, file, keychain)", "AWS_ACCESS_KEY_ID", "~/.mcp/credentials"}},
		{name: "half-configured env", env: map[string]string{"AWS_ACCESS_KEY_ID": envKey.AccessKeyID}, args: list, wantErr: []string{"a credential source is misconfigured (env)", "operator must fix it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kr keychain.Keyring
			if tt.keyring != nil {
				kr = tt.keyring(t)
			}
			h := start(t, tt.env, kr)
			if tt.wantErr != nil {
				msg := h.fails("whitelist_list", tt.args, tt.wantErr...)
				for _, bad := range tt.wantNot {
					if strings.Contains(msg, bad) {
						t.Errorf("error %q holds %q", msg, bad)
					}
				}
				if os.Getenv("DUMP") != "" {
					t.Logf("%s", msg)
				}
				if calls := h.ec2.Calls(); len(calls) != 0 {
					t.Fatalf("an invalid call reached AWS: %v", h.signers())
				}
				return
			}
			out := h.ok("whitelist_list", tt.args)
			calls := h.ec2.Calls()
			if len(calls) != 1 || calls[0].AccessKeyID != tt.wantKey || calls[0].Code != "" {
				t.Fatalf("calls = %v, want one signed by %s", h.signers(), tt.wantKey)
			}
			if src, _ := out["credential_source"].(string); !strings.Contains(src, tt.wantSource) {
				t.Errorf("credential_source = %q, want it to contain %q", src, tt.wantSource)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // "" means no error
	}{
		{"defaults", nil, ""},
		{"MCP_ALLOWED_PROFILES is gone", map[string]string{"MCP_ALLOWED_PROFILES": "default,staging"}, "MCP_ALLOWED_PROFILES is no longer read"},
		{"MCP_ACTIVE_PROFILE", map[string]string{"MCP_ACTIVE_PROFILE": "prod"}, ""},
		{"MCP_ACTIVE_PROFILE path", map[string]string{"MCP_ACTIVE_PROFILE": "../prod"}, "MCP_ACTIVE_PROFILE=(a 7-byte value, not shown) is not a profile name: holds a path separator"},
		{"MCP_ACTIVE_PROFILE control", map[string]string{"MCP_ACTIVE_PROFILE": "a\nb"}, `MCP_ACTIVE_PROFILE=(a 3-byte value, not shown) is not a profile name`},
		{"WHITELIST_MIN_PREFIX_V4", map[string]string{"WHITELIST_MIN_PREFIX_V4": "8", "WHITELIST_MIN_PREFIX_V6": "32"}, ""},
		{"WHITELIST_MIN_PREFIX_V4 zero", map[string]string{"WHITELIST_MIN_PREFIX_V4": "0"}, "WHITELIST_MIN_PREFIX_V4=\"0\": want a prefix length from 1 to 32 (default 16)"},
		{"WHITELIST_MIN_PREFIX_V4 too long", map[string]string{"WHITELIST_MIN_PREFIX_V4": "33"}, "WHITELIST_MIN_PREFIX_V4"},
		{"WHITELIST_MIN_PREFIX_V6 not a number", map[string]string{"WHITELIST_MIN_PREFIX_V6": "/48"}, "WHITELIST_MIN_PREFIX_V6=(a 3-byte value, not shown): want a prefix length from 1 to 128 (default 48)"},
		{"WHITELIST_MIN_PREFIX_V6 too long", map[string]string{"WHITELIST_MIN_PREFIX_V6": "129"}, "WHITELIST_MIN_PREFIX_V6"},
		{"MCP_ALLOWED_REFERENCES", map[string]string{"MCP_ALLOWED_REFERENCES": " file:/home/u/.mcp/credentials/*, env:MCP_CI_*,secretfile:/run/secrets/** ,keychain:mcpcred/*,"}, ""},
		{"MCP_ALLOWED_REFERENCES every resource", map[string]string{"MCP_ALLOWED_REFERENCES": "env:**,file:**,keychain:**,secretfile:**"}, ""},
		{"MCP_ALLOWED_REFERENCES no scheme", map[string]string{"MCP_ALLOWED_REFERENCES": "env:A,*"}, `pattern "*" has no scheme`},
		{"MCP_ALLOWED_REFERENCES wildcard scheme", map[string]string{"MCP_ALLOWED_REFERENCES": "*:x"}, `pattern "*:x" has a scheme that is not`},
		{"MCP_ALLOWED_REFERENCES empty segment", map[string]string{"MCP_ALLOWED_REFERENCES": "file:/home/u//credentials/*"}, "has an empty segment"},
		{"MCP_ALLOWED_REFERENCES trailing slash", map[string]string{"MCP_ALLOWED_REFERENCES": "secretfile:/run/secrets/"}, "end with /* or /**"},
		{"MCP_ALLOWED_REFERENCES inner **", map[string]string{"MCP_ALLOWED_REFERENCES": "file:/home/**/credentials/*"}, `"**" may only end a pattern`},
		{"MCP_ALLOWED_REFERENCES empty path", map[string]string{"MCP_ALLOWED_REFERENCES": "env:"}, "has an empty path"},
		// Patterns written against reference text cover nothing a reference
		// reads: refused at start, with what to write instead.
		{"MCP_ALLOWED_REFERENCES old file:*", map[string]string{"MCP_ALLOWED_REFERENCES": "file:*"}, `pattern "file:*" is not an absolute path, so it covers nothing: a file: pattern names a file's absolute path followed by a section, such as file:/home/u/.mcp/credentials/*`},
		{"MCP_ALLOWED_REFERENCES file section", map[string]string{"MCP_ALLOWED_REFERENCES": "file:staging"}, `pattern "file:staging" is not an absolute path`},
		{"MCP_ALLOWED_REFERENCES file ~/", map[string]string{"MCP_ALLOWED_REFERENCES": "file:~/.mcp/credentials/*"}, "is not an absolute path"},
		{"MCP_ALLOWED_REFERENCES old #section", map[string]string{"MCP_ALLOWED_REFERENCES": "file:/home/u/.mcp/credentials#*"}, `holds "#" or "?"`},
		{"MCP_ALLOWED_REFERENCES old secretfile dir#name", map[string]string{"MCP_ALLOWED_REFERENCES": "secretfile:/run/secrets#*"}, `such as secretfile:/run/secrets/*`},
		{"MCP_ALLOWED_REFERENCES ?profile=", map[string]string{"MCP_ALLOWED_REFERENCES": "file:/home/u/.mcp/credentials?profile=*"}, `holds "#" or "?"`},
		{"MCP_ALLOWED_REFERENCES secretfile name", map[string]string{"MCP_ALLOWED_REFERENCES": "secretfile:aws-*"}, "is not an absolute path"},
		{"MCP_ALLOWED_REFERENCES keychain profile", map[string]string{"MCP_ALLOWED_REFERENCES": "keychain:*"}, "matches no path a keychain: resource has, so it covers nothing: a keychain: pattern names SERVICE/PROFILE, such as keychain:mcpcred/*"},
		{"MCP_ALLOWED_REFERENCES env path", map[string]string{"MCP_ALLOWED_REFERENCES": "env:/x/*"}, "is an absolute path, so it covers nothing: an env: pattern names variables"},
		{"MCP_ALLOWED_REFERENCES scheme not served", map[string]string{"MCP_ALLOWED_REFERENCES": "env:A,vault:secret/data/mcp/*"}, `pattern "vault:secret/data/mcp/*" names the scheme vault, which this server does not serve (it serves env, file, keychain, secretfile)`},
		{"MCP_ALLOWED_REFERENCES every error", map[string]string{"MCP_ALLOWED_REFERENCES": "file:*,ssm:/mcp/**"}, `"file:*" is not an absolute path, so it covers nothing: a file: pattern names a file's absolute path followed by a section, such as file:/home/u/.mcp/credentials/* for every section of that file
provider: reference pattern "ssm:/mcp/**" names the scheme ssm`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := startupError(t, tt.env)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("start: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("start error = %v, want it to contain %q", err, tt.want)
			}
			if pats := cfg.AllowedReferences.Patterns(); tt.name == "MCP_ALLOWED_REFERENCES" && !slices.Equal(pats, []string{"file:/home/u/.mcp/credentials/*", "env:MCP_CI_*", "secretfile:/run/secrets/**", "keychain:mcpcred/*"}) {
				t.Errorf("AllowedReferences = %q", pats)
			}
			if tt.name == "MCP_ACTIVE_PROFILE" && cfg.ActiveProfile != "prod" || tt.name == "defaults" && cfg.ActiveProfile != "default" {
				t.Errorf("ActiveProfile = %q", cfg.ActiveProfile)
			}
			if tt.name == "defaults" && cfg.MinPrefix != (prefixLimit{V4: 16, V6: 48}) || tt.name == "WHITELIST_MIN_PREFIX_V4" && cfg.MinPrefix != (prefixLimit{V4: 8, V6: 32}) {
				t.Errorf("MinPrefix = %+v", cfg.MinPrefix)
			}
		})
	}
}

// startupError is the error main stops with for env, from loadConfig or,
// for a reference pattern that covers nothing the server reads, newServer.
func startupError(t *testing.T, env map[string]string) (config, error) {
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		return cfg, err
	}
	cfg.keyring = &memKeyring{m: map[string]string{}}
	_, err = newServer(cfg, slog.New(slog.DiscardHandler), "test")
	return cfg, err
}

// A profiles file that others can write could redirect the server to other
// credentials: the server refuses it, for the default profile and for
// credential_profile alike, says so, and takes the fix without a restart.
func TestProfilesFileInsecure(t *testing.T) {
	dir := t.TempDir()
	file := withFile(t, dir, section("default", fileKey)+section("staging", stagingKey))
	profiles := withProfiles(t, `{"profiles": {"staging": {"source": "file:staging"}}}`)
	if err := os.Chmod(profiles, 0o666); err != nil {
		t.Fatal(err)
	}
	h := start(t, map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles}, nil)
	h.fails("whitelist_list", map[string]any{"security_group_id": sg, "credential_profile": "staging"},
		`names no profile this server offers`, `(offered: "default")`)
	h.fails("whitelist_list", map[string]any{"security_group_id": sg}, "a credential source is misconfigured (profile: a file other users could read or change)")
	if calls := h.ec2.Calls(); len(calls) != 0 {
		t.Fatalf("calls reached AWS: %v", h.signers())
	}
	// Fixed, it applies without a restart.
	if err := os.Chmod(profiles, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // Provider.Has trusts its last look for a second
	h.ok("whitelist_list", map[string]any{"security_group_id": sg, "credential_profile": "staging"})
}

// A misconfigured source is reported as what it is, not as "no credentials
// found, configure one of these": the tool error says in a few words what
// is wrong, names no path, and tells the model it is the operator's to fix;
// the log says it once, from the start, with the file, the line or mode,
// and the fix.
func TestMisconfiguration(t *testing.T) {
	goodProfiles := func(t *testing.T) string {
		return withProfiles(t, `{"profiles": {"staging": {"source": "file:staging"}}}`)
	}
	creds := func(t *testing.T) string {
		return withFile(t, t.TempDir(), section("default", fileKey)+section("staging", stagingKey))
	}
	chmod := func(t *testing.T, path string, mode os.FileMode) string {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name    string
		env     func(t *testing.T) map[string]string
		args    map[string]any
		want    []string // in the tool error
		wantLog []string // in the log, before any call
	}{
		{name: "malformed profiles file", env: func(t *testing.T) map[string]string {
			return map[string]string{"MCP_CREDENTIALS_FILE": creds(t), "MCP_PROFILES_PATH": withProfiles(t, `{"profiles": {"staging": {"source": "file:staging"}`)}
		}, want: []string{"misconfigured (profile: a malformed JSON file)"}, wantLog: []string{"profiles.json", "malformed profiles file", "1:51"}},
		{name: "malformed profiles file, credential_profile", env: func(t *testing.T) map[string]string {
			return map[string]string{"MCP_CREDENTIALS_FILE": creds(t), "MCP_PROFILES_PATH": withProfiles(t, `{"profiles": {"staging": {"source": 7}}}`)}
		}, args: map[string]any{"credential_profile": "staging"}, want: []string{"names no profile this server offers"}, wantLog: []string{"profiles.json", "malformed profiles file"}},
		{name: "profiles file others can write", env: func(t *testing.T) map[string]string {
			return map[string]string{"MCP_CREDENTIALS_FILE": creds(t), "MCP_PROFILES_PATH": chmod(t, goodProfiles(t), 0o666)}
		}, want: []string{"misconfigured (profile: a file other users could read or change)"}, wantLog: []string{"profiles.json has mode 0666", `fix="chmod go-w`}},
		{name: "credentials file others can read", env: func(t *testing.T) map[string]string {
			return map[string]string{"MCP_CREDENTIALS_FILE": chmod(t, creds(t), 0o644)}
		}, want: []string{"misconfigured (file: a file other users could read or change)"}, wantLog: []string{"credentials has mode 0644", `fix="chmod 600`}},
		{name: "credentials file a profile reads, others can read", env: func(t *testing.T) map[string]string {
			return map[string]string{"MCP_CREDENTIALS_FILE": chmod(t, creds(t), 0o644), "MCP_PROFILES_PATH": goodProfiles(t)}
		}, args: map[string]any{"credential_profile": "staging"}, want: []string{"credential_profile: a credential source is misconfigured (profile: a file other users could read or change)"}, wantLog: []string{"credentials has mode 0644", `fix="chmod 600`}},
		{name: "malformed credentials file", env: func(t *testing.T) map[string]string {
			return map[string]string{"MCP_CREDENTIALS_FILE": withFile(t, t.TempDir(), section("default", fileKey)+"this is not INI\n")}
		}, want: []string{"misconfigured (file: a malformed INI file)"}, wantLog: []string{"credentials:4:"}},
		{name: "half-configured environment", env: func(t *testing.T) map[string]string {
			return map[string]string{"AWS_SECRET_ACCESS_KEY": envKey.SecretAccessKey}
		}, want: []string{"misconfigured (env)"}, wantLog: []string{"secret_access_key set but access_key_id not"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env(t)
			h := start(t, env, nil)
			startup := h.logs.String()
			for _, w := range tt.wantLog {
				if !strings.Contains(startup, w) {
					t.Errorf("the log at start does not say %q:\n%s", w, startup)
				}
			}
			args := map[string]any{"security_group_id": sg}
			maps.Copy(args, tt.args)
			for range 2 {
				msg := h.fails("whitelist_list", args, tt.want...)
				if tt.args == nil && !strings.Contains(msg, "the server's operator must fix it") {
					t.Errorf("error %q does not say the operator must fix the configuration", msg)
				}
				for _, bad := range []string{"no credentials found", os.TempDir(), "tried"} { // no path of the operator's files
					if strings.Contains(msg, bad) {
						t.Errorf("error %q holds %q", msg, bad)
					}
				}
				if len(msg) > 400 {
					t.Errorf("error is %d bytes long: %q", len(msg), msg)
				}
			}
			// The start-up check (resolver/doctor, as credctl doctor) logs
			// each problem once, with its fix.
			var findings []string
			for _, line := range strings.Split(startup, "\n") {
				if i := strings.Index(line, `msg="credential configuration: error"`); i >= 0 {
					findings = append(findings, line[i:])
				}
			}
			if len(findings) == 0 {
				t.Errorf("the misconfiguration is not logged at start:\n%s", startup)
			}
			for i, f := range findings {
				if slices.Contains(findings[:i], f) {
					t.Errorf("a finding is logged twice: %s", f)
				}
			}
			if calls := h.ec2.Calls(); len(calls) != 0 {
				t.Fatalf("calls reached AWS: %v", h.signers())
			}
		})
	}
}

func TestRegion(t *testing.T) {
	dir := t.TempDir()
	file := withFile(t, dir, section("default", fileKey, "region = eu-west-1")+section("staging", stagingKey))
	profiles := withProfiles(t, `{"profiles": {
  "staging":  {"source": "file:staging", "region": "eu-central-1"},
  "plain":    {"source": "file:staging"},
  "default":  {"source": "file:default", "region": "eu-north-1"}
}}`)
	withProfile := func(name string) map[string]any { return map[string]any{"credential_profile": name} }
	tests := []struct {
		name string
		env  map[string]string
		args map[string]any
		want string
	}{
		{"default", envOf(envKey), nil, "us-east-1"},
		{"AWS_REGION", map[string]string{"AWS_ACCESS_KEY_ID": envKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY": envKey.SecretAccessKey, "AWS_REGION": "ap-south-1"}, nil, "ap-south-1"},
		{"profile region", map[string]string{"MCP_CREDENTIALS_FILE": file, "AWS_REGION": "ap-south-1"}, nil, "eu-west-1"},
		{"request region alone", map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_ALLOW_REQUEST_CREDENTIALS": "true"}, map[string]any{"credentials": map[string]any{"region": "ca-central-1"}}, "ca-central-1"},
		{"profiles file region", map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles, "AWS_REGION": "ap-south-1"}, withProfile("staging"), "eu-central-1"},
		{"request region beats the profile's", map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles, "MCP_ALLOW_REQUEST_CREDENTIALS": "true"},
			map[string]any{"credential_profile": "staging", "credentials": map[string]any{"region": "ca-central-1"}}, "ca-central-1"},
		{"profile without region: AWS_REGION", map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles, "AWS_REGION": "ap-south-1"}, withProfile("plain"), "ap-south-1"},
		{"profile without region: default", map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles}, withProfile("plain"), "us-east-1"},
		{"the source's region beats the profile's", map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles}, nil, "eu-west-1"},
		{"active profile's region", map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles, "MCP_ACTIVE_PROFILE": "staging", "AWS_REGION": "ap-south-1"}, nil, "eu-central-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := maps.Clone(tt.env)
			env["WHITELIST_DRY_RUN"] = "1"
			h := start(t, env, nil)
			args := map[string]any{"security_group_id": sg}
			maps.Copy(args, tt.args)
			out := h.ok("whitelist_list", args)
			if out["region"] != tt.want || out["dry_run"].(map[string]any)["region"] != tt.want {
				t.Fatalf("region = %v, want %s", out["region"], tt.want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	file := withFile(t, dir, section("default", fileKey))
	h := start(t, map[string]string{"MCP_CREDENTIALS_FILE": file}, nil)
	list := map[string]any{"security_group_id": sg}
	h.ok("whitelist_list", list)

	// The key is rotated: AWS no longer accepts the old one, the file holds
	// the new one, and the server still has the old one cached.
	h.ec2.Revoke(fileKey.AccessKeyID)
	withFile(t, dir, section("default", rotatedKey))
	h.ec2.ResetCalls()
	out := h.ok("whitelist_list", list)
	want := []string{
		fileKey.AccessKeyID + " DescribeSecurityGroups AuthFailure",
		rotatedKey.AccessKeyID + " DescribeSecurityGroups ",
	}
	if got := h.signers(); !slices.Equal(got, want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
	if !strings.Contains(h.logs.String(), "retrying once") {
		t.Errorf("no log line about the retry")
	}
	_ = out

	// The next call uses the new key straight from the cache.
	h.ec2.ResetCalls()
	h.ok("whitelist_list", list)
	if got := h.signers(); len(got) != 1 || !strings.HasPrefix(got[0], rotatedKey.AccessKeyID) {
		t.Fatalf("after rotation: calls = %q", got)
	}

	// Rejected again and the file still holds the same key: one call, no
	// pointless retry, and an error that says what to do.
	h.ec2.Revoke(rotatedKey.AccessKeyID)
	h.ec2.ResetCalls()
	h.fails("whitelist_list", list, "AuthFailure", "What it means", "still holds the same credential", "file (")
	if got := h.signers(); len(got) != 1 {
		t.Fatalf("calls = %q, want exactly one", got)
	}
}

// A credential from a profile or a credential_id is cached too, and is
// dropped and read again when AWS rejects it.
func TestRotationProfileAndReference(t *testing.T) {
	for _, tt := range []struct {
		name string
		args map[string]any
	}{
		{"credential_profile", map[string]any{"credential_profile": "staging"}},
		{"credential_id", map[string]any{"credential_id": "file:staging"}},
		{"active profile", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := withFile(t, dir, section("default", fileKey)+section("staging", stagingKey))
			profiles := withProfiles(t, `{"profiles": {"staging": {"source": "file:staging", "region": "us-east-1"}}}`)
			env := map[string]string{"MCP_CREDENTIALS_FILE": file, "MCP_PROFILES_PATH": profiles, "MCP_ALLOWED_REFERENCES": "file:" + file + "/*"}
			if tt.args == nil {
				env["MCP_ACTIVE_PROFILE"] = "staging"
			}
			h := start(t, env, nil)
			args := map[string]any{"security_group_id": sg}
			maps.Copy(args, tt.args)
			h.ok("whitelist_list", args)

			h.ec2.Revoke(stagingKey.AccessKeyID)
			withFile(t, dir, section("default", fileKey)+section("staging", rotatedKey))
			h.ec2.ResetCalls()
			h.ok("whitelist_list", args)
			want := []string{
				stagingKey.AccessKeyID + " DescribeSecurityGroups AuthFailure",
				rotatedKey.AccessKeyID + " DescribeSecurityGroups ",
			}
			if got := h.signers(); !slices.Equal(got, want) {
				t.Fatalf("calls = %q, want %q", got, want)
			}
			h.ec2.ResetCalls()
			h.ok("whitelist_list", args)
			if got := h.signers(); len(got) != 1 || !strings.HasPrefix(got[0], rotatedKey.AccessKeyID) {
				t.Fatalf("after rotation: calls = %q", got)
			}
		})
	}
}

func TestRotationRequestCredentialsNotRetried(t *testing.T) {
	h := start(t, plus(envOf(envKey), "MCP_ALLOW_REQUEST_CREDENTIALS", "true"), nil)
	h.ec2.Revoke(requestKey.AccessKeyID)
	h.fails("whitelist_list", map[string]any{"security_group_id": sg, "credentials": map[string]any{
		"access_key_id": requestKey.AccessKeyID, "secret_access_key": requestKey.SecretAccessKey}}, "AuthFailure", "credentials from request", "the credentials passed in this call were rejected")
	if got := h.signers(); len(got) != 1 {
		t.Fatalf("calls = %q, want exactly one", got)
	}
}

func TestAWSErrors(t *testing.T) {
	h := start(t, envOf(envKey), nil)
	h.ec2.FailNext("AuthorizeSecurityGroupIngress", "UnauthorizedOperation")
	h.fails("whitelist_add", map[string]any{"security_group_id": sg, "ip_address": "203.0.113.7"},
		"EC2 error UnauthorizedOperation", "IAM policy", "Request ID: ", "credentials from env")
	h.fails("whitelist_list", map[string]any{"security_group_id": "sg-00000000"}, "InvalidGroup.NotFound", "check the ID and the region")
	h.fails("whitelist_add", map[string]any{"security_group_id": "sg-00000000", "ip_address": "203.0.113.7"}, "InvalidGroup.NotFound")
}

func TestUnreachableEndpoint(t *testing.T) {
	h := start(t, map[string]string{"AWS_ACCESS_KEY_ID": envKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY": envKey.SecretAccessKey,
		"AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:1"}, nil)
	h.fails("whitelist_list", map[string]any{"security_group_id": sg}, "could not reach EC2 at http://127.0.0.1:1")
}

func TestInvalidInput(t *testing.T) {
	h := start(t, plus(envOf(envKey), "MCP_ALLOW_REQUEST_CREDENTIALS", "true"), nil)
	base := map[string]any{"security_group_id": sg, "ip_address": "203.0.113.7"}
	with := func(kv ...any) map[string]any {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	huge := strings.Repeat("A", 100<<10)
	tests := []struct {
		name string
		tool string
		args map[string]any
		want []string
	}{
		{"sg missing", "whitelist_add", with("security_group_id", nil), []string{"security_group_id"}},
		{"sg empty", "whitelist_add", with("security_group_id", ""), []string{"security_group_id is required"}},
		{"sg no prefix", "whitelist_add", with("security_group_id", "0123456789abcdef0"), []string{`"sg-" followed by 8 or 17`}},
		{"sg 9 digits", "whitelist_remove", with("security_group_id", "sg-012345678"), []string{"not a security group ID"}},
		{"sg upper case", "whitelist_check", with("security_group_id", "sg-0123456789ABCDEF0"), []string{"lowercase hex"}},
		{"sg control chars", "whitelist_list", map[string]any{"security_group_id": "sg-01234567\n\x1b[31m"}, []string{"not a security group ID (it is 17 bytes long)"}},
		{"sg bidi override", "whitelist_list", map[string]any{"security_group_id": "sg-0123\u202e4567"}, []string{"not a security group ID"}},
		{"ip missing", "whitelist_add", with("ip_address", nil), []string{"ip_address"}},
		{"ip garbage", "whitelist_add", with("ip_address", "not-an-ip"), []string{"not an IP address"}},
		{"ip out of range", "whitelist_add", with("ip_address", "256.1.1.1"), []string{"not an IP address"}},
		{"ip host bits", "whitelist_add", with("ip_address", "10.0.0.1/24"), []string{"did you mean 10.0.0.0/24?"}},
		{"ip host bits, remove", "whitelist_remove", with("ip_address", "10.0.0.1/8"), []string{"did you mean 10.0.0.0/8?"}},
		{"ip bad prefix", "whitelist_check", with("ip_address", "10.0.0.0/33"), []string{"not a CIDR block"}},
		{"ip zone", "whitelist_add", with("ip_address", "fe80::1%eth0"), []string{"zone"}},
		{"ip fullwidth digits", "whitelist_add", with("ip_address", "１.２.３.４"), []string{"not an IP address"}},
		{"ip everything", "whitelist_add", with("ip_address", "0.0.0.0/0"), []string{"refusing to open the port to every IPv4 address"}},
		{"ip6 everything", "whitelist_add", with("ip_address", "::/0"), []string{"refusing to open the port to every IPv6 address"}},
		{"port zero", "whitelist_add", with("port", 0), []string{"port is out of range: want 1-65535"}},
		{"port too big", "whitelist_check", with("port", 65536), []string{"port is out of range"}},
		{"port negative", "whitelist_remove", with("port", -1), []string{"out of range"}},
		{"port string", "whitelist_add", with("port", "443"), []string{"port must be an integer"}},
		{"port fraction", "whitelist_add", with("port", 443.5), []string{"port must be an integer"}},
		{"port huge", "whitelist_add", with("port", 1e30), []string{"port must be an integer"}},
		{"protocol", "whitelist_add", with("protocol", "sctp"), []string{`protocol is not supported`}},
		{"protocol all", "whitelist_add", with("protocol", "-1"), []string{"not supported"}},
		{"protocol as number", "whitelist_add", with("protocol", 6), []string{"protocol must be a string"}},
		{"description chars", "whitelist_add", with("description", "<script>"), []string{"(at byte 0)", "does not allow"}},
		{"description long", "whitelist_add", with("description", strings.Repeat("a", 256)), []string{"at most 255"}},
		{"huge argument", "whitelist_add", with("ip_address", huge), []string{"at most"}},
		{"huge description", "whitelist_add", with("description", strings.Repeat("a", 2000)), []string{"description is 2000 bytes long"}},
		{"unknown argument", "whitelist_add", with("security_group_name", "web"), []string{"unknown argument", "security_group_id"}},
		{"credentials as string", "whitelist_add", with("credentials", canary), []string{"credentials must be an object"}},
		{"secret as number", "whitelist_add", with("credentials", map[string]any{"access_key_id": envKey.AccessKeyID, "secret_access_key": 12345}), []string{"credentials.secret_access_key must be a string"}},
		{"secret as array", "whitelist_add", with("credentials", map[string]any{"secret_access_key": []string{canary}}), []string{"must be a string"}},
		{"credentials unknown field", "whitelist_add", with("credentials", map[string]any{"password": canary}), []string{"unknown field"}},
		{"secret control chars", "whitelist_add", with("credentials", map[string]any{"access_key_id": envKey.AccessKeyID, "secret_access_key": canary + "\x00"}), []string{"control characters"}},
		{"secret too long", "whitelist_add", with("credentials", map[string]any{"access_key_id": envKey.AccessKeyID, "secret_access_key": canary + strings.Repeat("x", 5000)}), []string{"longer than"}},
		{"access key id malformed", "whitelist_add", with("credentials", map[string]any{"access_key_id": canary, "secret_access_key": canary}), []string{"not an AWS access key ID"}},
		{"region malformed", "whitelist_add", with("credentials", map[string]any{"region": "mars-1\n"}), []string{"the region from credentials.region is not an AWS region"}},
		{"profile control chars", "whitelist_add", with("credential_profile", "x\x00y"), []string{`names no profile this server offers`}},
		{"profile bidi override", "whitelist_list", map[string]any{"security_group_id": sg, "credential_profile": "sta\u202eging"}, []string{`names no profile`, `(offered: "default")`}},
		{"profile path", "whitelist_list", map[string]any{"security_group_id": sg, "credential_profile": "../../etc/passwd"}, []string{`names no profile`}},
		{"profile long", "whitelist_list", map[string]any{"security_group_id": sg, "credential_profile": strings.Repeat("p", 900)}, []string{"names no profile"}},
		{"profile as number", "whitelist_list", map[string]any{"security_group_id": sg, "credential_profile": 7}, []string{"credential_profile must be a string"}},
		{"credential_id refused", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "file:/etc/shadow"}, []string{`credential_id is refused`, "MCP_ALLOWED_REFERENCES"}},
		{"credential_id secret pasted", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": canary}, []string{"credential_id is not a credential reference this server reads: it has no scheme"}},
		{"credential_id control chars", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "file:" + canary + "\x00"}, []string{"holds control or invisible formatting characters"}},
		{"credential_id bidi", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "file:a\u202e"}, []string{"control or invisible"}},
		{"credential_id dot dot", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "file:~/../../etc/passwd?profile=x"}, []string{`".." path segment`}},
		{"credential_id empty field", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "file:" + canary + "#"}, []string{"has a #field that is not", "want scheme:body[?params][#field]"}},
		{"credential_id empty params", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "file:" + canary + "?"}, []string{"has an empty ?params part"}},
		{"credential_id param twice", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "file:/x?profile=a&profile=b"}, []string{"names a ?param twice"}},
		{"credential_id param value", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "file:/x?profile=" + canary + "/x"}, []string{"has a ?param value that is not"}},
		{"credential_id version pin refused", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "ssm:/mcp/prod/token?version=3#token"}, []string{"credential_id is refused"}},
		{"credential_id bad scheme", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "FILE:" + canary}, []string{"has a scheme that is not"}},
		{"credential_id white space", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": " file:x"}, []string{"white space"}},
		{"credential_id long", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": "file:" + strings.Repeat("a", 1030)}, []string{"is longer than 1024 bytes"}},
		{"credential_id as object", "whitelist_list", map[string]any{"security_group_id": sg, "credential_id": map[string]any{"secret": canary}}, []string{"credential_id must be a string"}},
		{"credential_profile as array", "whitelist_list", map[string]any{"security_group_id": sg, "credential_profile": []string{canary}}, []string{"credential_profile must be a string"}},
		{"arguments not an object", "whitelist_list", nil, []string{"security_group_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := h.fails(tt.tool, tt.args, tt.want...)
			if os.Getenv("DUMP") != "" {
				t.Logf("%s", msg)
			}
			if len(msg) > 2000 {
				t.Errorf("error message is %d bytes long", len(msg))
			}
			if strings.Contains(msg, canary) {
				t.Errorf("error reveals the canary: %q", msg)
			}
		})
	}
	if calls := h.ec2.Calls(); len(calls) != 0 {
		t.Fatalf("invalid calls reached AWS: %v", h.signers())
	}
}

func TestDryRun(t *testing.T) {
	h := start(t, map[string]string{"AWS_ACCESS_KEY_ID": envKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY": envKey.SecretAccessKey, "WHITELIST_DRY_RUN": "1"}, nil)
	out := h.ok("whitelist_add", map[string]any{"security_group_id": sg, "ip_address": "2001:db8::/64", "port": 8443, "description": "ci runners"})
	if out["status"] != "dry_run" {
		t.Fatalf("status = %v", out["status"])
	}
	dry := out["dry_run"].(map[string]any)
	params := dry["parameters"].(map[string]any)
	want := map[string]any{
		"Action": "AuthorizeSecurityGroupIngress", "Version": "2016-11-15", "GroupId": sg,
		"IpPermissions.1.IpProtocol": "tcp", "IpPermissions.1.FromPort": "8443", "IpPermissions.1.ToPort": "8443",
		"IpPermissions.1.Ipv6Ranges.1.CidrIpv6": "2001:db8::/64", "IpPermissions.1.Ipv6Ranges.1.Description": "ci runners",
	}
	if !maps.Equal(params, want) {
		t.Errorf("parameters = %v\nwant %v", params, want)
	}
	if dry["action"] != "AuthorizeSecurityGroupIngress" || dry["endpoint"] != h.getenv("AWS_ENDPOINT_URL") || out["credential_source"] == "" {
		t.Errorf("dry run = %v", out)
	}
	rule := map[string]any{"security_group_id": sg, "ip_address": "203.0.113.7"}
	for tool, action := range map[string]string{"whitelist_remove": "RevokeSecurityGroupIngress", "whitelist_check": "DescribeSecurityGroups"} {
		if out := h.ok(tool, rule); out["dry_run"].(map[string]any)["action"] != action {
			t.Errorf("%s: dry run = %v", tool, out)
		}
	}
	if out := h.ok("whitelist_list", map[string]any{"security_group_id": sg}); out["dry_run"].(map[string]any)["parameters"].(map[string]any)["GroupId.1"] != sg {
		t.Errorf("list: dry run = %v", out)
	}
	if calls := h.ec2.Calls(); len(calls) != 0 {
		t.Fatalf("dry run reached AWS: %v", h.signers())
	}
	// Credentials are still resolved: with none, a dry run fails too.
	none := start(t, map[string]string{"WHITELIST_DRY_RUN": "true"}, nil)
	none.fails("whitelist_list", map[string]any{"security_group_id": sg}, "no credentials found")
}

// The SDK's SigV4 signer caches signing keys by access key ID, region and
// day, not by secret. A caller who knows another caller's access key ID (not
// a secret) must not get requests signed with that caller's secret.
func TestKnownKeyIDWithWrongSecretIsNotSignedWithCachedSecret(t *testing.T) {
	h := start(t, plus(envOf(envKey), "MCP_ALLOW_REQUEST_CREDENTIALS", "true"), nil)
	creds := func(secret string) map[string]any {
		return map[string]any{"security_group_id": sg, "credentials": map[string]any{"access_key_id": requestKey.AccessKeyID, "secret_access_key": secret}}
	}
	h.ok("whitelist_list", creds(requestKey.SecretAccessKey))
	h.fails("whitelist_list", creds(requestKey.SecretAccessKey+"-wrong"), "AuthFailure")
	// The same for the env key, used by the server itself.
	h.ok("whitelist_list", map[string]any{"security_group_id": sg})
	h.fails("whitelist_list", map[string]any{"security_group_id": sg, "credentials": map[string]any{"access_key_id": envKey.AccessKeyID, "secret_access_key": "guess-" + canary}}, "AuthFailure")
}
