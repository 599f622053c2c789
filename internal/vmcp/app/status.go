package app

import (
	"sort"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Status builds the /status document from live state; it takes a few short locks per backend.
func (a *App) Status() statusapi.Status {
	type entry struct {
		name, url string
		m         *member
	}
	a.mu.Lock()
	cfg, hash := a.cfg, a.hash
	members := make([]entry, 0, len(a.members))
	for _, m := range a.members {
		members = append(members, entry{m.name, m.cfg.URL, m}) // m.cfg changes under a.mu on reload
	}
	a.mu.Unlock()
	a.rebuildMu.Lock()
	c := a.catalog
	a.rebuildMu.Unlock()

	sort.Slice(members, func(i, j int) bool { return members[i].name < members[j].name })
	st := statusapi.Status{ConfigHash: hash, Backends: make([]statusapi.Backend, 0, len(members))}
	if cfg != nil {
		st.FailureMode = string(cfg.FailureMode)
	}
	for _, e := range members {
		snap := e.m.monitor.Snapshot()
		b := statusapi.Backend{
			Name: e.name, URL: e.url, Health: snap.Health, Circuit: snap.Circuit, Since: snap.Since.UTC(),
			Reason: snap.Reason, Message: statusapi.TruncateMessage(snap.Message), ConsecutiveFailures: snap.ConsecutiveFailures,
		}
		if snap.Circuit == statusapi.CircuitOpen && !snap.RetryAt.IsZero() {
			at := snap.RetryAt.UTC()
			b.RetryAfter = &at
		}
		if c != nil {
			sum := c.Summary(e.name)
			b.Tools, b.Prompts, b.Resources, b.Clashes = sum.Tools, sum.Prompts, sum.Resources, sum.Clashes
		}
		st.Backends = append(st.Backends, b)
		st.Summary.Backends++
		if snap.Health.Available() {
			st.Summary.Available++
		}
		if snap.Circuit != statusapi.CircuitClosed {
			st.Summary.OpenCircuits++
		}
		st.Summary.Tools += b.Tools
		st.Summary.Clashes += len(b.Clashes)
	}
	st.Version = a.version.Load() // read last: taking snapshots may have recorded a change
	return st
}
