package aggregate

import (
	"path"
	"slices"
	"sort"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/yosida95/uritemplate/v3"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Clash kinds (statusapi.Clash.Kind).
const (
	KindTool   = ""
	KindPrompt = "prompt"
)

// candidate is one backend's item competing for an exposed name.
type candidate struct {
	backend string
	name    string // the backend's own name
	exposed string
	// natural is set when the item is exposed under its own name or an explicit override, as
	// opposed to a prefixed fallback.
	natural bool
	index   int // position in the backend's list
}

// resolve gives every candidate an exposed name by the strategy and hides unresolved clashes.
// It returns the winners and, per backend, the clashes.
func resolve(opts Options, cands []candidate, rank map[string]int, byName map[string]*Source,
	overrides map[Route]string, kind string) ([]candidate, map[string][]statusapi.Clash) {
	name(opts.Strategy, cands, rank, byName, overrides)
	groups := map[string][]int{}
	for i, c := range cands {
		groups[c.exposed] = append(groups[c.exposed], i)
	}
	exposed := make([]string, 0, len(groups))
	for e := range groups {
		exposed = append(exposed, e)
	}
	sort.Strings(exposed)
	var winners []candidate
	clashes := map[string][]statusapi.Clash{}
	for _, e := range exposed {
		g := groups[e]
		if len(g) == 1 {
			winners = append(winners, cands[g[0]])
			continue
		}
		winner := -1
		if opts.Strategy == config.ConflictStrategyPriority {
			winner = soleNatural(cands, g)
		}
		for _, i := range g {
			if i == winner {
				winners = append(winners, cands[i])
				continue
			}
			c := cands[i]
			clashes[c.backend] = append(clashes[c.backend], statusapi.Clash{
				Kind: kind, Tool: c.name, Name: c.exposed, With: others(cands, g, c.backend),
			})
		}
	}
	return winners, clashes
}

// name assigns exposed names by the strategy.
func name(strategy config.ConflictStrategy, cands []candidate, rank map[string]int, byName map[string]*Source, overrides map[Route]string) {
	switch strategy {
	case config.ConflictStrategyPrefix:
		for i := range cands {
			cands[i].exposed = byName[cands[i].backend].Prefix + cands[i].name
		}
	case config.ConflictStrategyPriority:
		owners := map[string]string{} // bare name → backend with the best rank
		for _, c := range cands {
			if o, ok := owners[c.name]; !ok || rank[c.backend] < rank[o] {
				owners[c.name] = c.backend
			}
		}
		for i := range cands {
			c := &cands[i]
			if owners[c.name] == c.backend {
				c.exposed, c.natural = c.name, true
			} else {
				c.exposed = byName[c.backend].Prefix + c.name
			}
		}
	default: // Manual
		for i := range cands {
			c := &cands[i]
			c.exposed, c.natural = c.name, true
			if n, ok := overrides[Route{Backend: c.backend, Name: c.name}]; ok {
				c.exposed = n
			}
		}
	}
}

// soleNatural returns the index of the only natural candidate of a group, or -1.
func soleNatural(cands []candidate, group []int) int {
	winner := -1
	for _, i := range group {
		if cands[i].natural {
			if winner >= 0 {
				return -1
			}
			winner = i
		}
	}
	return winner
}

func others(cands []candidate, group []int, self string) []string {
	var out []string
	for _, i := range group {
		if b := cands[i].backend; b != self && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		out = []string{self} // the backend lists the same name twice
	}
	sort.Strings(out)
	return out
}

func allowed(s *Source, tool string) bool {
	if len(s.Include) > 0 && !matchAny(s.Include, tool) {
		return false
	}
	return !matchAny(s.Exclude, tool)
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func (c *Catalog) addTools(opts Options, sources []Source, rank map[string]int, byName map[string]*Source, prev *Catalog) {
	overrides := map[Route]string{}
	if opts.Strategy == config.ConflictStrategyManual {
		for _, o := range opts.Overrides {
			overrides[Route{Backend: o.Backend, Name: o.Tool}] = o.Name
		}
	}
	cands := candidates(sources, func(s *Source) []*mcp.Tool { return s.Tools },
		func(t *mcp.Tool) string { return t.Name }, allowed)
	winners, clashes := resolve(opts, cands, rank, byName, overrides, KindTool)
	for _, w := range winners {
		src := byName[w.backend]
		orig := src.Tools[w.index]
		var reuse *mcp.Tool
		if p, ok := prev.tools[w.exposed]; ok && p.source == orig {
			reuse = p.Tool
		}
		exposed := renamed(orig, orig.Name, w.exposed, reuse, func(t *mcp.Tool, n string) { t.Name = n })
		c.tools[w.exposed] = &Tool{Route: Route{Backend: w.backend, Name: w.name}, Tool: exposed, Available: src.Available, source: orig}
		if src.Available {
			c.listed.Tools[w.exposed] = exposed
			c.count(w.backend, func(s *Summary) { s.Tools++ })
		}
	}
	c.addClashes(clashes)
}

func (c *Catalog) addPrompts(opts Options, sources []Source, rank map[string]int, byName map[string]*Source, prev *Catalog) {
	cands := candidates(sources, func(s *Source) []*mcp.Prompt { return s.Prompts },
		func(p *mcp.Prompt) string { return p.Name }, func(*Source, string) bool { return true })
	winners, clashes := resolve(opts, cands, rank, byName, nil, KindPrompt)
	for _, w := range winners {
		src := byName[w.backend]
		orig := src.Prompts[w.index]
		var reuse *mcp.Prompt
		if p, ok := prev.prompts[w.exposed]; ok && p.source == orig {
			reuse = p.Prompt
		}
		exposed := renamed(orig, orig.Name, w.exposed, reuse, func(p *mcp.Prompt, n string) { p.Name = n })
		entry := &Prompt{Route: Route{Backend: w.backend, Name: w.name}, Prompt: exposed, Available: src.Available, source: orig}
		c.prompts[w.exposed] = entry
		if entry.Available {
			c.listed.Prompts[w.exposed] = exposed
			c.count(w.backend, func(s *Summary) { s.Prompts++ })
		}
	}
	c.addClashes(clashes)
}

// candidates lists the items of every known source that keep passes, skipping a name a source
// lists twice.
func candidates[T any](sources []Source, items func(*Source) []*T, name func(*T) string, keep func(*Source, string) bool) []candidate {
	var out []candidate
	for i := range sources {
		s := &sources[i]
		if !s.Known {
			continue
		}
		seen := map[string]bool{}
		for j, it := range items(s) {
			if n := name(it); !seen[n] && keep(s, n) {
				seen[n] = true
				out = append(out, candidate{backend: s.Name, name: n, index: j})
			}
		}
	}
	return out
}

// renamed returns the item as exposed: reuse (the previous catalog's copy of the same source
// item) if any, the item itself if its name is unchanged, else a renamed shallow copy.
func renamed[T any](orig *T, name, exposed string, reuse *T, setName func(*T, string)) *T {
	switch {
	case reuse != nil:
		return reuse
	case name == exposed:
		return orig
	}
	cp := *orig
	setName(&cp, exposed)
	return &cp
}

// addResources gives each URI (and URI template) to the first backend offering it, by rank.
func (c *Catalog) addResources(sources []Source, rank map[string]int, prev *Catalog) {
	ordered := make([]*Source, 0, len(sources))
	for i := range sources {
		if sources[i].Known {
			ordered = append(ordered, &sources[i])
		}
	}
	sort.SliceStable(ordered, func(i, j int) bool { return rank[ordered[i].Name] < rank[ordered[j].Name] })
	prevTemplates := map[*mcp.ResourceTemplate]*Template{}
	for _, t := range prev.templates {
		prevTemplates[t.source] = t
	}
	seenTemplates := map[string]bool{}
	for _, s := range ordered {
		for _, r := range s.Resources {
			if _, taken := c.resources[r.URI]; taken {
				continue
			}
			c.resources[r.URI] = &Resource{Route: Route{Backend: s.Name, Name: r.URI}, Resource: r, Available: s.Available}
			if s.Available {
				c.listed.Resources[r.URI] = r
				c.count(s.Name, func(sum *Summary) { sum.Resources++ })
			}
		}
		for _, t := range s.Templates {
			if seenTemplates[t.URITemplate] {
				continue
			}
			seenTemplates[t.URITemplate] = true
			entry := &Template{Route: Route{Backend: s.Name, Name: t.URITemplate}, Template: t, Available: s.Available, source: t}
			if p, ok := prevTemplates[t]; ok {
				entry.matcher = p.matcher
			} else if m, err := uritemplate.New(t.URITemplate); err == nil {
				entry.matcher = m
			}
			c.templates = append(c.templates, entry)
			if s.Available {
				c.listed.Templates[t.URITemplate] = t
			}
		}
	}
}

func (c *Catalog) count(backend string, f func(*Summary)) {
	s := c.summaries[backend]
	f(&s)
	c.summaries[backend] = s
}

func (c *Catalog) addClashes(clashes map[string][]statusapi.Clash) {
	for b, cl := range clashes {
		c.count(b, func(s *Summary) { s.Clashes = append(s.Clashes, cl...) })
	}
}
