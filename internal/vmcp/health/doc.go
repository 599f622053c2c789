// Package health decides how each backend is doing (DESIGN §5). A Monitor per backend combines
// a status Tracker (Unknown → Healthy/Degraded/Unhealthy/Unauthenticated with a reason) with the
// backend's circuit breaker and any Retry-After window, and answers the two questions the
// aggregator asks on every call: may this call go to the backend (Admit), and what happened
// (Done). A Prober per backend pings it on its shared session every interval, re-initializing
// the session when it is gone, and feeds the same Monitor, so live traffic and probes count
// alike.
//
// Nothing here sleeps or reads the wall clock: time comes from an injected clock, and the
// Prober waits on the clock's timers, so tests step a fake clock through every state.
package health
