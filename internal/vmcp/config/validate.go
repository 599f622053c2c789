package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// MaxBackends bounds the number of backends, as the CRD does.
const MaxBackends = 256

var (
	dnsLabel      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	prefixChars   = regexp.MustCompile(`^[A-Za-z0-9_.\-]*$`)
	headerToken   = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~\-]+$`)
	envVarName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	failureModes  = []FailureMode{FailureModeFail, FailureModeBestEffort, FailureModeStrict}
	strategies    = []ConflictStrategy{ConflictStrategyPrefix, ConflictStrategyPriority, ConflictStrategyManual}
	maxNameLength = 63
)

// FieldError is one problem with the config, at a field path such as "backends[1].url".
type FieldError struct {
	Path    string
	Message string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Message }

// ValidationError lists every problem found in a config.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	lines := make([]string, 0, len(e.Errors)+1)
	lines = append(lines, fmt.Sprintf("invalid config: %d problem(s)", len(e.Errors)))
	for _, fe := range e.Errors {
		lines = append(lines, "  - "+fe.Error())
	}
	return strings.Join(lines, "\n")
}

type validator struct{ errs []FieldError }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Path: field, Message: fmt.Sprintf(format, args...)})
}

// Validate checks a defaulted config and returns a *ValidationError listing every problem, or nil.
func (c *Config) Validate() error {
	v := &validator{}
	v.address("listen", c.Listen)
	v.address("adminListen", c.AdminListen)
	if c.Listen != "" && c.Listen == c.AdminListen {
		v.add("adminListen", "must differ from listen (%s)", c.Listen)
	}
	if !oneOf(c.FailureMode, failureModes) {
		v.add("failureMode", "must be one of %v, got %q", failureModes, c.FailureMode)
	}
	v.healthCheck(c.HealthCheck)
	v.circuitBreaker(c.CircuitBreaker)
	v.backends(c.Backends)
	v.conflictResolution(c.ConflictResolution, c.Backends)
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: v.errs}
}

func (v *validator) address(field, addr string) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		v.add(field, "must be host:port, got %q", addr)
	}
}

func (v *validator) positive(field string, d Duration) {
	if d <= 0 {
		v.add(field, "must be a positive duration, got %s", d)
	}
}

func (v *validator) healthCheck(h HealthCheck) {
	v.positive("healthCheck.interval", h.Interval)
	v.positive("healthCheck.timeout", h.Timeout)
	v.positive("healthCheck.degradedLatency", h.DegradedLatency)
	if h.Timeout > 0 && h.Timeout >= h.Interval {
		v.add("healthCheck.timeout", "must be shorter than healthCheck.interval (%s), got %s", h.Interval, h.Timeout)
	}
	if h.UnhealthyThreshold < 1 {
		v.add("healthCheck.unhealthyThreshold", "must be at least 1, got %d", h.UnhealthyThreshold)
	}
}

func (v *validator) circuitBreaker(b CircuitBreaker) {
	if b.FailureThreshold < 1 {
		v.add("circuitBreaker.failureThreshold", "must be at least 1, got %d", b.FailureThreshold)
	}
	if b.FailureRatePercent < 0 || b.FailureRatePercent > 100 {
		v.add("circuitBreaker.failureRatePercent", "must be between 1 and 100, got %d", b.FailureRatePercent)
	}
	if b.FailureRatePercent > 0 {
		if b.MinimumRequests < 1 {
			v.add("circuitBreaker.minimumRequests", "must be at least 1, got %d", b.MinimumRequests)
		}
		v.positive("circuitBreaker.window", b.Window)
	}
	v.positive("circuitBreaker.openDuration", b.OpenDuration)
	if b.MaxOpenDuration < b.OpenDuration {
		v.add("circuitBreaker.maxOpenDuration", "must not be shorter than circuitBreaker.openDuration (%s), got %s", b.OpenDuration, b.MaxOpenDuration)
	}
	if b.HalfOpenMaxRequests < 1 {
		v.add("circuitBreaker.halfOpenMaxRequests", "must be at least 1, got %d", b.HalfOpenMaxRequests)
	}
}

func (v *validator) backends(backends []Backend) {
	switch {
	case len(backends) == 0:
		v.add("backends", "at least one backend is required")
	case len(backends) > MaxBackends:
		v.add("backends", "at most %d backends are allowed, got %d", MaxBackends, len(backends))
	}
	seen := make(map[string]int, len(backends))
	for i, b := range backends {
		p := fmt.Sprintf("backends[%d]", i)
		if len(b.Name) > maxNameLength || !dnsLabel.MatchString(b.Name) {
			v.add(p+".name", "must be a DNS label (lowercase letters, digits and '-', at most 63 characters), got %q", b.Name)
		} else if j, dup := seen[b.Name]; dup {
			v.add(p+".name", "duplicates backends[%d].name %q", j, b.Name)
		} else {
			seen[b.Name] = i
		}
		v.backendURL(p+".url", b.URL)
		if !prefixChars.MatchString(b.Prefix) || len(b.Prefix) > 64 {
			v.add(p+".prefix", "may contain only letters, digits, '_', '.' and '-' (at most 64), got %q", b.Prefix)
		}
		v.positive(p+".timeout", b.Timeout)
		v.headers(p, b.Headers)
		if b.Tools != nil {
			v.globs(p+".tools.include", b.Tools.Include)
			v.globs(p+".tools.exclude", b.Tools.Exclude)
		}
	}
}

func (v *validator) backendURL(field, raw string) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		v.add(field, "is required")
	case err != nil:
		v.add(field, "is not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(field, "must be an absolute http or https URL, got %q", raw)
	case u.Host == "":
		v.add(field, "has no host: %q", raw)
	}
}

func (v *validator) headers(backendPath string, headers []Header) {
	seen := make(map[string]bool, len(headers))
	for j, h := range headers {
		p := fmt.Sprintf("%s.headers[%d]", backendPath, j)
		if !headerToken.MatchString(h.Name) {
			v.add(p+".name", "must be an HTTP header name, got %q", h.Name)
		}
		key := strings.ToLower(h.Name)
		if seen[key] {
			v.add(p+".name", "header %q is listed twice", h.Name)
		}
		seen[key] = true
		src := h.ValueFrom
		switch {
		case (src.Env == "") == (src.File == ""):
			v.add(p+".valueFrom", "exactly one of env or file must be set (literal values are not allowed: keep secrets out of the file)")
		case src.Env != "" && !envVarName.MatchString(src.Env):
			v.add(p+".valueFrom.env", "must be an environment variable name, got %q", src.Env)
		case src.File != "" && !path.IsAbs(src.File):
			v.add(p+".valueFrom.file", "must be an absolute path, got %q", src.File)
		}
	}
}

func (v *validator) globs(field string, patterns []string) {
	for i, g := range patterns {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			v.add(fmt.Sprintf("%s[%d]", field, i), "is not a valid glob: %q", g)
		}
	}
}

func (v *validator) conflictResolution(cr ConflictResolution, backends []Backend) {
	known := make(map[string]bool, len(backends))
	for _, b := range backends {
		known[b.Name] = true
	}
	if !oneOf(cr.Strategy, strategies) {
		v.add("conflictResolution.strategy", "must be one of %v, got %q", strategies, cr.Strategy)
	}
	if !strings.Contains(cr.PrefixFormat, BackendPlaceholder) {
		v.add("conflictResolution.prefixFormat", "must contain %s, got %q", BackendPlaceholder, cr.PrefixFormat)
	}
	if cr.Strategy == ConflictStrategyPriority && len(cr.PriorityOrder) == 0 {
		v.add("conflictResolution.priorityOrder", "is required when strategy is Priority")
	}
	listed := make(map[string]bool, len(cr.PriorityOrder))
	for i, name := range cr.PriorityOrder {
		p := fmt.Sprintf("conflictResolution.priorityOrder[%d]", i)
		if !known[name] {
			v.add(p, "names no backend: %q", name)
		}
		if listed[name] {
			v.add(p, "lists %q twice", name)
		}
		listed[name] = true
	}
	if len(cr.Overrides) > 0 && cr.Strategy != ConflictStrategyManual {
		v.add("conflictResolution.overrides", "only apply when strategy is Manual")
	}
	names := make(map[string]int, len(cr.Overrides))
	for i, o := range cr.Overrides {
		p := fmt.Sprintf("conflictResolution.overrides[%d]", i)
		if !known[o.Backend] {
			v.add(p+".backend", "names no backend: %q", o.Backend)
		}
		if o.Tool == "" {
			v.add(p+".tool", "is required")
		}
		if o.Name == "" {
			v.add(p+".name", "is required")
		} else if j, dup := names[o.Name]; dup {
			v.add(p+".name", "duplicates conflictResolution.overrides[%d].name %q", j, o.Name)
		} else {
			names[o.Name] = i
		}
	}
}

func oneOf[T comparable](v T, allowed []T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}
