package aggregate

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

func tools(names ...string) []*mcp.Tool {
	out := make([]*mcp.Tool, len(names))
	for i, n := range names {
		out[i] = &mcp.Tool{Name: n, Description: "d-" + n, InputSchema: json.RawMessage(`{"type":"object"}`)}
	}
	return out
}

func src(name string, toolNames ...string) Source {
	return Source{Name: name, Prefix: name + "_", Available: true, Known: true, Tools: tools(toolNames...)}
}

// routes renders the routing table as exposed → backend/original for comparison.
func routes(c *Catalog) map[string]string {
	out := map[string]string{}
	for name, t := range c.tools {
		out[name] = t.Backend + "/" + t.Name
	}
	return out
}

func TestConflictStrategies(t *testing.T) {
	three := func() []Source {
		return []Source{src("a", "search", "only_a"), src("b", "search", "fetch"), src("c", "search", "fetch")}
	}
	tests := []struct {
		name        string
		opts        Options
		sources     []Source
		wantRoutes  map[string]string
		wantClashes map[string][]statusapi.Clash
	}{
		{
			name:    "prefix everything",
			opts:    Options{Strategy: config.ConflictStrategyPrefix},
			sources: three(),
			wantRoutes: map[string]string{
				"a_search": "a/search", "a_only_a": "a/only_a", "b_search": "b/search",
				"b_fetch": "b/fetch", "c_search": "c/search", "c_fetch": "c/fetch",
			},
		},
		{
			name:    "priority keeps the first bare",
			opts:    Options{Strategy: config.ConflictStrategyPriority, PriorityOrder: []string{"c", "a"}},
			sources: three(),
			wantRoutes: map[string]string{
				"search": "c/search", "a_search": "a/search", "b_search": "b/search",
				"only_a": "a/only_a", "fetch": "c/fetch", "b_fetch": "b/fetch",
			},
		},
		{
			name:    "priority falls back to config order",
			opts:    Options{Strategy: config.ConflictStrategyPriority, PriorityOrder: []string{"a"}},
			sources: three(),
			wantRoutes: map[string]string{
				"search": "a/search", "b_search": "b/search", "c_search": "c/search",
				"only_a": "a/only_a", "fetch": "b/fetch", "c_fetch": "c/fetch",
			},
		},
		{
			name: "priority: a backend's own name beats another's fallback",
			opts: Options{Strategy: config.ConflictStrategyPriority, PriorityOrder: []string{"c"}},
			sources: []Source{
				src("a", "b_search"), src("b", "search"), src("c", "search"),
			},
			wantRoutes: map[string]string{"b_search": "a/b_search", "search": "c/search"},
			wantClashes: map[string][]statusapi.Clash{
				"b": {{Tool: "search", Name: "b_search", With: []string{"a"}}},
			},
		},
		{
			name: "manual overrides and an unresolved clash",
			opts: Options{Strategy: config.ConflictStrategyManual, Overrides: []config.ToolOverride{
				{Backend: "a", Tool: "search", Name: "search"},
				{Backend: "b", Tool: "search", Name: "web_search"},
			}},
			sources: three(),
			wantRoutes: map[string]string{
				"only_a": "a/only_a", "web_search": "b/search",
			},
			wantClashes: map[string][]statusapi.Clash{
				"a": {{Tool: "search", Name: "search", With: []string{"c"}}},
				"b": {{Tool: "fetch", Name: "fetch", With: []string{"c"}}},
				"c": {{Tool: "fetch", Name: "fetch", With: []string{"b"}}, {Tool: "search", Name: "search", With: []string{"a"}}},
			},
		},
		{
			name:    "prefix collision is unresolved",
			opts:    Options{Strategy: config.ConflictStrategyPrefix},
			sources: []Source{{Name: "a", Prefix: "x_", Known: true, Available: true, Tools: tools("t")}, {Name: "b", Prefix: "x_", Known: true, Available: true, Tools: tools("t", "u")}},
			wantRoutes: map[string]string{
				"x_u": "b/u",
			},
			wantClashes: map[string][]statusapi.Clash{
				"a": {{Tool: "t", Name: "x_t", With: []string{"b"}}},
				"b": {{Tool: "t", Name: "x_t", With: []string{"a"}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Build(tt.opts, tt.sources, nil)
			if diff := cmp.Diff(tt.wantRoutes, routes(c)); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
			for _, s := range tt.sources {
				if diff := cmp.Diff(tt.wantClashes[s.Name], c.Summary(s.Name).Clashes); diff != "" {
					t.Errorf("clashes of %s (-want +got):\n%s", s.Name, diff)
				}
			}
			for name, tool := range c.Listed().Tools {
				if tool.Name != name {
					t.Errorf("listed tool %q carries name %q", name, tool.Name)
				}
			}
		})
	}
}

func TestFilters(t *testing.T) {
	s := src("a", "get_user", "get_repo", "delete_repo", "create_repo")
	s.Include = []string{"get_*", "delete_*"}
	s.Exclude = []string{"delete_*"}
	c := Build(Options{Strategy: config.ConflictStrategyPriority, PriorityOrder: []string{"a"}}, []Source{s}, nil)
	if got, want := c.ToolNames(), []string{"get_repo", "get_user"}; !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	// An excluded tool does not clash.
	other := src("b", "delete_repo")
	c = Build(Options{Strategy: config.ConflictStrategyManual}, []Source{s, other}, nil)
	if r, ok := c.Tool("delete_repo"); !ok || r.Backend != "b" || len(c.Summary("b").Clashes) != 0 {
		t.Fatalf("delete_repo = %+v, %v; clashes %v", r, ok, c.Summary("b").Clashes)
	}
}

func TestAvailability(t *testing.T) {
	a, b := src("a", "x", "y"), src("b", "x")
	b.Available = false
	unknown := Source{Name: "c", Prefix: "c_"}
	c := Build(Options{Strategy: config.ConflictStrategyPrefix}, []Source{a, b, unknown}, nil)
	if got, want := c.ToolNames(), []string{"a_x", "a_y"}; !slices.Equal(got, want) {
		t.Fatalf("listed = %v, want %v", got, want)
	}
	r, ok := c.Tool("b_x")
	if !ok || r.Available || r.Backend != "b" || r.Name != "x" {
		t.Fatalf("route of an unavailable backend's tool = %+v, %v; want routable, not available", r, ok)
	}
	if s := c.Summary("a"); s.Tools != 2 {
		t.Fatalf("a contributes %d tools", s.Tools)
	}
	if s := c.Summary("b"); s.Tools != 0 {
		t.Fatalf("unavailable b contributes %d tools", s.Tools)
	}
}

func TestRebuildReusesUnchangedEntries(t *testing.T) {
	a, b := src("a", "x"), src("b", "y")
	opts := Options{Strategy: config.ConflictStrategyPrefix}
	c1 := Build(opts, []Source{a, b}, nil)
	b.Available = false
	c2 := Build(opts, []Source{a, b}, c1)
	if c1.Listed().Tools["a_x"] != c2.Listed().Tools["a_x"] {
		t.Fatal("unchanged tool got a new entry")
	}
	if _, listed := c2.Listed().Tools["b_y"]; listed {
		t.Fatal("unavailable tool listed")
	}
	a.Tools = tools("x")
	c3 := Build(opts, []Source{a, b}, c2)
	if c3.Listed().Tools["a_x"] == c2.Listed().Tools["a_x"] {
		t.Fatal("a re-fetched tool kept the old entry")
	}
}

func TestToolFieldsPreserved(t *testing.T) {
	orig := &mcp.Tool{
		Name: "x", Title: "X", Description: "does x",
		InputSchema:  json.RawMessage(`{"type":"object","$defs":{"a":{}},"additionalProperties":false}`),
		OutputSchema: json.RawMessage(`{"type":"object"}`),
		Annotations:  &mcp.ToolAnnotations{ReadOnlyHint: true},
		Meta:         mcp.Meta{"k": "v"},
	}
	c := Build(Options{Strategy: config.ConflictStrategyPrefix}, []Source{{Name: "a", Prefix: "a_", Known: true, Available: true, Tools: []*mcp.Tool{orig}}}, nil)
	got := c.Listed().Tools["a_x"]
	want := *orig
	want.Name = "a_x"
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Fatalf("exposed tool (-want +got):\n%s", diff)
	}
	if orig.Name != "x" {
		t.Fatal("Build modified the backend's tool")
	}
}

func TestPromptsAndResources(t *testing.T) {
	a := src("a")
	a.Prompts = []*mcp.Prompt{{Name: "greet"}, {Name: "only_a"}}
	a.Resources = []*mcp.Resource{{URI: "file:///shared"}, {URI: "file:///a"}}
	a.Templates = []*mcp.ResourceTemplate{{URITemplate: "repo://{owner}/{name}"}}
	b := src("b")
	b.Prompts = []*mcp.Prompt{{Name: "greet"}}
	b.Resources = []*mcp.Resource{{URI: "file:///shared"}}
	b.Templates = []*mcp.ResourceTemplate{{URITemplate: "issue://{id}"}}

	c := Build(Options{Strategy: config.ConflictStrategyPriority, PriorityOrder: []string{"b"}}, []Source{a, b}, nil)
	if p, ok := c.Prompt("greet"); !ok || p.Backend != "b" {
		t.Fatalf("greet → %+v", p)
	}
	if p, ok := c.Prompt("a_greet"); !ok || p.Backend != "a" || p.Name != "greet" || p.Prompt.Name != "a_greet" {
		t.Fatalf("a_greet → %+v", p)
	}
	tests := []struct {
		uri, backend string
	}{
		{"file:///shared", "b"}, {"file:///a", "a"}, {"repo://me/vmcp", "a"}, {"issue://42", "b"},
	}
	for _, tt := range tests {
		if r, ok := c.Resource(tt.uri); !ok || r.Backend != tt.backend || r.Name != tt.uri {
			t.Errorf("Resource(%q) = %+v, %v; want backend %s", tt.uri, r, ok, tt.backend)
		}
	}
	if _, ok := c.Resource("nope://x"); ok {
		t.Error("an unknown URI was routed")
	}
	if s := c.Summary("b"); s.Resources != 1 || s.Prompts != 1 {
		t.Errorf("b summary = %+v", s)
	}

	manual := Build(Options{Strategy: config.ConflictStrategyManual}, []Source{a, b}, nil)
	if _, ok := manual.Prompt("greet"); ok {
		t.Error("a clashing prompt was exposed under Manual")
	}
	want := []statusapi.Clash{{Kind: KindPrompt, Tool: "greet", Name: "greet", With: []string{"b"}}}
	if diff := cmp.Diff(want, manual.Summary("a").Clashes); diff != "" {
		t.Errorf("prompt clash (-want +got):\n%s", diff)
	}
}
