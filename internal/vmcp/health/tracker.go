package health

import (
	"time"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// TrackerSettings configure a Tracker.
type TrackerSettings struct {
	// UnhealthyThreshold consecutive failures make a backend Unhealthy.
	UnhealthyThreshold int
	// DegradedLatency is the probe latency above which a backend is Degraded (Slow).
	DegradedLatency time.Duration
	// RecoveryPeriod is how long a backend stays Degraded (Recovering) after its first success
	// following a failure state: one probe interval.
	RecoveryPeriod time.Duration
}

// Tracker is the status state machine of DESIGN §5. It is not safe for concurrent use; the
// Monitor guards it.
type Tracker struct {
	s           TrackerSettings
	health      statusapi.Health
	reason      string
	message     string
	consecutive int
	// lastReason and lastMessage describe the latest failure, shown while a backend is Unknown
	// or Unhealthy.
	lastReason, lastMessage string
	recoveringUntil         time.Time
	circuitOpen             bool
}

// NewTracker returns a Tracker in Unknown.
func NewTracker(s TrackerSettings) *Tracker {
	t := &Tracker{health: statusapi.HealthUnknown, reason: statusapi.ReasonNotYetProbed}
	t.Update(s)
	return t
}

// Update replaces the settings and keeps the state.
func (t *Tracker) Update(s TrackerSettings) {
	s.UnhealthyThreshold = max(s.UnhealthyThreshold, 1)
	t.s = s
}

// Health returns the current health, reason and message.
func (t *Tracker) Health() (statusapi.Health, string, string) { return t.health, t.reason, t.message }

// ConsecutiveFailures counts failures since the last success.
func (t *Tracker) ConsecutiveFailures() int { return t.consecutive }

// SetCircuitOpen tells the tracker whether the backend's circuit is open (Open or HalfOpen):
// an open circuit makes the backend Unhealthy until a success is observed after it closes.
// A circuit that closes without a success (the breaker was turned off) leaves the backend
// Unhealthy for its last failure, not for a circuit that is no longer open.
func (t *Tracker) SetCircuitOpen(open bool) {
	wasOpen := t.circuitOpen
	t.circuitOpen = open
	switch {
	case open:
		t.set(statusapi.HealthUnhealthy, statusapi.ReasonCircuitOpen, t.lastMessage)
	case wasOpen && t.reason == statusapi.ReasonCircuitOpen && t.lastReason != "":
		t.set(statusapi.HealthUnhealthy, t.lastReason, t.lastMessage)
	}
}

// Observe records an outcome at now. probe says whether it came from the prober: only probes
// measure latency, since a tool's own run time says nothing about the backend's health.
func (t *Tracker) Observe(now time.Time, o backend.Outcome, probe bool) {
	switch o.Kind {
	case backend.Canceled:
	case backend.OK, backend.RPCError:
		t.success(now, o, probe)
	case backend.RateLimited:
		t.consecutive = 0
		if !t.circuitOpen {
			t.set(statusapi.HealthDegraded, statusapi.ReasonRateLimited, o.Message())
		}
	case backend.Unauthenticated:
		t.consecutive = 0
		if !t.circuitOpen {
			t.set(statusapi.HealthUnauthenticated, statusapi.ReasonUnauthorized, o.Message())
		}
	case backend.Failure:
		t.consecutive++
		t.lastReason, t.lastMessage = o.Reason, o.Message()
		switch {
		case t.circuitOpen:
			t.set(statusapi.HealthUnhealthy, statusapi.ReasonCircuitOpen, t.lastMessage)
		case t.consecutive >= t.s.UnhealthyThreshold:
			t.set(statusapi.HealthUnhealthy, o.Reason, t.lastMessage)
		case t.health == statusapi.HealthUnknown:
			t.set(statusapi.HealthUnknown, o.Reason, t.lastMessage)
		}
	}
}

func (t *Tracker) success(now time.Time, o backend.Outcome, probe bool) {
	t.consecutive = 0
	if t.circuitOpen {
		return
	}
	switch {
	case t.health == statusapi.HealthUnhealthy || t.health == statusapi.HealthUnauthenticated:
		t.recoveringUntil = now.Add(t.s.RecoveryPeriod)
		t.set(statusapi.HealthDegraded, statusapi.ReasonRecovering, "answering again after "+t.reason)
	case now.Before(t.recoveringUntil):
		// Stay Degraded (Recovering) for the rest of the period.
	case probe && t.s.DegradedLatency > 0 && o.Latency > t.s.DegradedLatency:
		// Not the latency itself: the message must not change with every probe (it is copied
		// into the object's status); vmcp_request_duration_seconds{method="ping"} has it.
		t.set(statusapi.HealthDegraded, statusapi.ReasonSlow, "ping slower than "+t.s.DegradedLatency.String())
	case !probe && t.health == statusapi.HealthDegraded && t.reason == statusapi.ReasonSlow:
		// Only a probe can tell that the backend is fast again.
	default:
		t.set(statusapi.HealthHealthy, statusapi.ReasonHealthy, "")
	}
}

func (t *Tracker) set(h statusapi.Health, reason, message string) {
	t.health, t.reason, t.message = h, reason, message
}
