// Command vmcp is the virtual MCP server (aggregator). See internal/vmcp/cli for its commands.
package main

import (
	"os"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
