package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/app"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/rawmcp"
)

// Benchmarks of the data plane on 127.0.0.1, everything in one process (the load command in
// test/fixtures/cmd/vmcp-bench measures the same with the aggregator as its own process, and
// its RSS). Custom metrics: p50-µs and p99-µs per call, calls/s.

// benchAggregator runs a real-clock aggregator in front of backends and waits until it lists
// wantTools tools.
func benchAggregator(b *testing.B, wantTools int, backends ...*mcpecho.Server) string {
	b.Helper()
	cfg := &config.Config{Listen: "127.0.0.1:0", AdminListen: "localhost:0", HealthCheck: config.HealthCheck{Interval: config.Duration(time.Minute)}}
	for _, s := range backends {
		cfg.Backends = append(cfg.Backends, config.Backend{Name: s.Name(), URL: s.URL()})
	}
	cfg.Default()
	a, err := app.New(app.Options{Config: cfg, CatalogInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	<-a.Started()
	poll.Until(b, 2*time.Minute, func() error {
		if n := a.Status().Summary.Tools; n != wantTools {
			return fmt.Errorf("%d tools listed, want %d", n, wantTools)
		}
		return nil
	})
	return "http://" + a.MCPAddr() + statusapi.PathMCP
}

// benchClient is a lean raw client, so the numbers are the servers' (see rawmcp).
func benchClient(b *testing.B, url string) *rawmcp.Client {
	b.Helper()
	c, err := rawmcp.Dial(context.Background(), url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// latencies collects per-call durations from concurrent workers.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	slices.Sort(l.all)
	if len(l.all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(l.all[int(float64(len(l.all)-1)*p)].Nanoseconds()) / 1e3 }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "calls/s")
}

// measure runs call b.N times over conc workers and reports latency percentiles.
func measure(b *testing.B, conc int, call func() error) {
	var lat latencies
	var wg sync.WaitGroup
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	for range conc {
		wg.Go(func() {
			mine := make([]time.Duration, 0, b.N/conc+1)
			for range next {
				t0 := time.Now()
				if err := call(); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			lat.add(mine)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	lat.report(b, elapsed)
}

// sdkProxy is the least an SDK-based proxy can do: one SDK server whose only tool forwards to
// one SDK client session. It is the floor for the aggregator's added latency.
func sdkProxy(b *testing.B, backendURL string) string {
	b.Helper()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "proxy"}, nil).Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: backendURL}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.Close() })
	srv := mcp.NewServer(&mcp.Implementation{Name: "proxy"}, nil)
	srv.AddTool(&mcp.Tool{Name: "echo", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: req.Params.Arguments})
		})
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	b.Cleanup(hs.Close)
	return hs.URL
}

func BenchmarkToolsCall(b *testing.B) {
	backend := mcpecho.Start(b, mcpecho.Options{Name: "a"})
	url := benchAggregator(b, 1, backend)
	for _, target := range []struct{ name, url, tool string }{
		{"direct", backend.URL(), "echo"},
		{"sdk-proxy", sdkProxy(b, backend.URL()), "echo"},
		{"aggregator", url, "a_echo"},
	} {
		c := benchClient(b, target.url)
		for _, conc := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/c=%d", target.name, conc), func(b *testing.B) {
				measure(b, conc, func() error { return c.CallEcho(context.Background(), target.tool, false) })
			})
		}
	}
}

func BenchmarkToolsList(b *testing.B) {
	for _, n := range []int{1, 10, 50, 200} {
		b.Run(fmt.Sprintf("backends=%d/tools=%d", n, n*50), func(b *testing.B) {
			var backends []*mcpecho.Server
			for i := range n {
				backends = append(backends, mcpecho.Start(b, mcpecho.Options{Name: fmt.Sprintf("b%03d", i), Tools: mcpecho.ToolNames(50)}))
			}
			c := benchClient(b, benchAggregator(b, n*50, backends...))
			list := func() error {
				count, err := c.ListTools(context.Background()) // every page
				if err == nil && count != n*50 {
					err = fmt.Errorf("listed %d tools", count)
				}
				return err
			}
			b.Run("fast-path", func(b *testing.B) { measure(b, 1, list) })
			if n == 200 { // the same listing encoded by the SDK, for comparison
				b.Run("sdk-path", func(b *testing.B) {
					c.ListMeta = map[string]any{"bench": "sdk-path"}
					defer func() { c.ListMeta = nil }()
					measure(b, 1, list)
				})
			}
		})
	}
}

// BenchmarkOpenCircuitReject measures a call to a backend whose circuit is open, end to end
// through the client and HTTP (the aggregator's own share is BenchmarkRejectOpenCircuit in
// internal/vmcp/server).
func BenchmarkOpenCircuitReject(b *testing.B) {
	backend := mcpecho.Start(b, mcpecho.Options{Name: "a"})
	url := benchAggregator(b, 1, backend)
	c := benchClient(b, url)
	backend.SetFault(mcpecho.Fault{Mode: mcpecho.Fail})
	for range config.DefaultFailureThreshold {
		_ = c.CallEcho(context.Background(), "a_echo", true)
	}
	before := backend.Requests()
	measure(b, 1, func() error { return c.CallEcho(context.Background(), "a_echo", true) })
	if backend.Requests() != before {
		b.Fatalf("rejected calls reached the backend")
	}
}
