package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// progressBuffer bounds the progress notifications queued for one slow client; beyond it they
// are dropped (progress is advisory, and a backend's shared session must never wait for one
// client).
const progressBuffer = 16

// progressNotifyTimeout bounds delivering one progress notification to a client.
const progressNotifyTimeout = 5 * time.Second

// progressRouter maps the progress tokens the aggregator sends to backends back to the client
// session and token of the call that caused them. Backends share one session, so clients'
// tokens (which may collide) are replaced by unique ones.
type progressRouter struct {
	seq     atomic.Uint64
	targets sync.Map // token string → *progressTarget
}

type progressTarget struct {
	ctx     context.Context // the client request's context: notifications go on its stream
	session *mcp.ServerSession
	token   any
	queue   chan *mcp.ProgressNotificationParams
	stop    chan struct{}
	stopped chan struct{}
}

// register starts forwarding progress for one call and returns the token to send to the
// backend and a function to call when the call is over.
func (r *progressRouter) register(ctx context.Context, ss *mcp.ServerSession, clientToken any) (string, func()) {
	tok := fmt.Sprintf("vmcp-%d", r.seq.Add(1))
	t := &progressTarget{
		ctx: ctx, session: ss, token: clientToken,
		queue: make(chan *mcp.ProgressNotificationParams, progressBuffer),
		stop:  make(chan struct{}), stopped: make(chan struct{}),
	}
	r.targets.Store(tok, t)
	go t.run()
	return tok, func() {
		r.targets.Delete(tok)
		close(t.stop)
		<-t.stopped
	}
}

// forward is the backends' progress handler. It never blocks.
func (r *progressRouter) forward(params *mcp.ProgressNotificationParams) {
	tok, ok := params.ProgressToken.(string)
	if !ok {
		return
	}
	v, ok := r.targets.Load(tok)
	if !ok {
		return
	}
	t := v.(*progressTarget)
	p := *params
	p.ProgressToken = t.token
	select {
	case t.queue <- &p:
	default:
	}
}

func (t *progressTarget) run() {
	defer close(t.stopped)
	for {
		select {
		case p := <-t.queue:
			t.send(p)
		case <-t.stop:
			// Deliver what arrived before the call's result, then stop.
			for {
				select {
				case p := <-t.queue:
					t.send(p)
				default:
					return
				}
			}
		}
	}
}

func (t *progressTarget) send(p *mcp.ProgressNotificationParams) {
	ctx, cancel := context.WithTimeout(t.ctx, progressNotifyTimeout)
	defer cancel()
	_ = t.session.NotifyProgress(ctx, p)
}
