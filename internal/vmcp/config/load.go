package config

import (
	"bytes"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// MaxFileSize bounds the config file; 256 backends with filters fit in a fraction of it.
const MaxFileSize = 4 << 20

// Load reads, defaults and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data)
}

// Parse decodes YAML (or JSON) strictly: unknown fields and duplicate keys are errors. The
// result is defaulted and validated; a validation failure is a *ValidationError listing every
// problem with its field path.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("parse config: file is %d bytes, more than the %d allowed", len(data), MaxFileSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("parse config: file is empty")
	}
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	c.Default()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Marshal writes c as YAML, the form the operator stores in the ConfigMap.
func Marshal(c *Config) ([]byte, error) {
	out, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("marshal config: %w", err)
	}
	return out, nil
}

// Default fills every unset field with its default. It is idempotent.
func (c *Config) Default() {
	setDefault(&c.Listen, DefaultListen)
	setDefault(&c.AdminListen, DefaultAdminListen)
	setDefault(&c.FailureMode, FailureModeFail)

	h := &c.HealthCheck
	setDefault(&h.Interval, DefaultHealthInterval)
	setDefault(&h.Timeout, DefaultHealthTimeout)
	setDefault(&h.UnhealthyThreshold, DefaultUnhealthyThreshold)
	setDefault(&h.DegradedLatency, DefaultDegradedLatency)

	b := &c.CircuitBreaker
	if b.Enabled == nil {
		enabled := true
		b.Enabled = &enabled
	}
	setDefault(&b.FailureThreshold, DefaultFailureThreshold)
	if b.FailureRatePercent > 0 {
		setDefault(&b.MinimumRequests, DefaultMinimumRequests)
		setDefault(&b.Window, DefaultWindow)
	}
	setDefault(&b.OpenDuration, DefaultOpenDuration)
	setDefault(&b.MaxOpenDuration, DefaultMaxOpenDuration)
	setDefault(&b.HalfOpenMaxRequests, DefaultHalfOpenMaxRequests)

	setDefault(&c.ConflictResolution.Strategy, ConflictStrategyPrefix)
	setDefault(&c.ConflictResolution.PrefixFormat, DefaultPrefixFormat)

	for i := range c.Backends {
		setDefault(&c.Backends[i].Timeout, DefaultBackendTimeout)
	}
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}
