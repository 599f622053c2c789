// Package metrics holds the aggregator's Prometheus metrics (names as in DESIGN §7) on a
// registry of its own, served at the admin port's /metrics. Per-backend handles cache their
// label lookups so that recording a call costs a few map reads, and a backend removed by a
// config reload takes its series with it.
package metrics
