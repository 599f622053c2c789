package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vmcp-dev/vmcp-operator/test/podnet"
)

// Backend is a real MCP server process (bin/mcp-echo) on 127.0.0.1.
type Backend struct {
	*Process
	Name string
	// URL is its MCP endpoint; ControlURL switches its faults.
	URL, ControlURL string
	addr            string
}

// StartBackend runs bin/mcp-echo named name with the given tools on a free port.
func StartBackend(ctx context.Context, binDir, logDir, name string, tools ...string) (*Backend, error) {
	port, err := podnet.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	b := &Backend{
		Name: name, addr: addr,
		URL:        "http://" + addr + "/mcp",
		ControlURL: "http://" + addr + "/control",
	}
	b.Process = NewProcess("backend-"+name, logDir, binDir+"/mcp-echo",
		"--listen", addr, "--name", name, "--tools", strings.Join(tools, ","))
	if err := b.Restart(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Restart starts the (stopped or killed) backend again on the same port.
func (b *Backend) Restart(ctx context.Context) error {
	if err := b.Start(); err != nil {
		return err
	}
	return b.WaitHTTP(ctx, b.ControlURL, 30*time.Second)
}

// SetFault switches the backend's fault mode ("none", "fail", "hang", "slow", "unauthorized",
// "ratelimit") through its control endpoint.
func (b *Backend) SetFault(ctx context.Context, mode string) error {
	body, _ := json.Marshal(map[string]string{"fault": mode})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.ControlURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("set fault of %s: %w", b.Name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("set fault of %s: HTTP %d", b.Name, resp.StatusCode)
	}
	return nil
}

// DeadURL is an MCP URL on 127.0.0.1 where nothing listens: a backend that is down.
func DeadURL() (string, error) {
	port, err := podnet.FreePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("http://127.0.0.1:%d/mcp", port), nil
}
