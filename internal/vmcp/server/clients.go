//nolint:staticcheck // SA1019: sampling, roots and logging are deprecated in MCP 2026-07-28; this file forwards them for sessions of earlier revisions.
package server

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
)

// DefaultMaxClientSessions is the default limit of per-client sessions to one backend.
const DefaultMaxClientSessions = 256

// client is the aggregator's state of one initialized client session.
type client struct {
	ss *mcp.ServerSession
	// caps are the capabilities its per-client backend sessions declare: the client's own
	// sampling, elicitation and roots. nil when it declared none of them: it then uses the
	// backends' shared sessions.
	caps *mcp.ClientCapabilities
	// ctx ends with the session; server→client requests not tied to one call are sent with it.
	ctx    context.Context
	cancel context.CancelFunc

	level atomic.Pointer[mcp.LoggingLevel] // set by logging/setLevel; nil until then

	mu     sync.Mutex
	conns  map[*Member]*backend.Conn
	subs   map[subKey]struct{}
	closed bool
}

// ownCapabilities picks from a client's declared capabilities the ones a backend may use to
// send it requests; nil if there are none.
func ownCapabilities(ip *mcp.InitializeParams) *mcp.ClientCapabilities {
	if ip == nil || ip.Capabilities == nil {
		return nil
	}
	c := ip.Capabilities
	if c.Sampling == nil && c.Elicitation == nil && c.RootsV2 == nil {
		return nil
	}
	own := &mcp.ClientCapabilities{}
	if c.Sampling != nil {
		s := *c.Sampling
		own.Sampling = &s
	}
	if c.Elicitation != nil {
		e := *c.Elicitation
		own.Elicitation = &e
	}
	if c.RootsV2 != nil {
		r := *c.RootsV2
		own.RootsV2 = &r
	}
	return own
}

// declared reports whether the client declared the capability a server→client method needs.
func (cl *client) declared(method string) bool {
	if cl.caps == nil {
		return false
	}
	switch method {
	case backend.MethodCreateMessage:
		return cl.caps.Sampling != nil
	case backend.MethodElicit:
		return cl.caps.Elicitation != nil
	case backend.MethodListRoots:
		return cl.caps.RootsV2 != nil
	}
	return false
}

// logLevel is the level the client set, "" if none.
func (cl *client) logLevel() mcp.LoggingLevel {
	if l := cl.level.Load(); l != nil {
		return *l
	}
	return ""
}

// liveConns returns the client's per-client sessions that are established.
func (cl *client) liveConns() map[*Member]*mcp.ClientSession {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	out := make(map[*Member]*mcp.ClientSession, len(cl.conns))
	for m, c := range cl.conns {
		if cs := c.Live(); cs != nil {
			out[m] = cs
		}
	}
	return out
}

// trackSession records a session once it is initialized (the SDK's InitializedHandler) and
// forgets it, closing its per-client backend sessions and subscriptions, when it ends.
func (s *Server) trackSession(ss *mcp.ServerSession) {
	ctx, cancel := context.WithCancel(context.Background())
	cl := &client{ss: ss, caps: ownCapabilities(ss.InitializeParams()), ctx: ctx, cancel: cancel}
	s.clients.Store(ss, cl)
	id := ss.ID()
	if id != "" {
		s.sessions.Store(id, ss)
	}
	go func() {
		_ = ss.Wait()
		if id != "" {
			s.sessions.Delete(id)
		}
		s.clients.Delete(ss)
		s.closeClient(cl)
	}()
}

// clientOf returns the state of an initialized session, nil for others.
func (s *Server) clientOf(ss *mcp.ServerSession) *client {
	if ss == nil {
		return nil
	}
	v, ok := s.clients.Load(ss)
	if !ok {
		return nil
	}
	return v.(*client)
}

func (s *Server) closeClient(cl *client) {
	cl.cancel()
	cl.mu.Lock()
	cl.closed = true
	conns, subs := cl.conns, cl.subs
	cl.conns, cl.subs = nil, nil
	cl.mu.Unlock()
	for m, c := range conns {
		m.removeClient(cl)
		closeInBackground(c)
	}
	for k := range subs {
		s.unsubscribe(context.Background(), cl, k)
	}
}

// connFor chooses the session a call of cl goes over: the backend's shared session, or, for a
// client that declared sampling, elicitation or roots, a session of its own, established on
// its first call and closed when the client leaves. Past the member's limit of per-client
// sessions the client gets the shared session: its calls work, but the backend cannot ask it
// for anything.
func (s *Server) connFor(m *Member, cl *client) (conn *backend.Conn, own bool) {
	if cl == nil || cl.caps == nil {
		return m.Backend.Shared(), false
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if c, ok := cl.conns[m]; ok {
		return c, true
	}
	if cl.closed {
		return m.Backend.Shared(), false
	}
	c := s.newClientConn(m, cl)
	ok, refusedFirst := m.addClient(cl, c, s.maxClientSessions)
	if !ok {
		if refusedFirst {
			s.logger.Warn("Per-client session limit reached; further clients use the shared session and cannot be asked for sampling, elicitation or roots",
				"backend", m.Name, "limit", s.maxClientSessions)
		}
		return m.Backend.Shared(), false
	}
	if cl.conns == nil {
		cl.conns = map[*Member]*backend.Conn{}
	}
	cl.conns[m] = c
	return c, true
}

// newClientConn makes (without connecting) a per-client session of cl to m's backend.
func (s *Server) newClientConn(m *Member, cl *client) *backend.Conn {
	return m.Backend.NewConn(backend.ConnOptions{
		Client: &mcp.ClientOptions{
			Capabilities: cl.caps,
			LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
				// A log sent on a call's stream was tagged and already delivered with the call
				// (in order, before its result); one sent on the session's own stream is for the
				// client at large.
				if r.Params == nil {
					return
				}
				if _, tagged := backend.CallTag(r.Params.Meta); tagged {
					return
				}
				ctx, cancel := context.WithTimeout(cl.ctx, notifyTimeout)
				defer cancel()
				_ = cl.ss.Log(ctx, r.Params)
			},
			ElicitationCompleteHandler: func(_ context.Context, r *mcp.ElicitationCompleteNotificationRequest) {
				if r.Params == nil {
					return
				}
				ctx, cancel := context.WithTimeout(cl.ctx, notifyTimeout)
				defer cancel()
				_ = cl.ss.NotifyElicitationComplete(ctx, r.Params)
			},
		},
		Receiving: []mcp.Middleware{s.toClient(cl)},
		Tagged:    true,
		Setup: func(ctx context.Context, cs *mcp.ClientSession) {
			if level := cl.logLevel(); level != "" && supportsLogging(cs) {
				_ = cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: level})
			}
		},
	})
}

// rootsListChanged relays a client's notifications/roots/list_changed to its backends.
func (s *Server) rootsListChanged(_ context.Context, req *mcp.RootsListChangedRequest) {
	cl := s.clientOf(req.Session)
	if cl == nil {
		return
	}
	cl.mu.Lock()
	conns := make([]*backend.Conn, 0, len(cl.conns))
	for _, c := range cl.conns {
		conns = append(conns, c)
	}
	cl.mu.Unlock()
	for _, c := range conns {
		go c.NotifyRootsListChanged()
	}
}

func supportsLogging(cs *mcp.ClientSession) bool {
	ir := cs.InitializeResult()
	return ir != nil && ir.Capabilities != nil && ir.Capabilities.Logging != nil
}
