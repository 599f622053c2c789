package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	rpcErr := &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "bad arguments"}
	tests := []struct {
		name       string
		err        error
		obs        Observed
		callerErr  error
		wantKind   Kind
		wantReason string
		counted    bool // counts against health and the breaker
	}{
		{name: "success", wantKind: OK},
		{name: "tool result with isError is a success", err: nil, obs: Observed{Status: 200}, wantKind: OK},
		{name: "JSON-RPC error", err: fmt.Errorf("calling %q: %w", "tools/call", rpcErr), obs: Observed{Status: 200}, wantKind: RPCError},
		{name: "JSON-RPC error in a 400", err: rpcErr, obs: Observed{Status: 400}, wantKind: RPCError},
		{name: "HTTP 500 with a JSON-RPC body", err: rpcErr, obs: Observed{Status: 500}, wantKind: Failure, wantReason: statusapi.ReasonServerError, counted: true},
		{name: "HTTP 503", err: errors.New("Service Unavailable"), obs: Observed{Status: 503}, wantKind: Failure, wantReason: statusapi.ReasonServerError, counted: true},
		{name: "HTTP 401", err: errors.New("Unauthorized"), obs: Observed{Status: 401}, wantKind: Unauthenticated, wantReason: statusapi.ReasonUnauthorized},
		{name: "HTTP 403", err: errors.New("Forbidden"), obs: Observed{Status: 403}, wantKind: Unauthenticated, wantReason: statusapi.ReasonUnauthorized},
		{name: "HTTP 429", err: errors.New("Too Many Requests"), obs: Observed{Status: 429, RetryAfter: 7 * time.Second}, wantKind: RateLimited, wantReason: statusapi.ReasonRateLimited},
		{name: "connection refused", err: fmt.Errorf("sending: %w", refused), wantKind: Failure, wantReason: statusapi.ReasonConnectionFailed, counted: true},
		{name: "backend timeout", err: context.DeadlineExceeded, wantKind: Failure, wantReason: statusapi.ReasonTimeout, counted: true},
		{name: "probe deadline", err: context.Canceled, callerErr: context.DeadlineExceeded, wantKind: Failure, wantReason: statusapi.ReasonTimeout, counted: true},
		{name: "caller cancelled", err: context.Canceled, callerErr: context.Canceled, wantKind: Canceled},
		{name: "caller cancelled while backend errs", err: refused, callerErr: context.Canceled, wantKind: Canceled},
		{name: "session forgotten", err: fmt.Errorf("x: %w", mcp.ErrSessionMissing), obs: Observed{Status: 404}, wantKind: Failure, wantReason: statusapi.ReasonSessionLost, counted: true},
		{name: "session closed", err: fmt.Errorf("x: %w", mcp.ErrConnectionClosed), wantKind: Failure, wantReason: statusapi.ReasonSessionLost, counted: true},
		{name: "HTTP 404 without MCP", err: errors.New("Not Found"), obs: Observed{Status: 404}, wantKind: Failure, wantReason: statusapi.ReasonServerError, counted: true},
		{name: "stream ended without response", err: errors.New("request terminated without response"), obs: Observed{Status: 200}, wantKind: Failure, wantReason: statusapi.ReasonConnectionFailed, counted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Classify(tt.err, tt.obs, tt.callerErr)
			if o.Kind != tt.wantKind || o.Reason != tt.wantReason {
				t.Fatalf("Classify = (%s, %q), want (%s, %q)", o.Kind, o.Reason, tt.wantKind, tt.wantReason)
			}
			if got := o.Kind == Failure; got != tt.counted {
				t.Fatalf("counted as failure = %v, want %v", got, tt.counted)
			}
			if tt.wantKind == RateLimited && o.RetryAfter != tt.obs.RetryAfter {
				t.Fatalf("RetryAfter = %v, want %v", o.RetryAfter, tt.obs.RetryAfter)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"12", 12 * time.Second},
		{"-3", 0},
		{"Thu, 01 Jan 2026 00:00:30 GMT", 30 * time.Second},
		{"Wed, 31 Dec 2025 23:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
