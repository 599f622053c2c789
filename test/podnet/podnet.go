// Package podnet routes pod addresses to local listeners for tests: the API server refuses
// loopback addresses in EndpointSlices, so tests publish pod-like addresses (10.244.x.y) and
// dial them through a Network, as a cluster network routes a pod IP to its pod.
package podnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Network routes pod addresses (host:port as published in EndpointSlices) to local listeners.
type Network struct {
	mu     sync.Mutex
	routes map[string]string
	next   int
}

// New returns an empty network.
func New() *Network { return &Network{routes: map[string]string{}} }

// AllocateIP returns a fresh pod IP.
func (n *Network) AllocateIP() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next++
	return fmt.Sprintf("10.244.%d.%d", n.next/250, n.next%250+1)
}

// Route makes connections to podAddr reach localAddr.
func (n *Network) Route(podAddr, localAddr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.routes[podAddr] = localAddr
}

// DialContext dials the local listener behind a pod address.
func (n *Network) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	local, ok := n.routes[addr]
	n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dial %s: no route to host", addr)
	}
	return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, local)
}

// HTTPClient is a client whose connections go through the network.
func (n *Network) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: n.DialContext, MaxIdleConnsPerHost: 2}}
}

// FreePort returns a port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
