//nolint:staticcheck // SA1019: sampling, roots and logging are deprecated in MCP 2026-07-28; this file forwards them for sessions of earlier revisions.
package server

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
)

// capabilityOf names the client capability a server→client method needs.
var capabilityOf = map[string]string{
	backend.MethodCreateMessage: "sampling",
	backend.MethodElicit:        "elicitation",
	backend.MethodListRoots:     "roots",
}

// toClient is the receiving middleware of cl's per-client backend sessions: it forwards the
// backend's sampling/createMessage, elicitation/create and roots/list to cl, on the stream of
// the client call the backend is serving when the request says which (see
// backend.ConnOptions.Tagged), else on the client's session stream. The request goes through
// unchanged: neither the SDK client nor the SDK server of the aggregator validates it or the
// client's answer (see elicit), so backend and client agree or disagree exactly as they would
// directly.
func (s *Server) toClient(cl *client) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if _, ok := capabilityOf[method]; !ok {
				return next(ctx, method, req)
			}
			return s.forwardToClient(ctx, cl, method, req)
		}
	}
}

func (s *Server) forwardToClient(bctx context.Context, cl *client, method string, req mcp.Request) (mcp.Result, error) {
	params := req.GetParams()
	var meta mcp.Meta
	if !isNilParams(params) {
		meta = params.GetMeta()
	}
	tag, _ := backend.CallTag(meta)
	if !cl.declared(method) {
		return nil, &jsonrpc.Error{Code: CodeNotForwardable, Message: fmt.Sprintf("vmcp: the client did not declare %s", capabilityOf[method])}
	}
	// Sent with the client call's context, the request goes on that call's stream, and ends
	// when the call does; the backend's cancellation (bctx) ends it too.
	parent := cl.ctx
	if c, ok := s.calls.get(tag); ok && c.session == cl.ss {
		if cctx, end, ok := c.beginReverse(); ok {
			defer end()
			parent = cctx
		}
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	stop := context.AfterFunc(bctx, cancel)
	defer stop()
	if tok, ok := meta["progressToken"]; ok && tok != nil {
		if cs, ok := req.GetSession().(*mcp.ClientSession); ok {
			mapped, done := s.reverseProgress.register(cs, tok)
			defer done()
			meta["progressToken"] = mapped
		}
	}
	switch p := params.(type) {
	case *mcp.ElicitParams:
		return elicit(ctx, cl.ss, p)
	case *mcp.CreateMessageWithToolsParams:
		return cl.ss.CreateMessageWithTools(ctx, p)
	case *mcp.ListRootsParams:
		return cl.ss.ListRoots(ctx, p)
	case nil:
		if method == backend.MethodListRoots {
			return cl.ss.ListRoots(ctx, nil)
		}
	}
	return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "vmcp: unexpected parameters for " + method}
}

// isNilParams reports whether p holds no params (absent, or a typed nil pointer).
func isNilParams(p mcp.Params) bool {
	switch v := p.(type) {
	case nil:
		return true
	case *mcp.ElicitParams:
		return v == nil
	case *mcp.CreateMessageWithToolsParams:
		return v == nil
	case *mcp.ListRootsParams:
		return v == nil
	}
	return false
}

// elicitSlot receives the client's answer to an elicitation/create as it arrived (see
// captureElicitResult).
type elicitSlot struct{ res *mcp.ElicitResult }

type elicitSlotKey struct{}

// elicit sends an elicitation/create to the client and returns its answer unvalidated.
// ServerSession.Elicit checks the request against the client's declared modes (useful), then
// validates the requested schema and the accepted content with the SDK's rules, which reject
// schemas newer revisions allow (titled multi-select enums, SEP-1330). The backend asked and
// will judge the answer; the aggregator only relays it, so the raw answer captured on the way
// in wins over Elicit's verdict on it.
func elicit(ctx context.Context, ss *mcp.ServerSession, p *mcp.ElicitParams) (mcp.Result, error) {
	slot := &elicitSlot{}
	res, err := ss.Elicit(context.WithValue(ctx, elicitSlotKey{}, slot), p)
	if slot.res != nil {
		return slot.res, nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// captureElicitResult is sending middleware of the aggregator's server: it hands the client's
// answer to an elicitation/create to the elicitSlot in its context before the SDK validates it.
func captureElicitResult(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		if method == backend.MethodElicit && err == nil {
			if slot, ok := ctx.Value(elicitSlotKey{}).(*elicitSlot); ok {
				slot.res, _ = res.(*mcp.ElicitResult)
			}
		}
		return res, err
	}
}

// reverseProgress maps the progress tokens of requests forwarded to clients to the backend
// session and token they came with: the progress a client reports for a sampling request goes
// back to the backend that asked.
type reverseProgress struct {
	seq     atomic.Uint64
	targets sync.Map // token string → reverseTarget
}

type reverseTarget struct {
	cs    *mcp.ClientSession
	token any
}

// reverseProgressGrace is how long a progress token stays mapped after its request was
// answered: a client sends its progress notifications and its answer in separate HTTP
// requests, which may reach the aggregator in either order.
const reverseProgressGrace = 5 * time.Second

func (r *reverseProgress) register(cs *mcp.ClientSession, token any) (string, func()) {
	tok := "vmcp-r" + strconv.FormatUint(r.seq.Add(1), 10)
	r.targets.Store(tok, reverseTarget{cs: cs, token: token})
	return tok, func() { time.AfterFunc(reverseProgressGrace, func() { r.targets.Delete(tok) }) }
}

// forward is the server's progress handler.
func (r *reverseProgress) forward(_ context.Context, req *mcp.ProgressNotificationServerRequest) {
	if req.Params == nil {
		return
	}
	tok, ok := req.Params.ProgressToken.(string)
	if !ok {
		return
	}
	v, ok := r.targets.Load(tok)
	if !ok {
		return
	}
	t := v.(reverseTarget)
	p := *req.Params
	p.ProgressToken = t.token
	// A fresh context: the server's request context carries values the SDK client would misread.
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	_ = t.cs.NotifyProgress(ctx, &p)
}
