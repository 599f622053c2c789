package app_test

import (
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func mapArgs(tool string) *mcp.CallToolParams {
	return &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hi"}}
}

func promptParams(name string) *mcp.GetPromptParams { return &mcp.GetPromptParams{Name: name} }

func readParams(uri string) *mcp.ReadResourceParams { return &mcp.ReadResourceParams{URI: uri} }

func promptText(res *mcp.GetPromptResult) string {
	if len(res.Messages) == 0 {
		return ""
	}
	if tc, ok := res.Messages[0].Content.(*mcp.TextContent); ok {
		return tc.Text
	}
	return ""
}
