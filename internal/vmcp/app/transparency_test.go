//nolint:staticcheck // SA1019: sampling, roots and logging are deprecated in MCP 2026-07-28; these tests cover them for earlier revisions.
package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/app"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

// peer is a client of the aggregator declaring what its options say, recording the log
// messages and resource updates it receives.
type peer struct {
	*mcp.ClientSession
	mu      sync.Mutex
	logs    []*mcp.LoggingMessageParams
	updated []string
}

func (h *harness) connectPeer(t *testing.T, opts mcp.ClientOptions) *peer {
	t.Helper()
	p := &peer{}
	opts.LoggingMessageHandler = func(_ context.Context, r *mcp.LoggingMessageRequest) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.logs = append(p.logs, r.Params)
	}
	opts.ResourceUpdatedHandler = func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.updated = append(p.updated, r.Params.URI)
	}
	if opts.Capabilities == nil {
		opts.Capabilities = &mcp.ClientCapabilities{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "peer"}, &opts).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url(), MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	p.ClientSession = cs
	return p
}

func (p *peer) logData() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.logs {
		out = append(out, fmt.Sprintf("%s %v", l.Level, l.Data))
	}
	return out
}

func (p *peer) updates() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.updated)
}

// callArgs calls a tool, bounded by waitFor.
func (p *peer) callArgs(tool string, args map[string]any) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return p.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
}

// startProtocol runs an aggregator in front of one backend "a" with ProtocolTools and waits
// until its tools are listed.
func startProtocol(t *testing.T, tweak func(*app.Options)) (*harness, *mcpecho.Server) {
	t.Helper()
	a := backendNamed(t, "a", mcpecho.Options{ProtocolTools: true, TestTools: true})
	h := startWith(t, testConfig(a), tweak, a)
	c := h.mustConnect()
	poll.Until(t, waitFor, func() error {
		names, err := c.listTools()
		if err != nil {
			return err
		}
		if !slices.Contains(names, "a_"+mcpecho.ToolSample) {
			return fmt.Errorf("tools = %v", names)
		}
		return nil
	})
	return h, a
}

func samplingClient(model string, onRequest func(context.Context, *mcp.CreateMessageRequest)) mcp.ClientOptions {
	return mcp.ClientOptions{
		CreateMessageHandler: func(ctx context.Context, r *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			if onRequest != nil {
				onRequest(ctx, r)
			}
			text := r.Params.Messages[0].Content.(*mcp.TextContent).Text
			return &mcp.CreateMessageResult{Model: model, Role: "assistant", Content: &mcp.TextContent{Text: "re " + text}}, nil
		},
	}
}

// TestSamplingReachesTheCallingClient checks that a backend's sampling request goes to the
// client whose call caused it (also with two clients calling at once), that the client's
// progress for it reaches the backend, and that clients that cannot be asked get an error at
// once instead of a hang.
func TestSamplingReachesTheCallingClient(t *testing.T) {
	h, a := startProtocol(t, nil)
	progressSent := func(ctx context.Context, r *mcp.CreateMessageRequest) {
		tok := r.Params.GetMeta()["progressToken"]
		if tok == nil || tok == mcpecho.SampleProgressToken {
			t.Errorf("sampling request carries progress token %v, want one of the aggregator's", tok)
			return
		}
		for i := 1; i <= 2; i++ {
			_ = r.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i)})
		}
	}
	p1 := h.connectPeer(t, samplingClient("model-1", progressSent))
	p2 := h.connectPeer(t, samplingClient("model-2", nil))

	var wg sync.WaitGroup
	for i := range 10 {
		for n, p := range []*peer{p1, p2} {
			wg.Go(func() {
				text := fmt.Sprintf("q%d", i)
				res, err := p.callArgs("a_"+mcpecho.ToolSample, map[string]any{"text": text})
				if err != nil {
					t.Errorf("peer %d: %v", n+1, err)
					return
				}
				if want := fmt.Sprintf("model-%d: re %s", n+1, text); textOf(res) != want {
					t.Errorf("peer %d got %q, want %q", n+1, textOf(res), want)
				}
			})
		}
	}
	wg.Wait()
	poll.Until(t, waitFor, func() error {
		if got := a.SampleProgress(); len(got) != 20 {
			return fmt.Errorf("backend got %d progress notifications for its sampling requests, want 20", len(got))
		}
		return nil
	})
	if n := a.Sessions(); n != 3 {
		t.Errorf("backend holds %d sessions, want the shared one and one per sampling client", n)
	}

	// A client without the capability (on the shared session) and one that declared only
	// roots (on a session of its own) are not asked: the backend's request fails at once.
	plain := h.connectPeer(t, mcp.ClientOptions{})
	rootsOnly := h.connectPeer(t, mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{RootsV2: &mcp.RootCapabilities{}}})
	want := map[string]string{"plain": "cannot be forwarded", "roots only": "the client did not declare sampling"}
	for name, p := range map[string]*peer{"plain": plain, "roots only": rootsOnly} {
		start := time.Now()
		res, err := p.callArgs("a_"+mcpecho.ToolSample, map[string]any{"text": "x"})
		if err != nil || !res.IsError || !strings.Contains(textOf(res), want[name]) {
			t.Errorf("%s client: %q, %v; want the backend's request refused with %q", name, textOf(res), err, want[name])
		}
		if d := time.Since(start); d > waitFor/2 {
			t.Errorf("%s client waited %v for the refusal", name, d)
		}
	}
}

func textOf(res *mcp.CallToolResult) string { return text(res) }

// titledMulti is a SEP-1330 titled multi-select enum as some servers send it (items typed
// "string" with anyOf): the SDK's own elicitation validator rejects it.
const titledMulti = `{"type":"object","properties":{
	"colors":{"type":"array","title":"Colors","minItems":1,"items":{"type":"string","anyOf":[{"const":"r","title":"Red"},{"const":"g","title":"Green"}]},"default":["r"]},
	"name":{"type":"string","default":"Ada"},
	"age":{"type":"integer","default":36}},"required":["colors"]}`

// TestElicitationPassesSchemasAndAnswersUnchanged checks that the client receives the
// backend's elicitation schema exactly (defaults and a titled multi-select enum that the SDK's
// validator would refuse) and that its answer reaches the backend as given.
func TestElicitationPassesSchemasAndAnswersUnchanged(t *testing.T) {
	h, _ := startProtocol(t, nil)
	var got *mcp.ElicitParams
	opts := mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{Form: &mcp.FormElicitationCapabilities{}}}}
	// Like a client built on another SDK: no validation of the schema before answering.
	cl := mcp.NewClient(&mcp.Implementation{Name: "raw-elicit"}, &opts)
	cl.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method != backend.MethodElicit {
				return next(ctx, method, req)
			}
			got = req.GetParams().(*mcp.ElicitParams)
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"colors": []any{"g"}, "name": "Grace"}}, nil
		}
	})
	cs, err := cl.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: h.url(), MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cs.Close() }()
	p := &peer{ClientSession: cs}

	var schema map[string]any
	if err := json.Unmarshal([]byte(titledMulti), &schema); err != nil {
		t.Fatal(err)
	}
	res, err := p.callArgs("a_"+mcpecho.ToolElicit, map[string]any{"message": "Pick", "schema": schema})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Message != "Pick" {
		t.Fatalf("client received %+v", got)
	}
	if _, tagged := got.Meta[backend.CallMetaKey]; tagged {
		t.Errorf("the aggregator's call tag reached the client: %v", got.Meta)
	}
	if !reflect.DeepEqual(got.RequestedSchema, schema) {
		t.Errorf("schema changed on the way:\n got %v\nwant %v", got.RequestedSchema, schema)
	}
	var ans mcpecho.ElicitAnswer
	if err := json.Unmarshal([]byte(textOf(res)), &ans); err != nil {
		t.Fatalf("tool answered %q", textOf(res))
	}
	if ans.Action != "accept" || !reflect.DeepEqual(ans.Content, map[string]any{"colors": []any{"g"}, "name": "Grace"}) {
		t.Errorf("backend received %+v", ans)
	}

	// A client that did not declare elicitation is not asked; the backend hears so at once.
	plain := h.connectPeer(t, samplingClient("m", nil))
	res, err = plain.callArgs("a_"+mcpecho.ToolElicit, map[string]any{"message": "Pick", "schema": schema})
	if err != nil {
		t.Fatal(err)
	}
	ans = mcpecho.ElicitAnswer{}
	if err := json.Unmarshal([]byte(textOf(res)), &ans); err != nil || ans.Action != "" || ans.Error == "" {
		t.Errorf("elicitation of a client without the capability: %q", textOf(res))
	}
}

// TestRootsAreTheCallingClients checks roots/list and roots list changes per client.
func TestRootsAreTheCallingClients(t *testing.T) {
	h, a := startProtocol(t, nil)
	newRootsClient := func(uri string) (*mcp.Client, *peer) {
		opts := mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{RootsV2: &mcp.RootCapabilities{ListChanged: true}}}
		cl := mcp.NewClient(&mcp.Implementation{Name: "roots"}, &opts)
		cl.AddRoots(&mcp.Root{URI: uri})
		cs, err := cl.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: h.url(), MaxRetries: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		return cl, &peer{ClientSession: cs}
	}
	cl1, p1 := newRootsClient("file:///one")
	_, p2 := newRootsClient("file:///two")
	for p, want := range map[*peer]string{p1: "file:///one", p2: "file:///two"} {
		res, err := p.callArgs("a_"+mcpecho.ToolRoots, nil)
		if err != nil || textOf(res) != want {
			t.Fatalf("roots = %q, %v; want %q", textOf(res), err, want)
		}
	}
	cl1.AddRoots(&mcp.Root{URI: "file:///three"})
	poll.Until(t, waitFor, func() error {
		if n := a.RootsChanged(); n != 1 {
			return fmt.Errorf("backend got %d roots/list_changed", n)
		}
		return nil
	})
	if res, err := p1.callArgs("a_"+mcpecho.ToolRoots, nil); err != nil || textOf(res) != "file:///one\nfile:///three" {
		t.Fatalf("roots after the change = %q, %v", textOf(res), err)
	}
	// The shared session answers a roots/list with an error, not with an empty list.
	plain := h.connectPeer(t, mcp.ClientOptions{})
	if res, err := plain.callArgs("a_"+mcpecho.ToolRoots, nil); err != nil || !res.IsError || !strings.Contains(textOf(res), "cannot be forwarded") {
		t.Fatalf("roots/list of a client without roots: %q, %v", textOf(res), err)
	}
}

// TestLoggingGoesToTheClientThatCaused checks that a backend's log messages reach the client
// whose call caused them, filtered by that client's level, and that levels reach backends.
func TestLoggingGoesToTheClientThatCaused(t *testing.T) {
	h, a := startProtocol(t, nil)
	setLevel := func(p *peer, level mcp.LoggingLevel) {
		t.Helper()
		if err := p.SetLoggingLevel(t.Context(), &mcp.SetLoggingLevelParams{Level: level}); err != nil {
			t.Fatal(err)
		}
	}
	info := h.connectPeer(t, mcp.ClientOptions{})      // shared session
	silent := h.connectPeer(t, mcp.ClientOptions{})    // shared session, no level
	debug := h.connectPeer(t, samplingClient("", nil)) // a session of its own
	if caps := info.InitializeResult().Capabilities; caps.Logging == nil {
		t.Error("the aggregator does not advertise logging")
	}
	setLevel(info, "info")
	setLevel(debug, "debug")
	for _, p := range []*peer{info, silent, debug} {
		if res, err := p.callArgs("a_"+mcpecho.ToolLog, nil); err != nil || textOf(res) != "logged" {
			t.Fatalf("log tool: %q, %v", textOf(res), err)
		}
	}
	want := map[*peer][]string{
		info:   {"info message 2", "warning message 3"},
		silent: nil,
		debug:  {"debug message 1", "info message 2", "warning message 3"},
	}
	poll.Until(t, waitFor, func() error {
		for p, w := range want {
			if got := p.logData(); !slices.Equal(got, w) {
				return fmt.Errorf("client got logs %q, want %q", got, w)
			}
		}
		return nil
	})
	for _, l := range debug.logs {
		if _, tagged := l.Meta[backend.CallMetaKey]; tagged {
			t.Errorf("the aggregator's call tag reached the client: %v", l.Meta)
		}
	}
	// The shared session got the most verbose level asked for, the own session its client's.
	if got := a.LogLevels(); !slices.Contains(got, "info") || !slices.Contains(got, "debug") {
		t.Errorf("backend levels = %v", got)
	}
}

// TestSubscriptions checks resources/subscribe and unsubscribe through the aggregator: one
// subscription at the backend however many clients subscribe, updates only to subscribers,
// and the backend unsubscribed when the last subscriber leaves.
func TestSubscriptions(t *testing.T) {
	h, a := startProtocol(t, nil)
	p1 := h.connectPeer(t, mcp.ClientOptions{})
	p2 := h.connectPeer(t, mcp.ClientOptions{})
	other := h.connectPeer(t, mcp.ClientOptions{})
	if r := p1.InitializeResult().Capabilities.Resources; r == nil || !r.Subscribe {
		t.Fatalf("the aggregator does not advertise subscriptions: %+v", r)
	}
	ctx := t.Context()
	for _, p := range []*peer{p1, p2} {
		if err := p.Subscribe(ctx, &mcp.SubscribeParams{URI: mcpecho.ResourceWatched}); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Subscribed(); !slices.Equal(got, []string{mcpecho.ResourceWatched}) {
		t.Fatalf("backend subscriptions = %v", got)
	}
	if err := p1.Subscribe(ctx, &mcp.SubscribeParams{URI: "test://nothing"}); err == nil {
		t.Error("subscribing to an unknown resource succeeded")
	}

	notify := func() {
		t.Helper()
		if err := a.NotifyUpdated(ctx, mcpecho.ResourceWatched); err != nil {
			t.Fatal(err)
		}
	}
	waitUpdates := func(want map[*peer]int) {
		t.Helper()
		poll.Until(t, waitFor, func() error {
			for p, n := range want {
				if got := len(p.updates()); got != n {
					return fmt.Errorf("client has %d updates, want %d", got, n)
				}
			}
			return nil
		})
	}
	notify()
	waitUpdates(map[*peer]int{p1: 1, p2: 1, other: 0})

	if err := p1.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: mcpecho.ResourceWatched}); err != nil {
		t.Fatal(err)
	}
	if got := a.Subscribed(); len(got) != 1 {
		t.Fatalf("backend unsubscribed while a client is still subscribed: %v", got)
	}
	notify()
	waitUpdates(map[*peer]int{p1: 1, p2: 2, other: 0})

	// The last subscriber leaves without unsubscribing.
	if err := p2.Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, waitFor, func() error {
		if got := a.Subscribed(); len(got) != 0 {
			return fmt.Errorf("backend still subscribed to %v", got)
		}
		return nil
	})
}

// TestCompletionsAreRoutedToTheOwner checks completion/complete for a prompt and a resource
// template, named as the backend knows them, and the completions capability.
func TestCompletionsAreRoutedToTheOwner(t *testing.T) {
	h, _ := startProtocol(t, nil)
	p := h.connectPeer(t, mcp.ClientOptions{})
	if p.InitializeResult().Capabilities.Completions == nil {
		t.Error("the aggregator does not advertise completions")
	}
	ctx := t.Context()
	tests := []struct {
		ref  mcp.CompleteReference
		want []string
	}{
		{mcp.CompleteReference{Type: "ref/prompt", Name: "a_" + mcpecho.PromptArgs}, []string{"greeting:go", "greeting:golang"}},
		{mcp.CompleteReference{Type: "ref/resource", URI: mcpecho.TemplateFiles}, []string{mcpecho.TemplateFiles + ":go", mcpecho.TemplateFiles + ":golang"}},
	}
	for _, tt := range tests {
		res, err := p.Complete(ctx, &mcp.CompleteParams{Ref: &tt.ref, Argument: mcp.CompleteParamsArgument{Name: "lang", Value: "go"}})
		if err != nil {
			t.Fatalf("complete %+v: %v", tt.ref, err)
		}
		if !slices.Equal(res.Completion.Values, tt.want) {
			t.Errorf("complete %+v = %v, want %v", tt.ref, res.Completion.Values, tt.want)
		}
	}
	_, err := p.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: "nope"}, Argument: mcp.CompleteParamsArgument{Name: "x"}})
	var we *jsonrpc.Error
	if !errors.As(err, &we) || we.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("completing an unknown prompt: %v", err)
	}
}

// TestNoCompletionsWithoutABackendOfferingThem checks the capability follows the backends.
func TestNoCompletionsWithoutABackendOfferingThem(t *testing.T) {
	b := backendNamed(t, "b", mcpecho.Options{Prompts: []string{"p"}, Resources: []string{"echo://b/r"}})
	h := start(t, testConfig(b), b)
	h.mustConnect().waitTools(t, "b_echo")
	p := h.connectPeer(t, mcp.ClientOptions{})
	caps := p.InitializeResult().Capabilities
	if caps.Completions != nil || caps.Resources == nil || caps.Resources.Subscribe {
		t.Errorf("capabilities = completions %v, resources %+v; want neither completions nor subscribe", caps.Completions, caps.Resources)
	}
}
