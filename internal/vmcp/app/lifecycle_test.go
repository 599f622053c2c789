package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/app"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/reload"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

// TestReloadAddsAndRemovesBackends keeps one client session open while the config file changes:
// a backend is added, one removed, one kept with its session and breaker state.
func TestReloadAddsAndRemovesBackends(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{})
	b := backendNamed(t, "b", mcpecho.Options{})
	c := backendNamed(t, "c", mcpecho.Options{})
	h := start(t, testConfig(a, b), a, b)
	cl := h.mustConnect()
	cl.waitTools(t, "a_echo", "b_echo")
	v1 := h.status().Version

	// a accumulates failures that must survive the reload.
	a.SetFault(mcpecho.Fault{Mode: mcpecho.Fail})
	cl.call(t, "a_echo")
	a.SetFault(mcpecho.Fault{})
	if got := h.backendStatus("a").ConsecutiveFailures; got != 1 {
		t.Fatalf("a has %d consecutive failures", got)
	}
	sessionsOfA := a.Sessions()

	next := testConfig(a, c)
	next.FailureMode = config.FailureModeStrict
	data := h.writeConfig(next)
	h.step(2 * time.Second) // the reload poll
	h.eventually(func(st statusapi.Status) error {
		if st.ConfigHash != reload.Hash(data) || len(st.Backends) != 2 || st.Backends[1].Name != "c" {
			return fmt.Errorf("config %s with %d backends", st.ConfigHash, len(st.Backends))
		}
		return nil
	})
	cl.waitToolsChanged(t)
	cl.waitTools(t, "a_echo", "c_echo")

	if got := text(cl.call(t, "c_echo")); got != "c/echo: hi" {
		t.Fatalf("new backend answered %q", got)
	}
	if _, err := cl.CallTool(t.Context(), mapArgs("b_echo")); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Fatalf("removed backend's tool: err = %v, want unknown tool", err)
	}
	st := h.status()
	if st.Version <= v1 || st.FailureMode != string(config.FailureModeStrict) {
		t.Fatalf("status after reload: version %d (was %d), failureMode %s", st.Version, v1, st.FailureMode)
	}
	if got := h.backendStatus("a").ConsecutiveFailures; got != 1 {
		t.Fatalf("a's state was reset by the reload (%d consecutive failures)", got)
	}
	if got := text(cl.call(t, "a_echo")); got != "a/echo: hi" {
		t.Fatalf("a answered %q", got)
	}
	if a.Sessions() != sessionsOfA {
		t.Fatalf("a's session was replaced (%d → %d sessions)", sessionsOfA, a.Sessions())
	}
	poll.Until(t, waitFor, func() error {
		if n := b.Sessions(); n != 0 {
			return fmt.Errorf("removed backend still holds %d sessions", n)
		}
		return nil
	})

	// An invalid config is ignored: the aggregator keeps running the last valid one.
	h.writeConfig(&config.Config{Listen: "nope"})
	h.step(2 * time.Second)
	h.step(2 * time.Second)
	if st := h.status(); st.ConfigHash != reload.Hash(data) {
		t.Fatal("an invalid config replaced the running one")
	}
	if got := text(cl.call(t, "c_echo")); got != "c/echo: hi" {
		t.Fatalf("after an invalid reload c answered %q", got)
	}
}

// TestReloadTurningTheBreakerOffWhileOpen opens a circuit, then reloads with the breaker off:
// the backend must not stay Unhealthy/CircuitOpen forever; successful probes heal it and its
// tools are listed again.
func TestReloadTurningTheBreakerOffWhileOpen(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{})
	h := start(t, testConfig(a), a)
	cl := h.mustConnect()
	cl.waitTools(t, "a_echo")
	a.SetFault(mcpecho.Fault{Mode: mcpecho.Fail})
	for range 3 {
		cl.call(t, "a_echo")
	}
	h.waitBackend("a", statusapi.HealthUnhealthy, statusapi.CircuitOpen)
	a.SetFault(mcpecho.Fault{})

	next := testConfig(a)
	off := false
	next.CircuitBreaker.Enabled = &off
	data := h.writeConfig(next)
	h.step(2 * time.Second) // the reload poll
	h.eventually(func(st statusapi.Status) error {
		if st.ConfigHash != reload.Hash(data) {
			return fmt.Errorf("config %s not applied", st.ConfigHash)
		}
		return nil
	})
	h.waitBackend("a", statusapi.HealthUnhealthy, statusapi.CircuitClosed)
	h.step(10 * time.Second) // the next probe succeeds
	h.waitBackend("a", statusapi.HealthDegraded, statusapi.CircuitClosed)
	cl.waitTools(t, "a_echo")
	h.step(10 * time.Second)
	h.waitBackend("a", statusapi.HealthHealthy, statusapi.CircuitClosed)
	if got := text(cl.call(t, "a_echo")); got != "a/echo: hi" {
		t.Fatalf("a answered %q", got)
	}
}

// TestBackendListChanged checks that a backend's tools/list_changed reaches clients.
func TestBackendListChanged(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{})
	h := start(t, testConfig(a), a)
	cl := h.mustConnect()
	cl.waitTools(t, "a_echo")
	a.SetTools([]string{"echo", "added"})
	cl.waitToolsChanged(t)
	cl.waitTools(t, "a_added", "a_echo")
	if b := h.backendStatus("a"); b.Tools != 2 {
		t.Fatalf("status counts %d tools", b.Tools)
	}
}

// TestProgressAndCancellationPassThrough checks that a backend's progress notifications reach
// the calling client with the client's own token, and that the client's cancellation reaches
// the backend, over the shared session and over a client's own.
func TestProgressAndCancellationPassThrough(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{TestTools: true})
	h := start(t, testConfig(a), a)
	h.mustConnect().waitTools(t, "a_echo", "a_is_error", "a_progress", "a_rpc_error", "a_sleep")
	clients := []struct {
		name string
		caps *mcp.ClientCapabilities
	}{
		{"shared session", &mcp.ClientCapabilities{}},
		{"own session", nil}, // the SDK's default declares roots
	}
	for i, tt := range clients {
		t.Run(tt.name, func(t *testing.T) {
			progressAndCancellation(t, h, a, tt.caps, int64(i+1))
		})
	}
}

func progressAndCancellation(t *testing.T, h *harness, a *mcpecho.Server, caps *mcp.ClientCapabilities, wantCancelled int64) {
	t.Helper()
	var mu sync.Mutex
	var got []*mcp.ProgressNotificationParams
	cl := mcp.NewClient(&mcp.Implementation{Name: "progress-client"}, &mcp.ClientOptions{
		Capabilities: caps,
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, r.Params)
		},
	})
	cs, err := cl.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: h.url()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cs.Close() }()
	params := &mcp.CallToolParams{Name: "a_progress", Arguments: map[string]any{}}
	params.SetProgressToken("client-token-1")
	if _, err := cs.CallTool(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, waitFor, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 3 {
			return fmt.Errorf("%d progress notifications", len(got))
		}
		return nil
	})
	mu.Lock()
	for i, p := range got {
		if p.ProgressToken != "client-token-1" || p.Progress != float64(i+1) || p.Total != 3 {
			t.Errorf("progress %d = %+v", i, p)
		}
	}
	mu.Unlock()

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "a_sleep", Arguments: map[string]any{"ms": 60000}})
		errc <- err
	}()
	calls := a.Calls()
	poll.Until(t, waitFor, func() error {
		if a.Calls() == calls {
			return fmt.Errorf("sleep not started")
		}
		return nil
	})
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled call succeeded")
	}
	poll.Until(t, waitFor, func() error {
		if a.Cancelled() != wantCancelled {
			return fmt.Errorf("backend saw %d cancellations", a.Cancelled())
		}
		return nil
	})
	if b := h.backendStatus("a"); b.ConsecutiveFailures != 0 || b.Health != statusapi.HealthHealthy {
		t.Fatalf("a cancelled call counted against the backend: %+v", b)
	}
}

// TestStatusDocument checks the /status fields the operator relies on.
func TestStatusDocument(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{Tools: mcpecho.ToolNames(3), Prompts: []string{"p"}})
	b := backendNamed(t, "b", mcpecho.Options{})
	b.Stop()
	cfg := testConfig(a, b)
	cfg.HealthCheck.UnhealthyThreshold = 1
	h := start(t, cfg, a, b)
	h.eventually(func(st statusapi.Status) error { // a's tools are listed once fetched
		if st.Summary.Tools != 3 {
			return fmt.Errorf("%d tools", st.Summary.Tools)
		}
		return nil
	})
	st := h.status()
	if st.Version == 0 || st.ConfigHash == "" || st.FailureMode != "Fail" {
		t.Fatalf("header = version %d, hash %q, mode %q", st.Version, st.ConfigHash, st.FailureMode)
	}
	want := statusapi.Summary{Backends: 2, Available: 1, Tools: 3}
	if st.Summary != want {
		t.Fatalf("summary = %+v, want %+v", st.Summary, want)
	}
	sa, sb := st.Backends[0], st.Backends[1]
	if sa.Name != "a" || sa.URL != a.URL() || sa.Health != statusapi.HealthHealthy || sa.Circuit != statusapi.CircuitClosed ||
		sa.Reason != statusapi.ReasonHealthy || sa.Tools != 3 || sa.Prompts != 1 || !sa.Since.Equal(epoch) {
		t.Errorf("a = %+v", sa)
	}
	if sb.Health != statusapi.HealthUnhealthy || sb.Reason != statusapi.ReasonConnectionFailed || sb.Message == "" ||
		len(sb.Message) > statusapi.MaxMessageLength || sb.ConsecutiveFailures != 1 || sb.Tools != 0 {
		t.Errorf("b = %+v", sb)
	}
	// The version only moves when something changes.
	if again := h.status(); again.Version != st.Version {
		t.Errorf("version moved from %d to %d without a change", st.Version, again.Version)
	}
}

// TestGracefulShutdown cancels the aggregator while a call is in flight: the call completes,
// then Run returns.
func TestGracefulShutdown(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{TestTools: true})
	h := start(t, testConfig(a), a)
	h.eventually(func(st statusapi.Status) error {
		if st.Summary.Tools != 5 {
			return fmt.Errorf("%d tools listed", st.Summary.Tools)
		}
		return nil
	})
	// A client with the SDK's default transport, which (unlike the harness's) resumes a broken
	// stream: the session ends when the aggregator closes it after the drain, and the client
	// must have its answer by then.
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c"}, nil).Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: h.url()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "a_sleep", Arguments: map[string]any{"ms": 300}})
		if err == nil && text(res) != "slept" {
			err = fmt.Errorf("result %q", text(res))
		}
		errc <- err
	}()
	calls := a.Calls()
	poll.Until(t, waitFor, func() error {
		if a.Calls() == calls {
			return fmt.Errorf("sleep not started")
		}
		return nil
	})
	h.cancel()
	if err := <-errc; err != nil {
		t.Fatalf("in-flight call during shutdown: %v", err)
	}
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
	case <-time.After(waitFor):
		t.Fatal("Run did not return")
	}
	poll.Until(t, waitFor, func() error {
		if n := a.Sessions(); n != 0 {
			return fmt.Errorf("backend still holds %d sessions", n)
		}
		return nil
	})
}

// TestShutdownDelayKeepsServing checks the rollout sequence: once Run's context is done,
// /readyz answers 503 at once while the MCP endpoint keeps serving new connections for the
// shutdown delay (Kubernetes removes the endpoint asynchronously); only then does the
// aggregator stop accepting and exit.
func TestShutdownDelayKeepsServing(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{})
	h := startWith(t, testConfig(a), func(o *app.Options) { o.ShutdownDelay = 5 * time.Second }, a)
	h.mustConnect().waitTools(t, "a_echo")
	if code := h.readyz(); code != http.StatusOK {
		t.Fatalf("readyz = %d before shutdown", code)
	}

	h.cancel()
	poll.Until(t, waitFor, func() error {
		if code := h.readyz(); code != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz = %d after SIGTERM, want 503", code)
		}
		return nil
	})
	// A client that connects now (its endpoint list is not updated yet) is served.
	late, err := h.connect()
	if err != nil {
		t.Fatalf("a new client during the shutdown delay was refused: %v", err)
	}
	if got := text(late.call(t, "a_echo")); got != "a/echo: hi" {
		t.Fatalf("a call during the shutdown delay answered %q", got)
	}
	select {
	case err := <-h.done:
		t.Fatalf("Run returned before the shutdown delay passed: %v", err)
	default:
	}

	// The delay is measured on the clock: one more timer than the probers and the reload poller.
	poll.Until(t, waitFor, func() error {
		if got := h.clock.Waiters(); got != 3 {
			return fmt.Errorf("%d waiters on the clock, want 3", got)
		}
		return nil
	})
	h.clock.Step(5 * time.Second)
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
	case <-time.After(waitFor):
		t.Fatal("Run did not return after the shutdown delay")
	}
	if _, err := h.connect(); err == nil {
		t.Fatal("a new client was served after the shutdown")
	}
}
