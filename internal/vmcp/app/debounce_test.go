package app

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

// TestDebouncer checks that a flapping source cannot storm clients: the first change is
// published at once, changes within the interval are coalesced into one publish at its end.
func TestDebouncer(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var runs atomic.Int32
	d := newDebouncer(clk, time.Second, func() { runs.Add(1) })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go d.run(ctx)

	wantRuns := func(n int32) {
		t.Helper()
		poll.Until(t, 5*time.Second, func() error {
			if got := runs.Load(); got != n {
				return fmt.Errorf("%d runs, want %d", got, n)
			}
			return nil
		})
	}
	waitTimer := func() {
		t.Helper()
		poll.Until(t, 5*time.Second, func() error {
			if !clk.HasWaiters() {
				return errors.New("debouncer not waiting")
			}
			return nil
		})
	}

	d.trigger()
	wantRuns(1) // leading edge: at once
	for range 50 {
		d.trigger() // a flapping backend
	}
	waitTimer()
	if got := runs.Load(); got != 1 {
		t.Fatalf("%d runs before the interval ended", got)
	}
	clk.Step(time.Second)
	wantRuns(2) // one coalesced run
	clk.Step(10 * time.Second)
	d.trigger()
	wantRuns(3) // quiet for an interval: at once again
}
