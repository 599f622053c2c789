package controller

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// ConfigFileName is the key of the rendered config in the ConfigMap and the file name in the pod.
const ConfigFileName = "config.yaml"

// DefaultClusterDomain is the cluster's DNS suffix unless the manager is told otherwise
// (--cluster-domain); it builds the URLs of serviceRef backends and status.url.
const DefaultClusterDomain = "cluster.local"

// Rendered is what the operator derives from a spec: the aggregator config file (no secret
// values) and the environment variables that carry secret-backed header values into the pod.
type Rendered struct {
	Config *config.Config
	YAML   []byte
	Env    []corev1.EnvVar
}

// Render maps a VirtualMCPServer spec onto the aggregator config file. The mapping is
// near-identity by design: both use the same field names. Header values never enter the file;
// each becomes an env var sourced from its Secret, and the file references the env var.
func Render(v *vmcpv1alpha1.VirtualMCPServer, clusterDomain string) (*Rendered, error) {
	s := &v.Spec
	cfg := &config.Config{
		Listen:      fmt.Sprintf("0.0.0.0:%d", statusapi.DefaultMCPPort),
		AdminListen: fmt.Sprintf("0.0.0.0:%d", statusapi.DefaultAdminPort),
		FailureMode: config.FailureMode(s.FailureMode),
		HealthCheck: config.HealthCheck{
			Interval:           duration(&s.HealthCheck.Interval),
			Timeout:            duration(&s.HealthCheck.Timeout),
			UnhealthyThreshold: int(s.HealthCheck.UnhealthyThreshold),
			DegradedLatency:    duration(&s.HealthCheck.DegradedLatency),
		},
		CircuitBreaker: config.CircuitBreaker{
			Enabled:             s.CircuitBreaker.Enabled,
			FailureThreshold:    int(s.CircuitBreaker.FailureThreshold),
			FailureRatePercent:  int(ptr.Deref(s.CircuitBreaker.FailureRatePercent, 0)),
			MinimumRequests:     int(ptr.Deref(s.CircuitBreaker.MinimumRequests, 0)),
			Window:              duration(s.CircuitBreaker.Window),
			OpenDuration:        duration(&s.CircuitBreaker.OpenDuration),
			MaxOpenDuration:     duration(&s.CircuitBreaker.MaxOpenDuration),
			HalfOpenMaxRequests: int(s.CircuitBreaker.HalfOpenMaxRequests),
		},
		ConflictResolution: config.ConflictResolution{
			Strategy:      config.ConflictStrategy(s.ConflictResolution.Strategy),
			PrefixFormat:  s.ConflictResolution.PrefixFormat,
			PriorityOrder: s.ConflictResolution.PriorityOrder,
		},
	}
	for _, o := range s.ConflictResolution.Overrides {
		cfg.ConflictResolution.Overrides = append(cfg.ConflictResolution.Overrides,
			config.ToolOverride{Backend: o.Backend, Tool: o.Tool, Name: o.Name})
	}

	var env []corev1.EnvVar
	for _, b := range s.Backends {
		cb := config.Backend{
			Name:    b.Name,
			URL:     BackendURL(v.Namespace, b, clusterDomain),
			Prefix:  b.Prefix,
			Timeout: duration(b.Timeout),
		}
		if b.Tools != nil {
			cb.Tools = &config.ToolFilter{Include: b.Tools.Include, Exclude: b.Tools.Exclude}
		}
		for i, h := range b.Headers {
			name := HeaderEnvName(b.Name, i)
			cb.Headers = append(cb.Headers, config.Header{Name: h.Name, ValueFrom: config.ValueSource{Env: name}})
			ref := h.ValueFrom.SecretKeyRef
			env = append(env, corev1.EnvVar{
				Name:      name,
				ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &ref},
			})
		}
		cfg.Backends = append(cfg.Backends, cb)
	}

	// Fill what the API server did not default (e.g. objects created before a default was
	// added), then check the result the way the aggregator will.
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	data, err := config.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	return &Rendered{Config: cfg, YAML: data, Env: env}, nil
}

// BackendURL is the URL the aggregator uses for a backend: its url, or the in-cluster DNS name
// of its serviceRef.
func BackendURL(namespace string, b vmcpv1alpha1.Backend, clusterDomain string) string {
	if b.ServiceRef == nil {
		return b.URL
	}
	path := b.ServiceRef.Path
	if path == "" {
		path = statusapi.PathMCP
	}
	return fmt.Sprintf("http://%s.%s.svc.%s:%d%s", b.ServiceRef.Name, namespace, clusterDomain, b.ServiceRef.Port, path)
}

// ServiceURL is the in-cluster MCP endpoint of a VirtualMCPServer.
func ServiceURL(v *vmcpv1alpha1.VirtualMCPServer, clusterDomain string) string {
	return fmt.Sprintf("http://%s.%s.svc.%s:%d%s", v.Name, v.Namespace, clusterDomain, servicePort(v), statusapi.PathMCP)
}

// HeaderEnvName is the environment variable that carries header i of a backend. Backend names
// are DNS labels, so mapping '-' to '_' cannot make two backends collide.
func HeaderEnvName(backend string, i int) string {
	return "VMCP_HEADER_" + strings.ToUpper(strings.ReplaceAll(backend, "-", "_")) + "_" + strconv.Itoa(i)
}

func servicePort(v *vmcpv1alpha1.VirtualMCPServer) int32 {
	if v.Spec.Service.Port != 0 {
		return v.Spec.Service.Port
	}
	return statusapi.DefaultMCPPort
}

func duration(d *metav1.Duration) config.Duration {
	if d == nil {
		return 0
	}
	return config.Duration(d.Duration)
}
