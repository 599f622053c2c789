// Package harness runs the whole system on one machine without a cluster, the way the e2e
// suite and `make demo` need it: a local control plane (envtest's kube-apiserver and etcd), the
// operator in-process, real MCP backends (bin/mcp-echo) and real aggregator processes (bin/vmcp)
// started from the config the operator rendered, and the EndpointSlices and Deployment status
// that a cluster's controllers would publish for those processes.
//
// The API server refuses loopback addresses in EndpointSlices, so each aggregator process gets a
// pod-like address (10.244.x.y) and a podnet.Network routes connections to that address to the
// process on 127.0.0.1, as a cluster network routes a pod IP to its pod.
package harness
