package breaker

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// State is the state of a circuit.
type State int8

// Circuit states. Their String values are the statusapi.Circuit values.
const (
	Closed State = iota
	HalfOpen
	Open
)

// String returns "Closed", "HalfOpen" or "Open".
func (s State) String() string {
	switch s {
	case Closed:
		return "Closed"
	case HalfOpen:
		return "HalfOpen"
	default:
		return "Open"
	}
}

// Result is what a permitted call or probe reports back.
type Result int8

// Results. Ignore releases a permit without counting: the caller gave up, which says nothing
// about the backend.
const (
	Success Result = iota
	Failure
	Ignore
)

// DefaultJitter is the open-duration jitter used when Settings.Jitter is zero.
const DefaultJitter = 0.2

// Settings configure a Breaker. Zero values of optional fields take the documented defaults.
type Settings struct {
	// FailureThreshold consecutive failures open the circuit (at least 1).
	FailureThreshold int
	// FailureRatePercent, when > 0, also opens the circuit once at least MinimumRequests
	// results were seen within Window and this percentage of them failed.
	FailureRatePercent int
	MinimumRequests    int
	Window             time.Duration
	// OpenDuration is the first open period; it doubles on every re-open up to MaxOpenDuration.
	OpenDuration    time.Duration
	MaxOpenDuration time.Duration
	// HalfOpenMaxRequests probes are let through in HalfOpen; that many successes close it.
	HalfOpenMaxRequests int
	// ResetAfter is how long the circuit must stay closed before the doubling starts again from
	// OpenDuration. Zero means MaxOpenDuration.
	ResetAfter time.Duration
	// Jitter spreads open durations by ±Jitter×duration (clamped to [OpenDuration,
	// MaxOpenDuration]) so replicas and backends do not probe in lockstep. Zero means
	// DefaultJitter; negative disables jitter.
	Jitter float64
}

func (s Settings) normalized() Settings {
	s.FailureThreshold = max(s.FailureThreshold, 1)
	s.HalfOpenMaxRequests = max(s.HalfOpenMaxRequests, 1)
	s.OpenDuration = max(s.OpenDuration, time.Millisecond)
	s.MaxOpenDuration = max(s.MaxOpenDuration, s.OpenDuration)
	if s.ResetAfter <= 0 {
		s.ResetAfter = s.MaxOpenDuration
	}
	switch {
	case s.Jitter == 0:
		s.Jitter = DefaultJitter
	case s.Jitter < 0:
		s.Jitter = 0
	}
	if s.FailureRatePercent > 0 {
		s.MinimumRequests = max(s.MinimumRequests, 1)
		if s.Window <= 0 {
			s.FailureRatePercent = 0
		}
	}
	return s
}

// Transition describes a change of state, reported to Options.OnTransition.
type Transition struct {
	From, To State
	At       time.Time
	// RetryAt is when an Open circuit lets the next probe through (zero unless To is Open).
	RetryAt time.Time
	// Opens counts consecutive opens without a healthy period in between (0 when closed long enough).
	Opens int
	// ConsecutiveFailures at the time of the transition.
	ConsecutiveFailures int
}

// Options are a Breaker's collaborators.
type Options struct {
	// Clock defaults to the real clock.
	Clock clock.PassiveClock
	// Rand returns a number in [0, 1) for jitter; defaults to math/rand/v2.
	Rand func() float64
	// OnTransition is called after every state change, outside the breaker's lock, in the
	// order the changes happened.
	OnTransition func(Transition)
}

// Decision is the answer to Allow or AllowProbe. A permitted decision must be handed back to
// Done exactly once.
type Decision struct {
	Allowed bool
	// State is the circuit's state when the decision was made.
	State State
	// RetryAt is when an Open circuit lets the next probe through (zero unless State is Open).
	RetryAt time.Time
	gen     uint64
	probe   bool
}

// HalfOpenProbe reports whether the decision is one of the HalfOpen probe permits.
func (d Decision) HalfOpenProbe() bool { return d.probe }

// Snapshot is a consistent view of a Breaker.
type Snapshot struct {
	State               State
	RetryAt             time.Time
	ConsecutiveFailures int
	Opens               int
}

// Breaker is a circuit breaker. The zero value is not usable; call New.
type Breaker struct {
	clock        clock.PassiveClock
	rand         func() float64
	onTransition func(Transition)

	mu          sync.Mutex
	s           Settings
	state       State
	gen         uint64 // increases on every transition; stale Done calls are ignored
	consecutive int
	window      window
	opens       int
	openUntil   time.Time
	closedAt    time.Time
	issued      int // half-open probe permits handed out in this half-open period
	successes   int // successful half-open probes in this period
}

// New returns a Closed breaker.
func New(s Settings, o Options) *Breaker {
	b := &Breaker{clock: o.Clock, rand: o.Rand, onTransition: o.OnTransition}
	if b.clock == nil {
		b.clock = clock.RealClock{}
	}
	if b.rand == nil {
		b.rand = defaultRand
	}
	b.s = s.normalized()
	b.window.configure(b.s.Window)
	return b
}

// Update replaces the settings, keeping the current state (a config reload must not reset
// the breakers of unchanged backends). The failure-rate window keeps its counts unless the
// rate rule itself changed: every reload applies the settings to every kept backend.
func (b *Breaker) Update(s Settings) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.s
	b.s = s.normalized()
	if b.s.Window != old.Window || b.s.FailureRatePercent != old.FailureRatePercent ||
		b.s.MinimumRequests != old.MinimumRequests {
		b.window.configure(b.s.Window)
	}
}

// Allow decides whether a user call may proceed: only a Closed circuit lets calls through.
func (b *Breaker) Allow() Decision {
	return b.decide(false)
}

// AllowProbe decides whether a health probe may proceed: always when Closed, and up to
// HalfOpenMaxRequests probes once the open duration has elapsed.
func (b *Breaker) AllowProbe() Decision {
	return b.decide(true)
}

func (b *Breaker) decide(probe bool) Decision {
	b.mu.Lock()
	var events []Transition
	b.advance(b.clock.Now(), &events)
	d := Decision{State: b.state, RetryAt: b.retryAt()}
	switch {
	case b.state == Closed:
		d.Allowed = true
	case b.state == HalfOpen && probe && b.issued < b.s.HalfOpenMaxRequests:
		b.issued++
		d.Allowed = true
		d.probe = true
	}
	d.gen = b.gen
	b.mu.Unlock()
	b.emit(events)
	return d
}

// Done reports the result of a permitted call or probe. Results of decisions made before the
// latest transition are ignored: a slow call that started while Closed must not re-open a
// circuit that has since recovered.
func (b *Breaker) Done(d Decision, r Result) {
	if !d.Allowed {
		return
	}
	b.mu.Lock()
	var events []Transition
	now := b.clock.Now()
	b.advance(now, &events)
	if d.gen == b.gen {
		switch b.state {
		case Closed:
			b.recordClosed(now, r, &events)
		case HalfOpen:
			if d.probe {
				b.recordHalfOpen(now, r, &events)
			}
		}
	}
	b.mu.Unlock()
	b.emit(events)
}

func (b *Breaker) recordClosed(now time.Time, r Result, events *[]Transition) {
	switch r {
	case Success:
		b.consecutive = 0
		b.window.add(now, false)
	case Failure:
		b.consecutive++
		b.window.add(now, true)
		if b.shouldTrip(now) {
			if !b.closedAt.IsZero() && now.Sub(b.closedAt) >= b.s.ResetAfter {
				b.opens = 0
			}
			b.open(now, events)
		}
	}
}

func (b *Breaker) recordHalfOpen(now time.Time, r Result, events *[]Transition) {
	switch r {
	case Success:
		b.successes++
		if b.successes >= b.s.HalfOpenMaxRequests {
			b.closedAt = now
			b.consecutive = 0
			b.window.reset()
			b.transition(Closed, now, events)
		}
	case Failure:
		b.consecutive++
		b.open(now, events)
	case Ignore:
		b.issued--
	}
}

func (b *Breaker) shouldTrip(now time.Time) bool {
	if b.consecutive >= b.s.FailureThreshold {
		return true
	}
	if b.s.FailureRatePercent <= 0 {
		return false
	}
	total, failures := b.window.counts(now)
	return total >= b.s.MinimumRequests && failures*100 >= b.s.FailureRatePercent*total
}

func (b *Breaker) open(now time.Time, events *[]Transition) {
	b.opens++
	b.openUntil = now.Add(b.openDuration(b.opens))
	b.window.reset()
	b.transition(Open, now, events)
}

// openDuration is OpenDuration doubled for every previous consecutive open, jittered, and kept
// within [OpenDuration, MaxOpenDuration].
func (b *Breaker) openDuration(opens int) time.Duration {
	d := b.s.OpenDuration
	for i := 1; i < opens && d < b.s.MaxOpenDuration; i++ {
		d *= 2
	}
	if b.s.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + b.s.Jitter*(2*b.rand()-1)))
	}
	return min(max(d, b.s.OpenDuration), b.s.MaxOpenDuration)
}

// advance moves an Open circuit whose open duration has elapsed to HalfOpen.
func (b *Breaker) advance(now time.Time, events *[]Transition) {
	if b.state == Open && !now.Before(b.openUntil) {
		b.issued, b.successes = 0, 0
		b.transition(HalfOpen, b.openUntil, events)
	}
}

func (b *Breaker) transition(to State, at time.Time, events *[]Transition) {
	t := Transition{From: b.state, To: to, At: at, Opens: b.opens, ConsecutiveFailures: b.consecutive}
	if to == Open {
		t.RetryAt = b.openUntil
	}
	b.state = to
	b.gen++
	*events = append(*events, t)
}

func (b *Breaker) retryAt() time.Time {
	if b.state == Open {
		return b.openUntil
	}
	return time.Time{}
}

func (b *Breaker) emit(events []Transition) {
	if b.onTransition == nil {
		return
	}
	for _, t := range events {
		b.onTransition(t)
	}
}

// Snapshot returns the current state, advancing an Open circuit whose time is up.
func (b *Breaker) Snapshot() Snapshot {
	b.mu.Lock()
	var events []Transition
	b.advance(b.clock.Now(), &events)
	s := Snapshot{State: b.state, RetryAt: b.retryAt(), ConsecutiveFailures: b.consecutive, Opens: b.opens}
	b.mu.Unlock()
	b.emit(events)
	return s
}
