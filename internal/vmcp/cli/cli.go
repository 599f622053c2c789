package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmcp-dev/vmcp-operator/internal/version"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/app"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/reload"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/server"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

const usage = `vmcp is the virtual MCP server: one MCP endpoint in front of many MCP servers.

Usage:
  vmcp serve --config FILE [--listen ADDR] [--admin-listen ADDR] [--log-level LEVEL]
             [--shutdown-delay D] [--shutdown-timeout D] [--reload-interval D] [--pprof]
  vmcp validate --config FILE
  vmcp version

Run "vmcp COMMAND -h" for a command's flags.
`

// Main runs the command in args (without the program name) and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printf(stderr, "%s", usage)
		return ExitUsage
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "version", "--version":
		printf(stdout, "%s\n", version.String())
		return ExitOK
	case "help", "-h", "--help":
		printf(stdout, "%s", usage)
		return ExitOK
	default:
		printf(stderr, "vmcp: unknown command %q\n\n%s", args[0], usage)
		return ExitUsage
	}
}

// load reads and validates the config, printing every problem.
func load(path string, stderr io.Writer) (*config.Config, []byte, bool) {
	if path == "" {
		printf(stderr, "vmcp: --config is required\n")
		return nil, nil, false
	}
	data, err := os.ReadFile(path)
	if err == nil {
		var c *config.Config
		if c, err = config.Parse(data); err == nil {
			return c, data, true
		}
	}
	printf(stderr, "vmcp: %s: %v\n", path, err)
	return nil, nil, false
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "aggregator config file (YAML)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	c, _, ok := load(*path, stderr)
	if !ok {
		return ExitError
	}
	printf(stdout, "%s: valid (%d backends, failureMode %s, conflict strategy %s)\n",
		*path, len(c.Backends), c.FailureMode, c.ConflictResolution.Strategy)
	return ExitOK
}

func serve(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "aggregator config file (YAML); reloaded when it changes")
	listen := fs.String("listen", "", "MCP listen address (overrides the file's listen)")
	adminListen := fs.String("admin-listen", "", "admin listen address (overrides the file's adminListen)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	shutdownDelay := fs.Duration("shutdown-delay", app.DefaultShutdownDelay,
		"on SIGTERM, how long to keep serving with /readyz answering 503 before refusing new connections (0 disables)")
	shutdownTimeout := fs.Duration("shutdown-timeout", app.DefaultDrainTimeout, "how long in-flight calls may take to finish on SIGTERM")
	reloadInterval := fs.Duration("reload-interval", reload.DefaultInterval, "how often the config file is checked for changes")
	profiling := fs.Bool("pprof", false, "serve net/http/pprof at /debug/pprof/ on the admin port")
	maxClientSessions := fs.Int("max-client-sessions", server.DefaultMaxClientSessions,
		"per backend, how many clients that declared sampling, elicitation or roots get a backend session of their own")
	resumable := fs.Bool("resumable-streams", false, "keep clients' stream events in memory so clients can resume broken streams (Last-Event-ID)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *shutdownDelay < 0 {
		printf(stderr, "vmcp: --shutdown-delay must not be negative\n")
		return ExitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		printf(stderr, "vmcp: --log-level: %v\n", err)
		return ExitUsage
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	c, data, ok := load(*path, stderr)
	if !ok {
		return ExitError
	}
	// The flags win over the file, for the initial config and every reload.
	override := func(c *config.Config) {
		if *listen != "" {
			c.Listen = *listen
		}
		if *adminListen != "" {
			c.AdminListen = *adminListen
		}
	}
	override(c)
	if err := c.Validate(); err != nil {
		printf(stderr, "vmcp: flags: %v\n", err)
		return ExitError
	}
	a, err := app.New(app.Options{
		Config: c, ConfigPath: *path, ConfigHash: reload.Hash(data), ReloadInterval: *reloadInterval,
		Logger: logger, DrainTimeout: *shutdownTimeout, ShutdownDelay: *shutdownDelay, Override: override, Profiling: *profiling,
		MaxClientSessions: *maxClientSessions, ResumableStreams: *resumable,
	})
	if err != nil {
		printf(stderr, "vmcp: %v\n", err)
		return ExitError
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// A second signal during the graceful shutdown ends the process at once.
	context.AfterFunc(ctx, stop)
	if err := a.Run(ctx); err != nil {
		logger.Error("Aggregator stopped", "error", err)
		return ExitError
	}
	return ExitOK
}

// printf writes command output; a failed write to the terminal is nothing to act on.
func printf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}
