package mcptool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
)

// An Enroller lets a verified caller who has no credential for a profile
// add one out of band, in a browser, so that the secret never passes
// through the MCP client or the model (MCP's URL-mode elicitation).
// resolver/enroll implements it.
//
// Enroll returns the URL-mode elicitation that sends caller to add
// profile's credential, and false when the profile cannot be enrolled (the
// call then fails as it would without an Enroller). It arranges for ss to
// get notifications/elicitation/complete when the credential is stored.
type Enroller interface {
	Enroll(ctx context.Context, ss *mcp.ServerSession, caller *provider.Caller, profile string) (*mcp.ElicitParams, bool, error)
}

// EnrollerFunc adapts a function to the [Enroller] interface.
type EnrollerFunc func(ctx context.Context, ss *mcp.ServerSession, caller *provider.Caller, profile string) (*mcp.ElicitParams, bool, error)

// Enroll calls f.
func (f EnrollerFunc) Enroll(ctx context.Context, ss *mcp.ServerSession, caller *provider.Caller, profile string) (*mcp.ElicitParams, bool, error) {
	return f(ctx, ss, caller, profile)
}

// enrollment returns the answer to a call whose handler failed with err
// when the server has an Enroller and err says that the verified caller's
// own (per-subject) source of the selected profile holds nothing: the
// JSON-RPC error URLElicitationRequired (-32042) for a client that
// declared URL elicitation, else a tool error that gives the URL. It
// returns nil when enrollment does not apply.
func (s *Server) enrollment(ctx context.Context, c *Call, err error) error {
	if e := foreignElicitation(err); e != err {
		s.opts.Logger.WarnContext(ctx, "mcptool: a tool answered URLElicitationRequired itself; not passed on", "tool", c.tool.name)
		return e
	}
	if s.opts.Enroll == nil || !errors.Is(err, profile.ErrSourceEmpty) || c.req == nil || c.req.Session == nil {
		return nil
	}
	caller := c.Caller()
	if caller == nil || caller.Validate() != nil || c.sel.CredentialID != "" || len(c.sel.Credentials) > 0 {
		return nil
	}
	name := c.sel.CredentialProfile
	if name == "" {
		name = s.r.DefaultProfile()
	}
	p, ok, eerr := s.opts.Enroll.Enroll(ctx, c.req.Session, caller, name)
	switch {
	case eerr != nil:
		s.opts.Logger.WarnContext(ctx, "mcptool: enrollment could not be offered", "tool", c.tool.name, "profile", provider.Label(name), "error", eerr)
		return nil
	case !ok || p == nil || p.URL == "":
		return nil
	}
	p.Mode = "url"
	s.opts.Logger.InfoContext(ctx, "mcptool: no credential stored for the caller; enrollment offered", "tool", c.tool.name,
		"profile", provider.Label(name), "elicitation", p.ElicitationID, "url_elicitation", urlElicitation(c.req.Session))
	if urlElicitation(c.req.Session) {
		return mcp.URLElicitationRequiredError([]*mcp.ElicitParams{p})
	}
	return &Error{Message: fmt.Sprintf("no %s credential of yours is stored on this server yet: open %s in a browser, "+
		"sign in, add it there (never paste it into this chat), then retry", provider.Label(name), p.URL), Err: err}
}

// foreignElicitation returns err, unless err is a URLElicitationRequired
// error (-32042) a handler made itself (such as one relaying an
// upstream's answer, whose message, links and ids may quote the request):
// only the Enroller's answer, which [Server.enrollment] makes after the
// handler returns, passes the transports with its data. That one becomes
// a tool error that repeats nothing of it.
func foreignElicitation(err error) error {
	var we *jsonrpc.Error
	if !errors.As(err, &we) || we.Code != mcp.CodeURLElicitationRequired {
		return err
	}
	return &Error{Message: "the tool asked the client to open a link, which this server does only to enroll credentials; its answer is not repeated (it could quote the request)"}
}

// urlElicitation reports whether the client of ss declared URL-mode
// elicitation.
func urlElicitation(ss *mcp.ServerSession) bool {
	ip := ss.InitializeParams()
	return ip != nil && ip.Capabilities != nil && ip.Capabilities.Elicitation != nil && ip.Capabilities.Elicitation.URL != nil
}

// validElicitations reports whether data is what
// mcp.URLElicitationRequiredError makes: URL-mode elicitations of the
// shape the SDK defines and nothing else.
func validElicitations(data json.RawMessage) bool {
	var d struct {
		Elicitations []*mcp.ElicitParams `json:"elicitations"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if dec.Decode(&d) != nil || len(d.Elicitations) == 0 {
		return false
	}
	for _, e := range d.Elicitations {
		if e == nil || e.Mode != "url" || e.URL == "" || e.ElicitationID == "" || e.RequestedSchema != nil || e.Meta != nil {
			return false
		}
	}
	return true
}
