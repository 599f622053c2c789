package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

const good = "backends:\n- name: a\n  url: http://127.0.0.1:9001/mcp\n"

// writeConfigMap lays out a file the way the kubelet mounts a ConfigMap: the visible name is a
// symlink into a ..data symlink that is swapped atomically on update.
func writeConfigMap(t *testing.T, dir, content string) string {
	t.Helper()
	version := filepath.Join(dir, "..v"+Hash([]byte(content))[:8])
	if err := os.MkdirAll(version, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(version, "vmcp.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(version), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "vmcp.yaml")
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink(filepath.Join("..data", "vmcp.yaml"), link); err != nil {
			t.Fatal(err)
		}
	}
	return link
}

func TestCheckFollowsConfigMapSwaps(t *testing.T) {
	dir := t.TempDir()
	path := writeConfigMap(t, dir, good)
	var got []*config.Config
	w := New(path, Hash([]byte(good)), time.Second, clocktesting.NewFakeClock(time.Now()), func(c *config.Config, _ string) { got = append(got, c) }, nil)

	if changed, err := w.Check(); changed || err != nil {
		t.Fatalf("unchanged file: changed=%v err=%v", changed, err)
	}
	writeConfigMap(t, dir, good+"- name: b\n  url: http://127.0.0.1:9002/mcp\n")
	if changed, err := w.Check(); !changed || err != nil || len(got) != 1 || len(got[0].Backends) != 2 {
		t.Fatalf("after swap: changed=%v err=%v configs=%d", changed, err, len(got))
	}
	writeConfigMap(t, dir, "backends: []\n")
	changed, err := w.Check()
	var ve *config.ValidationError
	if changed || !errors.As(err, &ve) {
		t.Fatalf("invalid update: changed=%v err=%v, want a ValidationError", changed, err)
	}
	if changed, err := w.Check(); changed || err != nil {
		t.Fatalf("same invalid content again: changed=%v err=%v, want silence", changed, err)
	}
}

func TestRunPollsOnTheClock(t *testing.T) {
	dir := t.TempDir()
	path := writeConfigMap(t, dir, good)
	clk := clocktesting.NewFakeClock(time.Now())
	changes := make(chan string, 1)
	w := New(path, Hash([]byte(good)), 2*time.Second, clk, func(_ *config.Config, h string) { changes <- h }, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go w.Run(ctx)
	updated := good + "failureMode: Strict\n"
	writeConfigMap(t, dir, updated)
	poll.Until(t, 5*time.Second, func() error {
		if !clk.HasWaiters() {
			return errors.New("watcher not waiting")
		}
		return nil
	})
	clk.Step(2 * time.Second)
	select {
	case h := <-changes:
		if h != Hash([]byte(updated)) {
			t.Fatalf("hash = %s", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reload after one interval")
	}
}
