//nolint:staticcheck // SA1019: sampling is deprecated in MCP 2026-07-28; these tests cover it for earlier revisions.
package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/app"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/server"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

// gauge reads a gauge of a backend.
func gauge(t *testing.T, h *harness, name, backend string) float64 {
	t.Helper()
	mfs, err := h.app.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" && l.GetValue() == backend {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// TestPerClientSessionLifecycle checks that a client declaring sampling gets a backend
// session of its own on its first call, keeps it, and loses it when it leaves; and that past
// the limit a client gets the shared session (its plain calls work, the backend's requests to
// it are refused) until a place is free.
func TestPerClientSessionLifecycle(t *testing.T) {
	h, a := startProtocol(t, func(o *app.Options) { o.MaxClientSessions = 1 })
	waitSessions := func(n int) {
		t.Helper()
		poll.Until(t, waitFor, func() error {
			if got := a.Sessions(); got != n {
				return fmt.Errorf("backend holds %d sessions, want %d", got, n)
			}
			if got := gauge(t, h, "vmcp_client_sessions", "a"); got != float64(n-1) {
				return fmt.Errorf("vmcp_client_sessions = %v, want %d", got, n-1)
			}
			return nil
		})
	}
	waitSessions(1)
	p1 := h.connectPeer(t, samplingClient("m1", nil))
	waitSessions(1) // nothing until the first call
	for range 3 {
		if res, err := p1.callArgs("a_echo", map[string]any{"text": "hi"}); err != nil || textOf(res) != "a/echo: hi" {
			t.Fatalf("echo = %q, %v", textOf(res), err)
		}
	}
	waitSessions(2)

	p2 := h.connectPeer(t, samplingClient("m2", nil))
	res, err := p2.callArgs("a_"+mcpecho.ToolSample, map[string]any{"text": "x"})
	if err != nil || !res.IsError || !strings.Contains(textOf(res), "cannot be forwarded") {
		t.Fatalf("sampling past the limit = %q, %v; want the backend's request refused", textOf(res), err)
	}
	if res, err := p2.callArgs("a_echo", map[string]any{"text": "hi"}); err != nil || textOf(res) != "a/echo: hi" {
		t.Fatalf("plain call past the limit = %q, %v", textOf(res), err)
	}
	waitSessions(2)

	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	waitSessions(1)
	if res, err := p2.callArgs("a_"+mcpecho.ToolSample, map[string]any{"text": "x"}); err != nil || textOf(res) != "m2: re x" {
		t.Fatalf("sampling once a place is free = %q, %v", textOf(res), err)
	}
	waitSessions(2)
}

// TestBackendCancelsItsRequest checks that a backend giving up its sampling request cancels
// the request at the client. The backend keeps its call open meanwhile: the SDK sends a
// cancellation asynchronously on the call's stream, so one sent just before the call's answer
// may find the stream closed, directly as through the aggregator. (A client cancelling its
// own call reaches the backend, see TestProgressAndCancellationPassThrough.)
func TestBackendCancelsItsRequest(t *testing.T) {
	h, a := startProtocol(t, nil)
	started, ended, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	defer close(release)
	p := h.connectPeer(t, mcp.ClientOptions{
		CreateMessageHandler: func(ctx context.Context, _ *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			close(started)
			select {
			case <-ctx.Done():
				close(ended)
				return nil, ctx.Err()
			case <-release:
				return nil, errors.New("released")
			}
		},
	})
	errc := make(chan error, 1)
	var res *mcp.CallToolResult
	go func() {
		var err error
		res, err = p.callArgs("a_"+mcpecho.ToolSample, map[string]any{"text": "x", "ms": 50, "hold": true})
		errc <- err
	}()
	waitClosed(t, started, "the sampling request did not reach the client")
	waitClosed(t, ended, "the backend's cancellation did not reach the client")
	a.ReleaseHeld()
	if err := <-errc; err != nil || !res.IsError {
		t.Fatalf("call = %v, %v; want the backend's isError result", res, err)
	}
}

func waitClosed(t *testing.T, ch chan struct{}, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal(msg)
	}
}

// TestLostCallIsAnError checks SEP-1699 polling through the aggregator: a backend that
// closes a call's stream and keeps its events is resumed and the call answered; one that
// cannot be resumed makes the call a JSON-RPC error (not an isError result, which would claim
// the tool ran and failed).
func TestLostCallIsAnError(t *testing.T) {
	for _, store := range []bool{true, false} {
		t.Run(fmt.Sprintf("eventStore=%v", store), func(t *testing.T) {
			a := backendNamed(t, "a", mcpecho.Options{ProtocolTools: true, EventStore: store})
			h := start(t, testConfig(a), a)
			c := h.mustConnect()
			poll.Until(t, waitFor, func() error {
				names, err := c.listTools()
				if err != nil || !slices.Contains(names, "a_"+mcpecho.ToolDropStream) {
					return fmt.Errorf("tools = %v, %v", names, err)
				}
				return nil
			})
			ctx, cancel := context.WithTimeout(t.Context(), waitFor)
			defer cancel()
			res, err := c.CallTool(ctx, &mcp.CallToolParams{Name: "a_" + mcpecho.ToolDropStream, Arguments: map[string]any{}})
			if store {
				if err != nil || text(res) != "answered" {
					t.Fatalf("resumable backend: %v %v", res, err)
				}
				return
			}
			berr, ok := server.FromError(err)
			if !ok || berr.Unavailable || berr.Backend != "a" {
				t.Fatalf("lost call = %v, %v; want a JSON-RPC error naming backend a", res, err)
			}
		})
	}
}

// TestFidelity checks that tools, prompts and templates are listed, and tool results
// answered, through the aggregator exactly as the backend lists and answers them (titles,
// icons, _meta, annotations, 2020-12 schemas, every content type, structuredContent).
func TestFidelity(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{ProtocolTools: true})
	cfg := testConfig(a)
	h := start(t, cfg, a)
	via := h.mustConnect()
	direct, err := mcp.NewClient(&mcp.Implementation{Name: "direct"}, &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}}).
		Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: a.URL(), MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = direct.Close() }()
	poll.Until(t, waitFor, func() error {
		names, err := via.listTools()
		if err != nil || !slices.Contains(names, "a_"+mcpecho.ToolRich) {
			return fmt.Errorf("tools = %v, %v", names, err)
		}
		return nil
	})
	ctx := t.Context()
	find := func(cs *mcp.ClientSession, name string) *mcp.Tool {
		for tool, err := range cs.Tools(ctx, nil) {
			if err != nil {
				t.Fatal(err)
			}
			if tool.Name == name {
				return tool
			}
		}
		t.Fatalf("no tool %s", name)
		return nil
	}
	want, got := find(direct, mcpecho.ToolRich), find(via.ClientSession, "a_"+mcpecho.ToolRich)
	got.Name = want.Name
	sameJSON(t, "tool", got, want)
	sameJSON(t, "input schema", got.InputSchema, mcpecho.RichTool().InputSchema)

	wantRes, err := direct.CallTool(ctx, &mcp.CallToolParams{Name: mcpecho.ToolRich, Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	gotRes, err := via.CallTool(ctx, &mcp.CallToolParams{Name: "a_" + mcpecho.ToolRich, Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "tool result", gotRes, wantRes)

	wantPrompts, err := direct.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	gotPrompts, err := via.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range gotPrompts.Prompts {
		p.Name = strings.TrimPrefix(p.Name, "a_")
	}
	sameJSON(t, "prompts", gotPrompts.Prompts, wantPrompts.Prompts)
	wantTemplates, err := direct.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	gotTemplates, err := via.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "templates", gotTemplates.ResourceTemplates, wantTemplates.ResourceTemplates)
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if fmt.Sprint(gv) != fmt.Sprint(wv) {
		t.Errorf("%s differs through the aggregator:\n got %s\nwant %s", what, g, w)
	}
}

// TestTenThousandTools checks pagination both ways: the aggregator follows a backend's
// cursors for 10,000 tools and pages its own list for the client.
func TestTenThousandTools(t *testing.T) {
	if testing.Short() {
		t.Skip("lists 10,000 tools")
	}
	a := backendNamed(t, "a", mcpecho.Options{Tools: mcpecho.ToolNames(10000)})
	h := start(t, testConfig(a), a)
	h.eventually(func(st statusapi.Status) error {
		if st.Summary.Tools != 10000 {
			return fmt.Errorf("%d tools", st.Summary.Tools)
		}
		return nil
	})
	c := h.mustConnect()
	ctx := t.Context()
	seen := map[string]bool{}
	pages := 0
	cursor := ""
	for {
		res, err := c.ListTools(ctx, &mcp.ListToolsParams{Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tool := range res.Tools {
			seen[tool.Name] = true
		}
		if res.NextCursor == "" {
			break
		}
		cursor = res.NextCursor
	}
	if len(seen) != 10000 || pages != 10000/server.PageSize {
		t.Fatalf("listed %d tools in %d pages, want 10000 in %d", len(seen), pages, 10000/server.PageSize)
	}
	if got := text(c.call(t, "a_tool_10000")); got != "a/tool_10000: hi" {
		t.Fatalf("last tool answered %q", got)
	}
}

// sseIDs is a RoundTripper counting SSE event ids in the response bodies it sees.
type sseIDs struct {
	base http.RoundTripper
	mu   sync.Mutex
	ids  int
}

func (s *sseIDs) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	defer s.mu.Unlock()
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "id:") {
			s.ids++
		}
	}
	return resp, rerr
}

// TestResumableStreams checks that with ResumableStreams the aggregator's streams carry event
// ids (a priming event first), which clients need to resume them, and that they do not by
// default.
func TestResumableStreams(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("resumable=%v", on), func(t *testing.T) {
			a := backendNamed(t, "a", mcpecho.Options{})
			h := startWith(t, testConfig(a), func(o *app.Options) { o.ResumableStreams = on }, a)
			h.mustConnect().waitTools(t, "a_echo")
			rt := &sseIDs{base: http.DefaultTransport}
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "ids"}, &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}}).
				Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: h.url(), HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cs.Close() }()
			rt.mu.Lock()
			rt.ids = 0
			rt.mu.Unlock()
			if _, err := cs.CallTool(t.Context(), mapArgs("a_echo")); err != nil {
				t.Fatal(err)
			}
			rt.mu.Lock()
			defer rt.mu.Unlock()
			if (rt.ids > 0) != on {
				t.Fatalf("%d event ids on the call's stream", rt.ids)
			}
		})
	}
}
