package controller

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

func threeBackends() *vmcpv1alpha1.VirtualMCPServer {
	return minimalVMCP(func(v *vmcpv1alpha1.VirtualMCPServer) {
		v.Spec.Backends = []vmcpv1alpha1.Backend{
			{Name: "c", URL: "http://c/mcp"}, {Name: "a", URL: "http://a/mcp"}, {Name: "b", URL: "http://b/mcp"},
		}
	})
}

// wire builds one replica's /status document from "name=Health/Circuit/tools" entries.
func wire(entries ...statusapi.Backend) *statusapi.Status {
	st := &statusapi.Status{Version: 1, Backends: entries}
	for _, b := range entries {
		st.Summary.Backends++
		st.Summary.Tools += b.Tools
	}
	return st
}

func wb(name string, h statusapi.Health, c statusapi.Circuit, tools int) statusapi.Backend {
	return statusapi.Backend{Name: name, Health: h, Circuit: c, Tools: tools, Reason: string(h), Message: name + " is " + string(h)}
}

func ok(endpoint string, st *statusapi.Status) replicaStatus {
	return replicaStatus{Endpoint: endpoint, Status: st}
}

func failed(endpoint string) replicaStatus {
	return replicaStatus{Endpoint: endpoint, Err: errors.New("connection refused")}
}

func TestMergeReplicas(t *testing.T) {
	healthy := statusapi.HealthHealthy
	closed := statusapi.CircuitClosed
	tests := []struct {
		name     string
		replicas []replicaStatus
		// want maps backend name to "Health/Circuit/tools".
		want         map[string]string
		wantAnswered int
		wantTools    int32
		wantClashes  []string
		wantReason   string
	}{
		{
			name:         "one replica, all healthy",
			replicas:     []replicaStatus{ok("r1", wire(wb("a", healthy, closed, 2), wb("b", healthy, closed, 3), wb("c", healthy, closed, 1)))},
			want:         map[string]string{"a": "Healthy/Closed/2", "b": "Healthy/Closed/3", "c": "Healthy/Closed/1"},
			wantAnswered: 1, wantTools: 6,
		},
		{
			name: "worst health across replicas wins, open beats half-open beats closed",
			replicas: []replicaStatus{
				ok("r1", wire(wb("a", healthy, closed, 2), wb("b", statusapi.HealthDegraded, statusapi.CircuitHalfOpen, 3), wb("c", healthy, closed, 1))),
				ok("r2", wire(wb("a", statusapi.HealthUnhealthy, statusapi.CircuitOpen, 0), wb("b", healthy, closed, 3), wb("c", statusapi.HealthUnauthenticated, closed, 0))),
			},
			want:         map[string]string{"a": "Unhealthy/Open/2", "b": "Degraded/HalfOpen/3", "c": "Unauthenticated/Closed/1"},
			wantAnswered: 2, wantTools: 6,
		},
		{
			name: "a replica that has not probed yet does not hide what another knows",
			replicas: []replicaStatus{
				ok("r1", wire(wb("a", healthy, closed, 2), wb("b", statusapi.HealthUnhealthy, statusapi.CircuitOpen, 0), wb("c", healthy, closed, 1))),
				ok("r2", wire(wb("a", statusapi.HealthUnknown, closed, 0), wb("b", statusapi.HealthUnknown, closed, 0), wb("c", statusapi.HealthUnknown, closed, 0))),
			},
			want:         map[string]string{"a": "Healthy/Closed/2", "b": "Unhealthy/Open/0", "c": "Healthy/Closed/1"},
			wantAnswered: 2, wantTools: 3,
		},
		{
			name: "a replica that does not answer is ignored",
			replicas: []replicaStatus{
				failed("r1"),
				ok("r2", wire(wb("a", healthy, closed, 2), wb("b", healthy, closed, 3), wb("c", healthy, closed, 1))),
			},
			want:         map[string]string{"a": "Healthy/Closed/2", "b": "Healthy/Closed/3", "c": "Healthy/Closed/1"},
			wantAnswered: 1, wantTools: 6,
		},
		{
			name:         "no replica answers: every backend Unknown",
			replicas:     []replicaStatus{failed("r1"), failed("r2")},
			want:         map[string]string{"a": "Unknown//0", "b": "Unknown//0", "c": "Unknown//0"},
			wantAnswered: 0, wantReason: statusapi.ReasonNoReplicaAnswered,
		},
		{
			name:         "no replica at all: every backend Unknown",
			replicas:     nil,
			want:         map[string]string{"a": "Unknown//0", "b": "Unknown//0", "c": "Unknown//0"},
			wantAnswered: 0, wantReason: statusapi.ReasonNoReplicaAnswered,
		},
		{
			name:         "a backend no replica reports yet is Unknown",
			replicas:     []replicaStatus{ok("r1", wire(wb("a", healthy, closed, 2), wb("b", healthy, closed, 3)))},
			want:         map[string]string{"a": "Healthy/Closed/2", "b": "Healthy/Closed/3", "c": "Unknown//0"},
			wantAnswered: 1, wantTools: 5,
		},
		{
			name: "clashes are collected from every replica",
			replicas: []replicaStatus{
				ok("r1", wire(wb("a", healthy, closed, 1), wb("b", healthy, closed, 1), statusapi.Backend{Name: "c", Health: healthy, Circuit: closed,
					Clashes: []statusapi.Clash{{Tool: "search", Name: "search", With: []string{"a"}}}})),
				ok("r2", wire(wb("a", healthy, closed, 1), wb("b", healthy, closed, 1), statusapi.Backend{Name: "c", Health: healthy, Circuit: closed,
					Clashes: []statusapi.Clash{{Tool: "search", Name: "search", With: []string{"a"}}, {Tool: "get", Name: "get", With: []string{"b"}}}})),
			},
			want:         map[string]string{"a": "Healthy/Closed/1", "b": "Healthy/Closed/1", "c": "Healthy/Closed/0"},
			wantAnswered: 2, wantTools: 2, wantClashes: []string{"c/get", "c/search"},
		},
		{
			name:         "an unexpected health value becomes Unknown rather than failing the status write",
			replicas:     []replicaStatus{ok("r1", wire(wb("a", "Sleepy", closed, 1), wb("b", healthy, closed, 1), wb("c", healthy, closed, 1)))},
			want:         map[string]string{"a": "Unknown/Closed/1", "b": "Healthy/Closed/1", "c": "Healthy/Closed/1"},
			wantAnswered: 1, wantTools: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view := mergeReplicas(threeBackends(), DefaultClusterDomain, tt.replicas)
			got := map[string]string{}
			var names []string
			for _, b := range view.Backends {
				names = append(names, b.Name)
				got[b.Name] = string(b.Health) + "/" + string(b.Circuit) + "/" + itoa(b.Tools)
				if tt.wantReason != "" && b.Reason != tt.wantReason {
					t.Errorf("%s reason = %q, want %q", b.Name, b.Reason, tt.wantReason)
				}
				if b.URL != "http://"+b.Name+"/mcp" {
					t.Errorf("%s url = %q", b.Name, b.URL)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("backends (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"a", "b", "c"}, names); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			if view.Answered != tt.wantAnswered || view.Tools != tt.wantTools {
				t.Errorf("answered, tools = %d, %d; want %d, %d", view.Answered, view.Tools, tt.wantAnswered, tt.wantTools)
			}
			if diff := cmp.Diff(tt.wantClashes, view.Clashes, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("clashes (-want +got):\n%s", diff)
			}
		})
	}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

func TestMergeReplicasMessages(t *testing.T) {
	long := strings.Repeat("x", 1000)
	view := mergeReplicas(threeBackends(), DefaultClusterDomain, []replicaStatus{ok("r1", wire(
		statusapi.Backend{Name: "a", Health: statusapi.HealthUnhealthy, Circuit: statusapi.CircuitOpen, Reason: "ConnectionFailed",
			Message: "dial tcp\n10.0.0.1:80:\tconnection refused " + long},
	))})
	a := view.Backends[0]
	if len(a.Message) > maxMessageLength || strings.ContainsAny(a.Message, "\n\t") {
		t.Errorf("message not bounded to one line of %d bytes: %q", maxMessageLength, a.Message)
	}
	if !strings.HasPrefix(a.Message, "dial tcp 10.0.0.1:80: connection refused") || a.Reason != "ConnectionFailed" {
		t.Errorf("reason, message = %q, %q", a.Reason, a.Message)
	}

	none := mergeReplicas(threeBackends(), DefaultClusterDomain, []replicaStatus{failed("10.0.0.2:8081"), failed("10.0.0.1:8081")})
	if got := none.Backends[0].Message; !strings.Contains(got, "no aggregator replica answered (2 asked): 10.0.0.1:8081: connection refused") {
		t.Errorf("message = %q", got)
	}
}

func TestBackendTransitions(t *testing.T) {
	stReason := func(name string, h vmcpv1alpha1.BackendHealth, c vmcpv1alpha1.CircuitState, reason string) vmcpv1alpha1.BackendStatus {
		return vmcpv1alpha1.BackendStatus{Name: name, Health: h, Circuit: c, Reason: reason, Message: "m"}
	}
	st := func(name string, h vmcpv1alpha1.BackendHealth, c vmcpv1alpha1.CircuitState) vmcpv1alpha1.BackendStatus {
		return stReason(name, h, c, "R")
	}
	const (
		healthy   = vmcpv1alpha1.BackendHealthy
		degraded  = vmcpv1alpha1.BackendDegraded
		unhealthy = vmcpv1alpha1.BackendUnhealthy
		unauth    = vmcpv1alpha1.BackendUnauthenticated
		unknown   = vmcpv1alpha1.BackendUnknown
		closed    = vmcpv1alpha1.CircuitClosed
		open      = vmcpv1alpha1.CircuitOpen
		halfOpen  = vmcpv1alpha1.CircuitHalfOpen
	)
	tests := []struct {
		name       string
		prev, next []vmcpv1alpha1.BackendStatus
		want       []string
	}{
		{"no change", []vmcpv1alpha1.BackendStatus{st("a", healthy, closed)}, []vmcpv1alpha1.BackendStatus{st("a", healthy, closed)}, nil},
		{"goes down and circuit opens", []vmcpv1alpha1.BackendStatus{st("a", healthy, closed)}, []vmcpv1alpha1.BackendStatus{st("a", unhealthy, open)},
			[]string{"BackendUnhealthy", "CircuitOpened"}},
		{"goes down, breaker not yet open", []vmcpv1alpha1.BackendStatus{st("a", degraded, closed)}, []vmcpv1alpha1.BackendStatus{st("a", unhealthy, closed)},
			[]string{"BackendUnhealthy"}},
		{"credentials rejected", []vmcpv1alpha1.BackendStatus{st("a", healthy, closed)}, []vmcpv1alpha1.BackendStatus{st("a", unauth, closed)},
			[]string{"BackendUnhealthy"}},
		{"half-open is not yet recovered", []vmcpv1alpha1.BackendStatus{st("a", unhealthy, open)}, []vmcpv1alpha1.BackendStatus{st("a", unhealthy, halfOpen)}, nil},
		{"recovers and circuit closes", []vmcpv1alpha1.BackendStatus{st("a", unhealthy, halfOpen)}, []vmcpv1alpha1.BackendStatus{st("a", degraded, closed)},
			[]string{"BackendRecovered", "CircuitClosed"}},
		{"circuit opens while health stays", []vmcpv1alpha1.BackendStatus{st("a", unhealthy, closed)}, []vmcpv1alpha1.BackendStatus{st("a", unhealthy, open)},
			[]string{"CircuitOpened"}},
		{"down right after start (aggregator had not probed yet)", []vmcpv1alpha1.BackendStatus{stReason("a", unknown, closed, statusapi.ReasonNotYetProbed)},
			[]vmcpv1alpha1.BackendStatus{st("a", unhealthy, open)}, []string{"BackendUnhealthy", "CircuitOpened"}},
		{"circuit closes across a gap in which no replica answered",
			[]vmcpv1alpha1.BackendStatus{stReason("a", unknown, open, statusapi.ReasonNoReplicaAnswered)},
			[]vmcpv1alpha1.BackendStatus{st("a", healthy, closed)}, []string{"CircuitClosed"}},
		{"still down after a gap is no new event",
			[]vmcpv1alpha1.BackendStatus{stReason("a", unknown, open, statusapi.ReasonNoReplicaAnswered)},
			[]vmcpv1alpha1.BackendStatus{st("a", unhealthy, open)}, nil},
		{"unknown after down is no recovery", []vmcpv1alpha1.BackendStatus{st("a", unhealthy, open)}, []vmcpv1alpha1.BackendStatus{st("a", unknown, "")}, nil},
		{"new backend is no event", nil, []vmcpv1alpha1.BackendStatus{st("a", unhealthy, open)}, nil},
		{"several backends", []vmcpv1alpha1.BackendStatus{st("a", healthy, closed), st("b", unhealthy, open)},
			[]vmcpv1alpha1.BackendStatus{st("a", unhealthy, open), st("b", healthy, closed)},
			[]string{"BackendUnhealthy", "CircuitOpened", "BackendRecovered", "CircuitClosed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range backendTransitions(tt.prev, tt.next) {
				got = append(got, e.Reason)
				if strings.HasSuffix(e.Reason, "Unhealthy") || e.Reason == "CircuitOpened" {
					if !e.Warning {
						t.Errorf("%s should be a Warning", e.Reason)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestComputeStatus checks the conditions and summary fields derived from a view, per failure
// mode, without an API server.
func TestComputeStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	view := func(health ...statusapi.Health) *backendView {
		var entries []statusapi.Backend
		for i, h := range health {
			c := statusapi.CircuitClosed
			if h == statusapi.HealthUnhealthy {
				c = statusapi.CircuitOpen
			}
			entries = append(entries, wb(string(rune('a'+i)), h, c, 1))
		}
		return mergeReplicas(threeBackends(), DefaultClusterDomain, []replicaStatus{ok("r1", wire(entries...))})
	}
	type conds map[string]string // type -> "Status/Reason"
	tests := []struct {
		name        string
		mode        vmcpv1alpha1.FailureMode
		view        *backendView
		want        conds
		wantSummary string
		wantOpen    int32
	}{
		{"all healthy", vmcpv1alpha1.FailureModeFail, view("Healthy", "Healthy", "Degraded"),
			conds{"Ready": "True/Ready", "BackendsHealthy": "True/AllBackendsAvailable", "Degraded": "False/AsExpected", "Available": "True/DeploymentAvailable"}, "3/3", 0},
		{"one down, Fail", vmcpv1alpha1.FailureModeFail, view("Healthy", "Unhealthy", "Healthy"),
			conds{"Ready": "True/Ready", "BackendsHealthy": "False/SomeBackendsUnavailable", "Degraded": "True/SomeBackendsUnavailable"}, "2/3", 1},
		{"one down, Strict", vmcpv1alpha1.FailureModeStrict, view("Healthy", "Unhealthy", "Healthy"),
			conds{"Ready": "False/NotReady", "BackendsHealthy": "False/SomeBackendsUnavailable"}, "2/3", 1},
		{"all down, Fail", vmcpv1alpha1.FailureModeFail, view("Unhealthy", "Unhealthy", "Unauthenticated"),
			conds{"Ready": "False/NotReady", "BackendsHealthy": "False/NoBackendsAvailable", "Degraded": "True/NoBackendsAvailable"}, "0/3", 2},
		{"all down, BestEffort", vmcpv1alpha1.FailureModeBestEffort, view("Unhealthy", "Unhealthy", "Unhealthy"),
			conds{"Ready": "True/Ready", "BackendsHealthy": "False/NoBackendsAvailable"}, "0/3", 3},
		{"no replica answered", vmcpv1alpha1.FailureModeFail, mergeReplicas(threeBackends(), DefaultClusterDomain, nil),
			conds{"Ready": "False/NotReady", "BackendsHealthy": "Unknown/BackendsUnknown", "Degraded": "Unknown/BackendsUnknown"}, "0/3", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := threeBackends()
			v.Spec.FailureMode = tt.mode
			v.Status.ReadyReplicas = 1
			s := &scope{vmcp: v, now: now, view: tt.view}
			(&VirtualMCPServerReconciler{}).computeStatus(s)
			for typ, want := range tt.want {
				c := meta.FindStatusCondition(v.Status.Conditions, typ)
				if c == nil {
					t.Fatalf("condition %s missing", typ)
				}
				if got := string(c.Status) + "/" + c.Reason; got != want {
					t.Errorf("%s = %s (%s), want %s", typ, got, c.Message, want)
				}
				if len(c.Message) > maxMessageLength {
					t.Errorf("%s message too long: %d", typ, len(c.Message))
				}
			}
			if v.Status.BackendsSummary != tt.wantSummary || v.Status.OpenCircuits != tt.wantOpen {
				t.Errorf("summary, open = %q, %d; want %q, %d", v.Status.BackendsSummary, v.Status.OpenCircuits, tt.wantSummary, tt.wantOpen)
			}
		})
	}
}

func TestReadyMessageNamesFailingBackends(t *testing.T) {
	v := minimalVMCP(func(v *vmcpv1alpha1.VirtualMCPServer) {
		v.Spec.FailureMode = vmcpv1alpha1.FailureModeStrict
		v.Spec.Backends = nil
		for i := range 40 {
			v.Spec.Backends = append(v.Spec.Backends, vmcpv1alpha1.Backend{Name: "backend-with-a-long-name-" + strings.Repeat("x", i%5) + itoa(int32(i%10)), URL: "http://x/mcp"})
		}
	})
	v.Status.ReadyReplicas = 1
	s := &scope{vmcp: v, now: metav1.Now(), view: mergeReplicas(v, DefaultClusterDomain, []replicaStatus{ok("r1", wire())})}
	(&VirtualMCPServerReconciler{}).computeStatus(s)
	ready := meta.FindStatusCondition(v.Status.Conditions, vmcpv1alpha1.ConditionReady)
	if ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, "backend-with-a-long-name-") || len(ready.Message) > maxMessageLength {
		t.Errorf("Ready = %s %q (%d bytes)", ready.Status, ready.Message, len(ready.Message))
	}
}

func TestWithTransitionTimes(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	prev := []vmcpv1alpha1.BackendStatus{
		{Name: "a", Health: vmcpv1alpha1.BackendHealthy, Circuit: vmcpv1alpha1.CircuitClosed, LastTransitionTime: &t0},
		{Name: "b", Health: vmcpv1alpha1.BackendHealthy, Circuit: vmcpv1alpha1.CircuitClosed, LastTransitionTime: &t0},
	}
	next := []vmcpv1alpha1.BackendStatus{
		{Name: "a", Health: vmcpv1alpha1.BackendHealthy, Circuit: vmcpv1alpha1.CircuitClosed, Message: "new text"},
		{Name: "b", Health: vmcpv1alpha1.BackendUnhealthy, Circuit: vmcpv1alpha1.CircuitClosed},
		{Name: "c", Health: vmcpv1alpha1.BackendUnknown},
	}
	got := withTransitionTimes(next, prev, t1)
	if !got[0].LastTransitionTime.Equal(&t0) || !got[1].LastTransitionTime.Equal(&t1) || !got[2].LastTransitionTime.Equal(&t1) {
		t.Errorf("times = %v, %v, %v", got[0].LastTransitionTime, got[1].LastTransitionTime, got[2].LastTransitionTime)
	}
}
