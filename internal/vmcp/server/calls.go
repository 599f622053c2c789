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

	// The backend's requests to the client made for this call (see beginReverse).
	reverseMu     sync.Mutex
	reverseCtx    context.Context
	reverseCancel context.CancelFunc
	reverseWG     sync.WaitGroup
	reverseDone   bool
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

// reverseWait bounds how long a call's answer waits for the requests the backend made for it
// to end.
const reverseWait = time.Second

// beginReverse registers a request the backend sends the client for this call: it goes on the
// call's stream, and is cancelled when the call is over. ok is false once the call is over.
func (c *call) beginReverse() (ctx context.Context, end func(), ok bool) {
	c.reverseMu.Lock()
	defer c.reverseMu.Unlock()
	if c.reverseDone {
		return nil, nil, false
	}
	if c.reverseCtx == nil {
		c.reverseCtx, c.reverseCancel = context.WithCancel(c.ctx)
	}
	c.reverseWG.Add(1)
	return c.reverseCtx, c.reverseWG.Done, true
}

// endReverse cancels the backend's requests still open for the call once the backend answered
// it, and waits (bounded) until they returned: the SDK then tells the client they were
// cancelled on the call's stream, which closes with the call's answer.
func (c *call) endReverse() {
	c.reverseMu.Lock()
	c.reverseDone = true
	cancel := c.reverseCancel
	c.reverseMu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	done := make(chan struct{})
	go func() { c.reverseWG.Wait(); close(done) }()
	t := time.NewTimer(reverseWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// done unregisters the call and delivers what arrived before its result.
func (r *callRouter) done(c *call) {
	c.endReverse()
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
