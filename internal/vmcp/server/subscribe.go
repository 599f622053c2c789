package server

import (
	"context"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// methodSubscribe and methodUnsubscribe are routed to the backend owning the resource.
const (
	methodSubscribe   = "resources/subscribe"
	methodUnsubscribe = "resources/unsubscribe"
)

// subKey is one resource subscription at one backend.
type subKey struct{ backend, uri string }

// subscription is the aggregator's one subscription to a backend resource, shared by the
// clients subscribed to it: the backend is asked on the first and told on the last.
type subscription struct {
	mu      sync.Mutex
	clients map[*client]struct{}
	active  bool // subscribed at the backend
	dead    bool // removed from subscriptions.subs; whoever holds it must look it up again
}

// subscriptions are the aggregator's subscriptions to backend resources.
type subscriptions struct {
	mu   sync.Mutex
	subs map[subKey]*subscription
}

// lock returns k's entry, created if need be, locked.
func (ss *subscriptions) lock(k subKey) *subscription {
	for {
		ss.mu.Lock()
		if ss.subs == nil {
			ss.subs = map[subKey]*subscription{}
		}
		e, ok := ss.subs[k]
		if !ok {
			e = &subscription{clients: map[*client]struct{}{}}
			ss.subs[k] = e
		}
		ss.mu.Unlock()
		e.mu.Lock()
		if !e.dead {
			return e
		}
		e.mu.Unlock()
	}
}

// release unlocks k's entry e, dropping it if nobody uses it.
func (ss *subscriptions) release(k subKey, e *subscription) {
	if len(e.clients) == 0 && !e.active {
		ss.mu.Lock()
		if ss.subs[k] == e {
			delete(ss.subs, k)
		}
		ss.mu.Unlock()
		e.dead = true
	}
	e.mu.Unlock()
}

// forBackend returns the resources of a backend that have subscribers.
func (ss *subscriptions) forBackend(name string) []string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var uris []string
	for k := range ss.subs {
		if k.backend == name {
			uris = append(uris, k.uri)
		}
	}
	return uris
}

// subscribe is the SDK's SubscribeHandler: the resource's owner is subscribed (over its shared
// session) unless another client already is; the SDK then records the client's subscription,
// and ResourceUpdated notifies it.
func (s *Server) subscribe(ctx context.Context, req *mcp.SubscribeRequest) error {
	st := s.state.Load()
	r, ok := st.Catalog.Resource(req.Params.URI)
	if !ok {
		return mcp.ResourceNotFoundError(req.Params.URI)
	}
	cl := s.clientOf(req.Session)
	if cl == nil {
		return mcp.ResourceNotFoundError(req.Params.URI) // not an initialized session
	}
	k := subKey{backend: r.Backend, uri: r.Name}
	e := s.subs.lock(k)
	defer s.subs.release(k, e)
	if !e.active {
		params := &mcp.SubscribeParams{URI: r.Name}
		berr, err := s.forward(ctx, st, exchange{backend: r.Backend, method: methodSubscribe, session: req.Session, meta: req.Params.Meta, outMeta: &params.Meta, shared: true},
			func(ctx context.Context, cs *mcp.ClientSession) error { return cs.Subscribe(ctx, params) })
		switch {
		case berr != nil:
			return berr.RPCError()
		case err != nil:
			return err
		}
		e.active = true
	}
	cl.mu.Lock()
	closed := cl.closed
	if !closed {
		if cl.subs == nil {
			cl.subs = map[subKey]struct{}{}
		}
		cl.subs[k] = struct{}{}
	}
	cl.mu.Unlock()
	if closed {
		s.idle(ctx, k, e) // the client left meanwhile
		return nil
	}
	e.clients[cl] = struct{}{}
	return nil
}

// unsubscribeHandler is the SDK's UnsubscribeHandler.
func (s *Server) unsubscribeHandler(ctx context.Context, req *mcp.UnsubscribeRequest) error {
	cl := s.clientOf(req.Session)
	if cl == nil {
		return nil
	}
	r, ok := s.state.Load().Catalog.Resource(req.Params.URI)
	if !ok {
		return nil
	}
	k := subKey{backend: r.Backend, uri: r.Name}
	cl.mu.Lock()
	delete(cl.subs, k)
	cl.mu.Unlock()
	s.unsubscribe(ctx, cl, k)
	return nil
}

// unsubscribe removes a client from a subscription and unsubscribes at the backend after the
// last one. The backend's answer does not matter: the client is unsubscribed either way.
func (s *Server) unsubscribe(ctx context.Context, cl *client, k subKey) {
	e := s.subs.lock(k)
	defer s.subs.release(k, e)
	delete(e.clients, cl)
	s.idle(ctx, k, e)
}

// idle unsubscribes at the backend once a subscription has no clients; e is locked.
func (s *Server) idle(ctx context.Context, k subKey, e *subscription) {
	if len(e.clients) > 0 || !e.active {
		return
	}
	e.active = false
	st := s.state.Load()
	if _, ok := st.Members[k.backend]; !ok {
		return
	}
	params := &mcp.UnsubscribeParams{URI: k.uri}
	_, _ = s.forward(ctx, st, exchange{backend: k.backend, method: methodUnsubscribe, outMeta: &params.Meta, shared: true},
		func(ctx context.Context, cs *mcp.ClientSession) error { return cs.Unsubscribe(ctx, params) })
}

// resubscribe renews a backend's subscriptions on a new shared session (the backend forgot
// them with the old one), in the background.
func (s *Server) resubscribe(name string, cs *mcp.ClientSession) {
	uris := s.subs.forBackend(name)
	if len(uris) == 0 {
		return
	}
	go func() {
		for _, uri := range uris {
			k := subKey{backend: name, uri: uri}
			e := s.subs.lock(k)
			if e.active {
				ctx, cancel := context.WithTimeout(context.Background(), levelTimeout)
				_ = cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri})
				cancel()
			}
			s.subs.release(k, e)
		}
	}()
}

// ResourceUpdated is a backend's resource-updated handler (backend.Handlers.ResourceUpdated):
// the clients subscribed to the resource through the aggregator are notified.
func (s *Server) ResourceUpdated(name string, p *mcp.ResourceUpdatedNotificationParams) {
	if r, ok := s.state.Load().Catalog.Resource(p.URI); !ok || r.Backend != name {
		return
	}
	_ = s.mcp.ResourceUpdated(context.Background(), p)
}
