package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcred/mcpcred/provider"
)

// Keeping request text out of replies and logs.
//
// The server's own messages never repeat what a request sent (see
// validate.go and creds.go). Three kinds of text are not the server's own:
//
//   - JSON-RPC errors the SDK writes before any handler runs, such as
//     "unmarshaling %q into a *CallToolParams", which quotes the whole
//     request, credentials included. replyWriter rewrites the message of
//     every JSON-RPC error the server sends to one fixed per error code.
//   - Records the library (resolver, providers) logs while serving a call,
//     which may name a profile or reference the call passed. scrubHandler
//     replaces, in the records logged with a call's context, every string
//     the call's arguments held.
//   - Records the SDK logs (at debug level only), which may format a
//     request's params into the message. sdkHandler keeps the fixed start
//     of each message and renders every attribute through provider.Describe.

// minScrubLen is the shortest argument string scrubbed from library log
// records: shorter ones ("tcp", "443") are no secret and appear in
// legitimate records.
const minScrubLen = 6

// maxNameScrubLen is the longest argument string that is left in library
// messages when it reads as a name (provider.Describe would quote it), such
// as a profile or section name: longer ones, such as a 24-letter token, are
// scrubbed too.
const maxNameScrubLen = 16

// refSeparators split an argument string into the parts scrub also looks
// for.
const refSeparators = ":#/\\@?=&,;*[]() \t\n\"'"

type requestTextKey struct{}

// withRequestText records in ctx every string value of a call's JSON
// arguments (not the argument names, which the guard has checked), for
// scrub.
func withRequestText(ctx context.Context, raw json.RawMessage) context.Context {
	var args any
	if json.Unmarshal(raw, &args) != nil {
		return ctx
	}
	var texts []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			// The whole string, and its parts between the separators of
			// references and paths, which a provider may name alone (the
			// section of file:SECTION or file:PATH?profile=SECTION).
			parts := strings.FieldsFunc(x, func(r rune) bool { return strings.ContainsRune(refSeparators, r) })
			for _, t := range append(parts, x) {
				if len(t) >= minScrubLen && (len(t) > maxNameScrubLen || provider.Describe(t) != strconv.Quote(t)) {
					texts = append(texts, t)
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
	if len(texts) == 0 {
		return ctx
	}
	slices.Sort(texts)
	texts = slices.Compact(texts)
	// Longest first, so a text holding another is replaced whole.
	slices.SortFunc(texts, func(a, b string) int { return len(b) - len(a) })
	return context.WithValue(ctx, requestTextKey{}, texts)
}

// scrub replaces every request text in s, as it is and as Go would quote
// it, with provider.Redacted.
func scrub(s string, texts []string) string {
	for _, t := range texts {
		s = strings.ReplaceAll(s, t, provider.Redacted)
		if q := strconv.Quote(t); q[1:len(q)-1] != t {
			s = strings.ReplaceAll(s, q[1:len(q)-1], provider.Redacted)
		}
	}
	return s
}

// inFlight holds the argument text of the tool calls being served, for
// records logged without a call's context (some providers log that way).
type inFlight struct {
	mu    sync.Mutex
	calls map[*[]string]struct{}
}

// add registers a call's texts until the returned function is called.
func (f *inFlight) add(texts []string) func() {
	if len(texts) == 0 {
		return func() {}
	}
	key := &texts
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[*[]string]struct{}{}
	}
	f.calls[key] = struct{}{}
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
	}
}

// texts returns the texts of every call in flight.
func (f *inFlight) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []string
	for k := range f.calls {
		all = append(all, *k...)
	}
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	return all
}

// requestText returns the argument texts recorded in ctx.
func requestText(ctx context.Context) []string {
	texts, _ := ctx.Value(requestTextKey{}).([]string)
	return texts
}

// scrubHandler is the handler of the logger the library (resolver,
// providers, profiles file) logs through: in every record logged while tool
// calls are served, it replaces their argument strings, in the message and
// in every attribute, with provider.Redacted.
type scrubHandler struct {
	slog.Handler
	calls *inFlight
}

func (h scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	texts := h.calls.texts()
	if len(texts) == 0 {
		return h.Handler.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, scrub(r.Message, texts), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a, func(s string) string { return scrub(s, texts) }))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return scrubHandler{h.Handler.WithAttrs(as), h.calls}
}

func (h scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{h.Handler.WithGroup(name), h.calls}
}

// scrubAttr applies fix to a's text: strings, errors and Stringers (after
// LogValuers have rendered themselves, so a provider.Secret stays
// [REDACTED]), in groups too.
func scrubAttr(a slog.Attr, fix func(string) string) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, fix(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]slog.Attr, len(as))
		for i, g := range as {
			out[i] = scrubAttr(g, fix)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, fix(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, fix(x.String()))
		case []string:
			out := make([]string, len(x))
			for i, s := range x {
				out[i] = fix(s)
			}
			return slog.Any(a.Key, out)
		case nil:
		default: // named string types (the SDK's LoggingLevel), structs, maps
			return slog.String(a.Key, fix(fmt.Sprint(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// sdkHandler is the handler of the logger given to the MCP SDK. The SDK
// formats request data into some messages ("calling tools/call: unmarshaling
// ..."), so a message is cut at its first ':' or '"', and every attribute's
// text is rendered through provider.Describe.
type sdkHandler struct{ slog.Handler }

func (h sdkHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := r.Message
	if i := strings.IndexAny(msg, `:"`); i >= 0 {
		msg = strings.TrimSpace(msg[:i]) + " (details not shown: they may quote a request)"
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a, describeNonEmpty))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

// describeNonEmpty renders an SDK attribute: through provider.Describe,
// except that a long text that reads as a name (a 24-letter token) is
// [REDACTED] too, as in scrub.
func describeNonEmpty(s string) string {
	if s == "" {
		return s
	}
	if d := provider.Describe(s); d != strconv.Quote(s) || len(s) <= maxNameScrubLen {
		return d
	}
	return provider.Redacted
}

func (h sdkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = scrubAttr(a, describeNonEmpty)
	}
	return sdkHandler{h.Handler.WithAttrs(out)}
}

func (h sdkHandler) WithGroup(name string) slog.Handler {
	return sdkHandler{h.Handler.WithGroup(name)}
}

// transport returns the server's transport over r and w (stdin and stdout
// in main): newline-delimited JSON-RPC, as mcp.StdioTransport, with every
// JSON-RPC error the server writes rewritten by replyWriter.
func transport(r io.ReadCloser, w io.WriteCloser) mcp.Transport {
	return &mcp.IOTransport{Reader: r, Writer: &replyWriter{w: w}}
}

// replyWriter passes the server's newline-delimited JSON-RPC messages to w,
// replacing the message of each error response (and dropping its data) by
// the fixed text for its code: the SDK's own messages can quote the request
// ("unknown tool %q", "unmarshaling %q into a %T"). Results, tool errors
// (isError results) and requests pass unchanged.
type replyWriter struct {
	mu  sync.Mutex
	w   io.WriteCloser
	buf []byte
}

func (rw *replyWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.buf = append(rw.buf, p...)
	for {
		i := bytes.IndexByte(rw.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := rewriteErrors(rw.buf[:i])
		if _, err := rw.w.Write(append(line, '\n')); err != nil {
			return 0, err
		}
		rw.buf = rw.buf[i+1:]
	}
}

func (rw *replyWriter) Close() error { return rw.w.Close() }

// rewriteErrors rewrites the error responses in one line: a message or a
// batch of them.
func rewriteErrors(line []byte) []byte {
	if !bytes.Contains(line, []byte(`"error"`)) {
		return line
	}
	var batch []json.RawMessage
	if json.Unmarshal(line, &batch) == nil {
		for i, m := range batch {
			batch[i] = rewriteError(m)
		}
		if out, err := json.Marshal(batch); err == nil {
			return out
		}
		return line
	}
	return rewriteError(line)
}

func rewriteError(msg []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil || m["error"] == nil || m["method"] != nil {
		return msg
	}
	var e jsonrpc.Error
	if json.Unmarshal(m["error"], &e) != nil {
		e.Code = jsonrpc.CodeInternalError
	}
	b, err := json.Marshal(&jsonrpc.Error{Code: e.Code, Message: replyMessage(e.Code, e.Message)})
	if err != nil {
		return msg
	}
	m["error"] = b
	out, err := json.Marshal(m)
	if err != nil {
		return msg
	}
	return out
}

// replyMessage is the message sent for a JSON-RPC error: the server's own
// unknown-tool message, else a fixed text per code.
func replyMessage(code int64, msg string) string {
	if msg == unknownTool {
		return msg
	}
	switch code {
	case jsonrpc.CodeParseError:
		return "parse error: the message is not valid JSON"
	case jsonrpc.CodeInvalidRequest:
		return "invalid request: not a JSON-RPC 2.0 request this server accepts here"
	case jsonrpc.CodeMethodNotFound:
		return "method not found: this server offers tools only (tools/list, tools/call)"
	case jsonrpc.CodeInvalidParams:
		return "invalid params: the params do not have the shape this method takes (the details are not repeated: they could quote the request)"
	}
	return "the request failed (the details are not repeated: they could quote the request)"
}
