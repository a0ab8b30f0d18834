package mcptool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// The names of the selection arguments, as they appear in a tool's input.
const (
	ArgCredentials       = "credentials"
	ArgCredentialProfile = "credential_profile"
	ArgCredentialID      = "credential_id"
)

// Field declares one field of the credentials argument.
type Field struct {
	// Name is the credential field, such as provider.FieldToken: the
	// property of the credentials object and the field of the resolved
	// provider.Credentials.
	Name string

	// Description is the property's description in the schema.
	Description string

	// Plain marks a field that is no secret, such as a region: it is not
	// marked writeOnly, and its value is not scrubbed from tool results.
	Plain bool
}

// TokenFields is the credentials argument of a server that calls an API
// with one bearer token.
var TokenFields = []Field{
	{Name: provider.FieldToken, Description: "API token for this call only"},
}

// AWSFields is the credentials argument of a server that calls AWS.
var AWSFields = []Field{
	{Name: provider.FieldAccessKeyID, Description: "AWS access key ID (AKIA... or ASIA...)"},
	{Name: provider.FieldSecretAccessKey, Description: "AWS secret access key"},
	{Name: provider.FieldSessionToken, Description: "Optional: AWS session token, for temporary credentials"},
	{Name: provider.FieldRegion, Description: "Optional: AWS region, such as eu-west-1", Plain: true},
}

// Hints tell a caller how the operator enables what the server refused.
// Each is one sentence the server's operator can act on, such as "the
// operator allows them with MCP_ALLOW_REQUEST_CREDENTIALS=true". They are
// the operator's text, shown as they are.
type Hints struct {
	RequestCredentials string // when credentials in a call are refused
	Profiles           string // when a credential_profile is not offered
	References         string // when a credential_id is refused
	Configure          string // when no source has credentials
}

// Options configure a [Server]. The zero value offers only the server's
// own credentials: no credentials argument, no credential_profile, no
// credential_id.
type Options struct {
	// Fields declares the credentials argument's fields. Default
	// TokenFields.
	Fields []Field

	// RequestCredentials advertises the credentials argument. Set it
	// exactly when the resolver's Options.AllowRequestCredentials is set:
	// a server that refuses request credentials does not show the argument
	// at all, and a call that passes it anyway is told how the operator
	// allows them (Hints.RequestCredentials).
	RequestCredentials bool

	// Profiles advertises credential_profile. OfferedProfiles, if set,
	// lists the profiles a refusal names (profile names are the operator's,
	// read from the profiles file, and are rendered with provider.Describe).
	Profiles        bool
	OfferedProfiles func() []string

	// References advertises credential_id; the resolver's
	// Options.AllowReferences decides which it accepts.
	References bool

	// Hints are added to the refusals.
	Hints Hints

	// DetailedErrors lets model-facing errors carry the resolver's full
	// account of a failed resolution: file paths, section names, variable
	// names. By default they name the providers only, and the full account
	// goes to Logger.
	DetailedErrors bool

	// Rejected reports whether an error from an operation passed to
	// [Call.Do] means that the upstream rejected the credential (HTTP 401,
	// AWS AuthFailure). Default: errors.Is(err, ErrCredentialRejected).
	Rejected func(error) bool

	// MaxArgumentBytes bounds a call's arguments, all together. Default
	// DefaultMaxArgumentBytes.
	MaxArgumentBytes int

	// MaxScrubbed bounds how many secret values are remembered for
	// scrubbing; past it the oldest is forgotten. Default
	// DefaultMaxScrubbed.
	MaxScrubbed int

	// Logger is the operator's log: refusals, failed resolutions with the
	// resolver's full error, retries. Records never hold a value.
	// Default: discard.
	Logger *slog.Logger

	// ScrubLogs, if set, is given the argument text of every tools/call
	// while it is served, and keeps it out of the records it handles: make
	// it the handler of the resolver's, the providers' and Logger's loggers.
	// See [LogHandler].
	ScrubLogs *LogHandler

	// Enroll, if set, offers a verified caller whose own (per-subject)
	// source of the selected profile holds nothing a URL where they add
	// the credential in a browser (resolver/enroll): the call answers
	// URLElicitationRequired (-32042), or, to a client that did not
	// declare URL elicitation, a tool error that gives the URL.
	Enroll Enroller
}

// Defaults for [Options].
const (
	DefaultMaxArgumentBytes = 64 << 10
	DefaultMaxScrubbed      = 1024
)

// Server is the credential layer of one mcp.Server: it registers tools
// through [AddTool], guards their arguments, resolves their credentials
// through a resolver and scrubs their results. It is safe for concurrent
// use.
type Server struct {
	srv     *mcp.Server
	r       *resolver.Resolver
	opts    Options
	tools   atomic.Pointer[map[string]*tool]
	schemas sync.Map   // tool name -> *jsonschema.Schema, for schemaError
	mu      sync.Mutex // serializes AddTool
	served  served
}

// New returns the credential layer of srv, resolving through r, and
// installs its guard as srv's receiving middleware. opts may be nil.
// Register tools with [AddTool].
func New(srv *mcp.Server, r *resolver.Resolver, opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if srv == nil || r == nil {
		return nil, errors.New("mcptool: New needs a server and a resolver")
	}
	if len(o.Fields) == 0 {
		o.Fields = TokenFields
	}
	o.Fields = slices.Clone(o.Fields)
	for _, f := range o.Fields {
		if !provider.ValidField(f.Name) {
			return nil, fmt.Errorf("mcptool: Options.Fields: %s is not a field name (1-%d of a-z, 0-9 and _)", provider.Describe(f.Name), provider.MaxFieldLen)
		}
	}
	if o.Rejected == nil {
		o.Rejected = func(err error) bool { return errors.Is(err, ErrCredentialRejected) }
	}
	if o.MaxArgumentBytes <= 0 {
		o.MaxArgumentBytes = DefaultMaxArgumentBytes
	}
	if o.MaxScrubbed <= 0 {
		o.MaxScrubbed = DefaultMaxScrubbed
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{srv: srv, r: r, opts: o}
	s.served.max = o.MaxScrubbed
	s.served.plain = map[string]bool{provider.FieldRegion: true}
	for _, f := range o.Fields {
		s.served.plain[f.Name] = f.Plain
	}
	empty := map[string]*tool{}
	s.tools.Store(&empty)
	srv.AddReceivingMiddleware(s.guard)
	return s, nil
}

// Resolver returns the resolver the server's tools resolve through.
func (s *Server) Resolver() *resolver.Resolver { return s.r }

// Selection is the credential part of a tool's input: embed it in the
// input struct. Which of its arguments a tool advertises is the operator's
// choice ([Options]); a call gives at most one of them. When it gives none,
// the server resolves its own credentials (the active profile).
//
// Credential values are held as provider.Secret, masked: no printer,
// encoder or reflection dump shows them.
type Selection struct {
	Credentials       map[string]provider.Secret `json:"credentials,omitempty"`
	CredentialProfile string                     `json:"credential_profile,omitempty"`
	CredentialID      string                     `json:"credential_id,omitempty"`
}

// Request returns the resolver request the selection makes.
func (s Selection) Request() resolver.Request {
	req := resolver.Request{Profile: s.CredentialProfile, CredentialID: s.CredentialID}
	if len(s.Credentials) > 0 {
		req.Credentials = provider.NewCredentialsFromSecrets(s.Credentials, provider.Source{})
	}
	return req
}

func (s *Selection) selection() *Selection { return s }

type selector interface{ selection() *Selection }

// Handler is a tool's handler: it receives the call and the decoded input,
// and returns the output, which becomes the result's structured content
// (and its text), or an error, which becomes a tool error whose text the
// model reads. Errors from [Call.Resolve] and [Call.Do] are already
// model-facing; any other error's text is sent as it is, scrubbed.
type Handler[In, Out any] func(ctx context.Context, c *Call, in In) (Out, error)

// tool is what the guard knows about a registered tool.
type tool struct {
	name      string
	props     map[string]*prop
	names     string // the property names, for messages
	required  []string
	selection bool // In embeds Selection
}

// AddTool registers a tool on the server's mcp.Server with mcp.AddTool.
// When t.InputSchema is nil it is inferred from In, with provider.Secret
// described as a write-only string, and a field tagged default:"..." given
// that default, which the SDK fills in when a call omits the argument (a
// string property's default is the tag's text, any other's is JSON:
// `json:"port,omitempty" default:"443"`); if In embeds [Selection], its
// arguments are shown or left out as [Options] says, and the credentials
// argument has exactly the declared fields. AddTool panics, as mcp.AddTool
// does, when the schema cannot be built.
func AddTool[In, Out any](s *Server, t *mcp.Tool, h Handler[In, Out]) {
	tt := *t
	schema, err := s.inputSchema(reflect.TypeFor[In](), tt.InputSchema)
	if err != nil {
		panic(fmt.Sprintf("mcptool: AddTool %q: %v", t.Name, err))
	}
	tt.InputSchema = schema
	info := newTool(t.Name, schema, reflect.PointerTo(reflect.TypeFor[In]()).Implements(reflect.TypeFor[selector]()))
	s.mu.Lock()
	next := map[string]*tool{}
	for k, v := range *s.tools.Load() {
		next[k] = v
	}
	next[t.Name] = info
	s.tools.Store(&next)
	s.schemas.Store(t.Name, schema)
	s.mu.Unlock()
	mcp.AddTool(s.srv, &tt, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		c, _ := ctx.Value(callKey{}).(*Call)
		if c == nil { // not through the guard: a server that skipped New's middleware
			c = &Call{s: s, tool: info, req: req}
		}
		c.ran = true
		if sel, ok := any(&in).(selector); ok {
			c.sel = *sel.selection()
		}
		out, err := h(ctx, c, in)
		if err != nil {
			var zero Out
			if e := s.enrollment(ctx, c, err); e != nil {
				return nil, zero, e
			}
			return nil, zero, s.modelError(ctx, c, err)
		}
		return nil, out, nil
	})
}

// inputSchema returns the schema of In, patched for the selection
// arguments.
func (s *Server) inputSchema(in reflect.Type, given any) (*jsonschema.Schema, error) {
	var schema *jsonschema.Schema
	switch g := given.(type) {
	case nil:
		var err error
		schema, err = jsonschema.ForType(in, &jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
			reflect.TypeFor[provider.Secret](): {Type: "string", WriteOnly: true},
		}})
		if err != nil {
			return nil, err
		}
		if err := tagDefaults(schema, in); err != nil {
			return nil, err
		}
	case *jsonschema.Schema:
		schema = g.CloneSchemas()
	default:
		b, err := json.Marshal(g)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &schema); err != nil {
			return nil, err
		}
	}
	if schema.Type != "object" {
		return nil, errors.New(`the input schema must have type "object"`)
	}
	if !reflect.PointerTo(in).Implements(reflect.TypeFor[selector]()) {
		return schema, nil
	}
	if schema.Properties == nil {
		schema.Properties = map[string]*jsonschema.Schema{}
	}
	delete(schema.Properties, ArgCredentials)
	delete(schema.Properties, ArgCredentialProfile)
	delete(schema.Properties, ArgCredentialID)
	if s.opts.RequestCredentials {
		c := &jsonschema.Schema{
			Type:                 "object",
			Description:          "Optional: credentials for this call only, overriding the server's own. Usually omitted: the server resolves credentials itself. Give at most one of credentials, credential_profile and credential_id.",
			Properties:           map[string]*jsonschema.Schema{},
			AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}},
		}
		for _, f := range s.opts.Fields {
			c.Properties[f.Name] = &jsonschema.Schema{Type: "string", Description: f.Description, WriteOnly: !f.Plain}
		}
		schema.Properties[ArgCredentials] = c
	}
	if s.opts.Profiles {
		schema.Properties[ArgCredentialProfile] = &jsonschema.Schema{Type: "string",
			Description: fmt.Sprintf("Optional: a named credential profile the server's operator offers. Default: the server's active profile (%s).", s.r.DefaultProfile())}
	}
	if s.opts.References {
		schema.Properties[ArgCredentialID] = &jsonschema.Schema{Type: "string",
			Description: "Optional: a credential reference such as env:MCP_CI_* or file:staging, if the operator's policy allows what it reads. Default: none."}
	}
	return schema, nil
}

// tagDefaults sets the default of each property whose field (promoted ones
// included) has a default tag.
func tagDefaults(schema *jsonschema.Schema, in reflect.Type) error {
	if in.Kind() != reflect.Struct {
		return nil
	}
	for _, f := range reflect.VisibleFields(in) {
		def, ok := f.Tag.Lookup("default")
		if !ok || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		p := schema.Properties[name]
		raw := []byte(def)
		if p != nil && p.Type == "string" {
			raw, _ = json.Marshal(def)
		}
		if p == nil || !json.Valid(raw) {
			return fmt.Errorf("field %s: its default tag is not JSON, or it is no property of the schema", f.Name)
		}
		p.Default = json.RawMessage(raw)
	}
	return nil
}
