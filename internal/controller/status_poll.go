package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vmcpv1alpha1 "github.com/vmcp-dev/vmcp-operator/api/v1alpha1"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

const (
	// DefaultStatusTimeout bounds one /status request. The document is small and served from
	// memory; a replica slower than this is treated as not answering.
	DefaultStatusTimeout = 2 * time.Second
	// maxStatusBytes bounds the /status body read from a replica.
	maxStatusBytes = 4 << 20
	// maxConcurrentFetches bounds the fan-out to the replicas of one VirtualMCPServer.
	maxConcurrentFetches = 8
)

// replicaEndpoints lists the admin endpoints (host:port) of the ready aggregator replicas of a
// VirtualMCPServer, from the EndpointSlices of its Service, sorted for stable messages.
func (r *VirtualMCPServerReconciler) replicaEndpoints(ctx context.Context, v *vmcpv1alpha1.VirtualMCPServer) ([]string, error) {
	slices := &discoveryv1.EndpointSliceList{}
	if err := r.List(ctx, slices, client.InNamespace(v.Namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: v.Name}); err != nil {
		return nil, fmt.Errorf("list EndpointSlices of %s: %w", v.Name, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range slices.Items {
		port := adminPort(s.Ports)
		if port == 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			// A nil ready condition means ready (EndpointSlice API); terminating endpoints
			// are not ready and not asked.
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if len(ep.Addresses) == 0 {
				continue
			}
			// Every address of an endpoint belongs to the same pod; one is enough.
			hostPort := net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port)))
			if !seen[hostPort] {
				seen[hostPort] = true
				out = append(out, hostPort)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func adminPort(ports []discoveryv1.EndpointPort) int32 {
	for _, p := range ports {
		if p.Name != nil && *p.Name == statusapi.AdminPortName && p.Port != nil {
			return *p.Port
		}
	}
	return 0
}

// fetchStatuses reads /status from every endpoint concurrently (bounded), each request with
// its own deadline. A replica that fails is reported in its entry, never as an error.
func (r *VirtualMCPServerReconciler) fetchStatuses(ctx context.Context, endpoints []string) []replicaStatus {
	out := make([]replicaStatus, len(endpoints))
	g := &errgroup.Group{}
	g.SetLimit(maxConcurrentFetches)
	for i, ep := range endpoints {
		g.Go(func() error {
			st, err := r.fetchStatus(ctx, ep)
			out[i] = replicaStatus{Endpoint: ep, Status: st, Err: err}
			return nil
		})
	}
	_ = g.Wait() // the goroutines never return errors
	return out
}

func (r *VirtualMCPServerReconciler) fetchStatus(ctx context.Context, hostPort string) (*statusapi.Status, error) {
	timeout := r.StatusTimeout
	if timeout <= 0 {
		timeout = DefaultStatusTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hostPort+statusapi.PathStatus, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", statusapi.PathStatus, resp.StatusCode)
	}
	st := &statusapi.Status{}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStatusBytes)).Decode(st); err != nil {
		return nil, fmt.Errorf("decode %s: %w", statusapi.PathStatus, err)
	}
	return st, nil
}

func (r *VirtualMCPServerReconciler) httpClient() *http.Client {
	if r.HTTPClient != nil {
		return r.HTTPClient
	}
	return defaultStatusClient
}

// defaultStatusClient keeps connections to the replicas alive between polls.
var defaultStatusClient = &http.Client{Transport: &http.Transport{
	Proxy:               nil, // replicas are reached directly, never through a proxy
	DialContext:         (&net.Dialer{Timeout: DefaultStatusTimeout}).DialContext,
	MaxIdleConnsPerHost: 2,
	IdleConnTimeout:     90 * time.Second,
}}
