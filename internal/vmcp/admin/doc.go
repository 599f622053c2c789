// Package admin serves the aggregator's admin endpoints on their own port: /healthz (the
// process is alive), /readyz (the config is loaded and the MCP listener is up; deliberately
// independent of backend health, so a pod with failing backends keeps serving the others),
// /status (the statusapi.Status document the operator polls) and /metrics.
package admin
