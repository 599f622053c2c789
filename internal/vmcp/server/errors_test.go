package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

func TestBackendErrorIsAndWireForms(t *testing.T) {
	tests := []struct {
		name string
		err  *BackendError
		is   error
		not  error
		code int64
	}{
		{
			name: "unavailable",
			err: &BackendError{Backend: "github", Health: statusapi.HealthUnhealthy, Circuit: statusapi.CircuitOpen,
				Reason: statusapi.ReasonCircuitOpen, Message: "connection refused", RetryAfter: 2500 * time.Millisecond, Unavailable: true},
			is: ErrBackendUnavailable, not: ErrBackendFailed, code: CodeBackendUnavailable,
		},
		{
			name: "failed",
			err: &BackendError{Backend: "github", Health: statusapi.HealthHealthy, Circuit: statusapi.CircuitClosed,
				Reason: statusapi.ReasonTimeout, Err: errors.New("deadline exceeded")},
			is: ErrBackendFailed, not: ErrBackendUnavailable, code: CodeBackendFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrapped := fmt.Errorf("call: %w", tt.err)
			var be *BackendError
			if !errors.Is(wrapped, tt.is) || errors.Is(wrapped, tt.not) || !errors.As(wrapped, &be) {
				t.Fatalf("errors.Is/As do not classify %v", wrapped)
			}
			if !strings.Contains(tt.err.Error(), `backend "github"`) || !strings.Contains(tt.err.Error(), string(tt.err.Circuit)) {
				t.Fatalf("message %q does not name the backend and state", tt.err.Error())
			}

			// tools/call: a result with isError, the message as text and ErrorInfo in _meta,
			// decoded as a client would after a JSON round trip.
			res := roundTrip[mcp.CallToolResult](t, tt.err.ToolResult())
			got, ok := FromToolResult(res)
			if !ok || !res.IsError {
				t.Fatalf("FromToolResult(%+v) failed", res)
			}
			want := *tt.err
			want.Err = nil
			want.RetryAfter = time.Duration(retrySeconds(tt.err.RetryAfter)) * time.Second
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Fatalf("decoded from result (-want +got):\n%s", diff)
			}

			// prompts/get and resources/read: a JSON-RPC error with the info as data.
			rpc := tt.err.RPCError()
			if rpc.Code != tt.code {
				t.Fatalf("code = %d, want %d", rpc.Code, tt.code)
			}
			got, ok = FromError(fmt.Errorf("calling: %w", rpc))
			if !ok {
				t.Fatal("FromError failed")
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Fatalf("decoded from JSON-RPC error (-want +got):\n%s", diff)
			}
		})
	}
	if _, ok := FromToolResult(&mcp.CallToolResult{IsError: true}); ok {
		t.Error("a plain tool error decoded as a BackendError")
	}
	if _, ok := FromError(errors.New("x")); ok {
		t.Error("a plain error decoded as a BackendError")
	}
}

func TestErrorInfoJSON(t *testing.T) {
	e := &BackendError{Backend: "b", Health: statusapi.HealthUnknown, Circuit: statusapi.CircuitClosed, Reason: statusapi.ReasonNotYetProbed, RetryAfter: 10 * time.Second, Unavailable: true}
	b, err := json.Marshal(e.Info())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"code":"BackendUnavailable","backend":"b","health":"Unknown","circuit":"Closed","reason":"NotYetProbed","retryAfterSeconds":10}`
	if string(b) != want {
		t.Fatalf("ErrorInfo = %s\nwant        %s", b, want)
	}
}

func TestForwardMeta(t *testing.T) {
	meta := mcp.Meta{
		"progressToken": "client-1",
		"io.modelcontextprotocol/protocolVersion": "2026-07-28",
		"trace": "abc",
	}
	out, tok := forwardMeta(meta)
	if tok != "client-1" {
		t.Fatalf("token = %v", tok)
	}
	if diff := cmp.Diff(mcp.Meta{"trace": "abc"}, out); diff != "" {
		t.Fatalf("forwarded meta (-want +got):\n%s", diff)
	}
}

func roundTrip[T any](t *testing.T, v any) *T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}
