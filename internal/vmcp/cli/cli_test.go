package cli

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmcp-dev/vmcp-operator/internal/version"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
	"github.com/vmcp-dev/vmcp-operator/test/fixtures/poll"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vmcp.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidate(t *testing.T) {
	good := writeFile(t, "backends:\n- name: a\n  url: http://127.0.0.1:9001/mcp\n")
	if code, out, _ := run("validate", "--config", good); code != ExitOK || !strings.Contains(out, "valid (1 backends") {
		t.Fatalf("validate good = %d %q", code, out)
	}
	bad := writeFile(t, `failureMode: Sometimes
healthCheck: {interval: 5s, timeout: 10s}
backends:
- name: Bad_Name
  url: ftp://x
- name: b
  url: http://127.0.0.1:9002/mcp
  headers: [{name: Authorization, valueFrom: {}}]
`)
	code, _, errOut := run("validate", "--config", bad)
	if code != ExitError {
		t.Fatalf("validate bad = %d", code)
	}
	for _, want := range []string{"failureMode", "healthCheck.timeout", "backends[0].name", "backends[0].url", "backends[1].headers[0].valueFrom"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("problems listed:\n%s\nmissing %s", errOut, want)
		}
	}
	if code, _, errOut := run("validate", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != ExitError || !strings.Contains(errOut, "missing.yaml") {
		t.Fatalf("missing file = %d %q", code, errOut)
	}
	if code, _, _ := run("validate"); code != ExitError {
		t.Fatalf("no --config = %d", code)
	}
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := run("version"); code != ExitOK || strings.TrimSpace(out) != version.String() {
		t.Fatalf("version = %d %q", code, out)
	}
	if code, _, _ := run(); code != ExitUsage {
		t.Fatalf("no command = %d", code)
	}
	if code, _, errOut := run("frobnicate"); code != ExitUsage || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command = %d %q", code, errOut)
	}
	if code, _, _ := run("serve", "--config", writeFile(t, "backends: []\n")); code != ExitError {
		t.Fatalf("serve with an invalid config = %d", code)
	}
	if code, _, errOut := run("serve", "--config", writeFile(t, "backends: []\n"), "--shutdown-delay", "-1s"); code != ExitUsage || !strings.Contains(errOut, "--shutdown-delay") {
		t.Fatalf("negative --shutdown-delay = %d %q", code, errOut)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// TestServeUntilSIGTERM runs "vmcp serve" in-process against a real backend, with the flags
// overriding the file's addresses, and stops it with SIGTERM.
func TestServeUntilSIGTERM(t *testing.T) {
	backend := mcpecho.Start(t, mcpecho.Options{Name: "a"})
	path := writeFile(t, fmt.Sprintf("listen: 127.0.0.1:1\nadminListen: 127.0.0.1:2\nbackends:\n- name: a\n  url: %s\n", backend.URL()))
	mcpAddr, adminAddr := freeAddr(t), freeAddr(t)
	done := make(chan int, 1)
	var errOut bytes.Buffer
	go func() {
		done <- Main([]string{"serve", "--config", path, "--listen", mcpAddr, "--admin-listen", adminAddr, "--log-level", "warn", "--shutdown-delay", "0"}, &bytes.Buffer{}, &errOut)
	}()
	poll.Until(t, 10*time.Second, func() error {
		resp, err := http.Get("http://" + adminAddr + "/readyz")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}
