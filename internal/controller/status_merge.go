package controller

import (
	"fmt"
	"sort"
	"strings"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Reasons the operator itself gives a backend when the replicas cannot say.
const (
	// reasonNotReported: replicas answered but none lists the backend yet (e.g. config not
	// reloaded).
	reasonNotReported = "NotReportedYet"
)

// replicaStatus is one aggregator replica's answer, or why there was none.
type replicaStatus struct {
	// Endpoint identifies the replica (address:port) in messages.
	Endpoint string
	Status   *statusapi.Status
	Err      error
}

// mergeReplicas merges the views of the replicas that answered into one entry per spec backend,
// sorted by name: a backend's health is the worst any replica reports; its circuit is Open if
// open on any, else HalfOpen if half-open on any, else Closed. Replicas that did not answer are
// ignored; when none answered, every backend is Unknown and the message says why.
func mergeReplicas(v *vmcpv1alpha1.VirtualMCPServer, clusterDomain string, replicas []replicaStatus) *backendView {
	answered := make([]*statusapi.Status, 0, len(replicas))
	var failures []string
	for _, r := range replicas {
		if r.Err != nil || r.Status == nil {
			failures = append(failures, fmt.Sprintf("%s: %v", r.Endpoint, r.Err))
			continue
		}
		answered = append(answered, r.Status)
	}
	if len(answered) == 0 {
		view := unknownView(v, clusterDomain, statusapi.ReasonNoReplicaAnswered)
		msg := "no ready aggregator replica to ask"
		if len(failures) > 0 {
			sort.Strings(failures)
			msg = fmt.Sprintf("no aggregator replica answered (%d asked): %s", len(failures), joinBounded(failures))
		}
		for i := range view.Backends {
			view.Backends[i].Message = truncate(msg, maxMessageLength)
		}
		return view
	}

	view := &backendView{Answered: len(answered)}
	clashes := map[string]bool{}
	for _, st := range answered {
		if int32(st.Summary.Tools) > view.Tools {
			view.Tools = int32(st.Summary.Tools)
		}
		for _, b := range st.Backends {
			for _, c := range b.Clashes {
				clashes[b.Name+"/"+c.Tool] = true
			}
		}
	}
	for c := range clashes {
		view.Clashes = append(view.Clashes, c)
	}
	sort.Strings(view.Clashes)

	for _, spec := range v.Spec.Backends {
		view.Backends = append(view.Backends, mergeBackend(BackendURL(v.Namespace, spec, clusterDomain), spec.Name, answered))
	}
	sortBackends(view.Backends)
	return view
}

// mergeBackend merges one backend's entries across replicas.
func mergeBackend(url, name string, answered []*statusapi.Status) vmcpv1alpha1.BackendStatus {
	var (
		worst   *statusapi.Backend
		circuit = statusapi.CircuitClosed
		tools   int
	)
	for _, st := range answered {
		b := findBackend(st, name)
		if b == nil {
			continue
		}
		if worst == nil || worseHealth(b.Health, worst.Health) {
			worst = b
		}
		circuit = worseCircuit(circuit, b.Circuit)
		if b.Tools > tools {
			tools = b.Tools
		}
	}
	if worst == nil {
		return vmcpv1alpha1.BackendStatus{
			Name: name, URL: url, Health: vmcpv1alpha1.BackendUnknown, Reason: reasonNotReported,
			Message: "no aggregator replica reports this backend yet",
		}
	}
	return vmcpv1alpha1.BackendStatus{
		Name:    name,
		URL:     url,
		Health:  apiHealth(worst.Health),
		Circuit: vmcpv1alpha1.CircuitState(circuit),
		Reason:  truncate(worst.Reason, 64),
		Message: truncate(singleLine(worst.Message), maxMessageLength),
		Tools:   int32(tools),
	}
}

// worseHealth reports whether a replica's view a should replace b as the merged one: the worst
// health wins, except that Unknown (a replica that has not probed yet, e.g. one just started) is
// no information and never hides what another replica knows.
func worseHealth(a, b statusapi.Health) bool {
	aKnown, bKnown := apiHealth(a) != vmcpv1alpha1.BackendUnknown, apiHealth(b) != vmcpv1alpha1.BackendUnknown
	if aKnown != bKnown {
		return aKnown
	}
	return a.Severity() > b.Severity()
}

func findBackend(st *statusapi.Status, name string) *statusapi.Backend {
	for i := range st.Backends {
		if st.Backends[i].Name == name {
			return &st.Backends[i]
		}
	}
	return nil
}

func worseCircuit(a, b statusapi.Circuit) statusapi.Circuit {
	rank := func(c statusapi.Circuit) int {
		switch c {
		case statusapi.CircuitOpen:
			return 2
		case statusapi.CircuitHalfOpen:
			return 1
		default:
			return 0
		}
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// apiHealth maps the wire value onto the API enum; anything unexpected is Unknown so that a
// newer aggregator cannot make the status write fail validation.
func apiHealth(h statusapi.Health) vmcpv1alpha1.BackendHealth {
	switch h {
	case statusapi.HealthHealthy, statusapi.HealthDegraded, statusapi.HealthUnhealthy,
		statusapi.HealthUnauthenticated, statusapi.HealthUnknown:
		return vmcpv1alpha1.BackendHealth(h)
	default:
		return vmcpv1alpha1.BackendUnknown
	}
}

func singleLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// backendEvent is a transition worth a Kubernetes Event.
type backendEvent struct {
	Warning bool
	Reason  string
	Message string
}

// backendTransitions compares the stored per-backend status with the new one and returns the
// Events to record: BackendUnhealthy, BackendRecovered, CircuitOpened, CircuitClosed. Backends
// seen for the first time are not transitions. While no replica answers, backends are Unknown
// but keep their last circuit (see keepLastCircuit), so circuit events stay right across such a
// gap; health events need both sides known, except that a backend first reported down after
// starting up (the aggregator said Unknown: not yet probed) is an event too.
func backendTransitions(prev, next []vmcpv1alpha1.BackendStatus) []backendEvent {
	old := make(map[string]vmcpv1alpha1.BackendStatus, len(prev))
	for _, b := range prev {
		old[b.Name] = b
	}
	var events []backendEvent
	for _, b := range next {
		p, seen := old[b.Name]
		if !seen {
			continue
		}
		wasDown, isDown := unavailable(p.Health), unavailable(b.Health)
		switch {
		case isDown && !wasDown && !observationGap(p):
			events = append(events, backendEvent{Warning: true, Reason: vmcpv1alpha1.EventBackendUnhealthy,
				Message: fmt.Sprintf("backend %s is %s (%s): %s", b.Name, b.Health, b.Reason, b.Message)})
		case !isDown && wasDown && b.Health != vmcpv1alpha1.BackendUnknown:
			events = append(events, backendEvent{Reason: vmcpv1alpha1.EventBackendRecovered,
				Message: fmt.Sprintf("backend %s recovered (%s)", b.Name, b.Health)})
		}
		if b.Circuit == vmcpv1alpha1.CircuitOpen && p.Circuit != vmcpv1alpha1.CircuitOpen {
			events = append(events, backendEvent{Warning: true, Reason: vmcpv1alpha1.EventCircuitOpened,
				Message: fmt.Sprintf("circuit of backend %s opened: calls fail fast until it recovers", b.Name)})
		}
		if b.Circuit == vmcpv1alpha1.CircuitClosed && (p.Circuit == vmcpv1alpha1.CircuitOpen || p.Circuit == vmcpv1alpha1.CircuitHalfOpen) {
			events = append(events, backendEvent{Reason: vmcpv1alpha1.EventCircuitClosed,
				Message: fmt.Sprintf("circuit of backend %s closed", b.Name)})
		}
	}
	return events
}

// observationGap reports an Unknown that stands for "nobody could tell" (no replica answered,
// scaled to zero, the backend not listed yet) rather than the aggregator's own "not probed
// yet": the state before it is not known, so a change after it is not a transition.
func observationGap(b vmcpv1alpha1.BackendStatus) bool {
	if b.Health != vmcpv1alpha1.BackendUnknown {
		return false
	}
	switch b.Reason {
	case statusapi.ReasonNoReplicaAnswered, reasonNotReported, vmcpv1alpha1.ReasonScaledToZero:
		return true
	}
	return false
}

// keepLastCircuit gives a backend whose circuit nobody reported the circuit state last stored,
// so that the status and its events stay continuous while no replica answers.
func keepLastCircuit(next, prev []vmcpv1alpha1.BackendStatus) {
	last := make(map[string]vmcpv1alpha1.CircuitState, len(prev))
	for _, b := range prev {
		last[b.Name] = b.Circuit
	}
	for i := range next {
		if next[i].Circuit == "" {
			next[i].Circuit = last[next[i].Name]
		}
	}
}

func unavailable(h vmcpv1alpha1.BackendHealth) bool {
	return h == vmcpv1alpha1.BackendUnhealthy || h == vmcpv1alpha1.BackendUnauthenticated
}
