// Package breaker is the per-backend circuit breaker: Closed → Open after too many failures,
// Open → HalfOpen after an open duration that grows exponentially with every re-open (jittered,
// capped, reset after a healthy period), HalfOpen → Closed after enough successful probes, or
// back to Open on a failed one.
//
// It is written here rather than taken from sony/gobreaker because the aggregator needs things
// gobreaker does not offer: an open duration that doubles on each consecutive re-open and
// resets after a healthy period; a half-open state that only the health prober may pass
// (user calls keep failing fast until the backend has proven itself); a failure-rate rule over
// a time window with a minimum number of requests; and a retry-after instant to tell clients.
//
// The breaker does no I/O and never sleeps: time comes from an injected clock, so tests step a
// fake clock through every transition. It is safe for concurrent use.
package breaker
