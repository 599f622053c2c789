package health

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"k8s.io/utils/clock"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
)

// ProbeSettings configure a Prober.
type ProbeSettings struct {
	Interval time.Duration
	Timeout  time.Duration
	// MaxProbesInARow is how many probes may run back to back while a circuit is HalfOpen
	// (the breaker's halfOpenMaxRequests), so a recovered backend closes without waiting an
	// interval per probe.
	MaxProbesInARow int
}

// Prober pings one backend every interval and reports to its Monitor.
type Prober struct {
	// Limit, if set, bounds how many probes run at once across the Probers sharing it, so that
	// hundreds of backends started (or ticking) together do not probe all at once.
	Limit *semaphore.Weighted

	monitor  *Monitor
	ping     func(context.Context) backend.Outcome
	clock    clock.Clock
	settings atomic.Pointer[ProbeSettings]
	kick     chan struct{}
	// observe, if set, sees every probe outcome (metrics).
	observe func(backend.Outcome)
}

// NewProber returns a Prober that checks the backend with ping (which establishes the session
// if there is none). observe may be nil.
func NewProber(m *Monitor, ping func(context.Context) backend.Outcome, c clock.Clock, s ProbeSettings, observe func(backend.Outcome)) *Prober {
	p := &Prober{monitor: m, ping: ping, clock: c, kick: make(chan struct{}, 1), observe: observe}
	p.Update(s)
	return p
}

// Update replaces the settings; they take effect from the next probe.
func (p *Prober) Update(s ProbeSettings) {
	s.MaxProbesInARow = max(s.MaxProbesInARow, 1)
	p.settings.Store(&s)
}

// KickSpacing is the least time between a probe and the next one a Kick causes: a backend
// whose sessions keep breaking right after they are established must not be re-initialized in
// a tight loop.
const KickSpacing = time.Second

// Kick makes the prober probe now (or KickSpacing after its previous probe) instead of at the
// end of its interval. It never blocks.
func (p *Prober) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run probes at once, then every interval (or earlier, when an open circuit's time is up, a
// Retry-After window ends, or Kick is called), until ctx is done.
func (p *Prober) Run(ctx context.Context) {
	for {
		p.ProbeOnce(ctx)
		if !p.wait(ctx, p.clock.Now()) {
			return
		}
	}
}

// wait returns when the next probe is due, or false when ctx is done.
func (p *Prober) wait(ctx context.Context, lastProbe time.Time) bool {
	delay, kicked := p.nextDelay(), false
	for {
		t := p.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C():
			return true
		case <-p.kick:
			t.Stop()
			early := lastProbe.Add(KickSpacing).Sub(p.clock.Now())
			if kicked || early <= 0 {
				return true
			}
			delay, kicked = min(delay, early), true
		}
	}
}

// ProbeOnce probes if the Monitor allows it, repeating while a HalfOpen circuit wants more
// successful probes.
func (p *Prober) ProbeOnce(ctx context.Context) {
	s := p.settings.Load()
	for range s.MaxProbesInARow {
		permit, ok := p.monitor.AcquireProbe()
		if !ok || ctx.Err() != nil {
			return
		}
		halfOpen := permit.decision.HalfOpenProbe()
		if p.Limit != nil {
			if err := p.Limit.Acquire(ctx, 1); err != nil {
				p.monitor.Done(permit, backend.Outcome{Kind: backend.Canceled})
				return
			}
		}
		pctx, cancel := context.WithTimeout(ctx, s.Timeout)
		out := p.ping(pctx)
		cancel()
		if p.Limit != nil {
			p.Limit.Release(1)
		}
		p.monitor.Done(permit, out)
		if p.observe != nil {
			p.observe(out)
		}
		if !halfOpen || out.Kind == backend.Failure {
			return
		}
	}
}

func (p *Prober) nextDelay() time.Duration {
	d := p.settings.Load().Interval
	if at := p.monitor.NextProbeAt(); !at.IsZero() {
		if until := at.Sub(p.clock.Now()); until > 0 && until < d {
			d = until
		}
	}
	return d
}
