package mcptool

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/mcpcred/mcpcred/provider"
)

// Log scrubbing.
//
// mcptool's own records never hold a value, and the resolver and the
// providers render what a request sent through provider.Describe. Two kinds
// of records are nobody's own: a provider written elsewhere that formats a
// profile name or a reference piece into its message, and the SDK, which
// formats request data into some of its debug messages. [LogHandler] and
// [SDKLogHandler] keep the request's text out of both.

// LogHandler is a slog.Handler for the loggers of the code that serves tool
// calls: the resolver (resolver.Options.Logger), its providers, and
// Options.Logger. In every record it handles while tool calls of a
// [Server] that has it as Options.ScrubLogs are in flight, it replaces the
// argument text of those calls that does not read as a name (as tool
// errors are scrubbed: each string value of the arguments, and its pieces
// between the separators of references and paths) with provider.Redacted,
// in the message and in every attribute. Records logged without the call's
// context are covered too: the text of every call in flight is scrubbed.
//
// Create one with [NewLogHandler] before the resolver, which needs its
// logger before [New] runs. It is safe for concurrent use.
type LogHandler struct {
	next  slog.Handler
	calls *inFlight
}

// NewLogHandler returns a [LogHandler] that passes scrubbed records to next.
func NewLogHandler(next slog.Handler) *LogHandler {
	return &LogHandler{next: next, calls: &inFlight{}}
}

// Enabled reports whether the next handler handles level.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle scrubs r of the argument text of the calls in flight and passes it
// on.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	texts := h.calls.texts()
	if len(texts) == 0 {
		return h.next.Handle(ctx, r)
	}
	fix := func(s string) string { return scrub(s, texts) }
	out := slog.NewRecord(r.Time, r.Level, fix(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(fixAttr(a, fix))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs returns a LogHandler over next.WithAttrs. Attributes given here
// are the logger's own, set before any call: they are not scrubbed.
func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &LogHandler{next: h.next.WithAttrs(as), calls: h.calls}
}

// WithGroup returns a LogHandler over next.WithGroup.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{next: h.next.WithGroup(name), calls: h.calls}
}

// register records the argument texts of one call until the returned
// function is called.
func (h *LogHandler) register(texts []string) func() {
	if h == nil {
		return func() {}
	}
	return h.calls.add(texts)
}

// inFlight holds the argument texts of the calls being served.
type inFlight struct {
	mu    sync.Mutex
	calls map[*[]string]struct{}
	all   []string // the union, longest first
}

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
	f.rebuild()
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.rebuild()
		f.mu.Unlock()
	}
}

// rebuild recomputes all; f.mu is held.
func (f *inFlight) rebuild() {
	var all []string
	for k := range f.calls {
		all = append(all, *k...)
	}
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	f.all = slices.Compact(all)
}

func (f *inFlight) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.all
}

// SDKLogHandler returns the handler for the logger given to the MCP SDK
// (mcp.ServerOptions.Logger). The SDK formats request data into some
// messages ("calling tools/call: unmarshaling ..."), so a message is cut
// at its first ':' or '"', and every attribute's text is rendered through
// provider.Describe.
func SDKLogHandler(next slog.Handler) slog.Handler { return sdkHandler{next} }

type sdkHandler struct{ slog.Handler }

func (h sdkHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := r.Message
	if i := strings.IndexAny(msg, `:"`); i >= 0 {
		msg = strings.TrimSpace(msg[:i]) + " (details not shown: they may quote a request)"
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(fixAttr(a, describeNonEmpty))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h sdkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = fixAttr(a, describeNonEmpty)
	}
	return sdkHandler{h.Handler.WithAttrs(out)}
}

func (h sdkHandler) WithGroup(name string) slog.Handler {
	return sdkHandler{h.Handler.WithGroup(name)}
}

// fixAttr applies fix to a's text: strings, errors and Stringers (after
// LogValuers have rendered themselves, so a provider.Secret stays
// [REDACTED]), in groups too.
func fixAttr(a slog.Attr, fix func(string) string) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, fix(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]slog.Attr, len(as))
		for i, g := range as {
			out[i] = fixAttr(g, fix)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case nil:
		case error:
			return slog.String(a.Key, fix(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, fix(x.String()))
		case []string:
			out := make([]string, len(x))
			for i, s := range x {
				out[i] = fix(s)
			}
			return slog.Any(a.Key, out)
		default: // named string types, structs, maps
			return slog.String(a.Key, fix(fmt.Sprint(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// describeNonEmpty renders an SDK attribute through provider.Describe.
func describeNonEmpty(s string) string {
	if s == "" {
		return s
	}
	return provider.Describe(s)
}
