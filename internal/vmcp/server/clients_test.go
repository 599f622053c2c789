//nolint:staticcheck // SA1019: sampling, roots and logging are deprecated in MCP 2026-07-28; tested for earlier revisions.
package server

import (
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/backend"
)

func TestOwnCapabilities(t *testing.T) {
	tests := []struct {
		name     string
		caps     *mcp.ClientCapabilities
		wantNil  bool
		declared []string
	}{
		{name: "none", caps: &mcp.ClientCapabilities{}, wantNil: true},
		{name: "experimental only", caps: &mcp.ClientCapabilities{Experimental: map[string]any{"x": 1}}, wantNil: true},
		{name: "sampling", caps: &mcp.ClientCapabilities{Sampling: &mcp.SamplingCapabilities{}}, declared: []string{backend.MethodCreateMessage}},
		{name: "elicitation and roots", caps: &mcp.ClientCapabilities{
			Elicitation: &mcp.ElicitationCapabilities{}, RootsV2: &mcp.RootCapabilities{ListChanged: true},
		}, declared: []string{backend.MethodElicit, backend.MethodListRoots}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own := ownCapabilities(&mcp.InitializeParams{Capabilities: tt.caps})
			if (own == nil) != tt.wantNil {
				t.Fatalf("own = %+v, want nil %v", own, tt.wantNil)
			}
			cl := &client{caps: own}
			for _, m := range []string{backend.MethodCreateMessage, backend.MethodElicit, backend.MethodListRoots} {
				want := false
				for _, d := range tt.declared {
					want = want || d == m
				}
				if got := cl.declared(m); got != want {
					t.Errorf("declared(%s) = %v, want %v", m, got, want)
				}
			}
			if own != nil && own.Experimental != nil {
				t.Error("experimental capabilities copied")
			}
		})
	}
	if ownCapabilities(nil) != nil {
		t.Error("nil params")
	}
}

func TestMoreVerbose(t *testing.T) {
	tests := []struct {
		a, b mcp.LoggingLevel
		want bool
	}{
		{"debug", "", true},
		{"debug", "info", true},
		{"info", "debug", false},
		{"info", "info", false},
		{"emergency", "", true},
		{"bogus", "", false},
		{"error", "bogus", true},
	}
	for _, tt := range tests {
		if got := moreVerbose(tt.a, tt.b); got != tt.want {
			t.Errorf("moreVerbose(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
