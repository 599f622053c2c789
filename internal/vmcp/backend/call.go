package backend

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// CallMetaKey is the _meta key under which a tagged Conn's server→client messages carry the tag
// of the call whose response stream they arrived on (see ConnOptions.Tagged). The key never
// leaves the aggregator: whoever forwards such a message removes it.
const CallMetaKey = "vmcp.dev/call"

// Call is one forwarded request as the backend's transport sees it: what arrives on the
// request's own response stream belongs to it.
type Call struct {
	// Tag identifies the call in the server→client messages of a tagged Conn.
	Tag string
	// Log, if set, receives the notifications/message events the backend sends on the call's
	// response stream, in wire order and before the call returns. It runs on the transport's
	// reading goroutine and must not block.
	Log func(*mcp.LoggingMessageParams) //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
}

type callKey struct{}

// callInfo is what the transport finds in a request's context: the call, and whether its
// Conn wants server→client messages tagged.
type callInfo struct {
	call    *Call
	rewrite bool
}

// WithCall attributes the exchanges Backend.Do makes with ctx to c.
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

func callFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// withCallInfo carries c (if any) into the context of the exchange's HTTP requests.
func withCallInfo(ctx context.Context, c *Call, rewrite bool) context.Context {
	if c == nil {
		return ctx
	}
	return context.WithValue(ctx, callInfoKey{}, &callInfo{call: c, rewrite: rewrite})
}

type callInfoKey struct{}

func callInfoFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callInfoKey{}).(*callInfo)
	return ci
}

// CallTag returns the call tag a tagged Conn added to a server→client message's _meta, and
// removes it.
func CallTag(meta mcp.Meta) (string, bool) {
	v, ok := meta[CallMetaKey]
	if !ok {
		return "", false
	}
	delete(meta, CallMetaKey)
	tag, ok := v.(string)
	return tag, ok
}
