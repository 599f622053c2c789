package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/health"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/metrics"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// MCP methods the middleware handles.
const (
	methodInitialize    = "initialize"
	methodCallTool      = "tools/call"
	methodGetPrompt     = "prompts/get"
	methodReadResource  = "resources/read"
	methodListTools     = "tools/list"
	methodListPrompts   = "prompts/list"
	methodListResources = "resources/list"
	methodListTemplates = "resources/templates/list"
	methodComplete      = "completion/complete"
	methodSetLevel      = "logging/setLevel"
)

// reservedMetaPrefix marks _meta keys that belong to the protocol between two peers (protocol
// version, client info); forwarding a client's to a backend would misrepresent the aggregator's
// own session.
const reservedMetaPrefix = "io.modelcontextprotocol/"

func (s *Server) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch method {
		case methodCallTool:
			return s.callTool(ctx, req.(*mcp.CallToolRequest))
		case methodGetPrompt:
			return s.getPrompt(ctx, req.(*mcp.GetPromptRequest))
		case methodReadResource:
			return s.readResource(ctx, req.(*mcp.ReadResourceRequest))
		case methodComplete:
			return s.complete(ctx, req.(*mcp.CompleteRequest))
		case methodSetLevel:
			res, err := next(ctx, method, req)
			if err == nil {
				s.setLevel(req.(*mcp.ServerRequest[*mcp.SetLoggingLevelParams])) //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
			}
			return res, err
		case methodInitialize:
			if err := s.checkFailureMode(); err != nil {
				return nil, err
			}
			res, err := next(ctx, method, req)
			if ir, ok := res.(*mcp.InitializeResult); ok && err == nil {
				s.adjustCapabilities(ir)
			}
			return res, err
		case methodListTools, methodListPrompts, methodListResources, methodListTemplates:
			if err := s.checkFailureMode(); err != nil {
				return nil, err
			}
		}
		return next(ctx, method, req)
	}
}

// The handlers registered with the SDK route exactly like the middleware, which answers every
// routed method before the SDK would call them.
func (s *Server) toolHandler(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	res, err := s.callTool(ctx, req)
	if err != nil {
		return nil, err
	}
	return res.(*mcp.CallToolResult), nil
}

func (s *Server) promptHandler(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	res, err := s.getPrompt(ctx, req)
	if err != nil {
		return nil, err
	}
	return res.(*mcp.GetPromptResult), nil
}

func (s *Server) resourceHandler(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	res, err := s.readResource(ctx, req)
	if err != nil {
		return nil, err
	}
	return res.(*mcp.ReadResourceResult), nil
}

func (s *Server) callTool(ctx context.Context, req *mcp.CallToolRequest) (mcp.Result, error) {
	st := s.state.Load()
	t, ok := st.Catalog.Tool(req.Params.Name)
	if !ok {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", req.Params.Name)}
	}
	params := &mcp.CallToolParams{
		Name:           t.Name,
		InputResponses: req.Params.InputResponses,
		RequestState:   req.Params.RequestState,
	}
	if len(req.Params.Arguments) > 0 {
		params.Arguments = req.Params.Arguments
	}
	var res *mcp.CallToolResult
	berr, err := s.forward(ctx, st, exchange{backend: t.Backend, method: methodCallTool, session: req.Session, meta: req.Params.Meta, outMeta: &params.Meta},
		func(ctx context.Context, cs *mcp.ClientSession) (err error) {
			res, err = cs.CallTool(ctx, params)
			return err
		})
	switch {
	case berr != nil && berr.Lost:
		// The backend took the call and its answer was lost: a protocol error, not a tool's
		// result (the tool may or may not have run).
		return nil, berr.RPCError()
	case berr != nil:
		return berr.ToolResult(), nil
	case err != nil:
		return nil, err
	}
	if res.Content == nil {
		res.Content = []mcp.Content{} // "content" is required
	}
	return res, nil
}

func (s *Server) getPrompt(ctx context.Context, req *mcp.GetPromptRequest) (mcp.Result, error) {
	st := s.state.Load()
	p, ok := st.Catalog.Prompt(req.Params.Name)
	if !ok {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown prompt %q", req.Params.Name)}
	}
	params := &mcp.GetPromptParams{Name: p.Name, Arguments: req.Params.Arguments, InputResponses: req.Params.InputResponses, RequestState: req.Params.RequestState}
	res, err := forwardRPC(ctx, s, st, exchange{backend: p.Backend, method: methodGetPrompt, session: req.Session, meta: req.Params.Meta, outMeta: &params.Meta},
		func(ctx context.Context, cs *mcp.ClientSession) (*mcp.GetPromptResult, error) {
			return cs.GetPrompt(ctx, params)
		})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Server) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (mcp.Result, error) {
	st := s.state.Load()
	r, ok := st.Catalog.Resource(req.Params.URI)
	if !ok {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	params := &mcp.ReadResourceParams{URI: r.Name, InputResponses: req.Params.InputResponses, RequestState: req.Params.RequestState}
	res, err := forwardRPC(ctx, s, st, exchange{backend: r.Backend, method: methodReadResource, session: req.Session, meta: req.Params.Meta, outMeta: &params.Meta},
		func(ctx context.Context, cs *mcp.ClientSession) (*mcp.ReadResourceResult, error) {
			return cs.ReadResource(ctx, params)
		})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// forwardRPC forwards a request whose backend failures are answered as JSON-RPC errors (all
// but tools/call, whose failures are tool results the model can read).
func forwardRPC[R any](ctx context.Context, s *Server, st *State, x exchange,
	call func(context.Context, *mcp.ClientSession) (R, error)) (R, error) {
	var res R
	berr, err := s.forward(ctx, st, x, func(ctx context.Context, cs *mcp.ClientSession) (err error) {
		res, err = call(ctx, cs)
		return err
	})
	var zero R
	switch {
	case berr != nil:
		return zero, berr.RPCError()
	case err != nil:
		return zero, err
	}
	return res, nil
}

// exchange describes one request forwarded to a backend.
type exchange struct {
	backend string
	method  string
	// session is the client's session; nil for the aggregator's own requests.
	session *mcp.ServerSession
	// meta is the client request's _meta; outMeta receives what is forwarded of it.
	meta    mcp.Meta
	outMeta *mcp.Meta
	// shared sends the request over the backend's shared session whatever the client declared.
	shared bool
}

// forward admits a request, sends it to the backend over the session chosen for the client,
// and records the outcome. It returns a *BackendError when the backend could not serve the
// request, or the error to answer with (a backend's JSON-RPC error, or the caller's
// cancellation).
//
// A call that may hear back from the backend — progress for a client's token, log messages
// for a client that set a level, requests on a client's own session — is registered for the
// time it runs, so those messages reach the client on this call's stream.
func (s *Server) forward(ctx context.Context, st *State, x exchange, fn func(context.Context, *mcp.ClientSession) error) (*BackendError, error) {
	m, ok := st.Members[x.backend]
	if !ok {
		return nil, fmt.Errorf("internal error: no backend %q", x.backend)
	}
	permit, rej := m.Monitor.Admit()
	if rej != nil {
		m.Metrics.Rejected(rejectedLabel(rej))
		return s.unavailable(st, x.backend, rej), nil
	}
	cl := s.clientOf(x.session)
	conn, own := m.Backend.Shared(), false
	if !x.shared {
		conn, own = s.connFor(m, cl)
	}
	fwd, token := forwardMeta(x.meta)
	progress := token != nil && x.session != nil
	logs := cl != nil && cl.logLevel() != ""
	if progress || logs || own {
		c := s.calls.start(ctx, x.session, token, progress || logs)
		defer s.calls.done(c)
		if progress {
			fwd["progressToken"] = c.tag
		}
		bc := &backend.Call{Tag: c.tag}
		if logs {
			bc.Log = c.log
		}
		ctx = backend.WithCall(ctx, bc)
	}
	if len(fwd) > 0 && x.outMeta != nil {
		*x.outMeta = fwd
	}
	out := m.Backend.Do(ctx, conn, fn)
	m.Monitor.Done(permit, out)
	m.Metrics.Observe(x.method, out.Kind.String(), out.Latency)
	switch out.Kind {
	case backend.OK:
		return nil, nil
	case backend.RPCError:
		var we *jsonrpc.Error
		if errors.As(out.Err, &we) {
			return nil, we
		}
		return nil, out.Err
	case backend.Canceled:
		return nil, ctx.Err()
	}
	snap := m.Monitor.Snapshot()
	return &BackendError{
		Backend: x.backend, Health: snap.Health, Circuit: snap.Circuit, Reason: out.Reason,
		Message: out.Message(), RetryAfter: out.RetryAfter, Err: out.Err,
		Lost: out.Kind == backend.Failure && out.HTTPStatus >= 200 && out.HTTPStatus < 300,
	}, nil
}

func (s *Server) unavailable(st *State, name string, rej *health.Rejection) *BackendError {
	retry := st.RetryHint
	if !rej.RetryAt.IsZero() {
		retry = rej.RetryAt.Sub(s.clock.Now())
	}
	return &BackendError{
		Backend: name, Health: rej.Health, Circuit: rej.Circuit, Reason: rej.Reason, Message: rej.Message,
		RetryAfter: max(retry, time.Second), Unavailable: true,
	}
}

func rejectedLabel(rej *health.Rejection) string {
	switch rej.Reason {
	case statusapi.ReasonCircuitOpen:
		return metrics.RejectedCircuitOpen
	case statusapi.ReasonRateLimited:
		return metrics.RejectedRateLimited
	default:
		return metrics.RejectedUnavailable
	}
}

// forwardMeta copies a client's _meta for the backend, without the reserved keys and the
// progress token (returned separately, to be replaced by one the aggregator can route back).
func forwardMeta(meta mcp.Meta) (mcp.Meta, any) {
	out := mcp.Meta{}
	var token any
	for k, v := range meta {
		switch {
		case k == "progressToken":
			token = v
		case strings.HasPrefix(k, reservedMetaPrefix):
		default:
			out[k] = v
		}
	}
	return out, token
}

// checkFailureMode refuses initialize and the list methods as the failure mode says (DESIGN §5):
// Fail when no backend is available, Strict when any is not; BestEffort never.
func (s *Server) checkFailureMode() error {
	st := s.state.Load()
	if st.FailureMode == config.FailureModeBestEffort || len(st.Members) == 0 {
		return nil
	}
	available := 0
	for _, m := range st.Members {
		if m.Monitor.Available() {
			available++
		}
	}
	switch {
	case available == len(st.Members):
		return nil
	case st.FailureMode == config.FailureModeStrict:
	case available > 0:
		return nil
	}
	var down []ErrorInfo
	for name, m := range st.Members {
		if snap := m.Monitor.Snapshot(); !snap.Available() {
			down = append(down, ErrorInfo{Code: InfoBackendUnavailable, Backend: name, Health: snap.Health, Circuit: snap.Circuit, Reason: snap.Reason})
		}
	}
	sort.Slice(down, func(i, j int) bool { return down[i].Backend < down[j].Backend })
	names := make([]string, len(down))
	for i, d := range down {
		names[i] = fmt.Sprintf("%s (%s)", d.Backend, d.Health)
	}
	data, _ := json.Marshal(map[string]any{"failureMode": st.FailureMode, "unavailable": down})
	return &jsonrpc.Error{
		Code:    CodeNoBackends,
		Message: fmt.Sprintf("failureMode %s: %d of %d backends unavailable: %s", st.FailureMode, len(down), len(st.Members), strings.Join(names, ", ")),
		Data:    data,
	}
}
