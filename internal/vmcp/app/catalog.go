package app

import (
	"context"
	"slices"
	"time"

	"k8s.io/utils/clock"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/aggregate"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/health"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/server"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// onChange handles a backend's health or circuit change: metrics, logs, the status version,
// and a catalog rebuild when the backend's availability flipped.
func (a *App) onChange(m *member, ch health.Change) {
	if m.retired.Load() {
		return
	}
	a.version.Add(1)
	m.metrics.SetState(ch.After.Health, ch.After.Circuit)
	for _, t := range ch.Transitions {
		m.metrics.Transition(t.From.String(), t.To.String())
		a.logger.Info("Circuit transition", "backend", m.name, "from", t.From.String(), "to", t.To.String(),
			"consecutiveFailures", t.ConsecutiveFailures, "retryAt", t.RetryAt)
	}
	if ch.Before.Health != ch.After.Health {
		a.logger.Info("Backend health changed", "backend", m.name, "from", ch.Before.Health, "to", ch.After.Health,
			"reason", ch.After.Reason, "message", ch.After.Message)
	}
	if ch.Before.Available() != ch.After.Available() {
		a.rebuild.trigger()
	}
}

// rebuildNow builds the catalog from the members' inventories and availability and publishes
// it with the current members and failure mode.
func (a *App) rebuildNow() {
	a.rebuildMu.Lock()
	defer a.rebuildMu.Unlock()
	a.mu.Lock()
	cfg := a.cfg
	members := make(map[string]*server.Member, len(a.members))
	sources := make([]aggregate.Source, 0, len(cfg.Backends))
	for _, b := range cfg.Backends {
		m := a.members[b.Name]
		members[b.Name] = m.router
		src := aggregate.Source{Name: b.Name, Prefix: m.prefix, Available: m.monitor.Snapshot().Available()}
		if b.Tools != nil {
			src.Include, src.Exclude = b.Tools.Include, b.Tools.Exclude
		}
		if inv := m.inv.Load(); inv != nil {
			src.Known = true
			src.Tools, src.Prompts, src.Resources, src.Templates = inv.Tools, inv.Prompts, inv.Resources, inv.Templates
		}
		sources = append(sources, src)
	}
	a.mu.Unlock()

	prev := a.catalog
	c := aggregate.Build(aggregate.OptionsFrom(cfg), sources, prev)
	a.catalog = c
	a.server.Publish(&server.State{
		Catalog: c, Members: members, FailureMode: cfg.FailureMode, RetryHint: cfg.HealthCheck.Interval.Std(),
	})
	changed := prev == nil
	for _, s := range sources {
		now := c.Summary(s.Name)
		if prev != nil && !sameSummary(prev.Summary(s.Name), now) {
			changed = true
		}
		if prev == nil || len(prev.Summary(s.Name).Clashes) != len(now.Clashes) {
			for _, cl := range now.Clashes {
				a.logger.Warn("Unresolved name clash: item hidden", "backend", s.Name, "kind", kindName(cl.Kind), "name", cl.Tool, "exposedAs", cl.Name, "with", cl.With)
			}
		}
	}
	if changed {
		a.version.Add(1)
	}
}

func sameSummary(a, b aggregate.Summary) bool {
	return a.Tools == b.Tools && a.Prompts == b.Prompts && a.Resources == b.Resources &&
		slices.EqualFunc(a.Clashes, b.Clashes, func(x, y statusapi.Clash) bool {
			return x.Kind == y.Kind && x.Tool == y.Tool && x.Name == y.Name && slices.Equal(x.With, y.With)
		})
}

func kindName(k string) string {
	if k == "" {
		return "tool"
	}
	return k
}

// debouncer runs fn on demand, at most once per interval: the first change is published at
// once (clients learn quickly that tools went away), later ones within the interval are
// coalesced into one publish at its end. A non-positive interval runs fn for every trigger.
type debouncer struct {
	clock    clock.Clock
	interval time.Duration
	fn       func()
	signal   chan struct{}
}

func newDebouncer(c clock.Clock, interval time.Duration, fn func()) *debouncer {
	return &debouncer{clock: c, interval: interval, fn: fn, signal: make(chan struct{}, 1)}
}

// trigger asks for a run; it never blocks and never runs fn itself (callers may hold locks
// fn takes).
func (d *debouncer) trigger() {
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

// now runs fn at once (a config change must be routed before Apply returns).
func (d *debouncer) now() { d.fn() }

func (d *debouncer) run(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.signal:
		}
		if !last.IsZero() && d.interval > 0 {
			if wait := last.Add(d.interval).Sub(d.clock.Now()); wait > 0 {
				t := d.clock.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C():
				}
			}
		}
		select { // coalesce triggers that arrived while waiting
		case <-d.signal:
		default:
		}
		d.fn()
		last = d.clock.Now()
	}
}
