package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// CallTimeout bounds each helper call below; callers may pass a context with a shorter deadline.
const CallTimeout = 20 * time.Second

// Connect opens an MCP client session to url, as an agent would.
func Connect(ctx context.Context, url string) (*mcp.ClientSession, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "vmcp-e2e", Version: "v0"}, nil)
	// No client-wide timeout: it would cut the long-lived stream that carries notifications.
	// Calls are bounded by their contexts.
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: 1}, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return session, nil
}

// CallText calls a tool with {"text": text} and returns its first text content, and whether
// the result was an error result.
func CallText(ctx context.Context, s *mcp.ClientSession, tool, text string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": text}})
	if err != nil {
		return "", false, err
	}
	out := ""
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			out = t.Text
			break
		}
	}
	return out, res.IsError, nil
}

// ToolNames lists every tool the session offers (following pages), in the server's order.
func ToolNames(ctx context.Context, s *mcp.ClientSession) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	var names []string
	for t, err := range s.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		names = append(names, t.Name)
	}
	return names, nil
}
