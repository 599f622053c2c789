//nolint:staticcheck // SA1019: sampling, roots and logging are deprecated in MCP 2026-07-28; this file forwards them for sessions of earlier revisions.
package server

import (
	"context"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/sync/errgroup"
)

const (
	// levelTimeout bounds applying a client's logging/setLevel to the backends.
	levelTimeout = 2 * time.Second
	// levelConcurrency bounds the backends told about a level at once.
	levelConcurrency = 16
)

// levelRank orders the MCP log levels from the most verbose.
var levelRank = map[mcp.LoggingLevel]int{
	"debug": 0, "info": 1, "notice": 2, "warning": 3, "error": 4, "critical": 5, "alert": 6, "emergency": 7,
}

// moreVerbose reports whether a lets through messages b would hold back; an unset b lets
// nothing through.
func moreVerbose(a, b mcp.LoggingLevel) bool {
	ra, ok := levelRank[a]
	if !ok {
		return false
	}
	rb, ok := levelRank[b]
	return !ok || ra < rb
}

// setLevel handles logging/setLevel after the SDK recorded the client's level (which it applies
// to every message it sends the client): the level also goes to the backends, so they send
// what the client wants to see. A client's own backend sessions get its level; the shared
// sessions get the most verbose level any client asked for, and the SDK filters per client.
// Backends that did not announce logging are left alone; a backend that does not answer in
// time does not delay the client for long, nor fail its request.
func (s *Server) setLevel(req *mcp.ServerRequest[*mcp.SetLoggingLevelParams]) {
	if req.Params == nil {
		return
	}
	level := req.Params.Level
	var targets []*mcp.ClientSession
	if cl := s.clientOf(req.Session); cl != nil {
		cl.level.Store(&level)
		for _, cs := range cl.liveConns() {
			targets = append(targets, cs)
		}
	}
	s.levelMu.Lock()
	raise := moreVerbose(level, s.sharedLevel)
	if raise {
		s.sharedLevel = level
	}
	s.levelMu.Unlock()
	if raise {
		for _, m := range s.state.Load().Members {
			if cs := m.Backend.Shared().Live(); cs != nil {
				targets = append(targets, cs)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), levelTimeout)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(levelConcurrency)
	for _, cs := range targets {
		if !supportsLogging(cs) {
			continue
		}
		g.Go(func() error {
			_ = cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: level})
			return nil
		})
	}
	_ = g.Wait()
}

// SharedSetup returns the backend.Handlers.Setup of a backend's shared session: it restores
// the shared log level and the backend's resource subscriptions on every new session.
func (s *Server) SharedSetup(name string) func(context.Context, *mcp.ClientSession) {
	return func(ctx context.Context, cs *mcp.ClientSession) {
		s.levelMu.Lock()
		level := s.sharedLevel
		s.levelMu.Unlock()
		if level != "" && supportsLogging(cs) {
			_ = cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: level})
		}
		s.resubscribe(name, cs)
	}
}
