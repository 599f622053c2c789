package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

func TestNamesAndForget(t *testing.T) {
	m := New()
	b := m.Backend("github")
	b.SetState(statusapi.HealthUnhealthy, statusapi.CircuitOpen)
	b.Transition("Closed", "Open")
	b.Observe("tools/call", "failure", 3*time.Millisecond)
	b.Observe("tools/call", "failure", time.Millisecond)
	b.Rejected(RejectedCircuitOpen)

	want := `
# HELP vmcp_backend_up 1 if the backend is available (Healthy or Degraded), else 0.
# TYPE vmcp_backend_up gauge
vmcp_backend_up{backend="github"} 0
# HELP vmcp_circuit_state 1 for the backend circuit's current state, 0 for the others.
# TYPE vmcp_circuit_state gauge
vmcp_circuit_state{backend="github",state="Closed"} 0
vmcp_circuit_state{backend="github",state="HalfOpen"} 0
vmcp_circuit_state{backend="github",state="Open"} 1
# HELP vmcp_circuit_transitions_total Circuit breaker state transitions.
# TYPE vmcp_circuit_transitions_total counter
vmcp_circuit_transitions_total{backend="github",from="Closed",to="Open"} 1
# HELP vmcp_rejected_total Calls rejected without contacting the backend, by reason.
# TYPE vmcp_rejected_total counter
vmcp_rejected_total{backend="github",reason="CircuitOpen"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"vmcp_backend_up", "vmcp_circuit_state", "vmcp_circuit_transitions_total", "vmcp_rejected_total"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("github", "tools/call", "failure")); got != 2 {
		t.Fatalf("vmcp_requests_total = %v, want 2", got)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "vmcp_backend_health", "vmcp_request_duration_seconds"); err != nil || n != 6 {
		t.Fatalf("health + duration series = %d (%v), want 5 + 1", n, err)
	}

	m.Forget("github")
	n, err := testutil.GatherAndCount(m.Registry(), "vmcp_backend_up", "vmcp_backend_health", "vmcp_circuit_state",
		"vmcp_circuit_transitions_total", "vmcp_requests_total", "vmcp_request_duration_seconds", "vmcp_rejected_total")
	if err != nil || n != 0 {
		t.Fatalf("%d series left after Forget (%v)", n, err)
	}
}
