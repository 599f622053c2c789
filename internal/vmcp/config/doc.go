// Package config is the aggregator's configuration file: its Go types, loading with strict
// field checking, defaults and validation. It is the contract between the operator, which
// renders a VirtualMCPServer spec into this file, and the aggregator, which runs from it.
// It must stay free of Kubernetes client libraries: the aggregator imports it.
package config
