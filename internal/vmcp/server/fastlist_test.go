package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/aggregate"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/rawmcp"
)

// listingServer serves a catalog of n tools (no backends are contacted to list them).
func listingServer(t *testing.T, n int) (*Server, string) {
	t.Helper()
	var tools []*mcp.Tool
	for i := range n {
		tools = append(tools, &mcp.Tool{
			Name: fmt.Sprintf("t%05d", i), Title: "T", Description: "tool <&> \u2028",
			InputSchema:  json.RawMessage(`{"type":"object","$defs":{"x":{"type":"string"}},"additionalProperties":false}`),
			OutputSchema: json.RawMessage(`{"type":"object"}`),
			Annotations:  &mcp.ToolAnnotations{ReadOnlyHint: true},
			Meta:         mcp.Meta{"k": "v"},
		})
	}
	s := New(Options{})
	cat := aggregate.Build(aggregate.Options{Strategy: config.ConflictStrategyPrefix},
		[]aggregate.Source{{Name: "a", Prefix: "a_", Known: true, Available: true, Tools: tools}}, nil)
	s.Publish(&State{Catalog: cat, Members: map[string]*Member{}, FailureMode: config.FailureModeFail})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs.URL
}

// waitTracked waits until the server tracks the client's session: the SDK handles
// notifications/initialized asynchronously, and until then tools/list takes the SDK's path.
func waitTracked(t *testing.T, s *Server) string {
	t.Helper()
	var session string
	poll.Until(t, 5*time.Second, func() error {
		s.sessions.Range(func(k, _ any) bool { session = k.(string); return false })
		if session == "" {
			return errors.New("session not tracked yet")
		}
		return nil
	})
	return session
}

type page struct {
	Tools      []map[string]any `json:"tools"`
	NextCursor string           `json:"nextCursor"`
}

func listPage(t *testing.T, c *rawmcp.Client, cursor string, viaSDK bool) page {
	t.Helper()
	params := map[string]any{}
	if cursor != "" {
		params["cursor"] = cursor
	}
	if viaSDK {
		params["_meta"] = map[string]any{"force": "sdk"} // request _meta takes the SDK's path
	}
	raw, err := c.Call(context.Background(), "tools/list", params)
	if err != nil {
		t.Fatal(err)
	}
	var p page
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFastListMatchesSDK checks that the fast path answers exactly what the SDK answers, page by
// page, and that cursors of either path work on the other.
func TestFastListMatchesSDK(t *testing.T) {
	s, url := listingServer(t, 2*PageSize+5)
	c, err := rawmcp.Dial(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	waitTracked(t, s)

	var fast, sdk []map[string]any
	for cursor := ""; ; {
		p := listPage(t, c, cursor, false)
		fast = append(fast, p.Tools...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	for cursor := ""; ; {
		p := listPage(t, c, cursor, true)
		sdk = append(sdk, p.Tools...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(fast) != 2*PageSize+5 {
		t.Fatalf("fast path listed %d tools", len(fast))
	}
	if diff := cmp.Diff(sdk, fast); diff != "" {
		t.Fatalf("fast path differs from the SDK (-sdk +fast):\n%s", diff)
	}

	// Mixed: page 1 fast, page 2 SDK with the fast cursor, page 3 fast with the SDK's cursor.
	p1 := listPage(t, c, "", false)
	p2 := listPage(t, c, p1.NextCursor, true)
	p3 := listPage(t, c, p2.NextCursor, false)
	if p2.Tools[0]["name"] != fmt.Sprintf("a_t%05d", PageSize) || len(p3.Tools) != 5 || p3.NextCursor != "" {
		t.Fatalf("mixed paging: page 2 starts at %v, page 3 has %d tools", p2.Tools[0]["name"], len(p3.Tools))
	}
}

// TestFastListFallsBack checks requests the fast path must leave to the SDK.
func TestFastListFallsBack(t *testing.T) {
	s, url := listingServer(t, 3)
	c, err := rawmcp.Dial(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	post := func(body string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", rawmcp.ProtocolVersion)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	if resp := post(list, map[string]string{"Mcp-Session-Id": "nope"}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown session: HTTP %d, want the SDK's 404", resp.StatusCode)
	}
	session := waitTracked(t, s)
	if resp := post(list, map[string]string{"Mcp-Session-Id": session, "Accept": "application/json"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("Accept without text/event-stream: HTTP %d, want the SDK's 400", resp.StatusCode)
	}
	if resp := post(list, map[string]string{"Mcp-Session-Id": session, "Mcp-Protocol-Version": "1999-01-01"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unsupported protocol version: HTTP %d, want the SDK's 400", resp.StatusCode)
	}
	resp := post(`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"garbage"}}`, map[string]string{"Mcp-Session-Id": session})
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("bad cursor answered with %s, want the SDK's stream", ct)
	}
	resp = post(list, map[string]string{"Mcp-Session-Id": session})
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("plain tools/list answered with %s, want the fast path's JSON", ct)
	}
}
