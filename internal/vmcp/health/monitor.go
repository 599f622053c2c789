package health

import (
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/breaker"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Settings configure a Monitor.
type Settings struct {
	Tracker TrackerSettings
	Breaker breaker.Settings
	// BreakerEnabled false means the breaker never rejects calls; health is still tracked and
	// the circuit is always reported Closed.
	BreakerEnabled bool
}

// Snapshot is a Monitor's state as /status and the router see it.
type Snapshot struct {
	Health  statusapi.Health
	Circuit statusapi.Circuit
	// Since is when Health or Circuit last changed.
	Since               time.Time
	Reason              string
	Message             string
	ConsecutiveFailures int
	// RetryAt is when an open circuit lets the next probe through (zero unless Open).
	RetryAt time.Time
	// RateLimitedUntil is the end of the backend's Retry-After window (zero if none).
	RateLimitedUntil time.Time
}

// Available reports whether the backend's capabilities are listed.
func (s Snapshot) Available() bool { return s.Health.Available() }

// same reports whether two snapshots differ only in counters and timestamps.
func (s Snapshot) same(o Snapshot) bool {
	return s.Health == o.Health && s.Circuit == o.Circuit && s.Reason == o.Reason && s.Message == o.Message
}

// Change is reported to Options.OnChange after health, circuit, reason or message changed.
type Change struct {
	Backend       string
	Before, After Snapshot
	// Transitions are the breaker's transitions, in order.
	Transitions []breaker.Transition
}

// Options are a Monitor's collaborators.
type Options struct {
	Clock clock.PassiveClock
	// Rand is the breaker's jitter source (tests pin it).
	Rand func() float64
	// OnChange is called outside the Monitor's lock, in the order changes happened. It must not
	// block or call back into the Monitor.
	OnChange func(Change)
}

// Permit is a Monitor's permission for one call or probe; hand it back to Done.
type Permit struct {
	decision breaker.Decision
	probe    bool
}

// Rejection says why a call may not go to a backend now.
type Rejection struct {
	Health  statusapi.Health
	Circuit statusapi.Circuit
	Reason  string
	Message string
	// RetryAt is the earliest time a retry can succeed (zero when unknown).
	RetryAt time.Time
}

// Monitor tracks one backend's health and circuit. Safe for concurrent use.
type Monitor struct {
	name     string
	clock    clock.PassiveClock
	rand     func() float64
	onChange func(Change)

	// emitMu keeps reports in the order the changes happened: it is taken before mu is released.
	emitMu sync.Mutex

	mu      sync.Mutex
	s       Settings
	tracker *Tracker
	breaker *breaker.Breaker
	limited time.Time   // end of the Retry-After window
	last    Snapshot    // as last reported
	avail   atomic.Bool // last.Available(), readable without mu
	since   time.Time
	pending []breaker.Transition // collected from the breaker while mu is held
}

// NewMonitor returns a Monitor for the named backend, Unknown and Closed.
func NewMonitor(name string, s Settings, o Options) *Monitor {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	m := &Monitor{name: name, clock: o.Clock, rand: o.Rand, onChange: o.OnChange, s: s, tracker: NewTracker(s.Tracker)}
	m.breaker = m.newBreaker(s.Breaker)
	m.since = o.Clock.Now()
	m.last = m.compute()
	m.pending = nil
	return m
}

func (m *Monitor) newBreaker(s breaker.Settings) *breaker.Breaker {
	// Every breaker method is called with m.mu held, so the callback may append unguarded.
	return breaker.New(s, breaker.Options{
		Clock:        m.clock,
		Rand:         m.rand,
		OnTransition: func(t breaker.Transition) { m.pending = append(m.pending, t) },
	})
}

// Name is the backend's name.
func (m *Monitor) Name() string { return m.name }

// Update applies new settings, keeping the breaker's state and the health. Turning the breaker
// off makes an open circuit count as closed at once (the next success heals the backend);
// turning it back on starts a fresh, Closed breaker, since the old one saw nothing meanwhile.
func (m *Monitor) Update(s Settings) {
	m.mu.Lock()
	if s.BreakerEnabled && !m.s.BreakerEnabled {
		m.breaker = m.newBreaker(s.Breaker)
	}
	m.s = s
	m.tracker.Update(s.Tracker)
	m.breaker.Update(s.Breaker)
	m.syncCircuit()
	m.unlockAndEmit(m.settle())
}

// Admit decides whether a user call may go to the backend. Calls are rejected while the circuit
// is not Closed, while the backend is Unknown or Unauthenticated (a call cannot succeed), and
// during a Retry-After window; a backend that is Unhealthy with a Closed circuit still gets
// calls, so that its breaker can count them.
func (m *Monitor) Admit() (Permit, *Rejection) {
	now := m.clock.Now()
	m.mu.Lock()
	p, rej := m.admit(now)
	var ch *Change
	if len(m.pending) > 0 { // only a lazy Open → HalfOpen transition can happen here
		ch = m.settle()
	}
	m.unlockAndEmit(ch)
	return p, rej
}

func (m *Monitor) admit(now time.Time) (Permit, *Rejection) {
	h, reason, msg := m.tracker.Health()
	var p Permit
	if m.s.BreakerEnabled {
		p.decision = m.breaker.Allow()
		if !p.decision.Allowed {
			return p, &Rejection{Health: h, Circuit: circuitOf(p.decision.State), Reason: statusapi.ReasonCircuitOpen, Message: msg, RetryAt: p.decision.RetryAt}
		}
	}
	switch {
	case h == statusapi.HealthUnknown || h == statusapi.HealthUnauthenticated:
		return p, &Rejection{Health: h, Circuit: statusapi.CircuitClosed, Reason: reason, Message: msg}
	case now.Before(m.limited):
		return p, &Rejection{Health: h, Circuit: statusapi.CircuitClosed, Reason: statusapi.ReasonRateLimited, Message: msg, RetryAt: m.limited}
	}
	return p, nil
}

// AcquireProbe decides whether the prober may probe now: not during a Retry-After window, and
// not while an open circuit's time is not up.
func (m *Monitor) AcquireProbe() (Permit, bool) {
	now := m.clock.Now()
	m.mu.Lock()
	p := Permit{probe: true}
	ok := !now.Before(m.limited)
	if ok && m.s.BreakerEnabled {
		p.decision = m.breaker.AllowProbe()
		ok = p.decision.Allowed
	}
	m.unlockAndEmit(m.settle())
	return p, ok
}

// Done records the outcome of a permitted call or probe.
func (m *Monitor) Done(p Permit, o backend.Outcome) {
	now := m.clock.Now()
	m.mu.Lock()
	if m.s.BreakerEnabled {
		m.breaker.Done(p.decision, breakerResult(o.Kind))
	}
	m.syncCircuit()
	m.tracker.Observe(now, o, p.probe)
	if o.Kind == backend.RateLimited && o.RetryAfter > 0 {
		m.limited = now.Add(o.RetryAfter)
	}
	m.unlockAndEmit(m.settle())
}

// breakerResult maps an outcome to the breaker: a backend that answered at all (even 401 or
// 429) is up.
func breakerResult(k backend.Kind) breaker.Result {
	switch k {
	case backend.Failure:
		return breaker.Failure
	case backend.Canceled:
		return breaker.Ignore
	default:
		return breaker.Success
	}
}

// NextProbeAt is when the prober should try next if that is earlier than its interval: the end
// of an open circuit or of a Retry-After window. Zero means "no constraint".
func (m *Monitor) NextProbeAt() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	at := m.limited
	if m.s.BreakerEnabled {
		if s := m.breaker.Snapshot(); s.State == breaker.Open && s.RetryAt.After(at) {
			at = s.RetryAt
		}
	}
	return at
}

// Available reports whether the backend's capabilities are listed, as of the latest change.
// It takes no lock, for callers that ask on every request.
func (m *Monitor) Available() bool { return m.avail.Load() }

// Snapshot returns the current state.
func (m *Monitor) Snapshot() Snapshot {
	m.mu.Lock()
	ch := m.settle()
	s := m.last
	m.unlockAndEmit(ch)
	return s
}

// compute derives the snapshot from the tracker and breaker; mu must be held.
func (m *Monitor) compute() Snapshot {
	h, reason, msg := m.tracker.Health()
	s := Snapshot{
		Health: h, Reason: reason, Message: msg, Circuit: statusapi.CircuitClosed,
		ConsecutiveFailures: m.tracker.ConsecutiveFailures(), RateLimitedUntil: m.limited,
	}
	bs := m.syncCircuit()
	if bs.State != breaker.Closed {
		s.Circuit = circuitOf(bs.State)
		s.RetryAt = bs.RetryAt
		s.Health, s.Reason, s.Message = m.tracker.Health()
	}
	return s
}

// syncCircuit tells the tracker whether the circuit is open: the breaker's state when it is
// enabled, closed when it is not. Called on every change, so that the tracker's view never
// outlives the breaker's (or the setting's); mu must be held.
func (m *Monitor) syncCircuit() breaker.Snapshot {
	var bs breaker.Snapshot // Closed
	if m.s.BreakerEnabled {
		bs = m.breaker.Snapshot()
	}
	m.tracker.SetCircuitOpen(bs.State != breaker.Closed)
	return bs
}

// settle recomputes the snapshot after a state change and returns the change to report, if
// any; mu must be held.
func (m *Monitor) settle() *Change {
	after := m.compute()
	before := m.last
	if after.Health != before.Health || after.Circuit != before.Circuit {
		m.since = m.clock.Now()
	}
	after.Since = m.since
	m.last = after
	m.avail.Store(after.Available())
	if after.same(before) && len(m.pending) == 0 {
		return nil
	}
	ch := &Change{Backend: m.name, Before: before, After: after, Transitions: m.pending}
	m.pending = nil
	return ch
}

// unlockAndEmit releases mu and reports ch, if any, outside mu but in order.
func (m *Monitor) unlockAndEmit(ch *Change) {
	if ch == nil || m.onChange == nil {
		m.mu.Unlock()
		return
	}
	m.emitMu.Lock()
	m.mu.Unlock()
	defer m.emitMu.Unlock()
	m.onChange(*ch)
}

func circuitOf(s breaker.State) statusapi.Circuit {
	switch s {
	case breaker.Open:
		return statusapi.CircuitOpen
	case breaker.HalfOpen:
		return statusapi.CircuitHalfOpen
	default:
		return statusapi.CircuitClosed
	}
}
