// Package backend is the aggregator's client side: one long-lived MCP client session per
// backend, shared by every client session of the aggregator, re-established transparently when
// the backend restarts or expires the session.
//
// A Backend owns the HTTP plumbing (a pooled transport, the configured headers, an
// http.RoundTripper that observes each response's status and Retry-After) and hands out Conns.
// Backend.Shared is the Conn all plain calls use; Backend.NewConn makes further Conns to the
// same backend with their own client handlers, for callers that need a session of their own
// (a client that accepts sampling or elicitation requests, say). Every exchange goes through
// Backend.Do, which bounds it with the backend's timeout, retries it once on a fresh session
// when the backend had forgotten the old one, and classifies the result (Classify) into the
// failure classes the health tracker and circuit breaker consume.
//
// An exchange may carry a Call (WithCall): the transport then hands the call's log messages,
// read off its response stream, to the call, and on a tagged Conn marks the backend's
// server→client messages on that stream with the call's tag (CallMetaKey), which is how a
// backend's elicitation request is attributed to the client call it was made for. The shared
// session refuses server→client requests (ErrNotAttributable).
//
// The SDK transport's own reconnect retries (MaxRetries) are limited to one: a backend that
// closes an SSE stream on purpose can resume it, but a dead backend is reported as dead at once
// instead of after seconds of hidden back-off. Retry policy belongs to the prober and breaker.
package backend
