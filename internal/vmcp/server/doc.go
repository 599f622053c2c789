// Package server is the aggregator's MCP face: one MCP server (the official Go SDK, Streamable
// HTTP) that lists the merged catalog and routes tools/call, prompts/get and resources/read to
// the owning backend under its original name.
//
// The merged lists are mirrored into the SDK server's own tool, prompt and resource sets, so
// the SDK does the listing, pagination, capability negotiation and list_changed notifications
// (to legacy sessions and to subscribed ones alike); a mirror update is a diff, applied only when
// the aggregator publishes a new catalog. Routed methods are handled by receiving middleware
// before the SDK's own lookup, because a tool of a hidden (unavailable) backend must answer
// "backend unavailable", not "unknown tool". The middleware also enforces the failure mode on
// initialize and the list methods.
//
// Calls are admitted by the backend's health.Monitor first: a call to an unavailable backend or
// an open circuit returns at once, without network I/O, with a *BackendError (errors.Is
// ErrBackendUnavailable) rendered as a tool result with isError and structured metadata (for
// tools/call) or a JSON-RPC error with data (for the other routed methods, and for a tools/call
// the backend accepted but never answered). A JSON-RPC error answered by a backend passes
// through unchanged.
//
// Protocol transparency: a client that declared sampling, elicitation or roots gets a backend
// session of its own per backend (connFor), declaring the same capabilities; the backend's
// requests on it are forwarded to that client, on the stream of the call they were made for,
// without the SDK's validation in between (toClient). Other clients share one session per
// backend. Calls that may hear back from the backend are registered (callRouter): their progress
// and log messages reach the calling client in order, before the result. logging/setLevel is
// passed on to the backends, resources/subscribe is reference counted per backend and URI with
// updates to the subscribed clients, and completion/complete is routed to the owner of the
// prompt or resource template.
package server
