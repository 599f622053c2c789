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
// tools/call) or a JSON-RPC error with data (for prompts/get and resources/read). A JSON-RPC
// error answered by a backend passes through unchanged. Progress notifications are forwarded
// from the backend to the calling client with the client's own token, and a client's
// cancellation reaches the backend.
//
// Every call goes through Member.Conn, which today is always the backend's shared session; a
// per-client session (for clients that accept sampling or elicitation) slots in there without
// changing the routing.
package server
