package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Rejection reasons (vmcp_rejected_total's reason label).
const (
	RejectedCircuitOpen = "CircuitOpen"
	RejectedUnavailable = "Unavailable"
	RejectedRateLimited = "RateLimited"
)

// labelBackend is the label every series carries.
const labelBackend = "backend"

var (
	healthStates  = []statusapi.Health{statusapi.HealthHealthy, statusapi.HealthDegraded, statusapi.HealthUnknown, statusapi.HealthUnauthenticated, statusapi.HealthUnhealthy}
	circuitStates = []statusapi.Circuit{statusapi.CircuitClosed, statusapi.CircuitHalfOpen, statusapi.CircuitOpen}
	// durationBuckets start well below a millisecond: calls through the aggregator on a local
	// network take a fraction of one.
	durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// Metrics is the aggregator's metric set.
type Metrics struct {
	registry    *prometheus.Registry
	up          *prometheus.GaugeVec
	health      *prometheus.GaugeVec
	circuit     *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rejected    *prometheus.CounterVec
	clients     *prometheus.GaugeVec

	mu       sync.Mutex
	backends map[string]*Backend
}

// New registers the metrics, plus the Go runtime and process collectors, on a new registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vmcp_backend_up", Help: "1 if the backend is available (Healthy or Degraded), else 0.",
		}, []string{labelBackend}),
		health: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vmcp_backend_health", Help: "1 for the backend's current health state, 0 for the others.",
		}, []string{labelBackend, "state"}),
		circuit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vmcp_circuit_state", Help: "1 for the backend circuit's current state, 0 for the others.",
		}, []string{labelBackend, "state"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vmcp_circuit_transitions_total", Help: "Circuit breaker state transitions.",
		}, []string{labelBackend, "from", "to"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vmcp_requests_total",
			Help: "Exchanges with backends by method and outcome (ok, rpc_error, failure, unauthenticated, rate_limited, canceled).",
		}, []string{labelBackend, "method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vmcp_request_duration_seconds", Help: "Duration of exchanges with backends.", Buckets: durationBuckets,
		}, []string{labelBackend, "method"}),
		clients: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vmcp_client_sessions",
			Help: "Backend sessions of their own held for clients that declared sampling, elicitation or roots.",
		}, []string{labelBackend}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vmcp_rejected_total", Help: "Calls rejected without contacting the backend, by reason.",
		}, []string{labelBackend, "reason"}),
		backends: map[string]*Backend{},
	}
	m.registry.MustRegister(m.up, m.health, m.circuit, m.transitions, m.requests, m.duration, m.rejected, m.clients,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry the metrics live on.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Backend returns the handles of a backend's series, creating them on first use.
func (m *Metrics) Backend(name string) *Backend {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.backends[name]; ok {
		return b
	}
	b := &Backend{m: m, name: name}
	m.backends[name] = b
	return b
}

// Forget deletes every series of a backend (it was removed from the config).
func (m *Metrics) Forget(name string) {
	m.mu.Lock()
	delete(m.backends, name)
	m.mu.Unlock()
	l := prometheus.Labels{labelBackend: name}
	m.up.DeletePartialMatch(l)
	m.health.DeletePartialMatch(l)
	m.circuit.DeletePartialMatch(l)
	m.transitions.DeletePartialMatch(l)
	m.requests.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.rejected.DeletePartialMatch(l)
	m.clients.DeletePartialMatch(l)
}

// Backend records one backend's series.
type Backend struct {
	m    *Metrics
	name string
	// counters and histograms cache label lookups: method+outcome → counter, method → observer.
	counters   sync.Map
	histograms sync.Map
}

type counterKey struct{ method, outcome string }

// Observe records one exchange.
func (b *Backend) Observe(method, outcome string, d time.Duration) {
	k := counterKey{method, outcome}
	c, ok := b.counters.Load(k)
	if !ok {
		c, _ = b.counters.LoadOrStore(k, b.m.requests.WithLabelValues(b.name, method, outcome))
	}
	c.(prometheus.Counter).Inc()
	h, ok := b.histograms.Load(method)
	if !ok {
		h, _ = b.histograms.LoadOrStore(method, b.m.duration.WithLabelValues(b.name, method))
	}
	h.(prometheus.Observer).Observe(d.Seconds())
}

// Rejected records a call rejected without contacting the backend.
func (b *Backend) Rejected(reason string) { b.m.rejected.WithLabelValues(b.name, reason).Inc() }

// ClientSessions sets the number of per-client sessions open to the backend.
func (b *Backend) ClientSessions(n int) { b.m.clients.WithLabelValues(b.name).Set(float64(n)) }

// SetState sets the health and circuit gauges to the current states.
func (b *Backend) SetState(h statusapi.Health, c statusapi.Circuit) {
	up := 0.0
	if h.Available() {
		up = 1
	}
	b.m.up.WithLabelValues(b.name).Set(up)
	for _, s := range healthStates {
		b.m.health.WithLabelValues(b.name, string(s)).Set(boolFloat(s == h))
	}
	for _, s := range circuitStates {
		b.m.circuit.WithLabelValues(b.name, string(s)).Set(boolFloat(s == c))
	}
}

// Transition counts a circuit transition.
func (b *Backend) Transition(from, to string) {
	b.m.transitions.WithLabelValues(b.name, from, to).Inc()
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
