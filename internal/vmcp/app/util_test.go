package app_test

import (
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	dto "github.com/prometheus/client_model/go"
)

func mapArgs(tool string) *mcp.CallToolParams {
	return &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hi"}}
}

func promptParams(name string) *mcp.GetPromptParams { return &mcp.GetPromptParams{Name: name} }

func readParams(uri string) *mcp.ReadResourceParams { return &mcp.ReadResourceParams{URI: uri} }

func promptText(res *mcp.GetPromptResult) string {
	if len(res.Messages) == 0 {
		return ""
	}
	if tc, ok := res.Messages[0].Content.(*mcp.TextContent); ok {
		return tc.Text
	}
	return ""
}

// transitions reads vmcp_circuit_transitions_total for a backend as "from->to" → count.
func transitions(t *testing.T, h *harness, backend string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	mfs, err := h.app.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vmcp_circuit_transitions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := labels(m.GetLabel())
			if l["backend"] == backend {
				out[l["from"]+"->"+l["to"]] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// rejected reads vmcp_rejected_total for a backend and reason.
func rejected(t *testing.T, h *harness, backend, reason string) float64 {
	t.Helper()
	mfs, err := h.app.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vmcp_rejected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if l := labels(m.GetLabel()); l["backend"] == backend && l["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func labels(pairs []*dto.LabelPair) map[string]string {
	out := map[string]string{}
	for _, p := range pairs {
		out[p.GetName()] = p.GetValue()
	}
	return out
}
