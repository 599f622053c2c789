package server

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// complete routes completion/complete to the backend owning the prompt or the resource (URI
// template or resource URI) it refers to, naming the prompt as the backend knows it.
func (s *Server) complete(ctx context.Context, req *mcp.CompleteRequest) (mcp.Result, error) {
	p := req.Params
	if p == nil || p.Ref == nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "missing required 'ref' field"}
	}
	if p.Argument.Name == "" {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "missing required 'argument.name' field"}
	}
	st := s.state.Load()
	ref := *p.Ref
	var owner string
	switch ref.Type {
	case "ref/prompt":
		pr, ok := st.Catalog.Prompt(ref.Name)
		if !ok {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown prompt %q", ref.Name)}
		}
		owner, ref.Name = pr.Backend, pr.Name
	case "ref/resource":
		r, ok := st.Catalog.Template(ref.URI)
		if !ok {
			r, ok = st.Catalog.Resource(ref.URI)
		}
		if !ok {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown resource %q", ref.URI)}
		}
		owner = r.Backend
	default:
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown reference type %q", ref.Type)}
	}
	params := &mcp.CompleteParams{Ref: &ref, Argument: p.Argument, Context: p.Context}
	res, err := forwardRPC(ctx, s, st, exchange{backend: owner, method: methodComplete, session: req.Session, meta: p.Meta, outMeta: &params.Meta},
		func(ctx context.Context, cs *mcp.ClientSession) (*mcp.CompleteResult, error) {
			return cs.Complete(ctx, params)
		})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// adjustCapabilities makes the initialize result's capabilities say what the backends can do
// through the aggregator: completions and resource subscriptions when any backend offers them.
// Logging is always offered (logging/setLevel is answered by the aggregator, and backends that
// log have their messages forwarded).
func (s *Server) adjustCapabilities(ir *mcp.InitializeResult) {
	if ir.Capabilities == nil {
		ir.Capabilities = &mcp.ServerCapabilities{}
	}
	caps := ir.Capabilities
	var completions, subscribe bool
	for _, m := range s.state.Load().Members {
		bc := m.Capabilities()
		if bc == nil {
			continue
		}
		completions = completions || bc.Completions != nil
		subscribe = subscribe || (bc.Resources != nil && bc.Resources.Subscribe)
	}
	caps.Completions = nil
	if completions {
		caps.Completions = &mcp.CompletionCapabilities{}
	}
	if caps.Resources != nil {
		r := *caps.Resources
		r.Subscribe = subscribe
		caps.Resources = &r
	}
	if caps.Logging == nil { //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
		caps.Logging = &mcp.LoggingCapabilities{} //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
	}
}
