package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Operator metrics, served with controller-runtime's own on the manager's metrics endpoint.
// They make the status write budget observable: a steady system adds no status patches.
var (
	statusPatches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vmcp_operator_status_patches_total",
		Help: "Status patches written to a VirtualMCPServer.",
	}, []string{"namespace", "name"})
	pollErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vmcp_operator_status_poll_errors_total",
		Help: "Failed /status reads from aggregator replicas of a VirtualMCPServer.",
	}, []string{"namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(statusPatches, pollErrors)
}

// forgetMetrics drops the series of a VirtualMCPServer that no longer exists.
func forgetMetrics(namespace, name string) {
	statusPatches.DeleteLabelValues(namespace, name)
	pollErrors.DeleteLabelValues(namespace, name)
}
