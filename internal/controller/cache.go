package controller

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions restricts the manager's cache to what the operator owns, so that memory grows
// with the number of VirtualMCPServers rather than with the cluster: the owned kinds are cached
// only with the operator's managed-by label, and so are EndpointSlices, onto which the
// EndpointSlice controller copies the labels of their Service. Objects outside the cache are
// read with the API reader when needed (see ensure). An empty namespaces list watches all.
func CacheOptions(namespaces []string) cache.Options {
	owned := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagerName})}
	opts := cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.ConfigMap{}:             owned,
		&corev1.ServiceAccount{}:        owned,
		&corev1.Service{}:               owned,
		&appsv1.Deployment{}:            owned,
		&policyv1.PodDisruptionBudget{}: owned,
		&discoveryv1.EndpointSlice{}:    owned,
	}}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}
