package app_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

// Three backends offer "search"; b and c also share "fetch".
func clashingBackends(t *testing.T) []*mcpecho.Server {
	return []*mcpecho.Server{
		backendNamed(t, "a", mcpecho.Options{Tools: []string{"search", "only_a"}}),
		backendNamed(t, "b", mcpecho.Options{Tools: []string{"search", "fetch"}}),
		backendNamed(t, "c", mcpecho.Options{Tools: []string{"search", "fetch"}}),
	}
}

func TestConflictResolutionEndToEnd(t *testing.T) {
	tests := []struct {
		name string
		cr   config.ConflictResolution
		// want maps each exposed tool to the backend/tool that must answer it.
		want        map[string]string
		wantClashes map[string]int
	}{
		{
			name: "Prefix",
			cr:   config.ConflictResolution{Strategy: config.ConflictStrategyPrefix, PrefixFormat: "{backend}__"},
			want: map[string]string{
				"a__search": "a/search", "a__only_a": "a/only_a", "b__search": "b/search",
				"b__fetch": "b/fetch", "c__search": "c/search", "c__fetch": "c/fetch",
			},
		},
		{
			name: "Priority",
			cr:   config.ConflictResolution{Strategy: config.ConflictStrategyPriority, PriorityOrder: []string{"c", "b"}},
			want: map[string]string{
				"search": "c/search", "a_search": "a/search", "b_search": "b/search",
				"only_a": "a/only_a", "fetch": "c/fetch", "b_fetch": "b/fetch",
			},
		},
		{
			name: "Manual",
			cr: config.ConflictResolution{Strategy: config.ConflictStrategyManual, Overrides: []config.ToolOverride{
				{Backend: "a", Tool: "search", Name: "search"},
				{Backend: "b", Tool: "search", Name: "web_search"},
				{Backend: "c", Tool: "search", Name: "code_search"},
				{Backend: "c", Tool: "fetch", Name: "code_fetch"},
			}},
			want: map[string]string{
				"search": "a/search", "web_search": "b/search", "code_search": "c/search",
				"only_a": "a/only_a", "fetch": "b/fetch", "code_fetch": "c/fetch",
			},
		},
		{
			name: "Manual with an unresolved clash",
			cr: config.ConflictResolution{Strategy: config.ConflictStrategyManual, Overrides: []config.ToolOverride{
				{Backend: "b", Tool: "search", Name: "web_search"},
			}},
			want:        map[string]string{"web_search": "b/search", "only_a": "a/only_a"},
			wantClashes: map[string]int{"a": 1, "b": 1, "c": 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backends := clashingBackends(t)
			cfg := testConfig(backends...)
			cfg.ConflictResolution = tt.cr
			cfg.Default()
			h := start(t, cfg, backends...)
			c := h.mustConnect()
			var names []string
			for name := range tt.want {
				names = append(names, name)
			}
			c.waitTools(t, names...)
			for name, answer := range tt.want {
				if got := text(c.call(t, name)); got != answer+": hi" {
					t.Errorf("%s answered %q, want %q", name, got, answer+": hi")
				}
			}
			st := h.status()
			for _, b := range st.Backends {
				if got := len(b.Clashes); got != tt.wantClashes[b.Name] {
					t.Errorf("backend %s reports %d clashes (%v), want %d", b.Name, got, b.Clashes, tt.wantClashes[b.Name])
				}
			}
			if st.Summary.Tools != len(tt.want) {
				t.Errorf("summary tools = %d, want %d", st.Summary.Tools, len(tt.want))
			}
		})
	}
}

func TestIncludeExcludeAndPreservedMetadata(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{Tools: []string{"get_user", "get_repo", "delete_repo", "create_repo"}})
	cfg := testConfig(a)
	cfg.Backends[0].Tools = &config.ToolFilter{Include: []string{"get_*", "delete_*"}, Exclude: []string{"delete_*"}}
	h := start(t, cfg, a)
	c := h.mustConnect()
	c.waitTools(t, "a_get_repo", "a_get_user")

	res, err := c.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range res.Tools {
		if tool.Description == "" || tool.Annotations == nil || !tool.Annotations.ReadOnlyHint || tool.InputSchema == nil {
			t.Errorf("tool %s lost metadata: %+v", tool.Name, tool)
		}
	}
	// A filtered tool is not routed.
	ctx := t.Context()
	if _, err := c.CallTool(ctx, mapArgs("a_delete_repo")); err == nil {
		t.Error("calling an excluded tool succeeded")
	}
	if b := h.backendStatus("a"); b.Tools != 2 || b.Health != statusapi.HealthHealthy {
		t.Errorf("status of a = %+v", b)
	}
}

func TestPromptsAndResourcesAreRouted(t *testing.T) {
	a := backendNamed(t, "a", mcpecho.Options{Prompts: []string{"greet"}, Resources: []string{"echo://a/readme"}, Templates: []string{"echo://a/items/{id}"}})
	b := backendNamed(t, "b", mcpecho.Options{Prompts: []string{"greet"}, Resources: []string{"echo://b/readme"}})
	cfg := testConfig(a, b)
	cfg.ConflictResolution = config.ConflictResolution{Strategy: config.ConflictStrategyPriority, PriorityOrder: []string{"b"}}
	cfg.Default()
	h := start(t, cfg, a, b)
	c := h.mustConnect()
	ctx := t.Context()

	poll.Until(t, waitFor, func() error { // both inventories are fetched
		prompts, err := c.ListPrompts(ctx, nil)
		if err != nil {
			return err
		}
		var names []string
		for _, p := range prompts.Prompts {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"a_greet", "greet"}) {
			return fmt.Errorf("prompts = %v", names)
		}
		return nil
	})
	for prompt, want := range map[string]string{"greet": "b/greet", "a_greet": "a/greet"} {
		res, err := c.GetPrompt(ctx, promptParams(prompt))
		if err != nil {
			t.Fatalf("prompts/get %s: %v", prompt, err)
		}
		if got := promptText(res); got != want {
			t.Errorf("prompt %s answered %q, want %q", prompt, got, want)
		}
	}
	for uri, want := range map[string]string{"echo://a/readme": "a: echo://a/readme", "echo://b/readme": "b: echo://b/readme", "echo://a/items/7": "a: echo://a/items/7"} {
		res, err := c.ReadResource(ctx, readParams(uri))
		if err != nil {
			t.Fatalf("resources/read %s: %v", uri, err)
		}
		if got := res.Contents[0].Text; got != want {
			t.Errorf("resource %s = %q, want %q", uri, got, want)
		}
	}
	templates, err := c.ListResourceTemplates(ctx, nil)
	if err != nil || len(templates.ResourceTemplates) != 1 {
		t.Fatalf("templates = %+v, %v", templates, err)
	}
}
