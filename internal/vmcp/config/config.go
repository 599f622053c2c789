package config

import (
	"strings"
)

// Defaults of the aggregator config file. The CRD's +kubebuilder:default markers carry the same
// values; a test keeps the two in step.
const (
	DefaultListen              = "0.0.0.0:8080"
	DefaultAdminListen         = "0.0.0.0:8081"
	DefaultHealthInterval      = Duration(10e9)
	DefaultHealthTimeout       = Duration(5e9)
	DefaultUnhealthyThreshold  = 3
	DefaultDegradedLatency     = Duration(2e9)
	DefaultFailureThreshold    = 5
	DefaultMinimumRequests     = 10
	DefaultWindow              = Duration(60e9)
	DefaultOpenDuration        = Duration(30e9)
	DefaultMaxOpenDuration     = Duration(300e9)
	DefaultHalfOpenMaxRequests = 1
	DefaultPrefixFormat        = "{backend}_"
	DefaultBackendTimeout      = Duration(30e9)

	// BackendPlaceholder is replaced by a backend's name in ConflictResolution.PrefixFormat.
	BackendPlaceholder = "{backend}"
)

// FailureMode says what initialize and list requests do when backends are unavailable.
type FailureMode string

// Failure modes; see DESIGN §5.
const (
	FailureModeFail       FailureMode = "Fail"
	FailureModeBestEffort FailureMode = "BestEffort"
	FailureModeStrict     FailureMode = "Strict"
)

// ConflictStrategy says how clashing tool names of different backends are resolved.
type ConflictStrategy string

// Conflict strategies.
const (
	ConflictStrategyPrefix   ConflictStrategy = "Prefix"
	ConflictStrategyPriority ConflictStrategy = "Priority"
	ConflictStrategyManual   ConflictStrategy = "Manual"
)

// Config is the aggregator's configuration file. Field names match the VirtualMCPServer spec so
// that the operator's rendering is a near-identity mapping. An omitted or zero field takes its
// default (see Default).
type Config struct {
	// Listen is the address of the MCP Streamable HTTP endpoint (served at path /mcp).
	Listen string `json:"listen,omitempty"`
	// AdminListen is the address of /healthz, /readyz, /status and /metrics.
	AdminListen string `json:"adminListen,omitempty"`
	// FailureMode decides what initialize and list requests do when backends are unavailable.
	FailureMode FailureMode `json:"failureMode,omitempty"`
	// HealthCheck configures the per-backend prober.
	HealthCheck HealthCheck `json:"healthCheck,omitzero"`
	// CircuitBreaker configures the per-backend breaker.
	CircuitBreaker CircuitBreaker `json:"circuitBreaker,omitzero"`
	// ConflictResolution decides how clashing tool names are resolved.
	ConflictResolution ConflictResolution `json:"conflictResolution,omitzero"`
	// Backends are the MCP servers behind the aggregator.
	Backends []Backend `json:"backends"`
}

// HealthCheck configures the per-backend prober.
type HealthCheck struct {
	Interval           Duration `json:"interval,omitempty"`
	Timeout            Duration `json:"timeout,omitempty"`
	UnhealthyThreshold int      `json:"unhealthyThreshold,omitempty"`
	DegradedLatency    Duration `json:"degradedLatency,omitempty"`
}

// CircuitBreaker configures the per-backend circuit breaker.
type CircuitBreaker struct {
	// Enabled is true unless set to false explicitly.
	Enabled             *bool    `json:"enabled,omitempty"`
	FailureThreshold    int      `json:"failureThreshold,omitempty"`
	FailureRatePercent  int      `json:"failureRatePercent,omitempty"`
	MinimumRequests     int      `json:"minimumRequests,omitempty"`
	Window              Duration `json:"window,omitempty"`
	OpenDuration        Duration `json:"openDuration,omitempty"`
	MaxOpenDuration     Duration `json:"maxOpenDuration,omitempty"`
	HalfOpenMaxRequests int      `json:"halfOpenMaxRequests,omitempty"`
}

// IsEnabled reports whether the breaker may reject calls.
func (c CircuitBreaker) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// ConflictResolution decides how clashing tool names are resolved.
type ConflictResolution struct {
	Strategy      ConflictStrategy `json:"strategy,omitempty"`
	PrefixFormat  string           `json:"prefixFormat,omitempty"`
	PriorityOrder []string         `json:"priorityOrder,omitempty"`
	Overrides     []ToolOverride   `json:"overrides,omitempty"`
}

// ToolOverride exposes a backend's tool under another name.
type ToolOverride struct {
	Backend string `json:"backend"`
	Tool    string `json:"tool"`
	Name    string `json:"name"`
}

// Backend is one MCP server behind the aggregator.
type Backend struct {
	Name    string      `json:"name"`
	URL     string      `json:"url"`
	Prefix  string      `json:"prefix,omitempty"`
	Timeout Duration    `json:"timeout,omitempty"`
	Headers []Header    `json:"headers,omitempty"`
	Tools   *ToolFilter `json:"tools,omitempty"`
}

// Header is an HTTP header sent to a backend. Its value is never written into the file: it is
// read from an environment variable or a file when the aggregator starts or reloads.
type Header struct {
	Name      string      `json:"name"`
	ValueFrom ValueSource `json:"valueFrom"`
}

// ValueSource names where a header value comes from; exactly one field is set.
type ValueSource struct {
	// Env is the name of an environment variable.
	Env string `json:"env,omitempty"`
	// File is the path of a file (e.g. a mounted Secret); surrounding whitespace is trimmed.
	File string `json:"file,omitempty"`
}

// ToolFilter selects tools by shell-style globs on the backend's own tool names.
type ToolFilter struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// PrefixFor returns the prefix a backend's tools get when they are prefixed: the backend's own
// prefix if set, else PrefixFormat with the backend's name substituted.
func (c *Config) PrefixFor(b Backend) string {
	if b.Prefix != "" {
		return b.Prefix
	}
	format := c.ConflictResolution.PrefixFormat
	if format == "" {
		format = DefaultPrefixFormat
	}
	return strings.ReplaceAll(format, BackendPlaceholder, b.Name)
}

// Backend returns the backend with the given name.
func (c *Config) Backend(name string) (Backend, bool) {
	for _, b := range c.Backends {
		if b.Name == name {
			return b, true
		}
	}
	return Backend{}, false
}
