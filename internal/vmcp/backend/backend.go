package backend

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/utils/clock"

	"github.com/vmcp-dev/vmcp-operator/internal/version"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// ListKind names one of a backend's lists.
type ListKind int8

// Lists a backend can announce changes of.
const (
	Tools ListKind = iota
	Prompts
	Resources
)

// Handlers are called on events of the shared session. They run on SDK goroutines and must
// not block.
type Handlers struct {
	// SessionStarted is called after every successful initialize.
	SessionStarted func()
	// SessionLost is called when a session ends without Close.
	SessionLost func(error)
	// ListChanged is called when the backend announces a changed list.
	ListChanged func(ListKind)
	// Progress receives the backend's progress notifications on any of its sessions, in the
	// order the backend sent them relative to its results: a notification sent before a call's
	// result is handed over before the call returns.
	Progress func(*mcp.ProgressNotificationParams)
	// ResourceUpdated receives the backend's notifications/resources/updated on the shared
	// session.
	ResourceUpdated func(*mcp.ResourceUpdatedNotificationParams)
	// Setup runs after every initialize of the shared session, before any call uses it, bounded
	// by the initialize's own context (the backend's timeout; restoring session state such as
	// the log level). It may do I/O on cs; its errors are its own business.
	Setup func(ctx context.Context, cs *mcp.ClientSession)
}

// ConnOptions configure a further session to a backend (Backend.NewConn).
type ConnOptions struct {
	// Client are the SDK client's options: declared capabilities and handlers.
	Client *mcp.ClientOptions
	// Receiving middleware is added to the SDK client: it sees the backend's server→client
	// requests before the SDK's own handlers do.
	Receiving []mcp.Middleware
	// Tagged adds the tag of the call (WithCall) to every server→client message the backend
	// sends on that call's response stream, under _meta[CallMetaKey].
	Tagged bool
	// Setup runs after every initialize, before any call uses the session (see Handlers.Setup).
	Setup func(ctx context.Context, cs *mcp.ClientSession)
}

// CodeNotForwardable is the JSON-RPC error code the aggregator answers a backend's
// server→client request with when it cannot pass it on to a client (in the
// implementation-defined server-error range, next to the server package's codes; not
// method-not-found, whose message the SDK replaces).
const CodeNotForwardable = -32013

// ErrNotAttributable answers a backend's sampling, elicitation or roots request on the shared
// session: it serves many clients at once, declares none of those capabilities, and cannot
// tell which client a request would be for.
var ErrNotAttributable = &jsonrpc.Error{
	Code:    CodeNotForwardable,
	Message: "vmcp: this backend session is shared by clients that did not declare sampling, elicitation or roots; the request cannot be forwarded",
}

// Server→client requests a client must have declared a capability for.
const (
	MethodCreateMessage = "sampling/createMessage"
	MethodElicit        = "elicitation/create"
	MethodListRoots     = "roots/list"
)

// Options configure a Backend.
type Options struct {
	Name string
	URL  string
	// Timeout bounds every exchange (initialize included); defaults to config.DefaultBackendTimeout.
	Timeout time.Duration
	Headers []config.Header
	// Sources resolves header values; defaults to OSSources.
	Sources Sources
	// Transport is the shared pooled transport; defaults to NewTransport().
	Transport http.RoundTripper
	Clock     clock.PassiveClock
	// Logger is handed to the SDK client; nil discards.
	Logger   *slog.Logger
	Handlers Handlers
}

// Backend is one MCP server behind the aggregator.
type Backend struct {
	opts       Options
	clock      clock.PassiveClock
	transport  *observingTransport
	httpClient *http.Client
	shared     *Conn
}

// New returns a Backend; no connection is made until the first call.
func New(opts Options) *Backend {
	if opts.Timeout <= 0 {
		opts.Timeout = config.DefaultBackendTimeout.Std()
	}
	if opts.Sources.LookupEnv == nil || opts.Sources.ReadFile == nil {
		opts.Sources = OSSources()
	}
	if opts.Transport == nil {
		opts.Transport = NewTransport()
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Backend{opts: opts, clock: opts.Clock}
	b.transport = &observingTransport{base: opts.Transport, clock: opts.Clock, onProgress: opts.Handlers.Progress}
	// No client-wide timeout: the session's SSE streams are long-lived; every exchange has a
	// context deadline instead.
	b.httpClient = &http.Client{Transport: b.transport}
	h := opts.Handlers
	copts := &mcp.ClientOptions{
		// The shared session cannot attribute a backend's sampling, elicitation or roots
		// request to one client, so it declares none of those capabilities.
		Capabilities:               &mcp.ClientCapabilities{},
		ToolListChangedHandler:     func(context.Context, *mcp.ToolListChangedRequest) { notify(h.ListChanged, Tools) },
		PromptListChangedHandler:   func(context.Context, *mcp.PromptListChangedRequest) { notify(h.ListChanged, Prompts) },
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { notify(h.ListChanged, Resources) },
		// No ProgressNotificationHandler: progress is read off the wire by the transport, and
		// so are the log messages of calls; a log sent outside any call belongs to no client.
	}
	if h.ResourceUpdated != nil {
		copts.ResourceUpdatedHandler = func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) {
			if r.Params != nil {
				h.ResourceUpdated(r.Params)
			}
		}
	}
	b.shared = b.NewConn(ConnOptions{Client: copts, Receiving: []mcp.Middleware{refuseClientRequests}, Setup: h.Setup})
	b.shared.onStarted = h.SessionStarted
	b.shared.onLost = h.SessionLost
	return b
}

func notify(f func(ListKind), k ListKind) {
	if f != nil {
		f(k)
	}
}

// Shared is the session every plain call uses.
func (b *Backend) Shared() *Conn { return b.shared }

// refuseClientRequests answers server→client requests on the shared session at once with
// ErrNotAttributable (the SDK would answer roots/list with an empty list).
func refuseClientRequests(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch method {
		case MethodCreateMessage, MethodElicit, MethodListRoots:
			return nil, ErrNotAttributable
		}
		return next(ctx, method, req)
	}
}

// NewConn returns a further, independent session to the same backend with its own client
// options (handlers and declared capabilities), sharing the Backend's transport, headers and
// timeout. Close it when done.
func (b *Backend) NewConn(opts ConnOptions) *Conn {
	o := mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}}
	if opts.Client != nil {
		o = *opts.Client
	}
	if o.Logger == nil {
		o.Logger = b.opts.Logger
	}
	impl := &mcp.Implementation{Name: "vmcp", Version: version.String()}
	client := mcp.NewClient(impl, &o)
	if len(opts.Receiving) > 0 {
		client.AddReceivingMiddleware(opts.Receiving...)
	}
	return &Conn{b: b, client: client, tagged: opts.Tagged, setup: opts.Setup}
}

// Do runs fn on conn's session, establishing it first if needed, bounded by the backend's
// timeout and by ctx. ctx's cancellation reaches fn (and so the backend, as a
// notifications/cancelled), but none of ctx's values do: the SDK server's request context
// carries values the SDK client would misread. A call the backend rejected because it had
// forgotten the session never ran, so it is retried once on a fresh session.
func (b *Backend) Do(ctx context.Context, conn *Conn, fn func(context.Context, *mcp.ClientSession) error) Outcome {
	return b.doWithin(ctx, conn, b.opts.Timeout, fn)
}

// doWithin is Do with its own bound on the whole exchange.
func (b *Backend) doWithin(ctx context.Context, conn *Conn, timeout time.Duration, fn func(context.Context, *mcp.ClientSession) error) Outcome {
	start := b.clock.Now()
	callCtx, cancel := callContext(ctx, timeout)
	defer cancel()
	out := b.do(ctx, callCtx, conn, fn)
	out.Latency = b.clock.Since(start)
	return out
}

func (b *Backend) do(ctx, callCtx context.Context, conn *Conn, fn func(context.Context, *mcp.ClientSession) error) Outcome {
	for attempt := 0; ; attempt++ {
		cs, err := conn.Session(callCtx)
		if err != nil {
			return classifyConnect(err, ctx.Err())
		}
		octx, obs := withObservation(callCtx)
		octx = withCallInfo(octx, callFrom(ctx), conn.tagged)
		err = fn(octx, cs)
		observed := obs.get()
		if err != nil && attempt == 0 && neverSent(err, observed) {
			conn.drop(cs)
			continue
		}
		return Classify(err, observed, ctx.Err())
	}
}

// neverSent reports whether a failed call certainly did not run on the backend: its own POST
// was answered 404 for an unknown session, or the session was already dead when it was sent.
func neverSent(err error, obs Observed) bool {
	return (errors.Is(err, mcp.ErrSessionMissing) && obs.Status == http.StatusNotFound) ||
		(errors.Is(err, mcp.ErrConnectionClosed) && obs.Status == 0)
}

func classifyConnect(err error, callerErr error) Outcome {
	var ce *connectError
	obs := Observed{}
	if errors.As(err, &ce) {
		obs = ce.obs
	}
	o := Classify(err, obs, callerErr)
	switch {
	case o.Kind == RPCError:
		// A backend that refuses initialize is unusable whatever the reason.
		o.Kind, o.Reason = Failure, statusapi.ReasonInitializeFailed
	case o.Kind == Failure && o.Reason == statusapi.ReasonConnectionFailed && ce != nil && !isNetError(ce.err):
		o.Reason = statusapi.ReasonInitializeFailed
	}
	return o
}

// callContext derives the exchange's context: the backend's timeout, the caller's deadline
// and cancellation, and no values.
func callContext(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	if d, ok := parent.Deadline(); ok {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, d)
		inner := cancel
		cancel = func() { cancelDeadline(); inner() }
	}
	stop := context.AfterFunc(parent, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// Ping checks the backend with an MCP ping on the shared session, initializing it first if
// there is none.
func (b *Backend) Ping(ctx context.Context) Outcome {
	return b.Do(ctx, b.shared, func(ctx context.Context, cs *mcp.ClientSession) error {
		return cs.Ping(ctx, nil)
	})
}

// Close ends the shared session.
func (b *Backend) Close() error { return b.shared.Close() }
