package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Kind is the class of one exchange with a backend (DESIGN §5).
type Kind int8

// Kinds of outcome. Only Failure counts against a backend's health and circuit.
const (
	// OK is a successful exchange, including a tool result with isError: true.
	OK Kind = iota
	// RPCError is a JSON-RPC error answered by the backend (invalid params, method not found):
	// the backend is up and said no.
	RPCError
	// Failure is a transport error, a timeout, an HTTP 5xx or a broken session.
	Failure
	// Unauthenticated is HTTP 401 or 403.
	Unauthenticated
	// RateLimited is HTTP 429; Outcome.RetryAfter carries the Retry-After header.
	RateLimited
	// Canceled means the caller gave up; it says nothing about the backend.
	Canceled
)

// String returns the kind as used in metric labels.
func (k Kind) String() string {
	switch k {
	case OK:
		return "ok"
	case RPCError:
		return "rpc_error"
	case Failure:
		return "failure"
	case Unauthenticated:
		return "unauthenticated"
	case RateLimited:
		return "rate_limited"
	default:
		return "canceled"
	}
}

// Outcome is the classified result of one exchange with a backend.
type Outcome struct {
	Kind Kind
	// Reason is one of the statusapi.Reason* words (empty for OK and Canceled).
	Reason string
	// Err is the underlying error, nil for OK.
	Err error
	// HTTPStatus is the status of the backend's HTTP response, 0 if none was received.
	HTTPStatus int
	// RetryAfter is the backend's Retry-After hint (RateLimited only; 0 if absent).
	RetryAfter time.Duration
	// Latency is how long the exchange took, connecting included.
	Latency time.Duration
}

// Message is a short human-readable description of a non-OK outcome: the HTTP status, the
// network error, or the error text without the SDK's call-site prefixes.
//
// It is stable for a given state of the backend: it ends up in the status of a Kubernetes
// object, which is written whenever it changes, so it carries nothing that differs from one
// failure to the next — no local address or ephemeral port, session id, request id or method
// of the exchange that failed.
func (o Outcome) Message() string {
	switch {
	case o.Err == nil:
		return ""
	case o.HTTPStatus >= 400 && o.Kind != RPCError:
		return fmt.Sprintf("HTTP %d %s", o.HTTPStatus, http.StatusText(o.HTTPStatus))
	case o.Reason == statusapi.ReasonTimeout:
		return "no answer before the deadline"
	}
	var op *net.OpError
	if errors.As(o.Err, &op) {
		remote := *op
		remote.Source = nil // the local address: a new ephemeral port on every connection
		return stableText(remote.Error())
	}
	return stableText(o.Err.Error())
}

// Parts of error texts that differ between failures of the same kind, and what replaces them.
var unstable = []struct {
	re   *regexp.Regexp
	with string
}{
	// The SDK's call-site prefixes name the method of the exchange (a probe's ping, a user's
	// tools/call), or the id of a response.
	{regexp.MustCompile(`(calling|sending) "[^"]*": `), ""},
	{regexp.MustCompile(`sending jsonrpc response #\S+: `), ""},
	// Session ids, new with every session.
	{regexp.MustCompile(` ?\(session ID: [^)]*\)`), ""},
	{regexp.MustCompile(`session IDs "[^"]*" and "[^"]*"`), "session IDs"},
	// "local->remote" addresses in error texts that were flattened to strings on the way
	// (no *net.OpError left to clear): keep the remote address only.
	{regexp.MustCompile(`\S+:\d+->`), ""},
}

// stableText removes per-failure details from an error text.
func stableText(s string) string {
	for _, u := range unstable {
		s = u.re.ReplaceAllString(s, u.with)
	}
	return s
}

// Observed is what the observing RoundTripper saw of the backend's HTTP responses for one
// exchange.
type Observed struct {
	// Status is the first non-2xx status seen, else the last 2xx status, else 0.
	Status     int
	RetryAfter time.Duration
}

// Classify maps an exchange's error to an Outcome. callerErr is the error of the caller's own
// context: a caller that cancelled is not the backend's fault, while a deadline (the backend's
// timeout or the probe's) is a Timeout failure. HTTP statuses win over the error's type because
// the SDK wraps a JSON-RPC error body of a 5xx response like any other JSON-RPC error.
func Classify(err error, obs Observed, callerErr error) Outcome {
	o := Outcome{Err: err, HTTPStatus: obs.Status}
	switch {
	case err == nil:
		o.Kind = OK
	case errors.Is(callerErr, context.Canceled):
		o.Kind = Canceled
	case obs.Status == http.StatusUnauthorized || obs.Status == http.StatusForbidden:
		o.Kind, o.Reason = Unauthenticated, statusapi.ReasonUnauthorized
	case obs.Status == http.StatusTooManyRequests:
		o.Kind, o.Reason, o.RetryAfter = RateLimited, statusapi.ReasonRateLimited, obs.RetryAfter
	case obs.Status >= 500:
		o.Kind, o.Reason = Failure, statusapi.ReasonServerError
	case isTimeout(err) || errors.Is(callerErr, context.DeadlineExceeded):
		o.Kind, o.Reason = Failure, statusapi.ReasonTimeout
	case isRPCError(err):
		o.Kind = RPCError
	case errors.Is(err, mcp.ErrSessionMissing), errors.Is(err, mcp.ErrConnectionClosed):
		o.Kind, o.Reason = Failure, statusapi.ReasonSessionLost
	case obs.Status >= 400:
		// A 4xx without a JSON-RPC body: a wrong URL or a server that does not speak MCP.
		o.Kind, o.Reason = Failure, statusapi.ReasonServerError
		o.Err = fmt.Errorf("HTTP %d %s: %w", obs.Status, http.StatusText(obs.Status), err)
	default:
		o.Kind, o.Reason = Failure, statusapi.ReasonConnectionFailed
	}
	return o
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isNetError(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// localCodes are codes of the SDK's own transport-state errors ("rejected by transport",
// "client is closing", "server is closing"), which it reports as JSON-RPC error values although
// no backend sent them.
var localCodes = map[int64]bool{-32003: true, -32004: true, -32005: true}

// isRPCError reports whether err carries a JSON-RPC error the backend answered with.
func isRPCError(err error) bool {
	found := false
	walk(err, func(e error) bool {
		if we, ok := e.(*jsonrpc.Error); ok && !localCodes[we.Code] {
			found = true
		}
		return !found
	})
	return found
}

// walk visits err's tree depth first until visit returns false.
func walk(err error, visit func(error) bool) bool {
	if err == nil {
		return true
	}
	if !visit(err) {
		return false
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return walk(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if !walk(e, visit) {
				return false
			}
		}
	}
	return true
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
