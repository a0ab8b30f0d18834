package mcptool

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
)

// Output scrubbing.
//
// Every result of a guarded tool (its text, its structured content, its
// error, and the JSON-RPC error of a failed call) is scrubbed of every
// secret value the server's tools have been served, as it is, as JSON and
// as URL encoding escape it: an upstream API that echoes a key in an error
// message does not get it to the model. Tool errors are also scrubbed of
// the text of the call's own arguments that does not read as a name
// (provider.Describe), so a secret pasted into the wrong argument does not
// come back either.

// MinScrubLen is the shortest secret value scrubbed from results: shorter
// values would match ordinary text.
const MinScrubLen = 8

// minArgScrubLen is the shortest argument text scrubbed from tool errors.
const minArgScrubLen = 6

// served remembers the secret values the server's tools were given.
type served struct {
	max   int
	plain map[string]bool // fields that are no secret; read-only after New

	// seen holds the masked stored forms (provider.Secret), which mean
	// nothing outside this process, copied on write so that a lookup takes
	// no lock.
	seen atomic.Pointer[map[provider.Secret]struct{}]

	mu    sync.Mutex
	order []provider.Secret // oldest first, for eviction
	// forms returns the texts to scrub, longest first. The values live in
	// the closure, where reflection-based printers (go-spew, fmt on
	// unexported fields) do not look.
	forms atomic.Pointer[func() []string]
}

// record remembers the secret fields of c.
func (s *served) record(c provider.Credentials) {
	if c.IsZero() {
		return
	}
	var seen map[provider.Secret]struct{}
	if p := s.seen.Load(); p != nil {
		seen = *p
	}
	var fresh []provider.Secret
	for _, n := range c.Names() {
		v := c.Get(n)
		if _, ok := seen[v]; !ok && !s.plain[n] {
			fresh = append(fresh, v)
		}
	}
	if len(fresh) > 0 {
		s.add(fresh)
	}
}

// holdsSecret reports whether fields give a non-empty field that is not
// plain.
func (s *served) holdsSecret(fields map[string]provider.Secret) bool {
	for n, v := range fields {
		if !s.plain[n] && !v.IsZero() {
			return true
		}
	}
	return false
}

// recordValue remembers one value seen leaving the process (an
// Authorization header).
func (s *served) recordValue(v string) {
	if len(v) < MinScrubLen {
		return
	}
	sec := provider.NewSecret(v)
	if p := s.seen.Load(); p != nil {
		if _, ok := (*p)[sec]; ok {
			return
		}
	}
	s.add([]provider.Secret{sec})
}

func (s *served) add(fresh []provider.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[provider.Secret]struct{}{}
	if p := s.seen.Load(); p != nil {
		for k := range *p {
			seen[k] = struct{}{}
		}
	}
	for _, v := range fresh {
		if _, ok := seen[v]; !ok {
			seen[v] = struct{}{}
			s.order = append(s.order, v)
		}
	}
	for len(s.order) > s.max {
		delete(seen, s.order[0])
		s.order = s.order[1:]
	}
	var forms []string
	for _, v := range s.order {
		forms = append(forms, scrubForms(v.Reveal())...)
	}
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	forms = slices.Compact(forms)
	list := func() []string { return forms }
	s.forms.Store(&list)
	s.seen.Store(&seen)
}

// scrubForms returns the spellings of v to scrub: as it is, JSON-escaped
// and URL-escaped.
func scrubForms(v string) []string {
	if len(v) < MinScrubLen {
		return nil
	}
	out := []string{v}
	if b, err := json.Marshal(v); err == nil {
		out = append(out, string(b[1:len(b)-1]))
	}
	q := strconv.Quote(v)
	out = append(out, q[1:len(q)-1])
	out = append(out, url.QueryEscape(v), url.PathEscape(v))
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *served) list() []string {
	if f := s.forms.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// scrub replaces every text of texts in s with provider.Redacted.
func scrub(s string, texts []string) string {
	for _, t := range texts {
		if strings.Contains(s, t) {
			s = strings.ReplaceAll(s, t, provider.Redacted)
		}
	}
	return s
}

func scrubBytes(b []byte, texts []string) []byte {
	for _, t := range texts {
		if bytes.Contains(b, []byte(t)) {
			b = bytes.ReplaceAll(b, []byte(t), []byte(provider.Redacted))
		}
	}
	return b
}

// scrubResult scrubs a tools/call result in place.
func (s *Server) scrubResult(res mcp.Result, args json.RawMessage) {
	tr, ok := res.(*mcp.CallToolResult)
	if !ok || tr == nil {
		return
	}
	texts := s.served.list()
	if tr.IsError {
		texts = append(argTexts(args), texts...)
		slices.SortFunc(texts, func(a, b string) int { return len(b) - len(a) })
	}
	if len(texts) == 0 {
		return
	}
	for i, c := range tr.Content {
		switch c := c.(type) {
		case *mcp.TextContent:
			if t := scrub(c.Text, texts); t != c.Text {
				cc := *c
				cc.Text = t
				tr.Content[i] = &cc
			}
		case *mcp.EmbeddedResource:
			if c.Resource != nil {
				if t := scrub(c.Resource.Text, texts); t != c.Resource.Text {
					rc := *c.Resource
					rc.Text = t
					cc := *c
					cc.Resource = &rc
					tr.Content[i] = &cc
				}
			}
		}
	}
	switch sc := tr.StructuredContent.(type) {
	case nil:
	case json.RawMessage:
		tr.StructuredContent = json.RawMessage(scrubBytes(sc, texts))
	default:
		if b, err := json.Marshal(sc); err == nil {
			if out := scrubBytes(b, texts); !bytes.Equal(out, b) {
				tr.StructuredContent = json.RawMessage(out)
			}
		} else {
			tr.StructuredContent = nil
		}
	}
}

// scrubError scrubs the error of a failed call.
func (s *Server) scrubError(err error) error {
	if err == nil {
		return nil
	}
	texts := s.served.list()
	if len(texts) == 0 {
		return err
	}
	if we, ok := err.(*jsonrpc.Error); ok {
		if m := scrub(we.Message, texts); m != we.Message {
			return &jsonrpc.Error{Code: we.Code, Message: m}
		}
		return err
	}
	if m := scrub(err.Error(), texts); m != err.Error() {
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: m}
	}
	return err
}

// argSeparators split an argument's text into the parts argTexts also
// scrubs: a provider may name one piece of a reference alone.
const argSeparators = ":#/\\@?=&,;*[]() \t\n\"'"

// argTexts returns the string values in a call's arguments that do not
// read as a name, and their pieces, longest first.
func argTexts(raw json.RawMessage) []string {
	var args any
	if len(raw) == 0 || json.Unmarshal(raw, &args) != nil {
		return nil
	}
	var texts []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			parts := strings.FieldsFunc(x, func(r rune) bool { return strings.ContainsRune(argSeparators, r) })
			for _, t := range append(parts, x) {
				if len(t) >= minArgScrubLen && provider.Describe(t) != strconv.Quote(t) {
					texts = append(texts, t)
					if q := strconv.Quote(t); q[1:len(q)-1] != t {
						texts = append(texts, q[1:len(q)-1])
					}
				}
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(args)
	slices.Sort(texts)
	return slices.Compact(texts)
}
