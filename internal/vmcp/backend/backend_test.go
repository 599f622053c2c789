package backend_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

const waitFor = 10 * time.Second

func newBackend(t *testing.T, srv *mcpecho.Server, mutate func(*backend.Options)) *backend.Backend {
	t.Helper()
	opts := backend.Options{Name: srv.Name(), URL: srv.URL(), Timeout: 5 * time.Second}
	if mutate != nil {
		mutate(&opts)
	}
	b := backend.New(opts)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func callEcho(ctx context.Context, b *backend.Backend, tool string) (string, backend.Outcome) {
	var text string
	out := b.Do(ctx, b.Shared(), func(ctx context.Context, cs *mcp.ClientSession) error {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hi"}})
		if err != nil {
			return err
		}
		if len(res.Content) > 0 {
			if tc, ok := res.Content[0].(*mcp.TextContent); ok {
				text = tc.Text
			}
		}
		return nil
	})
	return text, out
}

func TestSharedSessionIsReused(t *testing.T) {
	srv := mcpecho.Start(t, mcpecho.Options{Name: "a"})
	b := newBackend(t, srv, nil)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if text, out := callEcho(t.Context(), b, "echo"); out.Kind != backend.OK || text != "a/echo: hi" {
				t.Errorf("call = %q, %v (%v)", text, out.Kind, out.Err)
			}
		})
	}
	wg.Wait()
	if n := srv.Sessions(); n != 1 {
		t.Fatalf("backend holds %d sessions after 20 concurrent calls, want 1", n)
	}
}

func TestTransparentReinitialize(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(*mcpecho.Server)
		// staleSocket: the first call after a restart may land on a pooled connection the dead
		// process had open; it fails as ConnectionFailed (it may have been sent, so it is not
		// retried) and the next call must succeed on a new session.
		staleSocket bool
	}{
		{"backend restarted", func(s *mcpecho.Server) {
			s.Stop()
			if err := s.Start(""); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"session expired", (*mcpecho.Server).DropSessions, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mcpecho.Start(t, mcpecho.Options{Name: "a"})
			var started atomic.Int32
			b := newBackend(t, srv, func(o *backend.Options) {
				o.Handlers.SessionStarted = func() { started.Add(1) }
			})
			if _, out := callEcho(t.Context(), b, "echo"); out.Kind != backend.OK {
				t.Fatalf("first call: %v", out.Err)
			}
			tt.breakIt(srv)
			text, out := callEcho(t.Context(), b, "echo")
			if out.Kind != backend.OK && tt.staleSocket && out.Reason == statusapi.ReasonConnectionFailed {
				text, out = callEcho(t.Context(), b, "echo")
			}
			if out.Kind != backend.OK || text != "a/echo: hi" {
				t.Fatalf("call after %s = %q, %s %v; want a transparent success", tt.name, text, out.Kind, out.Err)
			}
			if got := started.Load(); got != 2 {
				t.Fatalf("sessions started = %d, want 2", got)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		fault      mcpecho.Fault
		tool       string
		stop       bool
		wantKind   backend.Kind
		wantReason string
	}{
		{name: "ok", tool: "echo", wantKind: backend.OK},
		{name: "isError result", tool: "is_error", wantKind: backend.OK},
		{name: "JSON-RPC error", tool: "rpc_error", wantKind: backend.RPCError},
		{name: "HTTP 500", fault: mcpecho.Fault{Mode: mcpecho.Fail}, tool: "echo", wantKind: backend.Failure, wantReason: statusapi.ReasonServerError},
		{name: "HTTP 401", fault: mcpecho.Fault{Mode: mcpecho.Unauthorized}, tool: "echo", wantKind: backend.Unauthenticated, wantReason: statusapi.ReasonUnauthorized},
		{name: "HTTP 429", fault: mcpecho.Fault{Mode: mcpecho.RateLimit, RetryAfter: 7 * time.Second}, tool: "echo", wantKind: backend.RateLimited, wantReason: statusapi.ReasonRateLimited},
		{name: "hang", fault: mcpecho.Fault{Mode: mcpecho.Hang}, tool: "echo", wantKind: backend.Failure, wantReason: statusapi.ReasonTimeout},
		{name: "backend down", tool: "echo", stop: true, wantKind: backend.Failure, wantReason: statusapi.ReasonConnectionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mcpecho.Start(t, mcpecho.Options{Name: "a", TestTools: true})
			b := newBackend(t, srv, func(o *backend.Options) { o.Timeout = 300 * time.Millisecond })
			if _, out := callEcho(t.Context(), b, "echo"); out.Kind != backend.OK {
				t.Fatalf("warm-up call: %v", out.Err)
			}
			srv.SetFault(tt.fault)
			// Lift the fault before the backend's session is closed, or closing waits for a hung DELETE.
			t.Cleanup(func() { srv.SetFault(mcpecho.Fault{}) })
			if tt.stop {
				srv.Stop()
			}
			_, out := callEcho(t.Context(), b, tt.tool)
			if out.Kind != tt.wantKind || out.Reason != tt.wantReason {
				t.Fatalf("outcome = (%s, %q, %v), want (%s, %q)", out.Kind, out.Reason, out.Err, tt.wantKind, tt.wantReason)
			}
			if tt.wantKind == backend.RateLimited && out.RetryAfter != 7*time.Second {
				t.Fatalf("RetryAfter = %v, want 7s", out.RetryAfter)
			}
		})
	}
}

func TestInitializeFailures(t *testing.T) {
	srv := mcpecho.Start(t, mcpecho.Options{Name: "a"})
	srv.SetFault(mcpecho.Fault{Mode: mcpecho.Unauthorized})
	b := newBackend(t, srv, nil)
	if out := b.Ping(t.Context()); out.Kind != backend.Unauthenticated {
		t.Fatalf("ping against 401 = %s %v, want Unauthenticated", out.Kind, out.Err)
	}
	srv.Stop()
	out := b.Ping(t.Context())
	if out.Kind != backend.Failure || out.Reason != statusapi.ReasonConnectionFailed {
		t.Fatalf("ping against a stopped backend = %s %q, want Failure ConnectionFailed", out.Kind, out.Reason)
	}
}

func TestCallerCancellationReachesBackend(t *testing.T) {
	srv := mcpecho.Start(t, mcpecho.Options{Name: "a", TestTools: true})
	b := newBackend(t, srv, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan backend.Outcome, 1)
	go func() {
		done <- b.Do(ctx, b.Shared(), func(ctx context.Context, cs *mcp.ClientSession) error {
			_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "sleep", Arguments: map[string]any{"ms": 60000}})
			return err
		})
	}()
	poll.Until(t, waitFor, func() error {
		if srv.Calls() == 0 {
			return errors.New("sleep not started")
		}
		return nil
	})
	cancel()
	if out := <-done; out.Kind != backend.Canceled {
		t.Fatalf("outcome = %s %v, want Canceled", out.Kind, out.Err)
	}
	poll.Until(t, waitFor, func() error {
		if srv.Cancelled() != 1 {
			return fmt.Errorf("backend saw %d cancellations", srv.Cancelled())
		}
		return nil
	})
}

func TestProgressAndListChangedHandlers(t *testing.T) {
	srv := mcpecho.Start(t, mcpecho.Options{Name: "a", TestTools: true})
	var progress atomic.Int32
	changed := make(chan backend.ListKind, 4)
	b := newBackend(t, srv, func(o *backend.Options) {
		o.Handlers.Progress = func(p *mcp.ProgressNotificationParams) {
			if p.ProgressToken == "tok" {
				progress.Add(1)
			}
		}
		o.Handlers.ListChanged = func(k backend.ListKind) { changed <- k }
	})
	out := b.Do(t.Context(), b.Shared(), func(ctx context.Context, cs *mcp.ClientSession) error {
		p := &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{}}
		p.SetProgressToken("tok")
		_, err := cs.CallTool(ctx, p)
		return err
	})
	if out.Kind != backend.OK {
		t.Fatal(out.Err)
	}
	// The tap hands progress over before the call's result: no waiting.
	if got := progress.Load(); got != 3 {
		t.Fatalf("%d progress notifications when the call returned, want 3", got)
	}
	srv.SetTools([]string{"other"})
	select {
	case k := <-changed:
		if k != backend.Tools {
			t.Fatalf("list changed kind = %v, want Tools", k)
		}
	case <-time.After(waitFor):
		t.Fatal("no tools/list_changed received")
	}
}

func TestInventory(t *testing.T) {
	srv := mcpecho.Start(t, mcpecho.Options{
		Name: "a", Tools: mcpecho.ToolNames(3), Prompts: []string{"p"},
		Resources: []string{"echo://a/r"}, Templates: []string{"echo://a/t/{id}"},
	})
	b := newBackend(t, srv, nil)
	inv, out := b.FetchInventory(t.Context())
	if out.Kind != backend.OK {
		t.Fatal(out.Err)
	}
	if len(inv.Tools) != 3 || len(inv.Prompts) != 1 || len(inv.Resources) != 1 || len(inv.Templates) != 1 {
		t.Fatalf("inventory = %d tools, %d prompts, %d resources, %d templates", len(inv.Tools), len(inv.Prompts), len(inv.Resources), len(inv.Templates))
	}
	if inv.Tools[0].Description == "" || inv.Tools[0].Annotations == nil || !inv.Tools[0].Annotations.ReadOnlyHint {
		t.Fatalf("tool metadata lost: %+v", inv.Tools[0])
	}
}

func TestHeadersFromEnvAndFile(t *testing.T) {
	srv := mcpecho.Start(t, mcpecho.Options{Name: "a"})
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  secret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TOKEN": "Bearer from-env"}
	b := newBackend(t, srv, func(o *backend.Options) {
		o.Headers = []config.Header{
			{Name: "Authorization", ValueFrom: config.ValueSource{Env: "TOKEN"}},
			{Name: "X-Api-Key", ValueFrom: config.ValueSource{File: file}},
		}
		o.Sources = backend.Sources{
			LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			ReadFile:  os.ReadFile,
		}
	})
	if _, out := callEcho(t.Context(), b, "echo"); out.Kind != backend.OK {
		t.Fatal(out.Err)
	}
	h := srv.LastHeader()
	if h.Get("Authorization") != "Bearer from-env" || h.Get("X-Api-Key") != "secret-from-file" {
		t.Fatalf("backend saw Authorization=%q X-Api-Key=%q", h.Get("Authorization"), h.Get("X-Api-Key"))
	}

	delete(env, "TOKEN")
	missing := newBackend(t, srv, func(o *backend.Options) {
		o.Headers = []config.Header{{Name: "Authorization", ValueFrom: config.ValueSource{Env: "TOKEN"}}}
		o.Sources = backend.Sources{LookupEnv: func(string) (string, bool) { return "", false }, ReadFile: os.ReadFile}
	})
	out := missing.Ping(t.Context())
	if out.Kind != backend.Failure || out.Reason != statusapi.ReasonInitializeFailed {
		t.Fatalf("missing header value: %s %q %v, want Failure InitializeFailed", out.Kind, out.Reason, out.Err)
	}
}

// TestNewConnIsAnIndependentSession checks the per-client session hook: a Conn of its own to the
// same backend, with its own client options, sharing the backend's transport (progress still
// reaches the backend's handler).
func TestNewConnIsAnIndependentSession(t *testing.T) {
	srv := mcpecho.Start(t, mcpecho.Options{Name: "a", TestTools: true})
	var progress atomic.Int32
	b := newBackend(t, srv, func(o *backend.Options) {
		o.Handlers.Progress = func(*mcp.ProgressNotificationParams) { progress.Add(1) }
	})
	if _, out := callEcho(t.Context(), b, "echo"); out.Kind != backend.OK {
		t.Fatal(out.Err)
	}
	own := b.NewConn(backend.ConnOptions{})
	defer func() { _ = own.Close() }()
	out := b.Do(t.Context(), own, func(ctx context.Context, cs *mcp.ClientSession) error {
		p := &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{}}
		p.SetProgressToken("own")
		_, err := cs.CallTool(ctx, p)
		return err
	})
	if out.Kind != backend.OK {
		t.Fatal(out.Err)
	}
	if n := srv.Sessions(); n != 2 {
		t.Fatalf("backend holds %d sessions, want the shared one and the Conn's own", n)
	}
	if progress.Load() != 3 {
		t.Fatalf("%d progress notifications from the own session", progress.Load())
	}
	if err := own.Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, waitFor, func() error {
		if n := srv.Sessions(); n != 1 {
			return fmt.Errorf("%d sessions after closing the own Conn", n)
		}
		return nil
	})
	if _, err := own.Session(t.Context()); !errors.Is(err, backend.ErrClosed) {
		t.Fatalf("closed Conn: %v, want ErrClosed", err)
	}
}

// TestLatencyIsMeasured checks that an outcome carries the exchange's duration, which the
// tracker compares with degradedLatency for probes.
func TestLatencyIsMeasured(t *testing.T) {
	srv := mcpecho.Start(t, mcpecho.Options{Name: "a"})
	b := newBackend(t, srv, nil)
	if out := b.Ping(t.Context()); out.Kind != backend.OK {
		t.Fatal(out.Err)
	}
	srv.SetFault(mcpecho.Fault{Mode: mcpecho.Slow, Latency: 50 * time.Millisecond})
	out := b.Ping(t.Context())
	if out.Kind != backend.OK || out.Latency < 50*time.Millisecond {
		t.Fatalf("slow ping = %s after %v, want OK after at least 50ms", out.Kind, out.Latency)
	}
}

// TestResetConnectionMessageIsStable runs against a server that resets every connection: each
// failure comes from a new local port, and the outcome's message must not change with it.
func TestResetConnectionMessageIsStable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				_, _ = c.Read(buf) // the request has arrived: reset instead of answering
				_ = c.(*net.TCPConn).SetLinger(0)
				_ = c.Close()
			}()
		}
	}()
	b := backend.New(backend.Options{Name: "reset", URL: "http://" + ln.Addr().String() + "/mcp", Timeout: 5 * time.Second})
	t.Cleanup(func() { _ = b.Close() })
	var msgs []string
	for range 3 {
		out := b.Ping(t.Context())
		if out.Kind != backend.Failure {
			t.Fatalf("ping of a resetting server = %s (%v), want a failure", out.Kind, out.Err)
		}
		msgs = append(msgs, out.Message())
	}
	if msgs[0] != msgs[1] || msgs[1] != msgs[2] || strings.Contains(msgs[0], "->") {
		t.Fatalf("messages = %q, want one message naming only the remote address", msgs)
	}
	if !strings.Contains(msgs[0], ln.Addr().String()) {
		t.Fatalf("message %q does not name the backend's address", msgs[0])
	}
}

// expiring is a context whose deadline passes when expire is called: a probe's short timeout,
// without waiting for real time.
type expiring struct {
	context.Context
	done chan struct{}
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (e *expiring) expire()                     { close(e.done) }
func (e *expiring) Done() <-chan struct{}       { return e.done }
func (e *expiring) Deadline() (time.Time, bool) { return time.Time{}, false }
func (e *expiring) Value(key any) any           { return nil }
func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// waitingInSession counts goroutines parked in Conn.Session waiting for an initialize.
func waitingInSession() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.SplitN(g, "\n", 3)
		if len(lines) >= 2 && strings.Contains(lines[0], "[select") && strings.Contains(lines[1], "backend.(*Conn).Session(") {
			count++
		}
	}
	return count
}

// TestSharedInitializeOutlivesItsInitiator checks that callers waiting for an initialize that
// another caller started are not failed by that caller giving up (a client that cancelled, a
// probe whose short timeout passed): the initialize goes on, and they get the session.
func TestSharedInitializeOutlivesItsInitiator(t *testing.T) {
	tests := []struct {
		name   string
		giveUp func(cancel context.CancelFunc, e *expiring)
		// the initiator's own outcome: its cancellation, or its own deadline
		wantKind   backend.Kind
		wantReason string
	}{
		{"initiator cancelled", func(cancel context.CancelFunc, _ *expiring) { cancel() }, backend.Canceled, ""},
		{"initiator's deadline passed", func(_ context.CancelFunc, e *expiring) { e.expire() }, backend.Failure, statusapi.ReasonTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mcpecho.Start(t, mcpecho.Options{Name: "a"})
			srv.SetFault(mcpecho.Fault{Mode: mcpecho.Hang}) // initialize hangs until released
			t.Cleanup(func() { srv.SetFault(mcpecho.Fault{}) })
			b := newBackend(t, srv, nil)

			exp := newExpiring()
			ctx, cancel := context.WithCancel(exp)
			defer cancel()
			initiator := make(chan backend.Outcome, 1)
			go func() { initiator <- b.Ping(ctx) }()
			poll.Until(t, waitFor, func() error {
				if srv.Requests() == 0 {
					return errors.New("initialize not sent yet")
				}
				return nil
			})
			parked := waitingInSession()
			waiter := make(chan backend.Outcome, 1)
			var text string
			go func() {
				var out backend.Outcome
				text, out = callEcho(t.Context(), b, "echo")
				waiter <- out
			}()
			poll.Until(t, waitFor, func() error {
				if n := waitingInSession(); n != parked+1 {
					return fmt.Errorf("%d callers waiting for the initialize, want %d", n, parked+1)
				}
				return nil
			})

			tt.giveUp(cancel, exp)
			if out := <-initiator; out.Kind != tt.wantKind || out.Reason != tt.wantReason {
				t.Fatalf("initiator = %s %q (%v), want %s %q", out.Kind, out.Reason, out.Err, tt.wantKind, tt.wantReason)
			}
			srv.SetFault(mcpecho.Fault{}) // the backend answers the initialize after all
			if out := <-waiter; out.Kind != backend.OK || text != "a/echo: hi" {
				t.Fatalf("waiter = %s %q (%v), want the call to succeed on the shared session", out.Kind, out.Reason, out.Err)
			}
			if n := srv.Sessions(); n != 1 {
				t.Fatalf("backend holds %d sessions, want the one initialize's", n)
			}
		})
	}
}
