package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const minimal = `
backends:
  - name: a
    url: http://127.0.0.1:9001/mcp
`

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	enabled := true
	want := &Config{
		Listen: DefaultListen, AdminListen: DefaultAdminListen, FailureMode: FailureModeFail,
		HealthCheck: HealthCheck{Interval: Duration(10 * time.Second), Timeout: Duration(5 * time.Second),
			UnhealthyThreshold: 3, DegradedLatency: Duration(2 * time.Second)},
		CircuitBreaker: CircuitBreaker{Enabled: &enabled, FailureThreshold: 5, OpenDuration: Duration(30 * time.Second),
			MaxOpenDuration: Duration(5 * time.Minute), HalfOpenMaxRequests: 1},
		ConflictResolution: ConflictResolution{Strategy: ConflictStrategyPrefix, PrefixFormat: "{backend}_"},
		Backends:           []Backend{{Name: "a", URL: "http://127.0.0.1:9001/mcp", Timeout: Duration(30 * time.Second)}},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestParseFailureRateDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal + "circuitBreaker: {failureRatePercent: 50}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.CircuitBreaker.MinimumRequests != DefaultMinimumRequests || c.CircuitBreaker.Window != DefaultWindow {
		t.Errorf("failure-rate defaults = %d, %s", c.CircuitBreaker.MinimumRequests, c.CircuitBreaker.Window)
	}
	if !c.CircuitBreaker.IsEnabled() {
		t.Error("breaker should default to enabled")
	}
	c, err = Parse([]byte(minimal + "circuitBreaker: {enabled: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.CircuitBreaker.IsEnabled() {
		t.Error("enabled: false must be kept")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// want lists substrings that must all appear in the error.
		want []string
	}{
		{"empty file", "", []string{"file is empty"}},
		{"not yaml", "backends: [", []string{"parse config"}},
		{"unknown top-level field", minimal + "listenAddr: :80\n", []string{`listenAddr: unknown field`}},
		{"unknown nested fields, all at once", "healthCheck: {period: 5s}\nbackends: [{name: a, url: 'http://a', tols: {}}]\n",
			[]string{`healthCheck.period: unknown field`, `backends[0].tols: unknown field`}},
		{"duplicate key", minimal + "failureMode: Fail\nfailureMode: Strict\n", []string{`already set in map`}},
		{"duration not a string", minimal + "healthCheck: {interval: 10}\n", []string{"duration must be a string"}},
		{"bad duration", minimal + "healthCheck: {interval: soon}\n", []string{`invalid duration "soon"`}},
		{"no backends", "listen: 127.0.0.1:8080\n", []string{"backends: at least one backend is required"}},
		{
			name: "every problem at once, with field paths",
			yaml: `
listen: nowhere
adminListen: nowhere
failureMode: Sometimes
healthCheck: {interval: 1s, timeout: 2s, unhealthyThreshold: -1}
circuitBreaker: {failureThreshold: -2, openDuration: 1m, maxOpenDuration: 30s, halfOpenMaxRequests: -1, failureRatePercent: 101}
conflictResolution: {strategy: Priority, prefixFormat: "x_", priorityOrder: [ghost, ghost], overrides: [{backend: nope, tool: "", name: ""}]}
backends:
  - name: Bad_Name
    url: ftp://x
    prefix: "has space"
    headers:
      - {name: "Bad Header", valueFrom: {}}
      - {name: X-A, valueFrom: {env: "1BAD"}}
      - {name: x-a, valueFrom: {file: relative/path}}
    tools: {include: ["[unclosed"]}
  - name: dup
    url: http://127.0.0.1:1/mcp
  - name: dup
    url: /relative
`,
			want: []string{
				`listen: must be host:port, got "nowhere"`,
				`adminListen: must be host:port`,
				`failureMode: must be one of [Fail BestEffort Strict], got "Sometimes"`,
				`healthCheck.timeout: must be shorter than healthCheck.interval (1s), got 2s`,
				`healthCheck.unhealthyThreshold: must be at least 1, got -1`,
				`circuitBreaker.failureThreshold: must be at least 1, got -2`,
				`circuitBreaker.halfOpenMaxRequests: must be at least 1, got -1`,
				`circuitBreaker.failureRatePercent: must be between 1 and 100`,
				`circuitBreaker.maxOpenDuration: must not be shorter than circuitBreaker.openDuration`,
				`conflictResolution.prefixFormat: must contain {backend}`,
				`conflictResolution.priorityOrder[0]: names no backend: "ghost"`,
				`conflictResolution.priorityOrder[1]: lists "ghost" twice`,
				`conflictResolution.overrides: only apply when strategy is Manual`,
				`conflictResolution.overrides[0].backend: names no backend: "nope"`,
				`conflictResolution.overrides[0].tool: is required`,
				`backends[0].name: must be a DNS label`,
				`backends[0].url: must be an absolute http or https URL`,
				`backends[0].prefix: may contain only`,
				`backends[0].headers[0].name: must be an HTTP header name`,
				`backends[0].headers[0].valueFrom: exactly one of env or file must be set`,
				`backends[0].headers[1].valueFrom.env: must be an environment variable name`,
				`backends[0].headers[2].name: header "x-a" is listed twice`,
				`backends[0].headers[2].valueFrom.file: must be an absolute path`,
				`backends[0].tools.include[0]: is not a valid glob`,
				`backends[2].name: duplicates backends[1].name "dup"`,
				`backends[2].url: must be an absolute http or https URL`,
			},
		},
		{"listen equals adminListen", minimal + "listen: 127.0.0.1:8080\nadminListen: 127.0.0.1:8080\n", []string{"adminListen: must differ from listen"}},
		{"priority without order", minimal + "conflictResolution: {strategy: Priority}\n", []string{"priorityOrder: is required when strategy is Priority"}},
		{"duplicate override names", minimal + "conflictResolution: {strategy: Manual, overrides: [{backend: a, tool: x, name: found}, {backend: a, tool: z, name: found}]}\n",
			[]string{`conflictResolution.overrides[1].name: duplicates conflictResolution.overrides[0].name "found"`}},
		{"negative durations", minimal + "healthCheck: {interval: -1s}\n", []string{"healthCheck.interval: must be a positive duration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse() succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestValidationErrorListsEveryProblem(t *testing.T) {
	_, err := Parse([]byte("backends: [{name: A, url: x}, {name: b, url: 'http://b', timeout: -1s}]\n"))
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	var paths []string
	for _, fe := range verr.Errors {
		paths = append(paths, fe.Path)
	}
	want := []string{"backends[0].name", "backends[0].url", "backends[1].timeout"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in, err := Parse([]byte(`
failureMode: BestEffort
circuitBreaker: {enabled: false, failureRatePercent: 20}
conflictResolution: {strategy: Manual, overrides: [{backend: a, tool: search, name: find}]}
backends:
  - name: a
    url: https://a.example.com/mcp
    prefix: x_
    timeout: 1m30s
    headers: [{name: Authorization, valueFrom: {env: A_TOKEN}}]
    tools: {include: ["get_*"], exclude: [get_secret]}
`))
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Parse(data)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, data)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
	if !strings.Contains(string(data), "timeout: 1m30s") {
		t.Errorf("durations should be written as strings:\n%s", data)
	}
}

func TestPrefixFor(t *testing.T) {
	tests := []struct {
		name   string
		format string
		b      Backend
		want   string
	}{
		{"default format", "", Backend{Name: "github"}, "github_"},
		{"custom format", "{backend}.", Backend{Name: "jira"}, "jira."},
		{"placeholder twice", "{backend}-{backend}_", Backend{Name: "x"}, "x-x_"},
		{"backend prefix wins", "{backend}_", Backend{Name: "github", Prefix: "gh_"}, "gh_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{ConflictResolution: ConflictResolution{PrefixFormat: tt.format}}
			if got := c.PrefixFor(tt.b); got != tt.want {
				t.Errorf("PrefixFor() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vmcp.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	if b, ok := c.Backend("a"); !ok || b.URL != "http://127.0.0.1:9001/mcp" {
		t.Errorf("Backend(a) = %+v, %v", b, ok)
	}
	if _, ok := c.Backend("missing"); ok {
		t.Error("Backend(missing) found")
	}
	if _, err := Load(filepath.Join(dir, "absent.yaml")); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("Load(absent) error = %v", err)
	}
	big := make([]byte, MaxFileSize+1)
	if _, err := Parse(big); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("Parse(oversized) error = %v", err)
	}
}

func TestExampleConfigsAreValid(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "examples", "*.yaml"))
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
