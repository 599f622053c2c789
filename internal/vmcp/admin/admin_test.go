package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

func TestEndpoints(t *testing.T) {
	var ready atomic.Bool
	h := Handler(Options{
		Status: func() statusapi.Status {
			return statusapi.Status{Version: 7, Backends: []statusapi.Backend{{Name: "a", Health: statusapi.HealthHealthy}}}
		},
		Ready:   ready.Load,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("vmcp_backend_up 1\n")) }),
	})
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if rec := get(statusapi.PathHealthz); rec.Code != http.StatusOK {
		t.Fatalf("healthz = %d", rec.Code)
	}
	if rec := get(statusapi.PathReadyz); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz before ready = %d", rec.Code)
	}
	ready.Store(true)
	if rec := get(statusapi.PathReadyz); rec.Code != http.StatusOK {
		t.Fatalf("readyz when ready = %d", rec.Code)
	}
	rec := get(statusapi.PathStatus)
	var st statusapi.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Version != 7 || st.Backends[0].Name != "a" {
		t.Fatalf("status = %s (%v)", rec.Body, err)
	}
	if rec := get(statusapi.PathMetrics); !strings.Contains(rec.Body.String(), "vmcp_backend_up") {
		t.Fatalf("metrics = %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, statusapi.PathStatus, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /status = %d, want 405", rec.Code)
	}
}
