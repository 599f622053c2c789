package controller

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
)

func minimalVMCP(mutate func(*vmcpv1alpha1.VirtualMCPServer)) *vmcpv1alpha1.VirtualMCPServer {
	v := &vmcpv1alpha1.VirtualMCPServer{
		ObjectMeta: metav1.ObjectMeta{Name: "tools", Namespace: "team"},
		Spec: vmcpv1alpha1.VirtualMCPServerSpec{
			Backends: []vmcpv1alpha1.Backend{{Name: "a", URL: "http://a:8080/mcp"}},
		},
	}
	if mutate != nil {
		mutate(v)
	}
	return v
}

func TestRender(t *testing.T) {
	tests := []struct {
		name    string
		vmcp    *vmcpv1alpha1.VirtualMCPServer
		check   func(t *testing.T, r *Rendered)
		wantErr string
	}{
		{
			name: "defaults fill an undefaulted spec",
			vmcp: minimalVMCP(nil),
			check: func(t *testing.T, r *Rendered) {
				c := r.Config
				want := config.Config{
					Listen: "0.0.0.0:8080", AdminListen: "0.0.0.0:8081", FailureMode: config.FailureModeFail,
					HealthCheck: config.HealthCheck{Interval: config.DefaultHealthInterval, Timeout: config.DefaultHealthTimeout,
						UnhealthyThreshold: 3, DegradedLatency: config.DefaultDegradedLatency},
					CircuitBreaker: config.CircuitBreaker{Enabled: ptr.To(true), FailureThreshold: 5, OpenDuration: config.DefaultOpenDuration,
						MaxOpenDuration: config.DefaultMaxOpenDuration, HalfOpenMaxRequests: 1},
					ConflictResolution: config.ConflictResolution{Strategy: config.ConflictStrategyPrefix, PrefixFormat: "{backend}_"},
					Backends:           []config.Backend{{Name: "a", URL: "http://a:8080/mcp", Timeout: config.DefaultBackendTimeout}},
				}
				if diff := cmp.Diff(want, *c); diff != "" {
					t.Errorf("config mismatch (-want +got):\n%s", diff)
				}
				if len(r.Env) != 0 {
					t.Errorf("env = %v, want none", r.Env)
				}
			},
		},
		{
			name: "every spec field maps onto the config",
			vmcp: minimalVMCP(func(v *vmcpv1alpha1.VirtualMCPServer) {
				v.Spec.FailureMode = vmcpv1alpha1.FailureModeStrict
				v.Spec.HealthCheck = vmcpv1alpha1.HealthCheckSpec{Interval: metav1.Duration{Duration: 20 * time.Second},
					Timeout: metav1.Duration{Duration: time.Second}, UnhealthyThreshold: 7, DegradedLatency: metav1.Duration{Duration: 3 * time.Second}}
				v.Spec.CircuitBreaker = vmcpv1alpha1.CircuitBreakerSpec{Enabled: ptr.To(false), FailureThreshold: 9,
					FailureRatePercent: ptr.To[int32](50), MinimumRequests: ptr.To[int32](20), Window: &metav1.Duration{Duration: time.Minute},
					OpenDuration: metav1.Duration{Duration: 10 * time.Second}, MaxOpenDuration: metav1.Duration{Duration: time.Minute}, HalfOpenMaxRequests: 2}
				v.Spec.ConflictResolution = vmcpv1alpha1.ConflictResolutionSpec{Strategy: vmcpv1alpha1.ConflictStrategyManual,
					PrefixFormat: "{backend}.", Overrides: []vmcpv1alpha1.ToolOverride{{Backend: "a", Tool: "search", Name: "find"}}}
				v.Spec.Backends[0].Prefix = "aa_"
				v.Spec.Backends[0].Timeout = &metav1.Duration{Duration: 3 * time.Second}
				v.Spec.Backends[0].Tools = &vmcpv1alpha1.ToolFilter{Include: []string{"get_*"}, Exclude: []string{"get_secret"}}
			}),
			check: func(t *testing.T, r *Rendered) {
				c := r.Config
				want := config.Config{
					Listen: "0.0.0.0:8080", AdminListen: "0.0.0.0:8081", FailureMode: config.FailureModeStrict,
					HealthCheck: config.HealthCheck{Interval: config.Duration(20 * time.Second), Timeout: config.Duration(time.Second),
						UnhealthyThreshold: 7, DegradedLatency: config.Duration(3 * time.Second)},
					CircuitBreaker: config.CircuitBreaker{Enabled: ptr.To(false), FailureThreshold: 9, FailureRatePercent: 50,
						MinimumRequests: 20, Window: config.Duration(time.Minute), OpenDuration: config.Duration(10 * time.Second),
						MaxOpenDuration: config.Duration(time.Minute), HalfOpenMaxRequests: 2},
					ConflictResolution: config.ConflictResolution{Strategy: config.ConflictStrategyManual, PrefixFormat: "{backend}.",
						Overrides: []config.ToolOverride{{Backend: "a", Tool: "search", Name: "find"}}},
					Backends: []config.Backend{{Name: "a", URL: "http://a:8080/mcp", Prefix: "aa_", Timeout: config.Duration(3 * time.Second),
						Tools: &config.ToolFilter{Include: []string{"get_*"}, Exclude: []string{"get_secret"}}}},
				}
				if diff := cmp.Diff(want, *c); diff != "" {
					t.Errorf("config mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "serviceRef resolves to cluster DNS, with and without a path",
			vmcp: minimalVMCP(func(v *vmcpv1alpha1.VirtualMCPServer) {
				v.Spec.Backends = []vmcpv1alpha1.Backend{
					{Name: "a", ServiceRef: &vmcpv1alpha1.ServiceReference{Name: "svc-a", Port: 9000, Path: "/v1/mcp"}},
					{Name: "b", ServiceRef: &vmcpv1alpha1.ServiceReference{Name: "svc-b", Port: 80}},
				}
			}),
			check: func(t *testing.T, r *Rendered) {
				got := []string{r.Config.Backends[0].URL, r.Config.Backends[1].URL}
				want := []string{"http://svc-a.team.svc.cluster.local:9000/v1/mcp", "http://svc-b.team.svc.cluster.local:80/mcp"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("urls (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "secret headers become env vars and never enter the file",
			vmcp: minimalVMCP(func(v *vmcpv1alpha1.VirtualMCPServer) {
				v.Spec.Backends = append(v.Spec.Backends, vmcpv1alpha1.Backend{Name: "my-api", URL: "https://api.example.com/mcp",
					Headers: []vmcpv1alpha1.Header{
						{Name: "Authorization", ValueFrom: secretRef("api-creds", "token")},
						{Name: "X-Tenant", ValueFrom: secretRef("api-creds", "tenant")},
					}})
			}),
			check: func(t *testing.T, r *Rendered) {
				wantHeaders := []config.Header{
					{Name: "Authorization", ValueFrom: config.ValueSource{Env: "VMCP_HEADER_MY_API_0"}},
					{Name: "X-Tenant", ValueFrom: config.ValueSource{Env: "VMCP_HEADER_MY_API_1"}},
				}
				if diff := cmp.Diff(wantHeaders, r.Config.Backends[1].Headers); diff != "" {
					t.Errorf("headers (-want +got):\n%s", diff)
				}
				if len(r.Env) != 2 || r.Env[0].Name != "VMCP_HEADER_MY_API_0" || r.Env[0].ValueFrom.SecretKeyRef.Key != "token" ||
					r.Env[1].ValueFrom.SecretKeyRef.Name != "api-creds" {
					t.Errorf("env = %+v", r.Env)
				}
				if strings.Contains(string(r.YAML), "api-creds") || strings.Contains(string(r.YAML), "token") {
					t.Errorf("rendered file mentions the secret:\n%s", r.YAML)
				}
			},
		},
		{
			name: "the rendered file parses back to the same config",
			vmcp: minimalVMCP(func(v *vmcpv1alpha1.VirtualMCPServer) {
				v.Spec.ConflictResolution = vmcpv1alpha1.ConflictResolutionSpec{Strategy: vmcpv1alpha1.ConflictStrategyPriority,
					PriorityOrder: []string{"a"}}
			}),
			check: func(t *testing.T, r *Rendered) {
				parsed, err := config.Parse(r.YAML)
				if err != nil {
					t.Fatalf("parse rendered file: %v", err)
				}
				if diff := cmp.Diff(r.Config, parsed); diff != "" {
					t.Errorf("round trip (-rendered +parsed):\n%s", diff)
				}
			},
		},
		{
			name: "a spec the API server would refuse fails to render with the field named",
			vmcp: minimalVMCP(func(v *vmcpv1alpha1.VirtualMCPServer) {
				v.Spec.HealthCheck.Interval = metav1.Duration{Duration: time.Second}
				v.Spec.HealthCheck.Timeout = metav1.Duration{Duration: 2 * time.Second}
			}),
			wantErr: "healthCheck.timeout: must be shorter than healthCheck.interval",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(tt.vmcp, DefaultClusterDomain)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Render() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			tt.check(t, r)
		})
	}
}

func secretRef(name, key string) vmcpv1alpha1.HeaderSource {
	return vmcpv1alpha1.HeaderSource{SecretKeyRef: corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
}

func TestURLsFollowTheClusterDomain(t *testing.T) {
	v := minimalVMCP(func(v *vmcpv1alpha1.VirtualMCPServer) {
		v.Spec.Backends = []vmcpv1alpha1.Backend{{Name: "a", ServiceRef: &vmcpv1alpha1.ServiceReference{Name: "svc", Port: 80}}}
	})
	r, err := Render(v, "corp.internal")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Config.Backends[0].URL, "http://svc.team.svc.corp.internal:80/mcp"; got != want {
		t.Errorf("backend url = %q, want %q", got, want)
	}
	if got, want := ServiceURL(v, "corp.internal"), "http://tools.team.svc.corp.internal:8080/mcp"; got != want {
		t.Errorf("service url = %q, want %q", got, want)
	}
}

func TestHeaderEnvName(t *testing.T) {
	tests := []struct {
		backend string
		i       int
		want    string
	}{
		{"github", 0, "VMCP_HEADER_GITHUB_0"},
		{"my-api", 3, "VMCP_HEADER_MY_API_3"},
		{"a1-b2-c3", 10, "VMCP_HEADER_A1_B2_C3_10"},
	}
	for _, tt := range tests {
		if got := HeaderEnvName(tt.backend, tt.i); got != tt.want {
			t.Errorf("HeaderEnvName(%q, %d) = %q, want %q", tt.backend, tt.i, got, tt.want)
		}
	}
}

// TestCRDDefaultsMatchConfigDefaults keeps the +kubebuilder:default markers and the aggregator's
// own defaults in step, so a standalone config and a rendered one behave the same.
func TestCRDDefaultsMatchConfigDefaults(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "vmcp.dev_virtualmcpservers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(data, crd); err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	def := func(path ...string) string {
		s := spec
		for _, p := range path {
			s = s.Properties[p]
		}
		if s.Default == nil {
			t.Fatalf("no default at spec.%s", strings.Join(path, "."))
		}
		return strings.Trim(string(s.Default.Raw), `"`)
	}
	dur := func(d config.Duration) string { return d.String() }
	tests := []struct {
		path []string
		want string
	}{
		{[]string{"failureMode"}, string(config.FailureModeFail)},
		{[]string{"healthCheck", "interval"}, "10s"},
		{[]string{"healthCheck", "timeout"}, "5s"},
		{[]string{"healthCheck", "unhealthyThreshold"}, "3"},
		{[]string{"healthCheck", "degradedLatency"}, "2s"},
		{[]string{"circuitBreaker", "enabled"}, "true"},
		{[]string{"circuitBreaker", "failureThreshold"}, "5"},
		{[]string{"circuitBreaker", "openDuration"}, "30s"},
		{[]string{"circuitBreaker", "maxOpenDuration"}, "5m"},
		{[]string{"circuitBreaker", "halfOpenMaxRequests"}, "1"},
		{[]string{"conflictResolution", "strategy"}, string(config.ConflictStrategyPrefix)},
		{[]string{"conflictResolution", "prefixFormat"}, config.DefaultPrefixFormat},
	}
	// The config package's constants, written the way the CRD writes them.
	configDefaults := map[string]string{
		"healthCheck.interval": dur(config.DefaultHealthInterval), "healthCheck.timeout": dur(config.DefaultHealthTimeout),
		"healthCheck.degradedLatency": dur(config.DefaultDegradedLatency), "circuitBreaker.openDuration": dur(config.DefaultOpenDuration),
		"circuitBreaker.maxOpenDuration": dur(config.DefaultMaxOpenDuration),
	}
	for _, tt := range tests {
		got := def(tt.path...)
		if got != tt.want {
			t.Errorf("CRD default of spec.%s = %q, want %q", strings.Join(tt.path, "."), got, tt.want)
		}
		if cd, ok := configDefaults[strings.Join(tt.path, ".")]; ok {
			parsedCRD, err1 := time.ParseDuration(got)
			parsedCfg, err2 := time.ParseDuration(cd)
			if err1 != nil || err2 != nil || parsedCRD != parsedCfg {
				t.Errorf("spec.%s: CRD default %q differs from config default %q", strings.Join(tt.path, "."), got, cd)
			}
		}
	}
	timeout := spec.Properties["backends"].Items.Schema.Properties["timeout"].Default
	if timeout == nil || strings.Trim(string(timeout.Raw), `"`) != "30s" || config.DefaultBackendTimeout.Std() != 30*time.Second {
		t.Errorf("backend timeout default: CRD %v, config %s", timeout, config.DefaultBackendTimeout)
	}
}
