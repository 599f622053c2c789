package app

import (
	"context"
	"log/slog"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/breaker"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/health"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/metrics"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/server"
)

// closeTimeout bounds closing one backend's session (the SDK sends a DELETE).
const closeTimeout = 5 * time.Second

// member is one configured backend and everything that runs for it.
type member struct {
	name    string         // immutable
	cfg     config.Backend // guarded by App.mu
	prefix  string
	backend *backend.Backend
	monitor *health.Monitor
	prober  *health.Prober
	metrics *metrics.Backend
	router  *server.Member
	inv     atomic.Pointer[backend.Inventory]
	// stale is set when the inventory must be fetched again (new session, list_changed, or a
	// failed fetch); refresh wakes the fetcher.
	stale   atomic.Bool
	refresh chan struct{}
	// retired is set once the member left the config; late events of its calls are ignored.
	retired atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}
}

func monitorSettings(c *config.Config) health.Settings {
	cb, hc := c.CircuitBreaker, c.HealthCheck
	return health.Settings{
		Tracker: health.TrackerSettings{
			UnhealthyThreshold: hc.UnhealthyThreshold,
			DegradedLatency:    hc.DegradedLatency.Std(),
			RecoveryPeriod:     hc.Interval.Std(),
		},
		Breaker: breaker.Settings{
			FailureThreshold:    cb.FailureThreshold,
			FailureRatePercent:  cb.FailureRatePercent,
			MinimumRequests:     cb.MinimumRequests,
			Window:              cb.Window.Std(),
			OpenDuration:        cb.OpenDuration.Std(),
			MaxOpenDuration:     cb.MaxOpenDuration.Std(),
			HalfOpenMaxRequests: cb.HalfOpenMaxRequests,
		},
		BreakerEnabled: cb.IsEnabled(),
	}
}

func probeSettings(c *config.Config) health.ProbeSettings {
	return health.ProbeSettings{
		Interval:        c.HealthCheck.Interval.Std(),
		Timeout:         c.HealthCheck.Timeout.Std(),
		MaxProbesInARow: c.CircuitBreaker.HalfOpenMaxRequests,
	}
}

// sameConnection reports whether a backend's config change keeps its session: only the
// endpoint, timeout and headers matter; prefix and filters are applied by the catalog.
func sameConnection(a, b config.Backend) bool {
	return a.URL == b.URL && a.Timeout == b.Timeout && reflect.DeepEqual(a.Headers, b.Headers)
}

// Apply makes cfg current: backends that are new or whose connection settings changed are
// started, removed ones are stopped, and unchanged ones keep their session, health and
// breaker state (taking new health and breaker settings). Listen addresses cannot change
// without a restart.
func (a *App) Apply(cfg *config.Config, hash string) {
	if a.opts.Override != nil {
		a.opts.Override(cfg)
	}
	a.mu.Lock()
	if a.cfg != nil && (cfg.Listen != a.cfg.Listen || cfg.AdminListen != a.cfg.AdminListen) {
		a.logger.Warn("Listen addresses changed in the config; they take effect on restart",
			"listen", cfg.Listen, "adminListen", cfg.AdminListen)
	}
	ms, ps := monitorSettings(cfg), probeSettings(cfg)
	next := make(map[string]*member, len(cfg.Backends))
	var added, removed, kept []string
	for _, b := range cfg.Backends {
		m, ok := a.members[b.Name]
		if ok && sameConnection(m.cfg, b) {
			m.cfg, m.prefix = b, cfg.PrefixFor(b)
			m.monitor.Update(ms)
			m.prober.Update(ps)
			next[b.Name] = m
			kept = append(kept, b.Name)
			continue
		}
		if ok {
			a.retire(m)
			removed = append(removed, b.Name)
		}
		next[b.Name] = a.startMember(b, cfg, ms, ps)
		added = append(added, b.Name)
	}
	for name, m := range a.members {
		if _, ok := next[name]; !ok {
			a.retire(m)
			removed = append(removed, name)
		}
	}
	first := a.cfg == nil
	a.cfg, a.hash, a.members = cfg, hash, next
	a.mu.Unlock()
	a.version.Add(1)
	a.rebuild.now()
	if !first {
		a.logger.Info("Config reloaded", "hash", hash, "added", added, "removed", removed, "kept", kept)
	}
}

// startMember creates a backend's parts and starts its prober and inventory fetcher; a.mu held.
func (a *App) startMember(b config.Backend, cfg *config.Config, ms health.Settings, ps health.ProbeSettings) *member {
	ctx, cancel := context.WithCancel(a.runCtx)
	m := &member{name: b.Name, cfg: b, prefix: cfg.PrefixFor(b), refresh: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	m.metrics = a.metrics.Backend(b.Name)
	log := a.logger.With("backend", b.Name)
	m.monitor = health.NewMonitor(b.Name, ms, health.Options{
		Clock: a.clock, Rand: a.opts.Rand,
		OnChange: func(ch health.Change) { a.onChange(m, ch) },
	})
	m.backend = backend.New(backend.Options{
		Name: b.Name, URL: b.URL, Timeout: b.Timeout.Std(), Headers: b.Headers,
		Sources: a.opts.Sources, Transport: a.opts.Transport, Clock: a.clock,
		Logger: sdkLogger(log).With("component", "mcp-client"),
		Handlers: backend.Handlers{
			SessionStarted: m.markStale,
			SessionLost: func(err error) {
				log.Info("Backend session ended", "error", err)
				m.prober.Kick()
			},
			ListChanged:     func(backend.ListKind) { m.markStale() },
			Progress:        a.server.ForwardProgress,
			ResourceUpdated: func(p *mcp.ResourceUpdatedNotificationParams) { a.server.ResourceUpdated(b.Name, p) },
			Setup:           a.server.SharedSetup(b.Name),
		},
	})
	m.prober = health.NewProber(m.monitor, m.backend.Ping, a.clock, ps, func(o backend.Outcome) {
		m.metrics.Observe("ping", o.Kind.String(), o.Latency)
		if o.Kind == backend.OK && m.stale.Load() {
			m.wake() // a fetch failed earlier; the backend answers again
		}
	})
	m.prober.Limit = a.background
	m.router = &server.Member{Name: b.Name, Backend: m.backend, Monitor: m.monitor, Metrics: m.metrics}
	snap := m.monitor.Snapshot()
	m.metrics.SetState(snap.Health, snap.Circuit)
	go func() {
		defer close(m.done)
		go m.prober.Run(ctx)
		a.fetchLoop(ctx, m, log)
	}()
	return m
}

func (m *member) markStale() {
	m.stale.Store(true)
	m.wake()
}

func (m *member) wake() {
	select {
	case m.refresh <- struct{}{}:
	default:
	}
}

// fetchLoop fetches the backend's inventory whenever it is stale and publishes a new catalog.
func (a *App) fetchLoop(ctx context.Context, m *member, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.refresh:
		}
		if !m.stale.Swap(false) {
			continue
		}
		if err := a.background.Acquire(ctx, 1); err != nil {
			return
		}
		inv, out := m.backend.FetchInventory(ctx)
		a.background.Release(1)
		m.metrics.Observe("list", out.Kind.String(), out.Latency)
		if out.Kind != backend.OK {
			m.stale.Store(true) // retried after the next successful probe
			if out.Kind != backend.Canceled {
				log.Warn("Listing the backend's tools failed", "reason", out.Reason, "error", out.Err)
			}
			continue
		}
		if len(inv.Dropped) > 0 || inv.Truncated {
			log.Warn("Some of the backend's items cannot be served", "dropped", inv.Dropped, "truncated", inv.Truncated)
		}
		m.inv.Store(inv)
		m.router.SetCapabilities(inv.Capabilities)
		log.Info("Backend inventory", "tools", len(inv.Tools), "prompts", len(inv.Prompts),
			"resources", len(inv.Resources), "templates", len(inv.Templates))
		a.rebuild.trigger()
	}
}

// retire stops a member: its goroutines end, its session is closed in the background (bounded
// by closeTimeout), and its metrics disappear. a.mu held.
func (a *App) retire(m *member) {
	m.retired.Store(true)
	m.cancel()
	m.router.Close()
	a.metrics.Forget(m.name)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		closed := make(chan struct{})
		go func() { _ = m.backend.Close(); close(closed) }()
		select {
		case <-closed:
		case <-ctx.Done():
		}
	}()
}

// closeMembers stops every member and closes their sessions concurrently, bounded.
func (a *App) closeMembers() {
	a.mu.Lock()
	members := a.members
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	done := make(chan struct{}, len(members))
	for _, m := range members {
		m.cancel()
		m.router.Close()
		go func() { _ = m.backend.Close(); done <- struct{}{} }()
	}
	for range members {
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
	}
}
