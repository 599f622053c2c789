package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/app"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/reload"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

// waitFor bounds every wait on real I/O. It is generous because CI machines are small and busy
// (listing 10,000 tools under -race on two loaded cores once took more than 10s); a passing test
// never waits this long.
const waitFor = 30 * time.Second

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// harness runs an aggregator against fixture backends on 127.0.0.1, with a fake clock driving
// probes, breakers and reloads.
type harness struct {
	t        *testing.T
	app      *app.App
	clock    *clocktesting.FakeClock
	backends map[string]*mcpecho.Server
	path     string
	done     chan error
	cancel   context.CancelFunc
}

// testConfig is a config for the given backends with short, test-friendly settings.
func testConfig(backends ...*mcpecho.Server) *config.Config {
	c := &config.Config{
		Listen:      "127.0.0.1:0",
		AdminListen: "localhost:0",
		HealthCheck: config.HealthCheck{Interval: config.Duration(10 * time.Second), Timeout: config.Duration(2 * time.Second), UnhealthyThreshold: 3},
		CircuitBreaker: config.CircuitBreaker{
			FailureThreshold: 3, OpenDuration: config.Duration(30 * time.Second), MaxOpenDuration: config.Duration(5 * time.Minute),
		},
	}
	for _, b := range backends {
		c.Backends = append(c.Backends, config.Backend{Name: b.Name(), URL: b.URL(), Timeout: config.Duration(2 * time.Second)})
	}
	c.Default()
	return c
}

func backendNamed(t *testing.T, name string, opts mcpecho.Options) *mcpecho.Server {
	opts.Name = name
	return mcpecho.Start(t, opts)
}

// start runs the aggregator from cfg (written to a file, so reloads can be tested) and waits
// until every backend's first probe has settled.
func start(t *testing.T, cfg *config.Config, backends ...*mcpecho.Server) *harness {
	t.Helper()
	return startWith(t, cfg, nil, backends...)
}

// startWith is start with app options adjusted by tweak.
func startWith(t *testing.T, cfg *config.Config, tweak func(*app.Options), backends ...*mcpecho.Server) *harness {
	t.Helper()
	h := &harness{t: t, clock: clocktesting.NewFakeClock(epoch), backends: map[string]*mcpecho.Server{}, done: make(chan error, 1)}
	for _, b := range backends {
		h.backends[b.Name()] = b
	}
	h.path = filepath.Join(t.TempDir(), "vmcp.yaml")
	data := h.writeConfig(cfg)
	opts := app.Options{
		Config: cfg, ConfigPath: h.path, ConfigHash: reload.Hash(data), ReloadInterval: 2 * time.Second,
		Clock: h.clock, CatalogInterval: -1, DrainTimeout: 5 * time.Second,
		Rand: func() float64 { return 0.5 }, // no jitter
	}
	if tweak != nil {
		tweak(&opts)
	}
	a, err := app.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.app = a
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- a.Run(ctx) }()
	select {
	case <-a.Started():
	case err := <-h.done:
		t.Fatalf("aggregator exited: %v", err)
	case <-time.After(waitFor):
		t.Fatal("aggregator did not start")
	}
	t.Cleanup(h.stop)
	h.waitSettled()
	return h
}

func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(waitFor):
		h.t.Error("aggregator did not shut down")
	}
}

func (h *harness) writeConfig(cfg *config.Config) []byte {
	h.t.Helper()
	data, err := config.Marshal(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.path, data, 0o600); err != nil {
		h.t.Fatal(err)
	}
	return data
}

// waitSettled waits until no backend is Unknown for want of a first probe.
func (h *harness) waitSettled() {
	h.t.Helper()
	h.eventually(func(st statusapi.Status) error {
		for _, b := range st.Backends {
			if b.Reason == statusapi.ReasonNotYetProbed {
				return fmt.Errorf("%s not probed yet", b.Name)
			}
		}
		return nil
	})
}

// eventually polls /status (over HTTP, as the operator does) until check passes.
func (h *harness) eventually(check func(statusapi.Status) error) {
	h.t.Helper()
	poll.Until(h.t, waitFor, func() error { return check(h.status()) })
}

func (h *harness) status() statusapi.Status {
	h.t.Helper()
	resp, err := http.Get("http://" + h.app.AdminAddr() + statusapi.PathStatus)
	if err != nil {
		h.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var st statusapi.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

// readyz answers /readyz's status code.
func (h *harness) readyz() int {
	h.t.Helper()
	resp, err := http.Get("http://" + h.app.AdminAddr() + statusapi.PathReadyz)
	if err != nil {
		h.t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) backendStatus(name string) statusapi.Backend {
	h.t.Helper()
	for _, b := range h.status().Backends {
		if b.Name == name {
			return b
		}
	}
	h.t.Fatalf("no backend %q in /status", name)
	return statusapi.Backend{}
}

// waitBackend waits until a backend reaches a health and circuit.
func (h *harness) waitBackend(name string, health statusapi.Health, circuit statusapi.Circuit) {
	h.t.Helper()
	h.eventually(func(st statusapi.Status) error {
		for _, b := range st.Backends {
			if b.Name == name && (b.Health != health || b.Circuit != circuit) {
				return fmt.Errorf("%s is %s/%s (%s: %s), want %s/%s", name, b.Health, b.Circuit, b.Reason, b.Message, health, circuit)
			}
		}
		return nil
	})
}

// step advances the fake clock once every prober is parked on it: one timer per backend plus
// the reload poller's ticker. A prober that is busy (a probe kicked by a lost session, say)
// would otherwise miss the step.
func (h *harness) step(d time.Duration) {
	h.t.Helper()
	poll.Until(h.t, waitFor, func() error {
		want := len(h.status().Backends) + 1
		if got := h.clock.Waiters(); got != want {
			return fmt.Errorf("%d waiters on the clock, want %d", got, want)
		}
		return nil
	})
	h.clock.Step(d)
}

func (h *harness) url() string { return "http://" + h.app.MCPAddr() + statusapi.PathMCP }

// client is an MCP client session of the aggregator that records list_changed notifications.
type client struct {
	*mcp.ClientSession
	toolsChanged chan struct{}
}

func (h *harness) connect() (*client, error) {
	c := &client{toolsChanged: make(chan struct{}, 64)}
	cl := mcp.NewClient(&mcp.Implementation{Name: "test-client"}, &mcp.ClientOptions{
		// A plain client (the SDK's default declares roots): its calls use the shared sessions.
		Capabilities:           &mcp.ClientCapabilities{},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { c.toolsChanged <- struct{}{} },
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cs, err := cl.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url(), MaxRetries: -1}, nil)
	if err != nil {
		return nil, err
	}
	h.t.Cleanup(func() { _ = cs.Close() })
	c.ClientSession = cs
	return c, nil
}

func (h *harness) mustConnect() *client {
	h.t.Helper()
	c, err := h.connect()
	if err != nil {
		h.t.Fatalf("connect: %v", err)
	}
	return c
}

func (c *client) listTools() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var names []string
	for tool, err := range c.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names, nil
}

// call calls a tool with text "hi" and returns the result.
func (c *client) call(t *testing.T, tool string) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	res, err := c.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hi"}})
	if err != nil {
		t.Fatalf("tools/call %s: %v", tool, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// waitToolsChanged waits for a tools/list_changed notification.
func (c *client) waitToolsChanged(t *testing.T) {
	t.Helper()
	select {
	case <-c.toolsChanged:
	case <-time.After(waitFor):
		t.Fatal("no notifications/tools/list_changed")
	}
}

// waitTools waits until the client lists exactly want.
func (c *client) waitTools(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	poll.Until(t, waitFor, func() error {
		got, err := c.listTools()
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("tools = %v, want %v", got, want)
		}
		return nil
	})
}
