package statusapi

import "time"

// Paths served by the aggregator.
const (
	// PathMCP is the MCP Streamable HTTP endpoint on the MCP port.
	PathMCP = "/mcp"
	// PathHealthz answers 200 while the process is alive.
	PathHealthz = "/healthz"
	// PathReadyz answers 200 once the config is loaded and the MCP listener is up. It does not
	// depend on backend health: a pod with failing backends still serves the rest.
	PathReadyz = "/readyz"
	// PathStatus serves a Status document.
	PathStatus = "/status"
	// PathMetrics serves Prometheus metrics.
	PathMetrics = "/metrics"
)

// Ports of the aggregator container and Service.
const (
	MCPPortName      = "mcp"
	AdminPortName    = "admin"
	DefaultMCPPort   = 8080
	DefaultAdminPort = 8081
)

// Health of a backend.
type Health string

// Health values, worst last but one: see Severity.
const (
	HealthHealthy         Health = "Healthy"
	HealthDegraded        Health = "Degraded"
	HealthUnknown         Health = "Unknown"
	HealthUnauthenticated Health = "Unauthenticated"
	HealthUnhealthy       Health = "Unhealthy"
)

// Severity orders health values from best (0) to worst, for merging replicas' views.
func (h Health) Severity() int {
	switch h {
	case HealthHealthy:
		return 0
	case HealthDegraded:
		return 1
	case HealthUnknown:
		return 2
	case HealthUnauthenticated:
		return 3
	case HealthUnhealthy:
		return 4
	default:
		return 2
	}
}

// Available reports whether a backend in this health is served (listed and routed to).
func (h Health) Available() bool { return h == HealthHealthy || h == HealthDegraded }

// Circuit is the state of a backend's circuit breaker.
type Circuit string

// Circuit states.
const (
	CircuitClosed   Circuit = "Closed"
	CircuitHalfOpen Circuit = "HalfOpen"
	CircuitOpen     Circuit = "Open"
)

// Reasons an aggregator reports for a backend's health. The operator copies them into the
// object's status, so they are CamelCase words like condition reasons.
const (
	ReasonHealthy           = "Healthy"
	ReasonNotYetProbed      = "NotYetProbed"
	ReasonRecovering        = "Recovering"
	ReasonSlow              = "Slow"
	ReasonRateLimited       = "RateLimited"
	ReasonUnauthorized      = "Unauthorized"
	ReasonConnectionFailed  = "ConnectionFailed"
	ReasonTimeout           = "Timeout"
	ReasonServerError       = "ServerError"
	ReasonSessionLost       = "SessionLost"
	ReasonCircuitOpen       = "CircuitOpen"
	ReasonInitializeFailed  = "InitializeFailed"
	ReasonNoReplicaAnswered = "NoReplicaAnswered"
)

// MaxMessageLength bounds Backend.Message; longer messages are truncated by the aggregator.
const MaxMessageLength = 256

// TruncateMessage cuts s to at most MaxMessageLength bytes without splitting a UTF-8 sequence.
func TruncateMessage(s string) string { return Cut(s, MaxMessageLength) }

// Cut returns the longest prefix of s of at most n bytes that ends on a UTF-8 rune boundary.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Status is the document served at PathStatus.
type Status struct {
	// Version increases on every change of any backend's health, circuit, tools or clashes.
	// It restarts from 1 when the process restarts.
	Version uint64 `json:"version"`
	// ConfigHash identifies the config file the aggregator runs (hex SHA-256 of its bytes).
	ConfigHash string `json:"configHash,omitempty"`
	// FailureMode is the failure mode in effect.
	FailureMode string `json:"failureMode,omitempty"`
	// Summary counts over Backends.
	Summary Summary `json:"summary"`
	// Backends, sorted by name.
	Backends []Backend `json:"backends"`
}

// Summary counts backends and exposed tools.
type Summary struct {
	Backends     int `json:"backends"`
	Available    int `json:"available"`
	OpenCircuits int `json:"openCircuits"`
	Tools        int `json:"tools"`
	Clashes      int `json:"clashes"`
}

// Backend is one backend as an aggregator sees it.
type Backend struct {
	Name    string  `json:"name"`
	URL     string  `json:"url"`
	Health  Health  `json:"health"`
	Circuit Circuit `json:"circuit"`
	// Since is when Health or Circuit last changed.
	Since time.Time `json:"since"`
	// Reason is a CamelCase word, one of the Reason* constants.
	Reason string `json:"reason,omitempty"`
	// Message is short (at most MaxMessageLength bytes).
	Message             string `json:"message,omitempty"`
	ConsecutiveFailures int    `json:"consecutiveFailures"`
	// RetryAfter is when an open circuit will next let a probe through (zero unless Open).
	RetryAfter *time.Time `json:"retryAfter,omitempty"`
	// Tools is the number of this backend's tools that are exposed.
	Tools int `json:"tools"`
	// Resources and Prompts count what the backend contributes.
	Resources int `json:"resources"`
	Prompts   int `json:"prompts"`
	// Clashes lists tool names of this backend hidden because they clash unresolved.
	Clashes []Clash `json:"clashes,omitempty"`
}

// Clash is a tool name exposed by more than one backend that the strategy left unresolved.
type Clash struct {
	// Kind is empty for a tool and "prompt" for a prompt (prompt names clash like tool names).
	Kind string `json:"kind,omitempty"`
	// Tool is the backend's own tool name.
	Tool string `json:"tool"`
	// Name is the name it would have been exposed as.
	Name string `json:"name"`
	// With lists the other backends that claim Name.
	With []string `json:"with"`
}
