package controller

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// maxMessageLength bounds condition and event messages (the API allows 32768; people read 256).
const maxMessageLength = 256

// backendView is what the status loop learned from the aggregator replicas.
type backendView struct {
	// Backends is the merged view, one entry per spec backend, sorted by name. Entries carry
	// health, circuit, reason, message, url and tools; transition times are filled later.
	Backends []vmcpv1alpha1.BackendStatus
	// Answered is the number of replicas whose /status was read.
	Answered int
	// Clashes describes tool names left unresolved by the conflict strategy ("backend/tool").
	Clashes []string
	// Tools is the number of tools the virtual server exposes.
	Tools int32
}

// computeStatus rebuilds the status from what this reconcile observed. Nothing in it depends
// on the previous status except transition times, which move only on a real change.
func (r *VirtualMCPServerReconciler) computeStatus(s *scope) {
	v := s.vmcp
	st := &v.Status
	st.ObservedGeneration = v.Generation
	st.URL = ServiceURL(v, r.clusterDomain())
	if s.deployment != nil {
		st.Replicas = s.deployment.Status.Replicas
		st.ReadyReplicas = s.deployment.Status.ReadyReplicas
	}

	view := s.view
	if view == nil {
		view = unknownView(v, r.clusterDomain(), unknownReasonFor(s))
	}
	keepLastCircuit(view.Backends, st.Backends)
	st.Backends = withTransitionTimes(view.Backends, st.Backends, s.now)
	available, open := countBackends(st.Backends)
	st.BackendsSummary = fmt.Sprintf("%d/%d", available, len(st.Backends))
	st.OpenCircuits = int32(open)
	st.Tools = view.Tools

	setAvailableCondition(v, s)
	setConfigValidCondition(v, s, view)
	setBackendsHealthyCondition(v, s, view)
	setDegradedCondition(v, s, view)
	setReadyCondition(v, s)
}

func unknownReasonFor(s *scope) string {
	if replicas(s.vmcp) == 0 {
		return vmcpv1alpha1.ReasonScaledToZero
	}
	return statusapi.ReasonNoReplicaAnswered
}

// unknownView marks every spec backend Unknown, for when no replica could be asked.
func unknownView(v *vmcpv1alpha1.VirtualMCPServer, clusterDomain, reason string) *backendView {
	out := &backendView{}
	for _, b := range v.Spec.Backends {
		out.Backends = append(out.Backends, vmcpv1alpha1.BackendStatus{
			Name:    b.Name,
			URL:     BackendURL(v.Namespace, b, clusterDomain),
			Health:  vmcpv1alpha1.BackendUnknown,
			Reason:  reason,
			Message: "no aggregator replica reported this backend",
		})
	}
	sortBackends(out.Backends)
	return out
}

func sortBackends(b []vmcpv1alpha1.BackendStatus) {
	sort.Slice(b, func(i, j int) bool { return b[i].Name < b[j].Name })
}

// withTransitionTimes keeps a backend's lastTransitionTime while its health and circuit stay
// the same, and sets it to now when either changes.
func withTransitionTimes(next, prev []vmcpv1alpha1.BackendStatus, now metav1.Time) []vmcpv1alpha1.BackendStatus {
	old := make(map[string]vmcpv1alpha1.BackendStatus, len(prev))
	for _, b := range prev {
		old[b.Name] = b
	}
	out := make([]vmcpv1alpha1.BackendStatus, len(next))
	for i, b := range next {
		if p, ok := old[b.Name]; ok && p.Health == b.Health && p.Circuit == b.Circuit && p.LastTransitionTime != nil {
			b.LastTransitionTime = p.LastTransitionTime
		} else {
			t := now
			b.LastTransitionTime = &t
		}
		out[i] = b
	}
	return out
}

func countBackends(backends []vmcpv1alpha1.BackendStatus) (available, open int) {
	for _, b := range backends {
		if b.Health == vmcpv1alpha1.BackendHealthy || b.Health == vmcpv1alpha1.BackendDegraded {
			available++
		}
		if b.Circuit == vmcpv1alpha1.CircuitOpen {
			open++
		}
	}
	return available, open
}

// unavailableNames lists backends that are not served, for messages.
func unavailableNames(backends []vmcpv1alpha1.BackendStatus) []string {
	var names []string
	for _, b := range backends {
		if b.Health != vmcpv1alpha1.BackendHealthy && b.Health != vmcpv1alpha1.BackendDegraded {
			names = append(names, fmt.Sprintf("%s (%s)", b.Name, b.Health))
		}
	}
	return names
}

func setCondition(v *vmcpv1alpha1.VirtualMCPServer, now metav1.Time, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&v.Status.Conditions, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            truncate(msg, maxMessageLength),
		ObservedGeneration: v.Generation,
		LastTransitionTime: now,
	})
}

func setAvailableCondition(v *vmcpv1alpha1.VirtualMCPServer, s *scope) {
	want := replicas(v)
	switch {
	case want == 0:
		setCondition(v, s.now, vmcpv1alpha1.ConditionAvailable, metav1.ConditionFalse, vmcpv1alpha1.ReasonScaledToZero, "spec.replicas is 0")
	case v.Status.ReadyReplicas > 0:
		setCondition(v, s.now, vmcpv1alpha1.ConditionAvailable, metav1.ConditionTrue, vmcpv1alpha1.ReasonDeploymentAvailable,
			fmt.Sprintf("%d/%d aggregator pods ready", v.Status.ReadyReplicas, want))
	default:
		setCondition(v, s.now, vmcpv1alpha1.ConditionAvailable, metav1.ConditionFalse, vmcpv1alpha1.ReasonDeploymentUnavailable,
			fmt.Sprintf("0/%d aggregator pods ready", want))
	}
}

func setConfigValidCondition(v *vmcpv1alpha1.VirtualMCPServer, s *scope, view *backendView) {
	switch {
	case s.renderErr != nil:
		setCondition(v, s.now, vmcpv1alpha1.ConditionConfigValid, metav1.ConditionFalse, vmcpv1alpha1.ReasonRenderFailed, s.renderErr.Error())
	case len(view.Clashes) > 0:
		setCondition(v, s.now, vmcpv1alpha1.ConditionConfigValid, metav1.ConditionFalse, vmcpv1alpha1.ReasonUnresolvedConflicts,
			"tools hidden because their names clash: "+joinBounded(view.Clashes))
	default:
		setCondition(v, s.now, vmcpv1alpha1.ConditionConfigValid, metav1.ConditionTrue, vmcpv1alpha1.ReasonConfigValid, "the spec is served as written")
	}
}

func setBackendsHealthyCondition(v *vmcpv1alpha1.VirtualMCPServer, s *scope, view *backendView) {
	backends := v.Status.Backends
	available, _ := countBackends(backends)
	switch {
	case view.Answered == 0:
		setCondition(v, s.now, vmcpv1alpha1.ConditionBackendsHealthy, metav1.ConditionUnknown, vmcpv1alpha1.ReasonBackendsUnknown,
			"no aggregator replica has reported backend health")
	case available == len(backends):
		setCondition(v, s.now, vmcpv1alpha1.ConditionBackendsHealthy, metav1.ConditionTrue, vmcpv1alpha1.ReasonAllBackendsAvailable,
			fmt.Sprintf("%d/%d backends available", available, len(backends)))
	case available == 0:
		setCondition(v, s.now, vmcpv1alpha1.ConditionBackendsHealthy, metav1.ConditionFalse, vmcpv1alpha1.ReasonNoBackendsAvailable,
			"no backend available: "+joinBounded(unavailableNames(backends)))
	default:
		setCondition(v, s.now, vmcpv1alpha1.ConditionBackendsHealthy, metav1.ConditionFalse, vmcpv1alpha1.ReasonSomeBackendsUnavailable,
			fmt.Sprintf("%d/%d backends available; unavailable: %s", available, len(backends), joinBounded(unavailableNames(backends))))
	}
}

func setDegradedCondition(v *vmcpv1alpha1.VirtualMCPServer, s *scope, view *backendView) {
	st := &v.Status
	available, open := countBackends(st.Backends)
	want := replicas(v)
	switch {
	case view.Answered > 0 && available < len(st.Backends):
		reason := vmcpv1alpha1.ReasonSomeBackendsUnavailable
		if available == 0 {
			reason = vmcpv1alpha1.ReasonNoBackendsAvailable
		}
		setCondition(v, s.now, vmcpv1alpha1.ConditionDegraded, metav1.ConditionTrue, reason,
			"unavailable: "+joinBounded(unavailableNames(st.Backends)))
	case view.Answered > 0 && open > 0:
		setCondition(v, s.now, vmcpv1alpha1.ConditionDegraded, metav1.ConditionTrue, vmcpv1alpha1.ReasonCircuitsOpen,
			fmt.Sprintf("%d circuit(s) open", open))
	case want > 0 && st.ReadyReplicas > 0 && st.ReadyReplicas < want:
		setCondition(v, s.now, vmcpv1alpha1.ConditionDegraded, metav1.ConditionTrue, vmcpv1alpha1.ReasonReplicasUnavailable,
			fmt.Sprintf("%d/%d aggregator pods ready", st.ReadyReplicas, want))
	case len(view.Clashes) > 0:
		setCondition(v, s.now, vmcpv1alpha1.ConditionDegraded, metav1.ConditionTrue, vmcpv1alpha1.ReasonUnresolvedConflicts,
			"tools hidden because their names clash: "+joinBounded(view.Clashes))
	case view.Answered == 0:
		setCondition(v, s.now, vmcpv1alpha1.ConditionDegraded, metav1.ConditionUnknown, vmcpv1alpha1.ReasonBackendsUnknown,
			"no aggregator replica has reported backend health")
	default:
		setCondition(v, s.now, vmcpv1alpha1.ConditionDegraded, metav1.ConditionFalse, vmcpv1alpha1.ReasonAsExpected, "all backends and replicas serving")
	}
}

// setReadyCondition summarizes: the aggregator serves and, as the failure mode requires, the
// backends do. Its message names what is failing.
func setReadyCondition(v *vmcpv1alpha1.VirtualMCPServer, s *scope) {
	st := &v.Status
	available, _ := countBackends(st.Backends)
	total := len(st.Backends)
	var notReady string
	switch {
	case s.renderErr != nil:
		notReady = "the spec could not be rendered: " + s.renderErr.Error()
	case s.applyErr != nil:
		notReady = "reconcile failed: " + s.applyErr.Error()
	case !meta.IsStatusConditionTrue(st.Conditions, vmcpv1alpha1.ConditionAvailable):
		notReady = "no aggregator pod is ready"
	case v.Spec.FailureMode == vmcpv1alpha1.FailureModeStrict && available < total:
		notReady = "failureMode Strict needs every backend; unavailable: " + joinBounded(unavailableNames(st.Backends))
	case v.Spec.FailureMode != vmcpv1alpha1.FailureModeBestEffort && available == 0:
		notReady = "no backend available: " + joinBounded(unavailableNames(st.Backends))
	}
	if notReady != "" {
		reason := vmcpv1alpha1.ReasonNotReady
		if s.applyErr != nil {
			reason = vmcpv1alpha1.ReasonReconcileFailed
		}
		setCondition(v, s.now, vmcpv1alpha1.ConditionReady, metav1.ConditionFalse, reason, notReady)
		return
	}
	msg := fmt.Sprintf("serving %d/%d backends", available, total)
	if available < total {
		msg += "; unavailable: " + joinBounded(unavailableNames(st.Backends))
	}
	setCondition(v, s.now, vmcpv1alpha1.ConditionReady, metav1.ConditionTrue, vmcpv1alpha1.ReasonReady, msg)
}

func isTrue(v *vmcpv1alpha1.VirtualMCPServer, typ string) bool {
	return meta.IsStatusConditionTrue(v.Status.Conditions, typ)
}

// joinBounded joins names for a message, naming at most five and counting the rest.
func joinBounded(names []string) string {
	const shown = 5
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:shown], ", ") + fmt.Sprintf(" and %d more", len(names)-shown)
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return statusapi.Cut(s, n-len("...")) + "..."
}
