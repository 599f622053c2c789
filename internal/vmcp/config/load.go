package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

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
// result is defaulted and validated; unknown fields and invalid values are reported together as
// one *ValidationError listing every problem with its field path.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("parse config: file is %d bytes, more than the %d allowed", len(data), MaxFileSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("parse config: file is empty")
	}
	// YAMLToJSONStrict refuses duplicate keys; unknown fields are collected with their paths
	// below so that they are reported together with every other problem.
	jsonData, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	var generic any
	if err := json.Unmarshal(jsonData, &generic); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	var problems []FieldError
	unknownFields(generic, reflect.TypeFor[Config](), "", &problems)

	var c Config
	if err := json.Unmarshal(jsonData, &c); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	c.Default()
	var verr *ValidationError
	if err := c.Validate(); err != nil && !errors.As(err, &verr) {
		return nil, err
	}
	if verr != nil {
		problems = append(problems, verr.Errors...)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Errors: problems}
	}
	return &c, nil
}

// unknownFields appends an error for every key of v that t has no JSON field for.
func unknownFields(v any, t reflect.Type, path string, out *[]FieldError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return // a type error, reported by the decoder
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			ft, known := fields[key]
			if !known {
				*out = append(*out, FieldError{Path: joinPath(path, key), Message: "unknown field"})
				continue
			}
			unknownFields(obj[key], ft, joinPath(path, key), out)
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return
		}
		for i, item := range items {
			unknownFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
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
