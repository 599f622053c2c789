// Package statusapi holds the wire contract between an aggregator and the operator: the admin
// paths and port names, and the JSON document served at /status. The aggregator encodes it and
// the operator decodes it, so both sides always agree. It imports only the standard library.
package statusapi
