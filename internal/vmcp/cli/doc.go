// Package cli is the vmcp command line: "vmcp serve", "vmcp validate" and "vmcp version".
// cmd/vmcp's main only calls Main, so the commands are testable in-process.
package cli
