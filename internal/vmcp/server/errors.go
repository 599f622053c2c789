package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Errors a call through the aggregator can end with, checked with errors.Is.
var (
	// ErrBackendUnavailable means the call was rejected without contacting the backend: its
	// circuit is open, it is not yet known to work, it refused our credentials, or it asked us
	// to wait (Retry-After).
	ErrBackendUnavailable = errors.New("backend unavailable")
	// ErrBackendFailed means the call was sent and the backend failed it (transport error,
	// timeout, HTTP 5xx, 401/403, 429).
	ErrBackendFailed = errors.New("backend failed")
)

// JSON-RPC error codes the aggregator answers with (in the implementation-defined server-error
// range; the SDK uses -32002 and -32020…-32042).
const (
	// CodeBackendUnavailable: prompts/get or resources/read rejected without contacting the backend.
	CodeBackendUnavailable = -32010
	// CodeBackendFailed: prompts/get or resources/read failed at the backend.
	CodeBackendFailed = -32011
	// CodeNoBackends: initialize or a list method refused by the failure mode.
	CodeNoBackends = -32012
	// CodeNotForwardable: a backend's sampling, elicitation or roots request that cannot go to
	// a client (it arrived on a shared session, or the client did not declare the capability).
	CodeNotForwardable = backend.CodeNotForwardable
)

// MetaKey is the _meta key of the ErrorInfo attached to a tools/call result with isError.
const MetaKey = "vmcp.dev/error"

// Error codes in ErrorInfo.Code.
const (
	InfoBackendUnavailable = "BackendUnavailable"
	InfoBackendFailed      = "BackendFailed"
)

// BackendError describes a call that a backend could not serve. It matches ErrBackendUnavailable
// or ErrBackendFailed with errors.Is.
type BackendError struct {
	Backend string
	Health  statusapi.Health
	Circuit statusapi.Circuit
	// Reason is a statusapi.Reason* word.
	Reason  string
	Message string
	// RetryAfter is a hint for when a retry may succeed (0 when there is none).
	RetryAfter time.Duration
	// Unavailable is set when the call was rejected without contacting the backend.
	Unavailable bool
	// Lost is set when the backend accepted the call (answered its HTTP request with 2xx) and
	// then failed to answer it: the stream ended, the session was lost, or time ran out.
	// tools/call answers such a call with a JSON-RPC error rather than an isError result.
	Lost bool
	// Err is the underlying error of a failed call.
	Err error
}

// Error names the backend, its state and the retry hint.
func (e *BackendError) Error() string {
	verb := "failed the call"
	if e.Unavailable {
		verb = "is unavailable"
	}
	s := fmt.Sprintf("backend %q %s (health %s, circuit %s", e.Backend, verb, e.Health, e.Circuit)
	if e.Reason != "" {
		s += ", reason " + e.Reason
	}
	s += ")"
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf("; retry after %ds", retrySeconds(e.RetryAfter))
	}
	return s
}

// Is matches ErrBackendUnavailable or ErrBackendFailed.
func (e *BackendError) Is(target error) bool {
	return (target == ErrBackendUnavailable && e.Unavailable) || (target == ErrBackendFailed && !e.Unavailable)
}

// Unwrap returns the underlying error.
func (e *BackendError) Unwrap() error { return e.Err }

// ErrorInfo is the structured form of a BackendError on the wire: under MetaKey in a tools/call
// result's _meta, and as the data of a JSON-RPC error.
type ErrorInfo struct {
	// Code is InfoBackendUnavailable or InfoBackendFailed.
	Code    string            `json:"code"`
	Backend string            `json:"backend"`
	Health  statusapi.Health  `json:"health"`
	Circuit statusapi.Circuit `json:"circuit"`
	Reason  string            `json:"reason,omitempty"`
	Message string            `json:"message,omitempty"`
	// RetryAfterSeconds is the retry hint rounded up to whole seconds (absent when none).
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
}

// Info returns the wire form.
func (e *BackendError) Info() ErrorInfo {
	code := InfoBackendFailed
	if e.Unavailable {
		code = InfoBackendUnavailable
	}
	return ErrorInfo{
		Code: code, Backend: e.Backend, Health: e.Health, Circuit: e.Circuit, Reason: e.Reason,
		Message: statusapi.TruncateMessage(e.Message), RetryAfterSeconds: retrySeconds(e.RetryAfter),
	}
}

// ToolResult renders the error as what tools/call answers: isError, the error text as content,
// and the ErrorInfo in _meta.
func (e *BackendError) ToolResult() *mcp.CallToolResult {
	return &mcp.CallToolResult{
		Meta:    mcp.Meta{MetaKey: e.Info()},
		Content: []mcp.Content{&mcp.TextContent{Text: e.Error()}},
		IsError: true,
	}
}

// RPCError renders the error as what prompts/get and resources/read answer.
func (e *BackendError) RPCError() *jsonrpc.Error {
	code := CodeBackendFailed
	if e.Unavailable {
		code = CodeBackendUnavailable
	}
	data, _ := json.Marshal(e.Info())
	return &jsonrpc.Error{Code: int64(code), Message: e.Error(), Data: data}
}

// FromToolResult decodes the BackendError a tools/call result carries, as a client sees it.
func FromToolResult(res *mcp.CallToolResult) (*BackendError, bool) {
	if res == nil || !res.IsError || res.Meta == nil {
		return nil, false
	}
	raw, ok := res.Meta[MetaKey]
	if !ok {
		return nil, false
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, false
	}
	return fromInfo(b)
}

// FromError decodes the BackendError carried by a JSON-RPC error, as a client sees it.
func FromError(err error) (*BackendError, bool) {
	var we *jsonrpc.Error
	if !errors.As(err, &we) || (we.Code != CodeBackendUnavailable && we.Code != CodeBackendFailed) {
		return nil, false
	}
	return fromInfo(we.Data)
}

func fromInfo(data []byte) (*BackendError, bool) {
	var info ErrorInfo
	if err := json.Unmarshal(data, &info); err != nil || info.Backend == "" {
		return nil, false
	}
	return &BackendError{
		Backend: info.Backend, Health: info.Health, Circuit: info.Circuit, Reason: info.Reason,
		Message: info.Message, RetryAfter: time.Duration(info.RetryAfterSeconds) * time.Second,
		Unavailable: info.Code == InfoBackendUnavailable,
	}, true
}

func retrySeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}
