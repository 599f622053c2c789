// Package app assembles the aggregator from its parts and runs it: one member per configured
// backend (backend session, health monitor and prober, inventory refresher, metrics), the merged
// catalog published to the MCP server (rebuilt when an inventory, an availability or the config
// changes, and rate-limited so a flapping backend cannot flood clients with list_changed), the
// /status document with its version, config reloads that keep unchanged backends' sessions and
// breaker state, and a bounded graceful shutdown.
//
// cmd/vmcp only parses flags and calls Run.
package app
