package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/utils/clock"

	"github.com/vmcp-dev/vmcp-operator/internal/version"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/aggregate"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
)

// DefaultSessionTimeout closes client sessions idle this long, so clients that vanish without
// closing their session do not accumulate.
const DefaultSessionTimeout = 30 * time.Minute

// State is what the router works from. A new State is published whenever the catalog, the
// members or the failure mode change; calls use the State current when they start.
type State struct {
	Catalog     *aggregate.Catalog
	Members     map[string]*Member
	FailureMode config.FailureMode
	// RetryHint is the retry-after given when a backend is unavailable for a reason without an
	// end time (Unknown, Unauthenticated, HalfOpen): the probe interval.
	RetryHint time.Duration
}

// Options configure a Server.
type Options struct {
	// Instructions are sent to clients in the initialize result.
	Instructions string
	Logger       *slog.Logger
	Clock        clock.PassiveClock
	// SessionTimeout closes idle client sessions; defaults to DefaultSessionTimeout.
	SessionTimeout time.Duration
	// MaxClientSessions limits the per-client sessions to each backend (clients that declared
	// sampling, elicitation or roots get sessions of their own); defaults to
	// DefaultMaxClientSessions.
	MaxClientSessions int
	// ResumableStreams keeps the events of clients' streams in memory (mcp.NewMemoryEventStore,
	// bounded), so a client whose connection broke can resume a stream with Last-Event-ID.
	// Off by default: it costs a priming event and a copy of every message (about 5 % of a
	// plain call), and a backend's stream is resumed by the aggregator either way.
	ResumableStreams bool
}

// Server is the aggregator's MCP server.
type Server struct {
	mcp      *mcp.Server
	handler  http.Handler
	clock    clock.PassiveClock
	logger   *slog.Logger
	state    atomic.Pointer[State]
	calls    callRouter
	inflight inflight
	tools    atomic.Pointer[toolIndex] // the listed tools, encoded, for serveFastList
	sessions sync.Map                  // session ID → initialized *mcp.ServerSession
	clients  sync.Map                  // *mcp.ServerSession → *client

	reverseProgress   reverseProgress
	subs              subscriptions
	maxClientSessions int

	levelMu sync.Mutex
	// sharedLevel is the most verbose level a client asked for.
	sharedLevel mcp.LoggingLevel //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions

	publishMu sync.Mutex
	published aggregate.Listed
}

// New returns a Server with an empty catalog.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	if opts.MaxClientSessions <= 0 {
		opts.MaxClientSessions = DefaultMaxClientSessions
	}
	s := &Server{clock: opts.Clock, logger: opts.Logger, maxClientSessions: opts.MaxClientSessions}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "vmcp", Title: "vMCP aggregator", Version: version.String()}, &mcp.ServerOptions{
		Instructions:                opts.Instructions,
		Logger:                      opts.Logger,
		PageSize:                    PageSize,
		InitializedHandler:          func(_ context.Context, req *mcp.InitializedRequest) { s.trackSession(req.Session) },
		RootsListChangedHandler:     s.rootsListChanged, //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
		ProgressNotificationHandler: s.reverseProgress.forward,
		SubscribeHandler:            s.subscribe,
		UnsubscribeHandler:          s.unsubscribeHandler,
		// Advertise all three lists from the start: backends may come and go, and a client only
		// subscribes to list changes it saw in the capabilities. Completions and subscriptions
		// are adjusted per initialize to what the backends offer (adjustCapabilities).
		Capabilities: &mcp.ServerCapabilities{
			Tools:     &mcp.ToolCapabilities{ListChanged: true},
			Prompts:   &mcp.PromptCapabilities{ListChanged: true},
			Resources: &mcp.ResourceCapabilities{ListChanged: true},
			Logging:   &mcp.LoggingCapabilities{}, //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
		},
	})
	s.mcp.AddReceivingMiddleware(s.middleware)
	s.mcp.AddSendingMiddleware(captureElicitResult)
	hopts := &mcp.StreamableHTTPOptions{Logger: opts.Logger, SessionTimeout: opts.SessionTimeout}
	if opts.ResumableStreams {
		hopts.EventStore = mcp.NewMemoryEventStore(nil)
	}
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, hopts)
	// In-flight work is counted per POST: a request's POST ends once its response is written,
	// while a session's GET stream stays open for as long as the session lives.
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			s.inflight.add()
			defer s.inflight.done()
			if s.serveFastList(w, r) {
				return
			}
		}
		sdk.ServeHTTP(w, r)
	})
	empty := aggregate.Build(aggregate.Options{}, nil, nil)
	s.state.Store(&State{Catalog: empty, Members: map[string]*Member{}, FailureMode: config.FailureModeFail})
	s.published = empty.Listed()
	s.tools.Store(buildToolIndex(nil, &toolIndex{}))
	return s
}

// Handler serves MCP over Streamable HTTP; mount it at statusapi.PathMCP. DNS-rebinding
// protection stays on: requests that arrive on a loopback address must name a loopback host.
func (s *Server) Handler() http.Handler { return s.handler }

// ForwardProgress is the backends' progress handler (backend.Handlers.Progress).
func (s *Server) ForwardProgress(p *mcp.ProgressNotificationParams) { s.calls.forwardProgress(p) }

// Publish makes st current and mirrors its listed items into the SDK server, which notifies
// connected clients of changed lists (debounced by the SDK; the caller rate-limits publishing).
func (s *Server) Publish(st *State) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	s.state.Store(st)
	next := st.Catalog.Listed()
	prev := s.published
	mirror(prev.Tools, next.Tools, s.mcp.RemoveTools, func(t *mcp.Tool) { s.guard("tool "+t.Name, func() { s.mcp.AddTool(t, s.toolHandler) }) })
	mirror(prev.Prompts, next.Prompts, s.mcp.RemovePrompts, func(p *mcp.Prompt) { s.guard("prompt "+p.Name, func() { s.mcp.AddPrompt(p, s.promptHandler) }) })
	mirror(prev.Resources, next.Resources, s.mcp.RemoveResources, func(r *mcp.Resource) {
		s.guard("resource "+r.URI, func() { s.mcp.AddResource(r, s.resourceHandler) })
	})
	mirror(prev.Templates, next.Templates, s.mcp.RemoveResourceTemplates, func(t *mcp.ResourceTemplate) {
		s.guard("resource template "+t.URITemplate, func() { s.mcp.AddResourceTemplate(t, s.resourceHandler) })
	})
	s.published = next
	s.tools.Store(buildToolIndex(next.Tools, s.tools.Load()))
}

// mirror applies the difference between two listed sets: items are compared by pointer, which
// aggregate.Build keeps stable for unchanged items.
func mirror[T comparable](prev, next map[string]T, remove func(...string), add func(T)) {
	var gone []string
	for k := range prev {
		if _, ok := next[k]; !ok {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		remove(gone...)
	}
	for k, v := range next {
		if old, ok := prev[k]; !ok || old != v {
			add(v)
		}
	}
}

// guard runs an SDK registration that panics on input it considers invalid: a backend's odd
// tool must not take the aggregator down.
func (s *Server) guard(what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("Backend item refused by the MCP server", "item", what, "error", fmt.Sprint(r))
		}
	}()
	f()
}

// Drain waits until no request is in flight (every POST has been answered), or ctx is done.
func (s *Server) Drain(ctx context.Context) error { return s.inflight.wait(ctx) }

// CloseSessions closes every client session, ending their streams.
func (s *Server) CloseSessions() {
	for ss := range s.mcp.Sessions() {
		_ = ss.Close()
	}
}

// inflight counts requests being served, for draining on shutdown.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0; replaced when n leaves 0
}

func (f *inflight) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.idle)
	}
}

func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return nil
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drain: %w", ctx.Err())
	}
}
