package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/yosida95/uritemplate/v3"
)

// MaxListItems bounds each list fetched from one backend, so a misbehaving backend cannot make
// the aggregator hold unbounded lists. Items past it are dropped and reported.
const MaxListItems = 20000

// Inventory is what a backend offers, as fetched from it. Its slices are never modified after
// the fetch, so an Inventory may be shared freely.
type Inventory struct {
	Tools     []*mcp.Tool
	Prompts   []*mcp.Prompt
	Resources []*mcp.Resource
	Templates []*mcp.ResourceTemplate
	// Capabilities and ServerInfo are the backend's initialize result.
	Capabilities *mcp.ServerCapabilities
	ServerInfo   *mcp.Implementation
	// Truncated is set when a list was longer than MaxListItems.
	Truncated bool
	// Dropped describes items left out because the aggregator could not serve them again (a
	// tool whose input schema is not an object schema, an unparsable URI or URI template).
	Dropped   []string
	FetchedAt time.Time
}

// inventoryTimeouts bounds a whole listing in backend timeouts: a listing is many exchanges (a
// page each, for tools, prompts, resources and templates), so one exchange's bound would fail a
// backend with thousands of tools on a slow link or a busy machine every time.
const inventoryTimeouts = 10

// FetchInventory lists everything the backend advertises (following nextCursor) on the shared
// session.
func (b *Backend) FetchInventory(ctx context.Context) (*Inventory, Outcome) {
	var inv *Inventory
	out := b.doWithin(ctx, b.shared, inventoryTimeouts*b.opts.Timeout, func(ctx context.Context, cs *mcp.ClientSession) error {
		var err error
		inv, err = fetchInventory(ctx, cs)
		return err
	})
	if out.Kind != OK {
		return nil, out
	}
	inv.FetchedAt = b.clock.Now()
	return inv, out
}

func fetchInventory(ctx context.Context, cs *mcp.ClientSession) (*Inventory, error) {
	inv := &Inventory{Capabilities: &mcp.ServerCapabilities{}}
	if res := cs.InitializeResult(); res != nil {
		inv.ServerInfo = res.ServerInfo
		if res.Capabilities != nil {
			inv.Capabilities = res.Capabilities
		}
	}
	caps := inv.Capabilities
	var err error
	if caps.Tools != nil {
		if inv.Tools, err = collect(inv, cs.Tools(ctx, nil)); err != nil {
			return nil, fmt.Errorf("tools/list: %w", err)
		}
		inv.Tools = keep(inv, inv.Tools, func(t *mcp.Tool) (*mcp.Tool, string) {
			t = compactTool(t)
			if !objectSchema(t.InputSchema) {
				return nil, "tool " + t.Name + ": input schema is not an object schema"
			}
			return t, ""
		})
	}
	if caps.Prompts != nil {
		if inv.Prompts, err = collect(inv, cs.Prompts(ctx, nil)); err != nil {
			return nil, fmt.Errorf("prompts/list: %w", err)
		}
	}
	if caps.Resources != nil {
		if inv.Resources, err = collect(inv, cs.Resources(ctx, nil)); err != nil {
			return nil, fmt.Errorf("resources/list: %w", err)
		}
		if inv.Templates, err = collect(inv, cs.ResourceTemplates(ctx, nil)); err != nil {
			return nil, fmt.Errorf("resources/templates/list: %w", err)
		}
		inv.Resources = keep(inv, inv.Resources, func(r *mcp.Resource) (*mcp.Resource, string) {
			if _, err := url.Parse(r.URI); err != nil || r.URI == "" {
				return nil, fmt.Sprintf("resource %q: invalid URI", r.URI)
			}
			return r, ""
		})
		inv.Templates = keep(inv, inv.Templates, func(t *mcp.ResourceTemplate) (*mcp.ResourceTemplate, string) {
			if _, err := uritemplate.New(t.URITemplate); err != nil {
				return nil, fmt.Sprintf("resource template %q: %v", t.URITemplate, err)
			}
			return t, ""
		})
	}
	return inv, nil
}

func collect[T any](inv *Inventory, seq func(yield func(*T, error) bool)) ([]*T, error) {
	out := []*T{}
	for item, err := range seq {
		if err != nil {
			return nil, err
		}
		if len(out) == MaxListItems {
			inv.Truncated = true
			break
		}
		if item != nil {
			out = append(out, item)
		}
	}
	return out, nil
}

// keep applies check to every item, keeping what it returns and recording why others were
// dropped.
func keep[T any](inv *Inventory, items []*T, check func(*T) (*T, string)) []*T {
	out := items[:0]
	for _, it := range items {
		kept, why := check(it)
		if kept == nil {
			inv.Dropped = append(inv.Dropped, why)
			continue
		}
		out = append(out, kept)
	}
	return out
}

// objectSchema reports whether a (raw JSON) schema is an object schema, which MCP requires of
// input schemas and the SDK server insists on.
func objectSchema(v any) bool {
	raw, ok := v.(json.RawMessage)
	if !ok {
		return false
	}
	var s struct {
		Type any `json:"type"`
	}
	return json.Unmarshal(raw, &s) == nil && s.Type == "object"
}

// compactTool stores a tool's schemas as raw JSON. The SDK client decodes them into generic
// maps, which are slow to encode again on every tools/list; raw JSON is copied as is.
func compactTool(t *mcp.Tool) *mcp.Tool {
	c := *t
	c.InputSchema = rawJSON(t.InputSchema)
	if t.OutputSchema != nil {
		c.OutputSchema = rawJSON(t.OutputSchema)
	}
	return &c
}

func rawJSON(v any) any {
	switch v.(type) {
	case nil, json.RawMessage:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	return json.RawMessage(b)
}
