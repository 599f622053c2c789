package breaker

import (
	"slices"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func defaults() Settings {
	return Settings{
		FailureThreshold:    5,
		OpenDuration:        30 * time.Second,
		MaxOpenDuration:     5 * time.Minute,
		HalfOpenMaxRequests: 1,
		Jitter:              -1,
	}
}

type harness struct {
	t     *testing.T
	clock *clocktesting.FakePassiveClock
	b     *Breaker
	mu    sync.Mutex
	trans []Transition
}

func newHarness(t *testing.T, s Settings) *harness {
	h := &harness{t: t, clock: clocktesting.NewFakePassiveClock(t0)}
	h.b = New(s, Options{Clock: h.clock, OnTransition: func(tr Transition) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.trans = append(h.trans, tr)
	}})
	return h
}

func (h *harness) call(r Result) {
	h.t.Helper()
	d := h.b.Allow()
	if !d.Allowed {
		h.t.Fatalf("call rejected in state %s", d.State)
	}
	h.b.Done(d, r)
}

func (h *harness) probe(r Result) {
	h.t.Helper()
	d := h.b.AllowProbe()
	if !d.Allowed {
		h.t.Fatalf("probe rejected in state %s", d.State)
	}
	h.b.Done(d, r)
}

func (h *harness) wantState(want State) {
	h.t.Helper()
	if got := h.b.Snapshot().State; got != want {
		h.t.Fatalf("state = %s, want %s", got, want)
	}
}

func (h *harness) step(d time.Duration) { h.clock.SetTime(h.clock.Now().Add(d)) }

func (h *harness) transitions() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, tr := range h.trans {
		out = append(out, tr.From.String()+"->"+tr.To.String())
	}
	return out
}

func TestConsecutiveFailuresOpen(t *testing.T) {
	h := newHarness(t, defaults())
	for range 4 {
		h.call(Failure)
	}
	h.wantState(Closed)
	h.call(Success) // a success resets the count
	for range 4 {
		h.call(Failure)
	}
	h.wantState(Closed)
	h.call(Failure)
	h.wantState(Open)

	d := h.b.Allow()
	if d.Allowed || d.State != Open {
		t.Fatalf("Allow in Open = %+v, want rejected", d)
	}
	if want := t0.Add(30 * time.Second); !d.RetryAt.Equal(want) {
		t.Fatalf("RetryAt = %v, want %v", d.RetryAt, want)
	}
	if p := h.b.AllowProbe(); p.Allowed {
		t.Fatal("probe allowed before the open duration elapsed")
	}
}

func TestHalfOpenOnlyLetsProbesThrough(t *testing.T) {
	h := newHarness(t, defaults())
	for range 5 {
		h.call(Failure)
	}
	h.step(30*time.Second - time.Nanosecond)
	h.wantState(Open)
	h.step(time.Nanosecond)
	h.wantState(HalfOpen)

	if d := h.b.Allow(); d.Allowed || d.State != HalfOpen {
		t.Fatalf("user call in HalfOpen = %+v, want rejected", d)
	}
	p := h.b.AllowProbe()
	if !p.Allowed {
		t.Fatal("first probe in HalfOpen rejected")
	}
	if p2 := h.b.AllowProbe(); p2.Allowed {
		t.Fatal("second probe allowed with halfOpenMaxRequests=1")
	}
	h.b.Done(p, Success)
	h.wantState(Closed)
	h.call(Success)

	want := []string{"Closed->Open", "Open->HalfOpen", "HalfOpen->Closed"}
	if got := h.transitions(); !slices.Equal(got, want) {
		t.Fatalf("transitions = %v, want %v", got, want)
	}
}

func TestHalfOpenNeedsAllProbesToSucceed(t *testing.T) {
	s := defaults()
	s.HalfOpenMaxRequests = 3
	h := newHarness(t, s)
	for range 5 {
		h.call(Failure)
	}
	h.step(30 * time.Second)
	h.probe(Success)
	h.probe(Success)
	h.wantState(HalfOpen)
	h.probe(Success)
	h.wantState(Closed)
}

func TestOpenDurationGrowsAndIsCapped(t *testing.T) {
	s := defaults()
	s.MaxOpenDuration = 100 * time.Second
	h := newHarness(t, s)
	for range 5 {
		h.call(Failure)
	}
	wantDurations := []time.Duration{30 * time.Second, 60 * time.Second, 100 * time.Second, 100 * time.Second}
	for i, want := range wantDurations {
		snap := h.b.Snapshot()
		if snap.State != Open {
			t.Fatalf("open #%d: state %s", i+1, snap.State)
		}
		if got := snap.RetryAt.Sub(h.clock.Now()); got != want {
			t.Fatalf("open #%d lasts %v, want %v", i+1, got, want)
		}
		h.step(want)
		h.probe(Failure) // HalfOpen probe fails: re-open, longer
	}
}

func TestHealthyPeriodResetsGrowth(t *testing.T) {
	tests := []struct {
		name         string
		closedFor    time.Duration
		wantOpensFor time.Duration
	}{
		{"short healthy period keeps doubling", 4 * time.Minute, 60 * time.Second},
		{"long healthy period starts over", 5 * time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, defaults())
			for range 5 {
				h.call(Failure)
			}
			h.step(30 * time.Second)
			h.probe(Success)
			h.wantState(Closed)
			h.step(tt.closedFor)
			for range 5 {
				h.call(Failure)
			}
			if got := h.b.Snapshot().RetryAt.Sub(h.clock.Now()); got != tt.wantOpensFor {
				t.Fatalf("open lasts %v, want %v", got, tt.wantOpensFor)
			}
		})
	}
}

func TestJitterStaysWithinBounds(t *testing.T) {
	s := defaults()
	s.Jitter = 0.2
	for _, r := range []float64{0, 0.25, 0.5, 0.75, 0.999} {
		b := New(s, Options{Clock: clocktesting.NewFakePassiveClock(t0), Rand: func() float64 { return r }})
		for opens := 1; opens <= 12; opens++ {
			d := b.openDuration(opens)
			if d < s.OpenDuration || d > s.MaxOpenDuration {
				t.Fatalf("r=%v opens=%d: %v outside [%v, %v]", r, opens, d, s.OpenDuration, s.MaxOpenDuration)
			}
		}
	}
	// Second open with r=0 and r→1: 60s × (1 ± 0.2).
	low := New(s, Options{Rand: func() float64 { return 0 }}).openDuration(2)
	high := New(s, Options{Rand: func() float64 { return 0.999999 }}).openDuration(2)
	if low != 48*time.Second || high < 71*time.Second || high > 72*time.Second {
		t.Fatalf("jittered second open = [%v, %v], want [48s, ~72s]", low, high)
	}
}

func TestFailureRateWindow(t *testing.T) {
	s := defaults()
	s.FailureThreshold = 100
	s.FailureRatePercent = 50
	s.MinimumRequests = 4
	s.Window = 10 * time.Second
	tests := []struct {
		name    string
		steps   []any // Result or time.Duration to advance
		wantOut State
	}{
		{"below minimum requests", []any{Failure, Failure, Success}, Closed},
		{"rate reached at minimum", []any{Success, Failure, Success, Failure}, Open},
		{"rate below threshold", []any{Success, Failure, Success, Success, Failure}, Closed},
		{"old failures slide out", []any{Failure, Failure, Failure, 11 * time.Second, Success, Success, Failure, Success}, Closed},
		{"failures within window count", []any{Failure, Failure, Failure, 5 * time.Second, Success, Success, Failure}, Open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, s)
			for _, st := range tt.steps {
				switch v := st.(type) {
				case Result:
					h.call(v)
				case time.Duration:
					h.step(v)
				}
			}
			h.wantState(tt.wantOut)
		})
	}
}

func TestHalfOpenLimitUnderConcurrency(t *testing.T) {
	s := defaults()
	s.HalfOpenMaxRequests = 3
	h := newHarness(t, s)
	for range 5 {
		h.call(Failure)
	}
	h.step(30 * time.Second)

	var wg sync.WaitGroup
	var mu sync.Mutex
	var allowed []Decision
	for range 64 {
		wg.Go(func() {
			if d := h.b.AllowProbe(); d.Allowed {
				mu.Lock()
				allowed = append(allowed, d)
				mu.Unlock()
			}
			h.b.Allow() // user calls race with probes and must never pass
		})
	}
	wg.Wait()
	if len(allowed) != 3 {
		t.Fatalf("%d probes allowed in HalfOpen, want 3", len(allowed))
	}
	for _, d := range allowed {
		wg.Go(func() { h.b.Done(d, Success) })
	}
	wg.Wait()
	h.wantState(Closed)
}

func TestIgnoreReleasesHalfOpenPermit(t *testing.T) {
	h := newHarness(t, defaults())
	for range 5 {
		h.call(Failure)
	}
	h.step(30 * time.Second)
	p := h.b.AllowProbe()
	h.b.Done(p, Ignore)
	h.wantState(HalfOpen)
	h.probe(Success)
	h.wantState(Closed)
}

func TestStaleResultsAreIgnored(t *testing.T) {
	h := newHarness(t, defaults())
	slow := h.b.Allow() // a call that is still running when the circuit opens and recovers
	for range 5 {
		h.call(Failure)
	}
	h.step(30 * time.Second)
	h.probe(Success)
	h.wantState(Closed)
	for range 4 {
		h.call(Failure)
	}
	h.b.Done(slow, Failure) // would be the 5th consecutive failure if it counted
	h.wantState(Closed)
	if got := h.b.Snapshot().ConsecutiveFailures; got != 4 {
		t.Fatalf("consecutive failures = %d, want 4", got)
	}
}

func TestUpdateKeepsState(t *testing.T) {
	h := newHarness(t, defaults())
	for range 5 {
		h.call(Failure)
	}
	s := defaults()
	s.FailureThreshold = 2
	h.b.Update(s)
	h.wantState(Open)
	h.step(30 * time.Second)
	h.probe(Success)
	h.call(Failure)
	h.call(Failure)
	h.wantState(Open)
}

// TestUpdateKeepsFailureRateWindow checks that a reload with the same rate rule (every reload
// updates every kept backend) keeps the window's counts, and that changing the rule resets them.
func TestUpdateKeepsFailureRateWindow(t *testing.T) {
	s := defaults()
	s.FailureThreshold = 100
	s.FailureRatePercent = 50
	s.MinimumRequests = 4
	s.Window = 10 * time.Second
	changed := s
	changed.Window = 20 * time.Second
	other := s
	other.OpenDuration = time.Minute // not part of the rate rule
	tests := []struct {
		name   string
		update Settings
		want   State
	}{
		{"same settings", s, Open},
		{"other settings", other, Open},
		{"window changed", changed, Closed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, s)
			h.call(Success)
			h.call(Failure)
			h.call(Success)
			h.b.Update(tt.update)
			h.call(Failure) // 2 of 4 failed: opens unless the update dropped the first three
			h.wantState(tt.want)
		})
	}
}
