package admin

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Options are the admin endpoints' sources.
type Options struct {
	// Status builds the /status document; it is called per request and must be cheap.
	Status func() statusapi.Status
	// Ready reports readiness.
	Ready func() bool
	// Metrics serves /metrics.
	Metrics http.Handler
	// Profiling mounts net/http/pprof at /debug/pprof/ (off by default: it exposes internals).
	Profiling bool
}

// Handler returns the admin endpoints.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+statusapi.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		text(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET "+statusapi.PathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		if o.Ready != nil && o.Ready() {
			text(w, http.StatusOK, "ok")
			return
		}
		text(w, http.StatusServiceUnavailable, "not ready")
	})
	mux.HandleFunc("GET "+statusapi.PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(o.Status())
	})
	if o.Metrics != nil {
		mux.Handle("GET "+statusapi.PathMetrics, o.Metrics)
	}
	if o.Profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}
