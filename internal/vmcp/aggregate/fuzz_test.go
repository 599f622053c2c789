package aggregate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
)

// FuzzRouting builds catalogs from arbitrary tool names, prefixes and strategies and checks
// that routing is a bijection between exposed names and (backend, tool) pairs, that every
// candidate is either routed or reported as a clash, and that names follow the strategy.
//
// spec is "prefix:tool,tool;prefix:tool,..." — one backend per ';'.
func FuzzRouting(f *testing.F) {
	f.Add("a_:search,fetch;b_:search;c_:search,fetch", uint8(0), "c")
	f.Add("x_:t;x_:t,u", uint8(1), "b")
	f.Add("a_:b_search;b_:search;c_:search", uint8(1), "c")
	f.Add("a_:s;b_:s", uint8(2), "a")
	f.Add("p:;p:p", uint8(0), "")
	f.Fuzz(func(t *testing.T, spec string, strategy uint8, first string) {
		sources := parseSpec(spec)
		if len(sources) == 0 {
			return
		}
		strategies := []config.ConflictStrategy{config.ConflictStrategyPrefix, config.ConflictStrategyPriority, config.ConflictStrategyManual}
		opts := Options{Strategy: strategies[int(strategy)%len(strategies)], PriorityOrder: []string{first}}
		if opts.Strategy == config.ConflictStrategyManual && len(sources[0].Tools) > 0 {
			opts.Overrides = []config.ToolOverride{{Backend: sources[0].Name, Tool: sources[0].Tools[0].Name, Name: "renamed_" + first}}
		}
		c := Build(opts, sources, nil)

		seen := map[Route]string{}
		for exposed, tool := range c.tools {
			if tool.Tool.Name != exposed {
				t.Fatalf("route %q carries tool named %q", exposed, tool.Tool.Name)
			}
			if prev, dup := seen[tool.Route]; dup {
				t.Fatalf("%v exposed twice: %q and %q", tool.Route, prev, exposed)
			}
			seen[tool.Route] = exposed
			if opts.Strategy == config.ConflictStrategyPrefix {
				var prefix string
				for _, s := range sources {
					if s.Name == tool.Backend {
						prefix = s.Prefix
					}
				}
				if exposed != prefix+tool.Name {
					t.Fatalf("Prefix strategy exposed %s/%s as %q", tool.Backend, tool.Name, exposed)
				}
			}
			if got, ok := c.Tool(exposed); !ok || got != tool {
				t.Fatalf("Tool(%q) does not round-trip", exposed)
			}
		}
		for _, s := range sources {
			clashed := map[string]bool{}
			for _, cl := range c.Summary(s.Name).Clashes {
				clashed[cl.Tool] = true
				if len(cl.With) == 0 {
					t.Fatalf("clash without counterpart: %+v", cl)
				}
			}
			for _, tool := range s.Tools {
				_, routed := seen[Route{Backend: s.Name, Name: tool.Name}]
				if routed == clashed[tool.Name] {
					t.Fatalf("%s/%s: routed=%v clashed=%v, want exactly one", s.Name, tool.Name, routed, clashed[tool.Name])
				}
			}
		}
	})
}

func parseSpec(spec string) []Source {
	var out []Source
	for i, part := range strings.Split(spec, ";") {
		if i >= 8 {
			break
		}
		prefix, names, _ := strings.Cut(part, ":")
		s := Source{Name: fmt.Sprintf("b%d", i), Prefix: prefix, Known: true, Available: i%3 != 2}
		for _, n := range strings.Split(names, ",") {
			if n != "" && len(s.Tools) < 16 {
				s.Tools = append(s.Tools, &mcp.Tool{Name: n})
			}
		}
		out = append(out, s)
	}
	return out
}
