package mcptool

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// JSON-RPC errors the SDK writes before any middleware runs (a request
// whose params do not decode, "unmarshaling %q into a %T") quote the whole
// request, credentials included. The transports below rewrite the message
// of every JSON-RPC error response to a fixed text per code, and drop its
// data. Tool results, including tool errors, pass unchanged: the guard has
// scrubbed them.

// StdioTransport is mcp.StdioTransport with JSON-RPC error responses
// rewritten, marked [Local]. It never closes stdout.
func StdioTransport() mcp.Transport {
	return IOTransport(os.Stdin, nopCloser{os.Stdout})
}

// IOTransport is mcp.IOTransport over r and w (newline-delimited JSON-RPC)
// with JSON-RPC error responses rewritten.
func IOTransport(r io.ReadCloser, w io.WriteCloser) mcp.Transport {
	return Local(&mcp.IOTransport{Reader: r, Writer: &replyWriter{w: w}})
}

// Local marks t as the local user's transport: calls that arrive on its
// connections are served as the local user (no verified caller, the
// operator's default profile). Every other call is remote, and is served
// only with a verified caller ([HTTPHandler]'s bearer-token check sets it):
// one that has none is refused, whatever the transport (an SSE handler, a
// custom one), so no network client is ever taken for the local user.
// [StdioTransport] and [IOTransport] are Local already; wrap an in-process
// transport (mcp.NewInMemoryTransports) with it where the server and its
// one client are one program.
func Local(t mcp.Transport) mcp.Transport { return localTransport{t} }

// localSessionPrefix starts the session ID of a Local connection. Session
// IDs of the SDK's network transports are random text or empty, never this.
const localSessionPrefix = "mcptool-local:"

type localTransport struct{ mcp.Transport }

func (t localTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return localConn{Connection: c, id: localSessionPrefix + rand.Text()}, nil
}

type localConn struct {
	mcp.Connection
	id string
}

func (c localConn) SessionID() string { return c.id }

// isLocal reports whether ss came over a [Local] transport.
func isLocal(ss *mcp.ServerSession) bool {
	return ss != nil && strings.HasPrefix(ss.ID(), localSessionPrefix)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// replyWriter passes newline-delimited JSON-RPC messages to w, rewriting
// error responses.
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
		line := append(rewriteErrors(rw.buf[:i]), '\n')
		if _, err := rw.w.Write(line); err != nil {
			return 0, err
		}
		rw.buf = rw.buf[i+1:]
	}
}

func (rw *replyWriter) Close() error { return rw.w.Close() }

// rewriteErrors rewrites the error responses in one line: a message or a
// batch.
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
	re := &jsonrpc.Error{Code: e.Code, Message: replyMessage(e.Code)}
	if e.Code == mcp.CodeURLElicitationRequired && validElicitations(e.Data) {
		// Only an Enroller's answer keeps its data (the guard turns a
		// tool's own -32042 into a tool error): the enrollment URL and
		// the Enroller's message, never request text.
		re.Data = e.Data
	}
	b, err := json.Marshal(re)
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

// replyMessage is the fixed message for a JSON-RPC error code.
func replyMessage(code int64) string {
	switch code {
	case jsonrpc.CodeParseError:
		return "parse error: the message is not valid JSON"
	case jsonrpc.CodeInvalidRequest:
		return "invalid request: not a JSON-RPC 2.0 request this server accepts here"
	case jsonrpc.CodeMethodNotFound:
		return "method not found"
	case mcp.CodeURLElicitationRequired:
		return "URL elicitation required"
	case jsonrpc.CodeInvalidParams:
		return "invalid params: the params do not have the shape this method takes, or name no tool of this server (the details are not repeated: they could quote the request)"
	}
	return "the request failed (the details are not repeated: they could quote the request)"
}
