// Package version holds the build version of the binaries, set at link time with
// -ldflags "-X github.com/vmcp-dev/vmcp-operator/internal/version.Version=...".
package version

import (
	"fmt"
	"runtime"
)

// Version is the release or git description of this build.
var Version = "dev"

// String describes the build for `version` subcommands and startup logs.
func String() string {
	return fmt.Sprintf("%s (%s, %s/%s)", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
