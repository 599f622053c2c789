package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/server"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

// TestFailureModes runs the DESIGN §5 table: each failure mode with some and with all backends
// unavailable, for initialize and tools/list.
func TestFailureModes(t *testing.T) {
	tests := []struct {
		mode        config.FailureMode
		down        int // of 2 backends
		wantRefused bool
		wantTools   []string
	}{
		{config.FailureModeFail, 1, false, []string{"a_echo"}},
		{config.FailureModeFail, 2, true, nil},
		{config.FailureModeBestEffort, 1, false, []string{"a_echo"}},
		{config.FailureModeBestEffort, 2, false, []string{}},
		{config.FailureModeStrict, 1, true, nil},
		{config.FailureModeStrict, 2, true, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s with %d of 2 down", tt.mode, tt.down), func(t *testing.T) {
			a := backendNamed(t, "a", mcpecho.Options{})
			b := backendNamed(t, "b", mcpecho.Options{})
			cfg := testConfig(a, b)
			cfg.FailureMode = tt.mode
			cfg.HealthCheck.UnhealthyThreshold = 1
			// Both backends are listed once, so the healthy client session below sees them first.
			h := start(t, cfg, a, b)
			listed := h.mustConnect()
			listed.waitTools(t, "a_echo", "b_echo")

			b.Stop()
			if tt.down == 2 {
				a.Stop()
			}
			h.step(10 * time.Second) // one probe round
			h.eventually(func(st statusapi.Status) error {
				if st.Summary.Available != 2-tt.down {
					return fmt.Errorf("%d available, want %d", st.Summary.Available, 2-tt.down)
				}
				return nil
			})

			_, initErr := h.connect()
			_, listErr := listed.listTools()
			if tt.wantRefused {
				for what, err := range map[string]error{"initialize": initErr, "tools/list": listErr} {
					var we *jsonrpc.Error
					if !errors.As(err, &we) || we.Code != server.CodeNoBackends || !strings.Contains(we.Message, string(tt.mode)) {
						t.Errorf("%s: err = %v, want a JSON-RPC error %d naming the mode", what, err, server.CodeNoBackends)
					}
				}
				return
			}
			if initErr != nil || listErr != nil {
				t.Fatalf("initialize: %v, tools/list: %v; want both served", initErr, listErr)
			}
			listed.waitTools(t, tt.wantTools...)
		})
	}
}

// TestKillBackendDuringTraffic kills a backend while a client calls all three: its calls fail
// (failureThreshold of them), its circuit opens, its tools disappear with a list_changed, calls
// to it fail fast with the typed error, and the others keep working. Restarted, it goes
// half-open, then closed, and its tools come back.
func TestKillBackendDuringTraffic(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{})
	b := backendNamed(t, "b", mcpecho.Options{})
	c := backendNamed(t, "c", mcpecho.Options{})
	cfg := testConfig(a, b, c)
	cfg.HealthCheck.UnhealthyThreshold = 5 // the breaker, not the tracker, takes b out
	h := start(t, cfg, a, b, c)
	cl := h.mustConnect()
	cl.waitTools(t, "a_echo", "b_echo", "c_echo")

	b.Stop()
	// failureThreshold (3) calls reach the dead backend and fail; the third opens the circuit.
	for i := range cfg.CircuitBreaker.FailureThreshold {
		res := cl.call(t, "b_echo")
		berr, ok := server.FromToolResult(res)
		if !ok || berr.Unavailable || berr.Backend != "b" {
			t.Fatalf("failed call %d = %q (%+v), want a BackendFailed result naming b", i+1, text(res), berr)
		}
		if got := text(cl.call(t, "a_echo")); got != "a/echo: hi" {
			t.Fatalf("a answered %q while b was failing", got)
		}
	}
	h.waitBackend("b", statusapi.HealthUnhealthy, statusapi.CircuitOpen)
	cl.waitToolsChanged(t)
	cl.waitTools(t, "a_echo", "c_echo")

	// Calls to b now fail fast with the typed error and a retry hint; the others still work.
	res := cl.call(t, "b_echo")
	berr, ok := server.FromToolResult(res)
	if !ok || !errors.Is(berr, server.ErrBackendUnavailable) || berr.Circuit != statusapi.CircuitOpen || berr.RetryAfter != 30*time.Second {
		t.Fatalf("call to an open circuit = %q (%+v), want BackendUnavailable, Open, retry after 30s", text(res), berr)
	}
	if !strings.Contains(text(res), `backend "b" is unavailable`) || !strings.Contains(text(res), "circuit Open") {
		t.Fatalf("error text %q does not name the backend and its state", text(res))
	}
	if got := text(cl.call(t, "c_echo")); got != "c/echo: hi" {
		t.Fatalf("c answered %q", got)
	}
	st := h.status()
	if st.Summary.OpenCircuits != 1 || st.Summary.Available != 2 || st.Summary.Tools != 2 {
		t.Fatalf("summary = %+v", st.Summary)
	}

	// Restart b; once the open duration is over, the prober's half-open probe closes the circuit.
	if err := b.Start(""); err != nil {
		t.Fatal(err)
	}
	h.step(30 * time.Second)
	h.waitBackend("b", statusapi.HealthDegraded, statusapi.CircuitClosed)
	cl.waitTools(t, "a_echo", "b_echo", "c_echo")
	if got := text(cl.call(t, "b_echo")); got != "b/echo: hi" {
		t.Fatalf("b answered %q after recovering", got)
	}
	h.step(10 * time.Second)
	h.waitBackend("b", statusapi.HealthHealthy, statusapi.CircuitClosed)

	got := transitions(t, h, "b")
	want := map[string]float64{"Closed->Open": 1, "Open->HalfOpen": 1, "HalfOpen->Closed": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("vmcp_circuit_transitions_total{backend=b,%s} = %v, want %v", k, got[k], v)
		}
	}
}

// TestOpenCircuitRejectsWithoutNetwork checks that rejected calls never reach the backend.
func TestOpenCircuitRejectsWithoutNetwork(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{Prompts: []string{"p"}, Resources: []string{"echo://a/r"}})
	h := start(t, testConfig(a), a)
	cl := h.mustConnect()
	cl.waitTools(t, "a_echo")
	a.SetFault(mcpecho.Fault{Mode: mcpecho.Fail})
	for range 3 {
		cl.call(t, "a_echo")
	}
	h.waitBackend("a", statusapi.HealthUnhealthy, statusapi.CircuitOpen)
	before := a.Requests()
	for range 20 {
		if _, ok := server.FromToolResult(cl.call(t, "a_echo")); !ok {
			t.Fatal("no typed error")
		}
	}
	ctx := context.Background()
	_, err := cl.GetPrompt(ctx, promptParams("a_p"))
	if berr, ok := server.FromError(err); !ok || !berr.Unavailable || berr.Backend != "a" {
		t.Errorf("prompts/get = %v, want JSON-RPC error %d with data", err, server.CodeBackendUnavailable)
	}
	_, err = cl.ReadResource(ctx, readParams("echo://a/r"))
	if berr, ok := server.FromError(err); !ok || !berr.Unavailable || berr.Circuit != statusapi.CircuitOpen {
		t.Errorf("resources/read = %v, want JSON-RPC error %d with data", err, server.CodeBackendUnavailable)
	}
	if after := a.Requests(); after != before {
		t.Fatalf("the backend received %d requests while its circuit was open", after-before)
	}
	if n := rejected(t, h, "a", "CircuitOpen"); n != 22 {
		t.Fatalf("vmcp_rejected_total{reason=CircuitOpen} = %v, want 22", n)
	}
}

// TestFailureClassesThroughTheAggregator checks what clients see for each kind of backend
// trouble, and that only real failures count against the backend.
func TestFailureClassesThroughTheAggregator(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{TestTools: true})
	cfg := testConfig(a)
	cfg.CircuitBreaker.FailureThreshold = 100
	cfg.HealthCheck.UnhealthyThreshold = 100
	cfg.FailureMode = config.FailureModeBestEffort // lists stay answerable while a is down
	cfg.Backends[0].Timeout = config.Duration(300 * time.Millisecond)
	h := start(t, cfg, a)
	cl := h.mustConnect()
	cl.waitTools(t, "a_echo", "a_is_error", "a_progress", "a_rpc_error", "a_sleep")

	// isError results and JSON-RPC errors pass through and are not failures.
	if res := cl.call(t, "a_is_error"); !res.IsError || text(res) != "is_error always fails" {
		t.Fatalf("is_error = %+v", res)
	}
	_, err := cl.CallTool(context.Background(), mapArgs("a_rpc_error"))
	var we *jsonrpc.Error
	if !errors.As(err, &we) || we.Code != jsonrpc.CodeInvalidParams || we.Message != "rpc_error always fails" {
		t.Fatalf("rpc_error = %v, want the backend's JSON-RPC error unchanged", err)
	}
	if b := h.backendStatus("a"); b.ConsecutiveFailures != 0 || b.Health != statusapi.HealthHealthy {
		t.Fatalf("after JSON-RPC and tool errors: %+v", b)
	}

	// 429 with Retry-After: Degraded/RateLimited, and calls wait out the window without I/O.
	a.SetFault(mcpecho.Fault{Mode: mcpecho.RateLimit, RetryAfter: 20 * time.Second})
	res := cl.call(t, "a_echo")
	if berr, ok := server.FromToolResult(res); !ok || berr.Reason != statusapi.ReasonRateLimited || berr.RetryAfter != 20*time.Second {
		t.Fatalf("429 = %q %+v", text(res), berr)
	}
	h.waitBackend("a", statusapi.HealthDegraded, statusapi.CircuitClosed)
	before := a.Requests()
	if berr, ok := server.FromToolResult(cl.call(t, "a_echo")); !ok || !berr.Unavailable || berr.Reason != statusapi.ReasonRateLimited {
		t.Fatalf("call inside the Retry-After window = %+v", berr)
	}
	if a.Requests() != before {
		t.Fatal("a call inside the Retry-After window reached the backend")
	}
	a.SetFault(mcpecho.Fault{})
	h.step(20 * time.Second)
	h.waitBackend("a", statusapi.HealthHealthy, statusapi.CircuitClosed)

	// 401: Unauthenticated, its tools are hidden, and calls are refused.
	a.SetFault(mcpecho.Fault{Mode: mcpecho.Unauthorized})
	cl.call(t, "a_echo")
	h.waitBackend("a", statusapi.HealthUnauthenticated, statusapi.CircuitClosed)
	cl.waitTools(t)
	if b := h.backendStatus("a"); b.Reason != statusapi.ReasonUnauthorized || b.ConsecutiveFailures != 0 {
		t.Fatalf("after 401: %+v", b)
	}
	a.SetFault(mcpecho.Fault{})
	h.step(10 * time.Second)
	h.waitBackend("a", statusapi.HealthDegraded, statusapi.CircuitClosed)

	// A hung backend: the call times out (the backend's timeout) and counts as a failure.
	a.SetFault(mcpecho.Fault{Mode: mcpecho.Hang})
	t.Cleanup(func() { a.SetFault(mcpecho.Fault{}) })
	res = cl.call(t, "a_echo")
	if berr, ok := server.FromToolResult(res); !ok || berr.Reason != statusapi.ReasonTimeout || berr.Unavailable {
		t.Fatalf("hung backend = %q %+v", text(res), berr)
	}
	poll.Until(t, waitFor, func() error {
		if b := h.backendStatus("a"); b.ConsecutiveFailures != 1 {
			return fmt.Errorf("consecutive failures %d", b.ConsecutiveFailures)
		}
		return nil
	})
}
