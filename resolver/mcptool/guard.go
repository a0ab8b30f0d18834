package mcptool

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The argument guard.
//
// The SDK validates a call's arguments against the tool's schema before the
// handler runs, and its messages quote the offending value; so do the JSON
// decoder's. A model may paste a secret into any argument, so the guard
// checks every tools/call first, on the raw JSON: the size, that the
// arguments are an object, every argument name against the schema, every
// value's JSON type, the required arguments, the credentials object's
// fields and the one-of rule. Its messages name only the schema's own
// property names. What passes it can still fail a finer constraint (an
// enum, a pattern, a minimum) in the SDK's validation: that error is
// replaced by one that names the argument and not its value.

// kind is a set of JSON types.
type kind uint8

const (
	kString kind = 1 << iota
	kInteger
	kNumber
	kBoolean
	kObject
	kArray
	kNull
	kAny kind = 1<<iota - 1
)

var kindNames = []string{"a string", "an integer", "a number", "a boolean", "an object", "an array", "null"}

func (k kind) String() string {
	var out []string
	for i, n := range kindNames {
		if k&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, " or ")
}

func kindOf(s *jsonschema.Schema) kind {
	types := s.Types
	if s.Type != "" {
		types = append(types, s.Type)
	}
	if len(types) == 0 {
		return kAny
	}
	var k kind
	for _, t := range types {
		switch t {
		case "string":
			k |= kString
		case "integer":
			k |= kInteger
		case "number":
			k |= kNumber | kInteger
		case "boolean":
			k |= kBoolean
		case "object":
			k |= kObject
		case "array":
			k |= kArray
		case "null":
			k |= kNull
		}
	}
	return k
}

// prop is one property of a tool's input.
type prop struct {
	name      string
	kind      kind
	fields    map[string]bool // the credentials object: field -> plain
	fieldList string
}

func newTool(name string, s *jsonschema.Schema, selection bool) *tool {
	t := &tool{name: name, props: map[string]*prop{}, required: s.Required, selection: selection}
	for n, ps := range s.Properties {
		p := &prop{name: n, kind: kindOf(ps)}
		if selection && n == ArgCredentials {
			p.fields = map[string]bool{}
			for f, fs := range ps.Properties {
				p.fields[f] = !fs.WriteOnly
			}
			p.fieldList = strings.Join(slices.Sorted(maps.Keys(p.fields)), ", ")
		}
		t.props[n] = p
	}
	t.names = strings.Join(slices.Sorted(maps.Keys(t.props)), ", ")
	if t.names == "" {
		t.names = "no arguments"
	}
	return t
}

// check validates raw arguments for t. Its error is model-facing and
// quotes nothing the call sent.
func (s *Server) check(t *tool, raw json.RawMessage) error {
	if len(raw) > s.opts.MaxArgumentBytes {
		return fmt.Errorf("the arguments are %d bytes; this server accepts at most %d", len(raw), s.opts.MaxArgumentBytes)
	}
	i := skipWS(raw, 0)
	if i == len(raw) || string(raw[i:]) == "null" {
		raw = nil
	} else if !json.Valid(raw) || raw[i] != '{' {
		return fmt.Errorf("the arguments must be a JSON object; this tool takes: %s", t.names)
	}
	var seen [64]bool // required arguments seen, by index (more than 64: checked by the SDK)
	given := 0
	var gave [3]bool // credentials, credential_profile, credential_id
	err := eachMember(raw, func(kb, v []byte) error {
		p := t.props[string(kb)]
		if p == nil {
			if t.selection && isSelectionArg(string(kb)) {
				return s.notOffered(string(kb))
			}
			return fmt.Errorf("unknown argument (its name is not repeated); this tool takes: %s", t.names)
		}
		key := p.name
		if j := slices.Index(t.required, key); j >= 0 && j < len(seen) && v[0] != 'n' {
			seen[j] = true
		}
		k := kindOfValue(v)
		if k == kInteger && p.kind&kNumber == 0 {
			if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
				k = kNumber // too large for an integer the handler can decode
			}
		}
		if p.kind&k == 0 { // 1.5, 1e3 or 1.0 for an integer too: Go's decoder refuses them
			return fmt.Errorf("argument %s must be %s", key, p.kind)
		}
		if !t.selection {
			return nil
		}
		switch key {
		case ArgCredentials:
			secret, err := checkCredentials(p, v)
			if secret {
				gave[0] = true
				given++
			}
			return err
		case ArgCredentialProfile, ArgCredentialID:
			if len(v) > 2 && v[0] == '"' { // a non-empty string
				if key == ArgCredentialProfile {
					gave[1] = true
				} else {
					gave[2] = true
				}
				given++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for j, r := range t.required {
		if j < len(seen) && !seen[j] {
			return fmt.Errorf("argument %s is required; this tool takes: %s", r, t.names)
		}
	}
	if given > 1 {
		var names []string
		for j, n := range []string{ArgCredentials, ArgCredentialProfile, ArgCredentialID} {
			if gave[j] {
				names = append(names, n)
			}
		}
		return fmt.Errorf("give at most one of credentials, credential_profile and credential_id; this call gave %s", strings.Join(names, " and "))
	}
	return nil
}

// checkCredentials checks the credentials object v and reports whether it
// holds a secret field.
func checkCredentials(p *prop, v []byte) (secret bool, err error) {
	if v[0] != '{' {
		return false, nil
	}
	err = eachMember(v, func(key, fv []byte) error {
		plain, ok := p.fields[string(key)]
		if !ok {
			return fmt.Errorf("credentials has an unknown field (its name is not repeated); its fields are: %s", p.fieldList)
		}
		switch {
		case fv[0] == 'n':
		case fv[0] != '"':
			return fmt.Errorf("credentials.%s must be a string", key)
		case len(fv) > 2 && !plain:
			secret = true
		}
		return nil
	})
	return secret, err
}

func isSelectionArg(k string) bool {
	return k == ArgCredentials || k == ArgCredentialProfile || k == ArgCredentialID
}

// callKey is the context key of the *Call the guard makes for a handler.
type callKey struct{}

// guard is the receiving middleware that New installs.
func (s *Server) guard(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		ct, ok := req.(*mcp.CallToolRequest)
		if !ok || method != "tools/call" || ct.Params == nil {
			return next(ctx, method, req)
		}
		if s.opts.ScrubLogs != nil {
			defer s.opts.ScrubLogs.register(argTexts(ct.Params.Arguments))()
		}
		t := (*s.tools.Load())[ct.Params.Name]
		if t == nil { // not registered through AddTool: the SDK answers, scrubbed
			res, err := next(ctx, method, req)
			if we, ok := err.(*jsonrpc.Error); ok && strings.HasPrefix(we.Message, "unknown tool") {
				err = &jsonrpc.Error{Code: we.Code, Message: "unknown tool (its name is not repeated); tools/list lists this server's tools"}
			}
			err = foreignElicitation(err)
			s.scrubResult(res, ct.Params.Arguments)
			return res, s.scrubError(err)
		}
		if err := s.check(t, ct.Params.Arguments); err != nil {
			s.opts.Logger.WarnContext(ctx, "mcptool: arguments refused", "tool", t.name, "reason", err)
			return errorResult(err.Error()), nil
		}
		c := &Call{s: s, tool: t, req: ct}
		res, err := next(context.WithValue(ctx, callKey{}, c), method, req)
		if tr, ok := res.(*mcp.CallToolResult); ok && tr != nil && tr.IsError && !c.ran {
			// The SDK's validation or decoding failed, and its message may
			// quote the value.
			s.opts.Logger.WarnContext(ctx, "mcptool: arguments refused by the schema", "tool", t.name)
			res = errorResult(s.schemaError(t, ct.Params.Arguments))
		}
		s.scrubResult(res, ct.Params.Arguments)
		return res, s.scrubError(err)
	}
}

func errorResult(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: msg}}, IsError: true}
}

// schemaError names the first argument whose value fails its property's
// schema, without the value.
func (s *Server) schemaError(t *tool, raw json.RawMessage) string {
	var bad string
	_ = eachMember(raw, func(key, v []byte) error {
		if p := t.props[string(key)]; p != nil && bad == "" {
			if st := s.propertySchema(t.name, p.name); st != nil {
				var val any
				if json.Unmarshal(v, &val) == nil && st.Validate(val) != nil {
					bad = p.name
				}
			}
		}
		return nil
	})
	if bad == "" {
		return "the arguments do not match the tool's input schema (the details are not repeated: they could quote a value); see the schema in tools/list"
	}
	return fmt.Sprintf("argument %s does not satisfy its schema (the value is not repeated); see its description and constraints in tools/list", bad)
}

// propertySchema resolves the schema of one property of a registered tool,
// on the error path only.
func (s *Server) propertySchema(toolName, prop string) *jsonschema.Resolved {
	ts, ok := s.schemas.Load(toolName)
	if !ok {
		return nil
	}
	ps := ts.(*jsonschema.Schema).Properties[prop]
	if ps == nil {
		return nil
	}
	r, err := ps.Resolve(nil)
	if err != nil {
		return nil
	}
	return r
}

// JSON scanning. The input has passed json.Valid.

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
		i++
	}
	return i
}

// eachMember calls fn with each member of the JSON object b (valid JSON);
// it does nothing if b is not an object.
func eachMember(b []byte, fn func(key, v []byte) error) error {
	i := skipWS(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] == '"' {
		end := skipString(b, i)
		raw := b[i+1 : end-1]
		key := raw
		if slices.Contains(raw, '\\') {
			var k string
			json.Unmarshal(b[i:end], &k) // rare: an escaped name
			key = []byte(k)
		}
		i = skipWS(b, end)
		i = skipWS(b, i+1) // ':'
		vend := skipValue(b, i)
		if err := fn(key, b[i:vend]); err != nil {
			return err
		}
		i = skipWS(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return nil
}

func kindOfValue(v []byte) kind {
	switch v[0] {
	case '"':
		return kString
	case '{':
		return kObject
	case '[':
		return kArray
	case 't', 'f':
		return kBoolean
	case 'n':
		return kNull
	}
	for _, c := range v {
		if c == '.' || c == 'e' || c == 'E' {
			return kNumber
		}
	}
	return kInteger
}
