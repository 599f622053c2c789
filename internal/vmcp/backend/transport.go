package backend

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/utils/clock"
)

// NewTransport returns the pooled HTTP transport shared by all backends. Keep-alive connections
// are kept per backend host so concurrent calls reuse sockets instead of opening new ones.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// observation collects what the RoundTripper sees of the responses to one exchange. It is
// written by the SDK's goroutines (including a late cancellation notice) and read by Do, so it
// is guarded.
type observation struct {
	mu         sync.Mutex
	status     int
	retryAfter time.Duration
}

type observationKey struct{}

func withObservation(ctx context.Context) (context.Context, *observation) {
	o := &observation{}
	return context.WithValue(ctx, observationKey{}, o), o
}

func (o *observation) record(status int, retryAfter time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	// The first failure status wins: a later 202 for a cancellation notice or a resumed stream
	// must not hide the 5xx that failed the call.
	if o.status == 0 || (o.status >= 200 && o.status < 300) {
		o.status, o.retryAfter = status, retryAfter
	}
}

func (o *observation) get() Observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Observed{Status: o.status, RetryAfter: o.retryAfter}
}

// observingTransport adds the backend's configured headers to every request and records each
// response's status and Retry-After into the exchange's observation, which is how HTTP-level
// failures (401, 429, 5xx) reach the classification even though the SDK reports them as
// opaque errors. On SSE responses it reads progress (and a call's log messages) off the wire
// and, for a tagged Conn's calls, tags the backend's server→client messages with the call.
type observingTransport struct {
	base    http.RoundTripper
	clock   clock.PassiveClock
	headers atomic.Pointer[http.Header]
	// onProgress, if set, receives progress notifications read off SSE bodies in wire order
	// (see notificationTap).
	onProgress func(*mcp.ProgressNotificationParams)
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := t.headers.Load(); h != nil && len(*h) > 0 {
		req = req.Clone(req.Context()) // a RoundTripper must not modify its request
		for k, v := range *h {
			req.Header[k] = v
		}
	}
	resp, err := t.base.RoundTrip(req)
	if resp == nil {
		return resp, err
	}
	if o, ok := req.Context().Value(observationKey{}).(*observation); ok {
		o.record(resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), t.clock.Now()))
	}
	if !isEventStream(resp.Header.Get("Content-Type")) {
		return resp, err
	}
	ci := callInfoFrom(req.Context())
	var onLog func(*mcp.LoggingMessageParams) //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
	if ci != nil {
		onLog = ci.call.Log
	}
	// The tap reads the backend's bytes as they are; the rewriter's tags are for the SDK only.
	if t.onProgress != nil || onLog != nil {
		resp.Body = &notificationTap{body: resp.Body, onProgress: t.onProgress, onLog: onLog}
	}
	if ci != nil && ci.rewrite && ci.call.Tag != "" {
		resp.Body = newTagRewriter(resp.Body, ci.call.Tag)
	}
	return resp, err
}
