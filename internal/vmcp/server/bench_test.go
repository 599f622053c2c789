package server

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/aggregate"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/breaker"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/health"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/metrics"
)

// BenchmarkRejectOpenCircuit measures the aggregator's own work for a tools/call to a backend
// whose circuit is open: route lookup, admission, the typed error result and its JSON
// encoding. No network is involved, by design.
func BenchmarkRejectOpenCircuit(b *testing.B) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	mon := health.NewMonitor("a", health.Settings{
		Tracker:        health.TrackerSettings{UnhealthyThreshold: 3, RecoveryPeriod: 10 * time.Second},
		Breaker:        breaker.Settings{FailureThreshold: 1, OpenDuration: 30 * time.Second, MaxOpenDuration: time.Minute},
		BreakerEnabled: true,
	}, health.Options{Clock: clk})
	p, _ := mon.AcquireProbe()
	mon.Done(p, backend.Outcome{Kind: backend.Failure})
	m := metrics.New()
	s := New(Options{Clock: clk})
	src := aggregate.Source{Name: "a", Prefix: "a_", Known: true, Available: true, Tools: []*mcp.Tool{{Name: "echo", InputSchema: json.RawMessage(`{"type":"object"}`)}}}
	s.Publish(&State{
		Catalog:     aggregate.Build(aggregate.Options{Strategy: config.ConflictStrategyPrefix}, []aggregate.Source{src}, nil),
		Members:     map[string]*Member{"a": {Name: "a", Backend: backend.New(backend.Options{Name: "a", URL: "http://127.0.0.1:1/mcp"}), Monitor: mon, Metrics: m.Backend("a")}},
		FailureMode: config.FailureModeFail,
	})
	req := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "a_echo", Arguments: json.RawMessage(`{"text":"hi"}`)}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.callTool(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(res); err != nil {
			b.Fatal(err)
		}
	}
}
