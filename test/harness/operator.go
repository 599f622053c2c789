package harness

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vmcp-dev/vmcp-operator/test/podnet"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vmcp-dev/vmcp-operator/internal/controller"
)

// Operator is the manager running in this process, wired as cmd/manager wires it (same cache
// restrictions), except that it reaches aggregator pods through a podnet.Network.
type Operator struct {
	// MetricsURL serves the manager's Prometheus metrics over plain HTTP.
	MetricsURL string
	cancel     context.CancelFunc
	done       chan error
}

// OperatorOptions tune the operator for tests and demos.
type OperatorOptions struct {
	PollInterval time.Duration
	VMCPImage    string
}

// StartOperator starts the manager with the VirtualMCPServer controller.
func StartOperator(ctx context.Context, c *Cluster, pods *podnet.Network, o OperatorOptions) (*Operator, error) {
	port, err := podnet.FreePort()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(c.Config, ctrl.Options{
		Scheme:                 Scheme,
		Metrics:                metricsserver.Options{BindAddress: fmt.Sprintf("127.0.0.1:%d", port)},
		HealthProbeBindAddress: "0",
		Cache:                  controller.CacheOptions(nil),
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	image := o.VMCPImage
	if image == "" {
		image = "ghcr.io/vmcp-dev/vmcp-operator:latest"
	}
	if err := (&controller.VirtualMCPServerReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Scheme:                  mgr.GetScheme(),
		Recorder:                mgr.GetEventRecorder("vmcp-operator"),
		Clock:                   clock.RealClock{},
		DefaultImage:            image,
		StatusPollInterval:      o.PollInterval,
		HTTPClient:              pods.HTTPClient(),
		MaxConcurrentReconciles: 4,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up controller: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	op := &Operator{MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), cancel: cancel, done: make(chan error, 1)}
	go func() { op.done <- mgr.Start(runCtx) }()
	if err := WaitListening(ctx, fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second); err != nil {
		cancel()
		return nil, fmt.Errorf("operator metrics endpoint: %w", err)
	}
	return op, nil
}

// Stop stops the manager and waits for it.
func (o *Operator) Stop() error {
	o.cancel()
	select {
	case err := <-o.done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("operator did not stop within 30s")
	}
}

// Metric returns the value of one sample of the operator's metrics, e.g.
// Metric(ctx, "vmcp_operator_status_patches_total", `name="team-tools"`), or 0 if absent.
func (o *Operator) Metric(ctx context.Context, name string, labelsContain ...string) (float64, error) {
	return ScrapeMetric(ctx, http.DefaultClient, o.MetricsURL, name, labelsContain...)
}

// ScrapeMetric reads one sample from a Prometheus text endpoint: the sum over the series of
// metric name whose labels contain every given substring.
func ScrapeMetric(ctx context.Context, hc *http.Client, url, name string, labelsContain ...string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		match := true
		for _, l := range labelsContain {
			if !strings.Contains(series, l) {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}
