package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
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

// TestOutcomeMessageIsStable checks that failures of the same kind have the same message: it
// is copied into the object's status, and a message that changes with every failure (a new
// ephemeral port, session id, or the method that happened to fail) would make each one a write.
func TestOutcomeMessageIsStable(t *testing.T) {
	reset := func(localPort int) error {
		return &net.OpError{
			Op: "read", Net: "tcp",
			Source: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: localPort},
			Addr:   &net.TCPAddr{IP: net.IPv4(10, 0, 0, 9), Port: 8080},
			Err:    &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET},
		}
	}
	tests := []struct {
		name string
		errs []error // failures of the same kind
		want string
	}{
		{
			name: "connection reset, local port differs",
			errs: []error{
				fmt.Errorf("calling %q: %w", "ping", reset(51234)),
				fmt.Errorf("calling %q: %w", "tools/call", reset(40000)),
			},
			want: "read tcp 10.0.0.9:8080: read: connection reset by peer",
		},
		{
			name: "network error flattened into a string",
			errs: []error{
				fmt.Errorf("sending %q: failed to reconnect (session ID: ABC123): %v", "ping", reset(51234)),
				fmt.Errorf("sending %q: failed to reconnect (session ID: XYZ789): %v", "tools/call", reset(40001)),
			},
			want: "failed to reconnect: read tcp 10.0.0.9:8080: read: connection reset by peer",
		},
		{
			name: "session ids",
			errs: []error{
				fmt.Errorf("sending %q: failed to connect (session ID: S1): %w", "ping", mcp.ErrSessionMissing),
				fmt.Errorf("sending %q: failed to connect (session ID: S2): %w", "tools/call", mcp.ErrSessionMissing),
			},
			want: "failed to connect: session not found",
		},
		{
			name: "mismatching session ids",
			errs: []error{
				errors.New(`mismatching session IDs "a1" and "b1"`),
				errors.New(`mismatching session IDs "a2" and "b2"`),
			},
			want: "mismatching session IDs",
		},
		{
			name: "response ids",
			errs: []error{
				errors.New("sending jsonrpc response #17: stream not connected or already closed"),
				errors.New("sending jsonrpc response #42: stream not connected or already closed"),
			},
			want: "stream not connected or already closed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, err := range tt.errs {
				if got := Classify(err, Observed{}, nil).Message(); got != tt.want {
					t.Errorf("Message() = %q, want %q", got, tt.want)
				}
			}
		})
	}
}
