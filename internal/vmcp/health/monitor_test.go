package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/breaker"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

func settings() Settings {
	return Settings{
		Tracker: TrackerSettings{UnhealthyThreshold: 3, DegradedLatency: 2 * time.Second, RecoveryPeriod: 10 * time.Second},
		Breaker: breaker.Settings{
			FailureThreshold: 5, OpenDuration: 30 * time.Second, MaxOpenDuration: 5 * time.Minute,
			HalfOpenMaxRequests: 1, Jitter: -1,
		},
		BreakerEnabled: true,
	}
}

var (
	ok      = backend.Outcome{Kind: backend.OK}
	failure = backend.Outcome{Kind: backend.Failure, Reason: statusapi.ReasonConnectionFailed, Err: errors.New("connection refused")}
)

type monitorHarness struct {
	clock   *clocktesting.FakeClock
	m       *Monitor
	mu      sync.Mutex
	changes []Change
}

func newMonitor(t *testing.T, s Settings) *monitorHarness {
	t.Helper()
	h := &monitorHarness{clock: clocktesting.NewFakeClock(t0)}
	h.m = NewMonitor("a", s, Options{Clock: h.clock, OnChange: func(c Change) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.changes = append(h.changes, c)
	}})
	return h
}

func (h *monitorHarness) call(t *testing.T, o backend.Outcome) {
	t.Helper()
	p, rej := h.m.Admit()
	if rej != nil {
		t.Fatalf("call rejected: %+v", rej)
	}
	h.m.Done(p, o)
}

func (h *monitorHarness) probe(t *testing.T, o backend.Outcome) {
	t.Helper()
	p, allowed := h.m.AcquireProbe()
	if !allowed {
		t.Fatal("probe not allowed")
	}
	h.m.Done(p, o)
}

func (h *monitorHarness) want(t *testing.T, health statusapi.Health, circuit statusapi.Circuit) Snapshot {
	t.Helper()
	s := h.m.Snapshot()
	if s.Health != health || s.Circuit != circuit {
		t.Fatalf("snapshot = %s/%s (%s), want %s/%s", s.Health, s.Circuit, s.Reason, health, circuit)
	}
	return s
}

func (h *monitorHarness) circuitTransitions() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.changes {
		for _, tr := range c.Transitions {
			out = append(out, tr.From.String()+"->"+tr.To.String())
		}
	}
	return out
}

func TestMonitorLifecycle(t *testing.T) {
	h := newMonitor(t, settings())
	if _, rej := h.m.Admit(); rej == nil || rej.Health != statusapi.HealthUnknown {
		t.Fatalf("Unknown backend admitted a call (rejection %+v)", rej)
	}
	h.probe(t, ok)
	h.want(t, statusapi.HealthHealthy, statusapi.CircuitClosed)

	// Unhealthy after 3 failures, but calls still go through until the breaker opens at 5.
	for range 3 {
		h.call(t, failure)
	}
	h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitClosed)
	h.call(t, failure)
	h.call(t, failure)
	s := h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitOpen)
	if s.Reason != statusapi.ReasonCircuitOpen || !s.RetryAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("open snapshot = %+v", s)
	}
	_, rej := h.m.Admit()
	if rej == nil || rej.Circuit != statusapi.CircuitOpen || !rej.RetryAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("rejection = %+v, want Open with RetryAt", rej)
	}
	if _, allowed := h.m.AcquireProbe(); allowed {
		t.Fatal("probe allowed before the open duration elapsed")
	}
	if at := h.m.NextProbeAt(); !at.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("NextProbeAt = %v", at)
	}

	h.clock.Step(30 * time.Second)
	h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitHalfOpen)
	if _, rej := h.m.Admit(); rej == nil || rej.Circuit != statusapi.CircuitHalfOpen {
		t.Fatalf("user call in HalfOpen: rejection %+v", rej)
	}
	h.probe(t, ok)
	h.want(t, statusapi.HealthDegraded, statusapi.CircuitClosed)
	h.call(t, ok)
	h.clock.Step(10 * time.Second)
	h.probe(t, ok)
	h.want(t, statusapi.HealthHealthy, statusapi.CircuitClosed)

	want := []string{"Closed->Open", "Open->HalfOpen", "HalfOpen->Closed"}
	if got := h.circuitTransitions(); !slices.Equal(got, want) {
		t.Fatalf("transitions = %v, want %v", got, want)
	}
}

func TestMonitorReportsEveryChangeOnce(t *testing.T) {
	h := newMonitor(t, settings())
	h.probe(t, ok)
	h.probe(t, ok) // no change
	h.call(t, failure)
	h.call(t, failure) // below the threshold: no change
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.changes) != 1 || h.changes[0].Before.Health != statusapi.HealthUnknown || h.changes[0].After.Health != statusapi.HealthHealthy {
		t.Fatalf("changes = %+v, want exactly Unknown -> Healthy", h.changes)
	}
	if !h.changes[0].After.Since.Equal(t0) {
		t.Fatalf("Since = %v", h.changes[0].After.Since)
	}
}

func TestMonitorBreakerDisabled(t *testing.T) {
	s := settings()
	s.BreakerEnabled = false
	h := newMonitor(t, s)
	h.probe(t, ok)
	for range 20 {
		h.call(t, failure)
	}
	h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitClosed)
}

func TestMonitorHonoursRetryAfter(t *testing.T) {
	h := newMonitor(t, settings())
	h.probe(t, ok)
	h.call(t, backend.Outcome{Kind: backend.RateLimited, Reason: statusapi.ReasonRateLimited, RetryAfter: 5 * time.Second, Err: errors.New("429")})
	h.want(t, statusapi.HealthDegraded, statusapi.CircuitClosed)
	_, rej := h.m.Admit()
	if rej == nil || rej.Reason != statusapi.ReasonRateLimited || !rej.RetryAt.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("rejection = %+v, want RateLimited until +5s", rej)
	}
	if _, allowed := h.m.AcquireProbe(); allowed {
		t.Fatal("probe allowed inside the Retry-After window")
	}
	h.clock.Step(5 * time.Second)
	h.probe(t, ok)
	h.want(t, statusapi.HealthHealthy, statusapi.CircuitClosed)
}

func TestMonitorUnauthenticatedRejectsCalls(t *testing.T) {
	h := newMonitor(t, settings())
	h.probe(t, backend.Outcome{Kind: backend.Unauthenticated, Reason: statusapi.ReasonUnauthorized, Err: errors.New("401")})
	h.want(t, statusapi.HealthUnauthenticated, statusapi.CircuitClosed)
	if _, rej := h.m.Admit(); rej == nil || rej.Health != statusapi.HealthUnauthenticated {
		t.Fatalf("rejection = %+v", rej)
	}
}

func TestMonitorUpdateKeepsState(t *testing.T) {
	h := newMonitor(t, settings())
	h.probe(t, ok)
	for range 5 {
		h.call(t, failure)
	}
	s := settings()
	s.Breaker.FailureThreshold = 2
	h.m.Update(s)
	h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitOpen)
}

// TestMonitorAnsweredIsNotAFailure pins what docs/aggregator.md says of 401/403 and 429: not
// failures, and since the backend answered, they reset the consecutive-failure counts of the
// tracker and the breaker.
func TestMonitorAnsweredIsNotAFailure(t *testing.T) {
	tests := []struct {
		name   string
		answer backend.Outcome
		health statusapi.Health
	}{
		{"401", backend.Outcome{Kind: backend.Unauthenticated, Reason: statusapi.ReasonUnauthorized, Err: errors.New("401")}, statusapi.HealthUnauthenticated},
		{"429", backend.Outcome{Kind: backend.RateLimited, Reason: statusapi.ReasonRateLimited, Err: errors.New("429")}, statusapi.HealthDegraded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newMonitor(t, settings())
			h.probe(t, ok)
			for range 4 { // one short of failureThreshold
				h.call(t, failure)
			}
			h.call(t, tt.answer)
			if s := h.want(t, tt.health, statusapi.CircuitClosed); s.ConsecutiveFailures != 0 {
				t.Fatalf("consecutive failures = %d after an answer, want 0", s.ConsecutiveFailures)
			}
			h.probe(t, ok)
			for range 4 { // would open the circuit had the answer counted as a failure, or not reset
				h.call(t, failure)
			}
			h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitClosed)
		})
	}
}

// TestMonitorBreakerTurnedOffWhileOpen checks that a reload turning the breaker off while a
// circuit is open does not leave the backend Unhealthy for good: the circuit counts as closed
// at once, calls go through, and successes heal it. Turning it back on starts Closed.
func TestMonitorBreakerTurnedOffWhileOpen(t *testing.T) {
	h := newMonitor(t, settings())
	h.probe(t, ok)
	for range 5 {
		h.call(t, failure)
	}
	h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitOpen)

	off := settings()
	off.BreakerEnabled = false
	h.m.Update(off)
	if s := h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitClosed); s.Reason != statusapi.ReasonConnectionFailed {
		t.Fatalf("reason = %s with the breaker off, want the last failure's (%s)", s.Reason, statusapi.ReasonConnectionFailed)
	}
	h.call(t, ok) // admitted: Unhealthy with a closed circuit
	h.want(t, statusapi.HealthDegraded, statusapi.CircuitClosed)
	h.clock.Step(10 * time.Second)
	h.probe(t, ok)
	h.want(t, statusapi.HealthHealthy, statusapi.CircuitClosed)
	if !h.m.Available() {
		t.Fatal("a Healthy backend is not available")
	}

	h.m.Update(settings())
	h.want(t, statusapi.HealthHealthy, statusapi.CircuitClosed)
	for range 4 {
		h.call(t, failure)
	}
	h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitClosed) // a fresh count: 4 of 5
	h.call(t, failure)
	h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitOpen)
}

// scriptedPing answers probes with a switchable outcome and counts them.
type scriptedPing struct {
	calls atomic.Int32
	out   atomic.Pointer[backend.Outcome]
}

func (p *scriptedPing) set(o backend.Outcome) { p.out.Store(&o) }

func (p *scriptedPing) ping(context.Context) backend.Outcome {
	p.calls.Add(1)
	return *p.out.Load()
}

func waitCalls(t *testing.T, p *scriptedPing, n int32) {
	t.Helper()
	poll.Until(t, 5*time.Second, func() error {
		if got := p.calls.Load(); got != n {
			return fmt.Errorf("%d probes, want %d", got, n)
		}
		return nil
	})
}

// waitTimer waits until the prober is parked on the fake clock.
func waitTimer(t *testing.T, c *clocktesting.FakeClock) {
	t.Helper()
	poll.Until(t, 5*time.Second, func() error {
		if !c.HasWaiters() {
			return errors.New("prober not waiting")
		}
		return nil
	})
}

func TestProberSchedule(t *testing.T) {
	s := settings()
	s.Breaker.FailureThreshold = 2
	h := newMonitor(t, s)
	p := &scriptedPing{}
	p.set(ok)
	pr := NewProber(h.m, p.ping, h.clock, ProbeSettings{Interval: 10 * time.Second, Timeout: time.Second}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { pr.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitCalls(t, p, 1) // probes at once
	waitTimer(t, h.clock)
	h.want(t, statusapi.HealthHealthy, statusapi.CircuitClosed)
	h.clock.Step(10 * time.Second)
	waitCalls(t, p, 2)

	// Two failed probes open the circuit (openDuration 30s > interval 10s): the prober then
	// skips probes until the open duration is up.
	p.set(failure)
	waitTimer(t, h.clock)
	h.clock.Step(10 * time.Second)
	waitCalls(t, p, 3)
	waitTimer(t, h.clock)
	h.clock.Step(10 * time.Second)
	waitCalls(t, p, 4)
	h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitOpen)
	for range 2 {
		waitTimer(t, h.clock)
		h.clock.Step(10 * time.Second)
	}
	waitTimer(t, h.clock)
	if got := p.calls.Load(); got != 4 {
		t.Fatalf("%d probes while open, want none", got-4)
	}
	// The open duration ends 10s into the next interval; the prober wakes exactly then.
	p.set(ok)
	h.clock.Step(10 * time.Second)
	waitCalls(t, p, 5)
	poll.Until(t, 5*time.Second, func() error {
		if s := h.m.Snapshot(); s.Circuit != statusapi.CircuitClosed {
			return fmt.Errorf("circuit %s", s.Circuit)
		}
		return nil
	})

	// Kick probes without waiting for the interval, but no sooner than KickSpacing after the
	// previous probe.
	waitTimer(t, h.clock)
	pr.Kick()
	waitTimer(t, h.clock)
	if got := p.calls.Load(); got != 5 {
		t.Fatalf("kicked right after a probe: %d probes, want it deferred", got)
	}
	h.clock.Step(KickSpacing)
	waitCalls(t, p, 6)
	waitTimer(t, h.clock)
	h.clock.Step(2 * KickSpacing)
	pr.Kick()
	waitCalls(t, p, 7)
}

func TestProberHalfOpenProbesInARow(t *testing.T) {
	s := settings()
	s.Breaker.FailureThreshold = 1
	s.Breaker.HalfOpenMaxRequests = 3
	h := newMonitor(t, s)
	p := &scriptedPing{}
	p.set(failure)
	pr := NewProber(h.m, p.ping, h.clock, ProbeSettings{Interval: time.Minute, Timeout: time.Second, MaxProbesInARow: 3}, nil)
	pr.ProbeOnce(t.Context())
	h.want(t, statusapi.HealthUnhealthy, statusapi.CircuitOpen)
	h.clock.Step(30 * time.Second)
	p.set(ok)
	pr.ProbeOnce(t.Context())
	if got := p.calls.Load(); got != 4 {
		t.Fatalf("%d probes, want 1 failing and 3 in a row while HalfOpen", got)
	}
	h.want(t, statusapi.HealthDegraded, statusapi.CircuitClosed)
}

func TestProberWaitsForTheSharedLimit(t *testing.T) {
	h := newMonitor(t, settings())
	p := &scriptedPing{}
	p.set(ok)
	pr := NewProber(h.m, p.ping, h.clock, ProbeSettings{Interval: time.Minute, Timeout: time.Second}, nil)
	pr.Limit = semaphore.NewWeighted(1)
	if err := pr.Limit.Acquire(t.Context(), 1); err != nil { // another prober's probe
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { pr.ProbeOnce(ctx); close(done) }()
	cancel()
	<-done
	if p.calls.Load() != 0 {
		t.Fatal("probed without the limit's permit")
	}
	pr.Limit.Release(1)
	pr.ProbeOnce(t.Context())
	if p.calls.Load() != 1 {
		t.Fatal("no probe once the permit was free")
	}
	h.want(t, statusapi.HealthHealthy, statusapi.CircuitClosed)
}
