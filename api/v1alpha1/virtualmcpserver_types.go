package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FailureMode says what listing and session start do when backends are unavailable.
// +kubebuilder:validation:Enum=Fail;BestEffort;Strict
type FailureMode string

const (
	// FailureModeFail serves the available backends and fails initialize and list requests only
	// when no backend is available.
	FailureModeFail FailureMode = "Fail"
	// FailureModeBestEffort serves whatever is available, including empty lists, and never fails
	// a request because backends are down.
	FailureModeBestEffort FailureMode = "BestEffort"
	// FailureModeStrict fails initialize and list requests unless every backend is available.
	FailureModeStrict FailureMode = "Strict"
)

// ConflictStrategy says how clashing capability names from different backends are resolved.
// +kubebuilder:validation:Enum=Prefix;Priority;Manual
type ConflictStrategy string

const (
	// ConflictStrategyPrefix prefixes every tool with its backend's prefix.
	ConflictStrategyPrefix ConflictStrategy = "Prefix"
	// ConflictStrategyPriority keeps bare names; on a clash the backend listed first in
	// priorityOrder keeps the bare name and the others fall back to their prefix.
	ConflictStrategyPriority ConflictStrategy = "Priority"
	// ConflictStrategyManual keeps bare names and renames clashing tools as overrides say.
	ConflictStrategyManual ConflictStrategy = "Manual"
)

// VirtualMCPServerSpec is the desired state of a virtual MCP server: the backends it fronts and
// how it treats them when they fail.
// +kubebuilder:validation:XValidation:rule="self.backends.all(b, self.backends.exists_one(o, o.name == b.name))",message="backend names must be unique"
// +kubebuilder:validation:XValidation:rule="!has(self.conflictResolution) || !has(self.conflictResolution.strategy) || self.conflictResolution.strategy != 'Priority' || (has(self.conflictResolution.priorityOrder) && size(self.conflictResolution.priorityOrder) > 0)",message="conflictResolution.priorityOrder is required when strategy is Priority"
// +kubebuilder:validation:XValidation:rule="!has(self.conflictResolution) || !has(self.conflictResolution.priorityOrder) || self.conflictResolution.priorityOrder.all(p, self.backends.exists(b, b.name == p))",message="conflictResolution.priorityOrder must name only backends listed in spec.backends"
// +kubebuilder:validation:XValidation:rule="!has(self.conflictResolution) || !has(self.conflictResolution.overrides) || self.conflictResolution.overrides.all(o, self.backends.exists(b, b.name == o.backend))",message="conflictResolution.overrides[].backend must name a backend listed in spec.backends"
type VirtualMCPServerSpec struct {
	// backends are the MCP servers this virtual server fronts. Their tools, resources and prompts
	// are merged into one endpoint and each call is routed to the backend that owns it.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	Backends []Backend `json:"backends"`

	// failureMode decides what initialize and list requests do when backends are unavailable:
	// Fail (default) serves the available backends and fails only when none is available;
	// BestEffort always serves what is available, even nothing; Strict fails unless every
	// backend is available. Calls to an unavailable backend always fail fast.
	// +optional
	// +kubebuilder:default=Fail
	FailureMode FailureMode `json:"failureMode,omitempty"`

	// healthCheck configures the per-backend prober (an MCP ping on the backend's session).
	// +optional
	// +kubebuilder:default={}
	HealthCheck HealthCheckSpec `json:"healthCheck,omitempty,omitzero"`

	// circuitBreaker configures the per-backend circuit breaker that rejects calls to a failing
	// backend at once instead of waiting for it to time out.
	// +optional
	// +kubebuilder:default={}
	CircuitBreaker CircuitBreakerSpec `json:"circuitBreaker,omitempty,omitzero"`

	// conflictResolution decides how tools with the same name on different backends are named.
	// +optional
	// +kubebuilder:default={}
	ConflictResolution ConflictResolutionSpec `json:"conflictResolution,omitempty,omitzero"`

	// replicas is the number of aggregator pods. Each keeps its own backend sessions and
	// breakers; the operator merges their views into this object's status.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// image is the aggregator container image. Defaults to the operator's --vmcp-image flag.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// imagePullPolicy of the aggregator container.
	// +optional
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// resources of the aggregator container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty,omitzero"`

	// service configures the Service that exposes the MCP endpoint.
	// +optional
	// +kubebuilder:default={}
	Service ServiceSpec `json:"service,omitempty,omitzero"`

	// podTemplate holds overrides for the aggregator pods.
	// +optional
	PodTemplate PodTemplateOverrides `json:"podTemplate,omitempty,omitzero"`
}

// Backend is one MCP server behind the virtual server.
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.serviceRef)",message="exactly one of url or serviceRef must be set"
type Backend struct {
	// name identifies the backend in status, metrics and the default tool prefix.
	// It must be a DNS label: lowercase letters, digits and '-', at most 63 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="name must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
	Name string `json:"name"`

	// url is the backend's MCP Streamable HTTP endpoint, e.g. https://mcp.example.com/mcp.
	// Exactly one of url and serviceRef is set.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHost() != ''",message="url must be an absolute http or https URL"
	URL string `json:"url,omitempty"`

	// serviceRef points at a Service in this namespace that serves MCP; it resolves to
	// http://NAME.NAMESPACE.svc.cluster.local:PORT/PATH. Exactly one of url and serviceRef is set.
	// +optional
	ServiceRef *ServiceReference `json:"serviceRef,omitempty"`

	// prefix replaces conflictResolution.prefixFormat for this backend's tools, e.g. "gh_".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.\-]*$`
	Prefix string `json:"prefix,omitempty"`

	// timeout bounds every call forwarded to this backend.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms')",message="timeout must be at least 100ms"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// headers are sent on every request to the backend. Values come from Secrets and reach the
	// aggregator as environment variables; they are never written into its ConfigMap.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Headers []Header `json:"headers,omitempty"`

	// tools filters which of the backend's tools are exposed.
	// +optional
	Tools *ToolFilter `json:"tools,omitempty"`
}

// ServiceReference names a Service in the VirtualMCPServer's namespace.
type ServiceReference struct {
	// name of the Service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="serviceRef.name must be a valid Service name"
	Name string `json:"name"`

	// port of the Service that serves MCP.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// path of the MCP endpoint on that Service.
	// +optional
	// +kubebuilder:default="/mcp"
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="serviceRef.path must start with '/'"
	Path string `json:"path,omitempty"`
}

// Header is an HTTP header sent to a backend, its value taken from a Secret.
type Header struct {
	// name of the HTTP header, e.g. Authorization.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~\-]+$`
	Name string `json:"name"`

	// valueFrom says where the header's value comes from.
	// +required
	ValueFrom HeaderSource `json:"valueFrom"`
}

// HeaderSource is the source of a header value.
type HeaderSource struct {
	// secretKeyRef selects a key of a Secret in the VirtualMCPServer's namespace.
	// +required
	SecretKeyRef corev1.SecretKeySelector `json:"secretKeyRef"`
}

// ToolFilter selects tools by name with shell-style globs (*, ?, [abc]) matched against the
// backend's own (unprefixed) tool names. A tool is exposed when it matches include (or include
// is empty) and does not match exclude.
type ToolFilter struct {
	// include lists globs of tools to expose; empty means all.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	Include []string `json:"include,omitempty"`

	// exclude lists globs of tools to hide; it wins over include.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	Exclude []string `json:"exclude,omitempty"`
}

// HealthCheckSpec configures the per-backend prober.
// +kubebuilder:validation:XValidation:rule="!has(self.timeout) || !has(self.interval) || duration(self.timeout) < duration(self.interval)",message="healthCheck.timeout must be shorter than healthCheck.interval"
type HealthCheckSpec struct {
	// interval between two probes (an MCP ping on the backend's shared session).
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="healthCheck.interval must be at least 1s"
	Interval metav1.Duration `json:"interval,omitempty,omitzero"`

	// timeout of one probe; a probe that takes longer counts as a failure.
	// Must be shorter than interval.
	// +optional
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms')",message="healthCheck.timeout must be at least 100ms"
	Timeout metav1.Duration `json:"timeout,omitempty,omitzero"`

	// unhealthyThreshold is the number of consecutive failures (probes or calls) after which a
	// backend is Unhealthy and its capabilities are no longer listed.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	UnhealthyThreshold int32 `json:"unhealthyThreshold,omitempty"`

	// degradedLatency marks a backend Degraded (reason Slow) when a probe takes longer than this.
	// +optional
	// +kubebuilder:default="2s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	DegradedLatency metav1.Duration `json:"degradedLatency,omitempty,omitzero"`
}

// CircuitBreakerSpec configures the per-backend circuit breaker.
//
// Closed: calls flow. After failureThreshold consecutive failures (or, when failureRatePercent
// is set, once at least minimumRequests calls in window failed at that rate) the circuit opens.
// Open: calls are rejected at once with an error naming the backend and a retry-after hint.
// After openDuration (doubled on each re-open, jittered, capped by maxOpenDuration) it goes
// HalfOpen: up to halfOpenMaxRequests probes are let through; success closes it, failure
// re-opens it for longer.
// +kubebuilder:validation:XValidation:rule="!has(self.openDuration) || !has(self.maxOpenDuration) || duration(self.openDuration) <= duration(self.maxOpenDuration)",message="circuitBreaker.openDuration must not exceed circuitBreaker.maxOpenDuration"
// +kubebuilder:validation:XValidation:rule="!has(self.minimumRequests) || has(self.failureRatePercent)",message="circuitBreaker.minimumRequests only applies with failureRatePercent"
// +kubebuilder:validation:XValidation:rule="!has(self.window) || has(self.failureRatePercent)",message="circuitBreaker.window only applies with failureRatePercent"
type CircuitBreakerSpec struct {
	// enabled turns the breaker on. When false, calls are never rejected by it; health is still
	// tracked and unhealthy backends are still hidden.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// failureThreshold is the number of consecutive failures that opens the circuit.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	FailureThreshold int32 `json:"failureThreshold,omitempty"`

	// failureRatePercent, when set, also opens the circuit when at least this percentage of the
	// calls in window failed, once minimumRequests calls were seen in that window.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	FailureRatePercent *int32 `json:"failureRatePercent,omitempty"`

	// minimumRequests is the number of calls in window before failureRatePercent applies
	// (default 10).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	MinimumRequests *int32 `json:"minimumRequests,omitempty"`

	// window is the sliding window for failureRatePercent (default 60s).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="circuitBreaker.window must be at least 1s"
	Window *metav1.Duration `json:"window,omitempty"`

	// openDuration is how long the circuit stays open the first time; each consecutive re-open
	// doubles it (with jitter) up to maxOpenDuration. It resets after a healthy period.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms')",message="circuitBreaker.openDuration must be at least 100ms"
	OpenDuration metav1.Duration `json:"openDuration,omitempty,omitzero"`

	// maxOpenDuration caps the open duration after repeated re-opens.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	MaxOpenDuration metav1.Duration `json:"maxOpenDuration,omitempty,omitzero"`

	// halfOpenMaxRequests is the number of probes let through while HalfOpen.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	HalfOpenMaxRequests int32 `json:"halfOpenMaxRequests,omitempty"`
}

// ConflictResolutionSpec decides how tools with the same name on different backends are named.
// +kubebuilder:validation:XValidation:rule="!has(self.overrides) || (has(self.strategy) && self.strategy == 'Manual')",message="conflictResolution.overrides only apply when strategy is Manual"
type ConflictResolutionSpec struct {
	// strategy is Prefix (default: every tool is named prefixFormat + tool), Priority (bare
	// names; on a clash the backend first in priorityOrder keeps the bare name, the others are
	// prefixed) or Manual (bare names; clashes are renamed by overrides, and an unresolved clash
	// hides the clashing tools and is reported in the ConfigValid condition).
	// +optional
	// +kubebuilder:default=Prefix
	Strategy ConflictStrategy `json:"strategy,omitempty"`

	// prefixFormat builds a backend's prefix; "{backend}" is replaced by the backend's name.
	// +optional
	// +kubebuilder:default="{backend}_"
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.contains('{backend}')",message="prefixFormat must contain {backend}"
	PrefixFormat string `json:"prefixFormat,omitempty"`

	// priorityOrder lists backend names, highest priority first. Required for Priority.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	PriorityOrder []string `json:"priorityOrder,omitempty"`

	// overrides rename individual tools (Manual strategy).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Overrides []ToolOverride `json:"overrides,omitempty"`
}

// ToolOverride exposes one backend tool under another name.
type ToolOverride struct {
	// backend is the name of the backend that owns the tool.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Backend string `json:"backend"`

	// tool is the backend's own name for the tool.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Tool string `json:"tool"`

	// name is the name clients see.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
}

// ServiceSpec configures the Service in front of the aggregator pods.
type ServiceSpec struct {
	// type of the Service.
	// +optional
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	Type corev1.ServiceType `json:"type,omitempty"`

	// port the Service exposes the MCP endpoint on.
	// +optional
	// +kubebuilder:default=8080
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
}

// PodTemplateOverrides are merged into the aggregator pods.
type PodTemplateOverrides struct {
	// labels added to the pods (the operator's selector labels win).
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations added to the pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// nodeSelector of the pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations of the pods.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity of the pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// priorityClassName of the pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// BackendHealth is the health of a backend as the aggregators see it.
// +kubebuilder:validation:Enum=Healthy;Degraded;Unhealthy;Unauthenticated;Unknown
type BackendHealth string

const (
	// BackendHealthy answers probes and calls in time.
	BackendHealthy BackendHealth = "Healthy"
	// BackendDegraded answers but slowly, rate-limited or while recovering; still served.
	BackendDegraded BackendHealth = "Degraded"
	// BackendUnhealthy fails; its capabilities are hidden and calls fail fast.
	BackendUnhealthy BackendHealth = "Unhealthy"
	// BackendUnauthenticated rejects the aggregator's credentials (HTTP 401/403).
	BackendUnauthenticated BackendHealth = "Unauthenticated"
	// BackendUnknown has not been observed yet, or no aggregator replica answered.
	BackendUnknown BackendHealth = "Unknown"
)

// CircuitState is the state of a backend's circuit breaker.
// +kubebuilder:validation:Enum=Closed;Open;HalfOpen
type CircuitState string

const (
	// CircuitClosed lets calls through.
	CircuitClosed CircuitState = "Closed"
	// CircuitOpen rejects calls at once.
	CircuitOpen CircuitState = "Open"
	// CircuitHalfOpen lets a few probes through to test recovery.
	CircuitHalfOpen CircuitState = "HalfOpen"
)

// BackendStatus is the merged view of one backend across all serving aggregator replicas.
type BackendStatus struct {
	// name of the backend.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// url the aggregator uses to reach the backend.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url,omitempty"`

	// health is the worst health any serving replica reports.
	// +required
	Health BackendHealth `json:"health"`

	// circuit is Open if open on any replica, else HalfOpen if half-open on any, else Closed.
	// +optional
	Circuit CircuitState `json:"circuit,omitempty"`

	// lastTransitionTime is when health or circuit last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`

	// reason is a CamelCase word for the current health, e.g. ConnectionRefused, Slow.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`

	// message is a short human-readable explanation.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Message string `json:"message,omitempty"`

	// tools is the number of this backend's tools that are exposed.
	// +optional
	Tools int32 `json:"tools,omitempty"`
}

// VirtualMCPServerStatus is the observed state of a VirtualMCPServer. Only the operator writes it.
type VirtualMCPServerStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// url is the in-cluster MCP endpoint clients connect to.
	// +optional
	URL string `json:"url,omitempty"`

	// replicas is the number of aggregator pods the Deployment has.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// readyReplicas is the number of aggregator pods that are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// conditions: Ready (summary), Available (aggregator pods serving), BackendsHealthy,
	// Degraded, ConfigValid.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// backends is the merged health and circuit state of each backend, sorted by name.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Backends []BackendStatus `json:"backends,omitempty"`

	// backendsSummary is "available/total", where available counts Healthy and Degraded backends.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	BackendsSummary string `json:"backendsSummary,omitempty"`

	// openCircuits is the number of backends whose circuit is Open.
	// +optional
	OpenCircuits int32 `json:"openCircuits"`

	// tools is the number of tools the virtual server exposes.
	// +optional
	Tools int32 `json:"tools"`
}

// VirtualMCPServer is one MCP endpoint that fronts many backend MCP servers.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=vmcp,categories=mcp
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Backends",type=string,JSONPath=`.status.backendsSummary`
// +kubebuilder:printcolumn:name="Open",type=integer,JSONPath=`.status.openCircuits`
// +kubebuilder:printcolumn:name="Tools",type=integer,JSONPath=`.status.tools`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1035 label (at most 63 characters, starting with a letter): it names the aggregator's Service"
type VirtualMCPServer struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec VirtualMCPServerSpec `json:"spec"`

	// status is the observed state, written by the operator.
	// +optional
	Status VirtualMCPServerStatus `json:"status,omitempty,omitzero"`
}

// VirtualMCPServerList is a list of VirtualMCPServers.
// +kubebuilder:object:root=true
type VirtualMCPServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VirtualMCPServer `json:"items"`
}
