// Package aggregate merges what the backends offer into one catalog: the tools, prompts,
// resources and resource templates a client sees, and the routing table that maps each exposed
// name back to its backend and original name.
//
// Build is a pure function of the backends' inventories, their availability and the conflict
// settings, so it is tested without any network. Names are resolved over every backend whose
// inventory is known, available or not, so a backend going down never renames another
// backend's tools; availability only decides what is listed. The aggregator rebuilds the
// catalog when something changes (a backend's list_changed, a health change, a reload), never
// per request, and a rebuild reuses the previous catalog's entries for unchanged items, so
// consumers can diff two catalogs by pointer.
//
// Conflict strategies for tool (and prompt) names:
//   - Prefix: every tool is exposed as prefix+name (the backend's prefix, else prefixFormat).
//   - Priority: a name offered by one backend stays bare; when several offer it, the first in
//     priorityOrder (then config order) keeps it bare and the others are prefixed.
//   - Manual: names stay bare unless an override renames them.
//
// A name still claimed twice after that is an unresolved clash: every claimant is hidden (the
// aggregator does not guess) and reported per backend. In Priority a backend's own bare name
// wins over another backend's prefixed fallback. Resources and resource templates keep their
// URIs; when two backends offer the same URI the first by priority (then config order) serves it.
package aggregate
