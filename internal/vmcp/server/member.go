package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/health"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/metrics"
)

// closeTimeout bounds closing one backend session (the SDK sends a DELETE).
const closeTimeout = 5 * time.Second

// Member is one backend as the router uses it. The zero value of its unexported fields is
// ready to use.
type Member struct {
	Name    string
	Backend *backend.Backend
	Monitor *health.Monitor
	Metrics *metrics.Backend

	caps atomic.Pointer[mcp.ServerCapabilities]

	mu        sync.Mutex
	perClient map[*client]*backend.Conn // the per-client sessions, for the limit and Close
	closed    bool
	atLimit   bool // a client was refused a session of its own since the count was last below the limit
}

// SetCapabilities records the capabilities the backend announced in its initialize result
// (from its inventory): they decide which of the aggregator's capabilities it contributes.
func (m *Member) SetCapabilities(c *mcp.ServerCapabilities) { m.caps.Store(c) }

// Capabilities returns what SetCapabilities recorded, nil if nothing yet.
func (m *Member) Capabilities() *mcp.ServerCapabilities { return m.caps.Load() }

// ClientSessions counts the member's open per-client sessions.
func (m *Member) ClientSessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.perClient)
}

// Close closes the member's per-client sessions (the backend left the config). Its shared
// session is the owner's to close.
func (m *Member) Close() {
	m.mu.Lock()
	conns := m.perClient
	m.perClient, m.closed = nil, true
	m.mu.Unlock()
	m.setGauge(0)
	for _, c := range conns {
		closeInBackground(c)
	}
}

// addClient registers a per-client session unless the member is closed or at limit.
func (m *Member) addClient(cl *client, conn *backend.Conn, limit int) (ok, refusedFirst bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, false
	}
	if len(m.perClient) >= limit {
		first := !m.atLimit
		m.atLimit = true
		return false, first
	}
	if m.perClient == nil {
		m.perClient = map[*client]*backend.Conn{}
	}
	m.perClient[cl] = conn
	m.setGaugeLocked()
	return true, false
}

// removeClient forgets a client's per-client session.
func (m *Member) removeClient(cl *client) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.perClient[cl]; ok {
		delete(m.perClient, cl)
		m.atLimit = false
		m.setGaugeLocked()
	}
}

func (m *Member) setGaugeLocked() { m.setGauge(len(m.perClient)) }

func (m *Member) setGauge(n int) {
	if m.Metrics != nil {
		m.Metrics.ClientSessions(n)
	}
}

// closeInBackground closes a Conn without waiting, bounded by closeTimeout (a backend that does
// not answer the DELETE must not keep a goroutine forever).
func closeInBackground(c *backend.Conn) {
	go func() {
		done := make(chan struct{})
		go func() { _ = c.Close(); close(done) }()
		t := time.NewTimer(closeTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
		}
	}()
}
