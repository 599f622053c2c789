package health

import (
	"errors"
	"testing"
	"time"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// step is one event fed to a tracker: an outcome (from a probe or a call) after a delay.
type step struct {
	after time.Duration
	kind  backend.Kind
	probe bool
	slow  bool
}

var (
	okProbe   = step{kind: backend.OK, probe: true}
	okCall    = step{kind: backend.OK}
	fail      = step{kind: backend.Failure, probe: true}
	slowProbe = step{kind: backend.OK, probe: true, slow: true}
	slowCall  = step{kind: backend.OK, slow: true}
)

func TestTracker(t *testing.T) {
	tests := []struct {
		name       string
		steps      []step
		wantHealth statusapi.Health
		wantReason string
	}{
		{"unknown before any result", nil, statusapi.HealthUnknown, statusapi.ReasonNotYetProbed},
		{"first success", []step{okProbe}, statusapi.HealthHealthy, statusapi.ReasonHealthy},
		{"failures below threshold while unknown", []step{fail, fail}, statusapi.HealthUnknown, statusapi.ReasonConnectionFailed},
		{"threshold reached while unknown", []step{fail, fail, fail}, statusapi.HealthUnhealthy, statusapi.ReasonConnectionFailed},
		{"healthy survives failures below threshold", []step{okProbe, fail, fail}, statusapi.HealthHealthy, statusapi.ReasonHealthy},
		{"a success resets the count", []step{okProbe, fail, fail, okCall, fail, fail}, statusapi.HealthHealthy, statusapi.ReasonHealthy},
		{"healthy to unhealthy", []step{okProbe, fail, fail, fail}, statusapi.HealthUnhealthy, statusapi.ReasonConnectionFailed},
		{"recovering after unhealthy", []step{fail, fail, fail, okProbe}, statusapi.HealthDegraded, statusapi.ReasonRecovering},
		{"still recovering within the period", []step{fail, fail, fail, okProbe, {after: 9 * time.Second, kind: backend.OK, probe: true}}, statusapi.HealthDegraded, statusapi.ReasonRecovering},
		{"healthy after one interval", []step{fail, fail, fail, okProbe, {after: 10 * time.Second, kind: backend.OK, probe: true}}, statusapi.HealthHealthy, statusapi.ReasonHealthy},
		{"slow probe", []step{okProbe, slowProbe}, statusapi.HealthDegraded, statusapi.ReasonSlow},
		{"fast probe clears slow", []step{slowProbe, okProbe}, statusapi.HealthHealthy, statusapi.ReasonHealthy},
		{"calls do not clear slow", []step{slowProbe, okCall}, statusapi.HealthDegraded, statusapi.ReasonSlow},
		{"slow calls are not slowness", []step{okProbe, slowCall}, statusapi.HealthHealthy, statusapi.ReasonHealthy},
		{"JSON-RPC error means up", []step{fail, fail, fail, {kind: backend.RPCError}}, statusapi.HealthDegraded, statusapi.ReasonRecovering},
		{"401", []step{okProbe, {kind: backend.Unauthenticated}}, statusapi.HealthUnauthenticated, statusapi.ReasonUnauthorized},
		{"recovered from 401", []step{{kind: backend.Unauthenticated}, okProbe}, statusapi.HealthDegraded, statusapi.ReasonRecovering},
		{"429", []step{okProbe, {kind: backend.RateLimited}}, statusapi.HealthDegraded, statusapi.ReasonRateLimited},
		{"429 then success", []step{{kind: backend.RateLimited}, okProbe}, statusapi.HealthHealthy, statusapi.ReasonHealthy},
		{"cancelled changes nothing", []step{okProbe, {kind: backend.Canceled}, {kind: backend.Canceled}, {kind: backend.Canceled}}, statusapi.HealthHealthy, statusapi.ReasonHealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(TrackerSettings{UnhealthyThreshold: 3, DegradedLatency: 2 * time.Second, RecoveryPeriod: 10 * time.Second})
			now := t0
			for _, s := range tt.steps {
				now = now.Add(s.after)
				o := backend.Outcome{Kind: s.kind, Latency: 10 * time.Millisecond}
				if s.kind == backend.Failure {
					o.Reason, o.Err = statusapi.ReasonConnectionFailed, errors.New("connection refused")
				}
				if s.slow {
					o.Latency = 3 * time.Second
				}
				tr.Observe(now, o, s.probe)
			}
			if h, reason, _ := tr.Health(); h != tt.wantHealth || reason != tt.wantReason {
				t.Fatalf("health = %s/%s, want %s/%s", h, reason, tt.wantHealth, tt.wantReason)
			}
		})
	}
}

func TestTrackerCircuitOpen(t *testing.T) {
	tr := NewTracker(TrackerSettings{UnhealthyThreshold: 3, RecoveryPeriod: 10 * time.Second})
	tr.Observe(t0, backend.Outcome{Kind: backend.OK}, true)
	tr.Observe(t0, backend.Outcome{Kind: backend.Failure, Reason: statusapi.ReasonTimeout, Err: errors.New("deadline")}, false)
	tr.SetCircuitOpen(true)
	if h, reason, msg := tr.Health(); h != statusapi.HealthUnhealthy || reason != statusapi.ReasonCircuitOpen || msg != "no answer before the deadline" {
		t.Fatalf("open circuit: %s/%s %q, want Unhealthy/CircuitOpen with the last failure", h, reason, msg)
	}
	tr.SetCircuitOpen(false)
	tr.Observe(t0, backend.Outcome{Kind: backend.OK}, true)
	if h, reason, _ := tr.Health(); h != statusapi.HealthDegraded || reason != statusapi.ReasonRecovering {
		t.Fatalf("after close: %s/%s, want Degraded/Recovering", h, reason)
	}
}

// TestTrackerSlowMessageIsStable checks that a slow backend's message does not change with each
// probe's latency: the operator copies it into the object's status and writes when it changes.
func TestTrackerSlowMessageIsStable(t *testing.T) {
	tr := NewTracker(TrackerSettings{UnhealthyThreshold: 3, DegradedLatency: 2 * time.Second, RecoveryPeriod: 10 * time.Second})
	var msgs []string
	for i, latency := range []time.Duration{2134 * time.Millisecond, 2500 * time.Millisecond, 4 * time.Second} {
		tr.Observe(t0.Add(time.Duration(i)*10*time.Second), backend.Outcome{Kind: backend.OK, Latency: latency}, true)
		h, reason, msg := tr.Health()
		if h != statusapi.HealthDegraded || reason != statusapi.ReasonSlow {
			t.Fatalf("health = %s/%s, want Degraded/Slow", h, reason)
		}
		msgs = append(msgs, msg)
	}
	if msgs[0] != msgs[1] || msgs[1] != msgs[2] || msgs[0] != "ping slower than 2s" {
		t.Fatalf("messages = %q, want one stable message", msgs)
	}
}
