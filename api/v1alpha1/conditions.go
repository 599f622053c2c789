package v1alpha1

// Condition types of a VirtualMCPServer.
const (
	// ConditionReady summarizes the others: the aggregator serves and, per failureMode, enough
	// backends are available.
	ConditionReady = "Ready"
	// ConditionAvailable is True when at least one aggregator pod is ready to serve.
	ConditionAvailable = "Available"
	// ConditionBackendsHealthy is True when every backend is Healthy or Degraded.
	ConditionBackendsHealthy = "BackendsHealthy"
	// ConditionDegraded is True when the server works but not fully: some backends unavailable,
	// circuits open, or fewer ready replicas than desired.
	ConditionDegraded = "Degraded"
	// ConditionConfigValid is False when the spec renders but cannot be served as written,
	// e.g. tool names that clash under the Manual strategy.
	ConditionConfigValid = "ConfigValid"
)

// Condition reasons.
const (
	// ReasonReady: everything is serving.
	ReasonReady = "Ready"
	// ReasonNotReady: a generic negative summary; the message says why.
	ReasonNotReady = "NotReady"
	// ReasonDeploymentAvailable: the aggregator Deployment has ready replicas.
	ReasonDeploymentAvailable = "DeploymentAvailable"
	// ReasonDeploymentUnavailable: no aggregator pod is ready yet.
	ReasonDeploymentUnavailable = "DeploymentUnavailable"
	// ReasonScaledToZero: spec.replicas is 0.
	ReasonScaledToZero = "ScaledToZero"
	// ReasonReconcileFailed: the operator could not create or update an owned object.
	ReasonReconcileFailed = "ReconcileFailed"
	// ReasonAllBackendsAvailable: every backend is Healthy or Degraded.
	ReasonAllBackendsAvailable = "AllBackendsAvailable"
	// ReasonSomeBackendsUnavailable: at least one, but not every, backend is unavailable.
	ReasonSomeBackendsUnavailable = "SomeBackendsUnavailable"
	// ReasonNoBackendsAvailable: no backend is available.
	ReasonNoBackendsAvailable = "NoBackendsAvailable"
	// ReasonBackendsUnknown: no aggregator replica reported backend health yet.
	ReasonBackendsUnknown = "BackendsUnknown"
	// ReasonAsExpected: nothing is degraded.
	ReasonAsExpected = "AsExpected"
	// ReasonReplicasUnavailable: fewer aggregator pods are ready than desired.
	ReasonReplicasUnavailable = "ReplicasUnavailable"
	// ReasonCircuitsOpen: at least one backend circuit is open.
	ReasonCircuitsOpen = "CircuitsOpen"
	// ReasonConfigValid: the spec was rendered and is served as written.
	ReasonConfigValid = "Valid"
	// ReasonUnresolvedConflicts: tools clash and the conflict strategy leaves them unresolved.
	ReasonUnresolvedConflicts = "UnresolvedConflicts"
	// ReasonRenderFailed: the spec could not be rendered into an aggregator config.
	ReasonRenderFailed = "RenderFailed"
)

// Event reasons the operator records on a VirtualMCPServer.
const (
	// EventBackendUnhealthy: a backend became Unhealthy or Unauthenticated.
	EventBackendUnhealthy = "BackendUnhealthy"
	// EventBackendRecovered: a backend became Healthy or Degraded again.
	EventBackendRecovered = "BackendRecovered"
	// EventCircuitOpened: a backend's circuit opened.
	EventCircuitOpened = "CircuitOpened"
	// EventCircuitClosed: a backend's circuit closed again.
	EventCircuitClosed = "CircuitClosed"
	// EventReconcileFailed: an owned object could not be created or updated.
	EventReconcileFailed = "ReconcileFailed"
)
