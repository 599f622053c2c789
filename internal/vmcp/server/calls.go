package server

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// noticeBuffer bounds the notifications queued for one slow client call; beyond it they are
// dropped (progress and logs are advisory, and a backend's session must never wait for one
// client).
const noticeBuffer = 16

// notifyTimeout bounds delivering one notification to a client.
const notifyTimeout = 5 * time.Second

// callRouter knows the forwarded calls that a backend's messages can belong to. Each call has
// a tag unique in the process; it is the progress token sent to the backend (clients' own
// tokens may collide on a shared session) and the tag a tagged per-client session puts on the
// backend's server→client requests.
type callRouter struct {
	seq   atomic.Uint64
	calls sync.Map // tag → *call
}

// call is one forwarded request.
type call struct {
	tag     string
	ctx     context.Context // the client request's context: what is sent with it goes on its stream
	session *mcp.ServerSession
	token   any // the client's progress token, nil if none

	// queue delivers progress and log notifications in the order the backend sent them; nil
	// when the call expects neither.
	queue   chan notice
	stop    chan struct{}
	stopped chan struct{}
}

type notice struct {
	progress *mcp.ProgressNotificationParams
	log      *mcp.LoggingMessageParams //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
}

// start registers a call. notices starts a delivery goroutine for progress and log messages.
func (r *callRouter) start(ctx context.Context, ss *mcp.ServerSession, token any, notices bool) *call {
	c := &call{tag: "vmcp-" + strconv.FormatUint(r.seq.Add(1), 10), ctx: ctx, session: ss, token: token}
	if notices {
		c.queue = make(chan notice, noticeBuffer)
		c.stop, c.stopped = make(chan struct{}), make(chan struct{})
		go c.run()
	}
	r.calls.Store(c.tag, c)
	return c
}

// done unregisters the call and delivers what arrived before its result.
func (r *callRouter) done(c *call) {
	r.calls.Delete(c.tag)
	if c.queue != nil {
		close(c.stop)
		<-c.stopped
	}
}

func (r *callRouter) get(tag string) (*call, bool) {
	v, ok := r.calls.Load(tag)
	if !ok {
		return nil, false
	}
	return v.(*call), true
}

// forwardProgress is the backends' progress handler. It never blocks.
func (r *callRouter) forwardProgress(params *mcp.ProgressNotificationParams) {
	tok, ok := params.ProgressToken.(string)
	if !ok {
		return
	}
	c, ok := r.get(tok)
	if !ok || c.token == nil {
		return
	}
	p := *params
	p.ProgressToken = c.token
	c.enqueue(notice{progress: &p})
}

// log receives the call's log messages (backend.Call.Log). It never blocks.
func (c *call) log(p *mcp.LoggingMessageParams) { c.enqueue(notice{log: p}) } //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions

func (c *call) enqueue(n notice) {
	if c.queue == nil {
		return
	}
	select {
	case c.queue <- n:
	default:
	}
}

func (c *call) run() {
	defer close(c.stopped)
	for {
		select {
		case n := <-c.queue:
			c.send(n)
		case <-c.stop:
			for {
				select {
				case n := <-c.queue:
					c.send(n)
				default:
					return
				}
			}
		}
	}
}

func (c *call) send(n notice) {
	ctx, cancel := context.WithTimeout(c.ctx, notifyTimeout)
	defer cancel()
	switch {
	case n.progress != nil:
		_ = c.session.NotifyProgress(ctx, n.progress)
	case n.log != nil:
		// The SDK applies the client's own level.
		_ = c.session.Log(ctx, n.log) //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
	}
}
