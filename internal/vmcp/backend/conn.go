package backend

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ErrClosed is returned by a Conn after Close.
var ErrClosed = errors.New("backend connection closed")

// protocolVersion is the MCP revision the aggregator asks its backends for. Pinning the
// session-based revision skips the SDK's server/discover round trip, which stateful servers
// (the common case, and the SDK's default) answer with an error before falling back anyway.
const protocolVersion = "2025-11-25"

// transportMaxRetries lets the SDK resume an interrupted SSE stream once (a backend may close
// a stream on purpose and expect the client to resume it) but not keep a dead backend's
// session alive through seconds of back-off; see the package doc.
const transportMaxRetries = 1

// Conn is one MCP client session with a backend, established on first use and again whenever
// the backend loses it. Many concurrent calls share it. Safe for concurrent use.
type Conn struct {
	b      *Backend
	client *mcp.Client
	// onStarted and onLost are called after a session is established and after one ends
	// without Close; they must not block.
	onStarted func()
	onLost    func(error)
	// tagged and setup are ConnOptions.Tagged and ConnOptions.Setup.
	tagged bool
	setup  func(context.Context, *mcp.ClientSession)

	mu         sync.Mutex
	cs         *mcp.ClientSession
	connecting *attempt
	closed     bool
}

// attempt is an initialize in progress; concurrent callers wait for it instead of starting
// their own. It runs on a context of its own, bounded by the backend's timeout: it serves every
// caller waiting for it, so no single caller's cancellation or deadline may end it.
type attempt struct {
	done   chan struct{}
	cancel context.CancelFunc
	cs     *mcp.ClientSession
	err    error
}

// connectError is a failure to establish a session, with what the transport observed of it.
type connectError struct {
	err error
	obs Observed
}

func (e *connectError) Error() string { return "initialize: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// Session returns the live session, establishing one if there is none. Concurrent callers share
// one initialize, which runs detached from all of them (bounded by the backend's timeout); each
// caller waits for it only as long as its own ctx allows and then gets ctx's error, never
// another caller's. An error of the initialize itself is the backend's, and every waiter gets it.
func (c *Conn) Session(ctx context.Context) (*mcp.ClientSession, error) {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, ErrClosed
	case c.cs != nil:
		cs := c.cs
		c.mu.Unlock()
		return cs, nil
	}
	a := c.connecting
	if a == nil {
		a = c.startAttempt()
	}
	c.mu.Unlock()
	select {
	case <-a.done:
		return a.cs, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startAttempt starts an initialize in the background; c.mu must be held.
func (c *Conn) startAttempt() *attempt {
	ctx, cancel := context.WithTimeout(context.Background(), c.b.opts.Timeout)
	a := &attempt{done: make(chan struct{}), cancel: cancel}
	c.connecting = a
	go c.establish(ctx, a)
	return a
}

func (c *Conn) establish(ctx context.Context, a *attempt) {
	defer a.cancel()
	cs, err := c.connect(ctx)
	c.mu.Lock()
	c.connecting = nil
	closed := c.closed
	if err == nil && !closed {
		c.cs = cs
	}
	c.mu.Unlock()
	switch {
	case closed && err == nil:
		_ = cs.Close()
		err = ErrClosed
	case closed:
		err = ErrClosed // Close cancelled the attempt
	}
	a.cs, a.err = cs, err
	if err != nil {
		a.cs = nil
	}
	close(a.done)
	if err != nil {
		return
	}
	go c.watch(cs)
	if c.onStarted != nil {
		c.onStarted()
	}
}

func (c *Conn) connect(ctx context.Context) (*mcp.ClientSession, error) {
	headers, err := ResolveHeaders(c.b.opts.Headers, c.b.opts.Sources)
	if err != nil {
		return nil, &connectError{err: fmt.Errorf("headers: %w", err)}
	}
	c.b.transport.headers.Store(&headers)
	// The initialize exchange gets its own observation: the SDK keeps this context's values for
	// the session's background streams, which must not write into a caller's observation.
	ctx, obs := withObservation(ctx)
	t := &mcp.StreamableClientTransport{
		Endpoint:   c.b.opts.URL,
		HTTPClient: c.b.httpClient,
		MaxRetries: transportMaxRetries,
	}
	cs, err := c.client.Connect(ctx, t, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err != nil {
		return nil, &connectError{err: err, obs: obs.get()}
	}
	if c.setup != nil {
		c.setup(ctx, cs)
	}
	return cs, nil
}

// watch forgets a session when it ends (the backend went away, the session expired, a stream
// broke), so the next call establishes a new one instead of failing on the dead one.
func (c *Conn) watch(cs *mcp.ClientSession) {
	err := cs.Wait()
	if c.forget(cs) && c.onLost != nil {
		c.onLost(err)
	}
}

func (c *Conn) forget(cs *mcp.ClientSession) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cs != cs {
		return false
	}
	c.cs = nil
	return true
}

// Live returns the current session, or nil if there is none; it never connects.
func (c *Conn) Live() *mcp.ClientSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cs
}

// drop discards a session the backend no longer knows.
func (c *Conn) drop(cs *mcp.ClientSession) {
	if c.forget(cs) {
		go func() { _ = cs.Close() }()
	}
}

// Close ends the session (telling the backend, bounded by the SDK's close timeout) and makes
// further calls fail with ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	cs := c.cs
	c.cs = nil
	if c.connecting != nil {
		c.connecting.cancel()
	}
	c.mu.Unlock()
	if cs == nil {
		return nil
	}
	return cs.Close()
}

// rootsChangedMarker is the one root a Conn's SDK client holds. Its roots are never listed
// (a per-client Conn answers roots/list from its client), so adding it again is only a way to
// make the SDK send notifications/roots/list_changed, which it offers no other way to send.
var rootsChangedMarker = &mcp.Root{URI: "vmcp:roots-changed", Name: "vmcp"} //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions

// NotifyRootsListChanged sends notifications/roots/list_changed on the Conn's session, if its
// declared capabilities say it sends them.
func (c *Conn) NotifyRootsListChanged() { c.client.AddRoots(rootsChangedMarker) } //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
