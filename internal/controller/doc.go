// Package controller holds the VirtualMCPServer reconciler: it renders the spec into the
// aggregator's config file, runs the aggregator (ConfigMap, ServiceAccount, Deployment, Service,
// PodDisruptionBudget), and is the only writer of the object's status. Of the aggregator it
// imports only the config contract (to render) and statusapi (to read /status).
package controller
