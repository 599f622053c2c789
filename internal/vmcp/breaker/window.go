package breaker

import (
	"math/rand/v2"
	"time"
)

// windowBuckets is how finely the failure-rate window is sliced: results older than the window
// drop out one bucket (a tenth of the window) at a time.
const windowBuckets = 10

// window counts results over a sliding time window in fixed buckets, without allocating per
// result.
type window struct {
	width   time.Duration
	buckets [windowBuckets]bucket
}

type bucket struct {
	epoch          int64 // index of the bucket-width interval this bucket currently counts
	total, failure int
}

func (w *window) configure(size time.Duration) {
	w.width = size / windowBuckets
	w.reset()
}

func (w *window) reset() { w.buckets = [windowBuckets]bucket{} }

func (w *window) epoch(now time.Time) int64 {
	if w.width <= 0 {
		return 0
	}
	return now.UnixNano() / int64(w.width)
}

func (w *window) add(now time.Time, failure bool) {
	if w.width <= 0 {
		return
	}
	e := w.epoch(now)
	b := &w.buckets[e%windowBuckets]
	if b.epoch != e {
		*b = bucket{epoch: e}
	}
	b.total++
	if failure {
		b.failure++
	}
}

func (w *window) counts(now time.Time) (total, failures int) {
	e := w.epoch(now)
	for _, b := range w.buckets {
		if b.total > 0 && b.epoch > e-windowBuckets && b.epoch <= e {
			total += b.total
			failures += b.failure
		}
	}
	return total, failures
}

func defaultRand() float64 { return rand.Float64() }
