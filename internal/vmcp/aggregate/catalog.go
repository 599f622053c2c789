package aggregate

import (
	"maps"
	"slices"
	"sort"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/yosida95/uritemplate/v3"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/statusapi"
)

// Source is one backend as Build sees it.
type Source struct {
	Name string
	// Prefix is the backend's resolved prefix (config.Config.PrefixFor).
	Prefix string
	// Include and Exclude are glob filters on the backend's own tool names.
	Include, Exclude []string
	// Available backends are listed; unavailable ones still take part in naming and routing.
	Available bool
	// Known is false until the backend's inventory was fetched once; unknown backends take no
	// part in anything.
	Known     bool
	Tools     []*mcp.Tool
	Prompts   []*mcp.Prompt
	Resources []*mcp.Resource
	Templates []*mcp.ResourceTemplate
}

// Options are the conflict-resolution settings.
type Options struct {
	Strategy      config.ConflictStrategy
	PriorityOrder []string
	Overrides     []config.ToolOverride
}

// OptionsFrom extracts Options from a config.
func OptionsFrom(c *config.Config) Options {
	cr := c.ConflictResolution
	return Options{Strategy: cr.Strategy, PriorityOrder: cr.PriorityOrder, Overrides: cr.Overrides}
}

// Route is where an exposed item lives: a backend and the item's name (or URI) there.
type Route struct {
	Backend string
	Name    string
}

// Tool is an exposed tool.
type Tool struct {
	Route
	// Tool is the tool as clients see it: the backend's tool with the exposed name. It must not
	// be modified.
	Tool      *mcp.Tool
	Available bool
	source    *mcp.Tool
}

// Prompt is an exposed prompt.
type Prompt struct {
	Route
	Prompt    *mcp.Prompt
	Available bool
	source    *mcp.Prompt
}

// Resource is an exposed resource; Route.Name is its URI.
type Resource struct {
	Route
	Resource  *mcp.Resource
	Available bool
}

// Template is an exposed resource template; Route.Name is its URI template.
type Template struct {
	Route
	Template  *mcp.ResourceTemplate
	Available bool
	source    *mcp.ResourceTemplate
	matcher   *uritemplate.Template
}

// Summary is what one backend contributes.
type Summary struct {
	// Tools, Prompts and Resources count listed items (zero while the backend is unavailable).
	Tools, Prompts, Resources int
	// Clashes are the backend's tools and prompts hidden by unresolved clashes.
	Clashes []statusapi.Clash
}

// Catalog is the merged view. It is immutable once built and safe to share.
type Catalog struct {
	tools     map[string]*Tool
	prompts   map[string]*Prompt
	resources map[string]*Resource
	templates []*Template // in precedence order, for URI matching
	summaries map[string]Summary
	listed    Listed
}

// Listed is what clients see, keyed by exposed name, URI or URI template.
type Listed struct {
	Tools     map[string]*mcp.Tool
	Prompts   map[string]*mcp.Prompt
	Resources map[string]*mcp.Resource
	Templates map[string]*mcp.ResourceTemplate
}

// Tool routes an exposed tool name, listed or not.
func (c *Catalog) Tool(name string) (*Tool, bool) {
	t, ok := c.tools[name]
	return t, ok
}

// Prompt routes an exposed prompt name, listed or not.
func (c *Catalog) Prompt(name string) (*Prompt, bool) {
	p, ok := c.prompts[name]
	return p, ok
}

// Resource routes a resource URI: an exact resource first, then the first matching template.
func (c *Catalog) Resource(uri string) (Route, bool) {
	if r, ok := c.resources[uri]; ok {
		return r.Route, true
	}
	for _, t := range c.templates {
		if t.matcher != nil && t.matcher.Regexp().MatchString(uri) {
			return Route{Backend: t.Backend, Name: uri}, true
		}
	}
	return Route{}, false
}

// Template routes a URI template exactly as listed (completion requests name templates, not
// URIs).
func (c *Catalog) Template(uriTemplate string) (Route, bool) {
	for _, t := range c.templates {
		if t.Template.URITemplate == uriTemplate {
			return t.Route, true
		}
	}
	return Route{}, false
}

// Listed returns the items clients see. The maps must not be modified.
func (c *Catalog) Listed() Listed { return c.listed }

// Summary returns what a backend contributes.
func (c *Catalog) Summary(backend string) Summary { return c.summaries[backend] }

// ToolNames returns the listed tool names, sorted.
func (c *Catalog) ToolNames() []string { return slices.Sorted(maps.Keys(c.listed.Tools)) }

// Build merges sources (in config order) into a Catalog. prev, if not nil, is the previous
// catalog: entries for unchanged items are reused, so they compare equal by pointer.
func Build(opts Options, sources []Source, prev *Catalog) *Catalog {
	if prev == nil {
		prev = &Catalog{}
	}
	c := &Catalog{
		tools:     map[string]*Tool{},
		prompts:   map[string]*Prompt{},
		resources: map[string]*Resource{},
		summaries: make(map[string]Summary, len(sources)),
		listed: Listed{
			Tools: map[string]*mcp.Tool{}, Prompts: map[string]*mcp.Prompt{},
			Resources: map[string]*mcp.Resource{}, Templates: map[string]*mcp.ResourceTemplate{},
		},
	}
	rank := ranks(opts, sources)
	byName := make(map[string]*Source, len(sources))
	for i := range sources {
		byName[sources[i].Name] = &sources[i]
		c.summaries[sources[i].Name] = Summary{}
	}
	c.addTools(opts, sources, rank, byName, prev)
	c.addPrompts(opts, sources, rank, byName, prev)
	c.addResources(sources, rank, prev)
	for name, s := range c.summaries {
		sort.Slice(s.Clashes, func(i, j int) bool { return s.Clashes[i].Name < s.Clashes[j].Name })
		c.summaries[name] = s
	}
	return c
}

// ranks orders backends for Priority resolution and for resource precedence: priorityOrder
// first, then config order.
func ranks(opts Options, sources []Source) map[string]int {
	r := make(map[string]int, len(sources))
	for i, name := range opts.PriorityOrder {
		r[name] = i
	}
	for i, s := range sources {
		if _, ok := r[s.Name]; !ok {
			r[s.Name] = len(opts.PriorityOrder) + i
		}
	}
	return r
}
