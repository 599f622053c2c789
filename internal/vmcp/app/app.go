package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"k8s.io/utils/clock"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/admin"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/aggregate"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/metrics"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/reload"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/server"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Defaults of Options.
const (
	// DefaultCatalogInterval is the minimum time between two published catalog changes, and so
	// between two list_changed notifications to clients.
	DefaultCatalogInterval = time.Second
	// DefaultDrainTimeout bounds the graceful shutdown.
	DefaultDrainTimeout = 10 * time.Second
	// DefaultShutdownDelay is how long the command keeps serving after SIGTERM with /readyz
	// answering 503, before it stops accepting connections: Kubernetes removes a terminating
	// pod from the Service's endpoints asynchronously, and until every node has caught up,
	// new connections still arrive. The delay plus DefaultDrainTimeout stays well below the
	// pod's default terminationGracePeriodSeconds (30s).
	DefaultShutdownDelay = 5 * time.Second
	// backgroundConcurrency bounds the probes and inventory fetches running at once.
	backgroundConcurrency = 32
)

// Options configure an App.
type Options struct {
	// Config is the validated config to start with.
	Config *config.Config
	// ConfigPath, if set, is polled for changes every ReloadInterval.
	ConfigPath     string
	ConfigHash     string
	ReloadInterval time.Duration
	// Clock drives probes, breakers, debouncing and reload polling; defaults to the real clock.
	Clock  clock.WithTicker
	Logger *slog.Logger
	// Transport is the backends' shared HTTP transport; defaults to backend.NewTransport().
	Transport http.RoundTripper
	// Sources resolves header values; defaults to the environment and files.
	Sources backend.Sources
	// CatalogInterval is the minimum time between published catalog changes: zero means
	// DefaultCatalogInterval, negative publishes every change at once.
	CatalogInterval time.Duration
	// DrainTimeout bounds shutdown; defaults to DefaultDrainTimeout.
	DrainTimeout time.Duration
	// ShutdownDelay is how long Run keeps serving, not ready, once its context is done, before
	// it stops accepting connections and drains (measured on Clock). Zero means no delay; the
	// command's default is DefaultShutdownDelay.
	ShutdownDelay time.Duration
	// Rand is the breakers' jitter source; tests pin it.
	Rand func() float64
	// Profiling serves net/http/pprof on the admin port.
	Profiling bool
	// Override, if set, adjusts every config before it is applied, the initial one and reloaded
	// ones (command-line flags that win over the file).
	Override func(*config.Config)
	// MaxClientSessions limits per-client backend sessions per backend (server.Options).
	MaxClientSessions int
	// ResumableStreams lets clients resume broken streams (server.Options).
	ResumableStreams bool
}

// App is a running aggregator.
type App struct {
	opts    Options
	clock   clock.WithTicker
	logger  *slog.Logger
	server  *server.Server
	metrics *metrics.Metrics
	version atomic.Uint64
	ready   atomic.Bool
	started chan struct{}

	mu      sync.Mutex // guards cfg, hash, members, runCtx
	cfg     *config.Config
	hash    string
	members map[string]*member
	runCtx  context.Context

	// background bounds concurrent probes and inventory fetches across all backends.
	background *semaphore.Weighted

	rebuildMu sync.Mutex // serializes catalog rebuilds
	catalog   *aggregate.Catalog
	rebuild   *debouncer

	mcpAddr, adminAddr atomic.Pointer[string]
}

// New prepares an App; nothing runs until Run.
func New(opts Options) (*App, error) {
	if opts.Config == nil {
		return nil, errors.New("app: no config")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Transport == nil {
		opts.Transport = backend.NewTransport()
	}
	if opts.Sources.LookupEnv == nil || opts.Sources.ReadFile == nil {
		opts.Sources = backend.OSSources()
	}
	if opts.CatalogInterval == 0 {
		opts.CatalogInterval = DefaultCatalogInterval
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	a := &App{
		opts: opts, clock: opts.Clock, logger: opts.Logger, metrics: metrics.New(),
		started: make(chan struct{}), members: map[string]*member{},
		background: semaphore.NewWeighted(backgroundConcurrency),
	}
	a.server = server.New(server.Options{
		Logger: sdkLogger(opts.Logger).With("component", "mcp"), Clock: opts.Clock,
		MaxClientSessions: opts.MaxClientSessions, ResumableStreams: opts.ResumableStreams,
	})
	a.rebuild = newDebouncer(opts.Clock, opts.CatalogInterval, a.rebuildNow)
	return a, nil
}

// Server is the MCP server (for tests and embedding).
func (a *App) Server() *server.Server { return a.server }

// Metrics is the metric set.
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// Started is closed once both listeners are up and the initial config is applied.
func (a *App) Started() <-chan struct{} { return a.started }

// MCPAddr is the bound MCP listen address (valid after Started).
func (a *App) MCPAddr() string { return *a.mcpAddr.Load() }

// AdminAddr is the bound admin listen address (valid after Started).
func (a *App) AdminAddr() string { return *a.adminAddr.Load() }

// Run listens on the config's addresses, serves until ctx is done, then shuts down gracefully:
// /readyz turns 503 at once, the MCP endpoint keeps serving for ShutdownDelay (while the pod
// is taken out of the Service's endpoints), then it stops accepting connections, waits (at most
// DrainTimeout) for in-flight calls, and closes client sessions and backend sessions.
func (a *App) Run(ctx context.Context) error {
	mcpLn, err := net.Listen("tcp", a.opts.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.opts.Config.Listen, err)
	}
	adminLn, err := net.Listen("tcp", a.opts.Config.AdminListen)
	if err != nil {
		_ = mcpLn.Close()
		return fmt.Errorf("listen on %s: %w", a.opts.Config.AdminListen, err)
	}
	mcpAddr, adminAddr := mcpLn.Addr().String(), adminLn.Addr().String()
	a.mcpAddr.Store(&mcpAddr)
	a.adminAddr.Store(&adminAddr)

	runCtx, stopMembers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMembers()
	a.mu.Lock()
	a.runCtx = runCtx
	a.mu.Unlock()
	a.Apply(a.opts.Config, a.opts.ConfigHash)
	go a.rebuild.run(runCtx)
	if a.opts.ConfigPath != "" {
		w := reload.New(a.opts.ConfigPath, a.opts.ConfigHash, a.opts.ReloadInterval, a.clock, a.Apply, func(err error) {
			a.logger.Error("Config change rejected; still running the previous config", "error", err)
		})
		go w.Run(runCtx)
	}

	mux := http.NewServeMux()
	mux.Handle(statusapi.PathMCP, a.server.Handler())
	mcpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	adminSrv := &http.Server{Handler: admin.Handler(admin.Options{
		Status: a.Status, Ready: a.ready.Load, Metrics: a.metrics.Handler(), Profiling: a.opts.Profiling,
	}), ReadHeaderTimeout: 10 * time.Second}
	errs := make(chan error, 2)
	go func() { errs <- serve(mcpSrv, mcpLn) }()
	go func() { errs <- serve(adminSrv, adminLn) }()
	a.ready.Store(true)
	close(a.started)
	a.logger.Info("Serving", "mcp", "http://"+mcpAddr+statusapi.PathMCP, "admin", adminAddr, "backends", len(a.opts.Config.Backends))

	var runErr error
	select {
	case <-ctx.Done():
		runErr = a.delayShutdown(errs)
	case runErr = <-errs:
	}
	a.shutdown(mcpSrv, adminSrv)
	stopMembers()
	a.closeMembers()
	return runErr
}

// sdkLogger is the logger handed to the MCP SDK: it reports routine per-session events (a
// notification a client without a stream could not receive) as warnings, so they are kept
// only when debug logging is on; errors always pass.
func sdkLogger(l *slog.Logger) *slog.Logger {
	return slog.New(&quietHandler{Handler: l.Handler()})
}

type quietHandler struct{ slog.Handler }

func (h *quietHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.Handler.Enabled(ctx, level) && (level >= slog.LevelError || h.Handler.Enabled(ctx, slog.LevelDebug))
}

func (h *quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &quietHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h *quietHandler) WithGroup(name string) slog.Handler {
	return &quietHandler{Handler: h.Handler.WithGroup(name)}
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// delayShutdown marks the aggregator not ready and keeps serving for ShutdownDelay, so that
// clients still routed here while the endpoint removal propagates are served, not refused. It
// returns early with a listener's error.
func (a *App) delayShutdown(errs <-chan error) error {
	a.ready.Store(false)
	if a.opts.ShutdownDelay <= 0 {
		return nil
	}
	a.logger.Info("Shutting down: not ready, still serving until the endpoint is removed", "delay", a.opts.ShutdownDelay)
	t := a.clock.NewTimer(a.opts.ShutdownDelay)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case err := <-errs:
		return err
	}
}

// shutdown drains the MCP server: new connections are refused at once, in-flight requests may
// finish within DrainTimeout, then client sessions (and their long-lived streams) are closed
// and every remaining connection with them.
func (a *App) shutdown(mcpSrv, adminSrv *http.Server) {
	a.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.DrainTimeout)
	defer cancel()
	go func() { _ = mcpSrv.Shutdown(ctx) }() // stops accepting and closes idle connections
	if err := a.server.Drain(ctx); err != nil {
		a.logger.Info("Shutdown: in-flight requests did not finish in time", "timeout", a.opts.DrainTimeout)
	}
	a.server.CloseSessions()
	// Every request has been answered; what is left are session streams and connections that
	// never sent a request, which Shutdown would wait for.
	_ = mcpSrv.Close()
	_ = adminSrv.Close()
	a.logger.Info("Shut down")
}
