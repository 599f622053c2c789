package reload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"k8s.io/utils/clock"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
)

// DefaultInterval is how often the file is checked.
const DefaultInterval = 2 * time.Second

// Hash identifies a config file's content (hex SHA-256), as reported in /status.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Watcher polls one config file.
type Watcher struct {
	path     string
	interval time.Duration
	clock    clock.WithTicker
	onChange func(*config.Config, string)
	onError  func(error)
	last     string
	lastErr  string
}

// New returns a Watcher for path whose current content has hash current. onChange gets each
// new valid config with its hash; onError gets read and validation errors (each bad content
// once).
func New(path, current string, interval time.Duration, c clock.WithTicker, onChange func(*config.Config, string), onError func(error)) *Watcher {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Watcher{path: path, interval: interval, clock: c, onChange: onChange, onError: onError, last: current}
}

// Check reads the file once and reports whether a new valid config was applied.
func (w *Watcher) Check() (bool, error) {
	data, err := os.ReadFile(w.path)
	if err != nil {
		return false, fmt.Errorf("reload: %w", err)
	}
	h := Hash(data)
	if h == w.last {
		return false, nil
	}
	w.last = h
	c, err := config.Parse(data)
	if err != nil {
		return false, fmt.Errorf("reload %s: %w", w.path, err)
	}
	w.onChange(c, h)
	return true, nil
}

// Run checks the file every interval until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	t := w.clock.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			_, err := w.Check()
			// Report each distinct problem once, not on every poll.
			if err != nil && err.Error() != w.lastErr && w.onError != nil {
				w.onError(err)
			}
			w.lastErr = ""
			if err != nil {
				w.lastErr = err.Error()
			}
		}
	}
}
