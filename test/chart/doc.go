// Package chart tests the operator's packaging: the Helm chart in charts/vmcp-operator and the
// kustomize install in config/default.
//
// It renders both (helm template, kubectl kustomize), applies the result with
// `kubectl apply --dry-run=server` to a real envtest API server, compares the chart's RBAC with the
// ClusterRole controller-gen generates (config/rbac/role.yaml), rejects wildcard rules, and checks
// every rendered workload against the restricted Pod Security Standard, both field by field and
// through the API server's own PodSecurity admission. It installs, upgrades and uninstalls the chart
// with helm, and runs the real manager binary as the installed ServiceAccount with only the installed
// RBAC, so that a missing rule shows up as a failed reconcile or an RBAC denial in its log.
//
// Run it with `make test-chart`, which builds helm and the envtest binaries first. Without a helm
// binary (HELM or bin/helm) or envtest binaries (KUBEBUILDER_ASSETS or bin/k8s), the tests skip.
package chart
