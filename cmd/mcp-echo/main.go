// Command mcp-echo is a small real MCP server (the official Go SDK, Streamable HTTP) for tests,
// benchmarks and demos of the vmcp aggregator. Every tool echoes its "text" argument as
// "<name>/<tool>: <text>", so you can see which backend answered.
//
// Usage:
//
//	mcp-echo --listen 127.0.0.1:9001 --name github --tools search,fetch
//	mcp-echo --listen 127.0.0.1:9002 --name jira --tools 50 --latency 20ms
//	mcp-echo --listen 127.0.0.1:9003 --name flaky --fail-mode fail
//
// Flags:
//
//	--listen ADDR      listen address (default 127.0.0.1:9001); MCP is served at /mcp
//	--name NAME        server name, shown in every answer (default "echo")
//	--tools N|NAMES    a tool count ("50" → tool_1 … tool_50) or comma-separated names (default "echo")
//	--prompts N        number of echo prompts prompt_1 … prompt_N (default 0)
//	--resources N      number of text resources echo://NAME/resource_1 … (default 0)
//	--latency D        time every tool call takes, e.g. 20ms (default 0)
//	--fail-mode MODE   initial fault: none, fail (HTTP 500), hang, slow, unauthorized (401),
//	                   ratelimit (429) (default none)
//	--slow-by D        delay of the slow fault (default 3s)
//	--retry-after D    Retry-After of the ratelimit fault (default 5s)
//	--test-tools       also serve the progress, rpc_error, is_error and sleep test tools
//	--protocol-tools   also serve the sample, elicit, roots, log and rich tools, a completable
//	                   prompt and template, and a subscribable resource
//
// Faults can be switched at run time on the same port (never subject to the fault itself):
//
//	curl -s http://127.0.0.1:9003/control                          # current state
//	curl -s -X POST http://127.0.0.1:9003/control -d '{"fault":"fail"}'
//	curl -s -X POST http://127.0.0.1:9003/control -d '{"fault":"slow","latency":"3s"}'
//	curl -s -X POST http://127.0.0.1:9003/control -d '{"fault":"ratelimit","retryAfter":"10s"}'
//	curl -s -X POST http://127.0.0.1:9003/control -d '{"tools":["a","b"]}'   # sends list_changed
//	curl -s -X POST http://127.0.0.1:9003/control -d '{"dropSessions":true}'
//	curl -s -X POST http://127.0.0.1:9003/control -d '{"fault":"none"}'
//
// To simulate a crash, kill the process; start it again with the same flags to recover.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vmcp-dev/vmcp-operator/test/fixtures/mcpecho"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "listen address; MCP is served at /mcp, the fault switch at /control")
	name := flag.String("name", "echo", "server name, shown in every answer")
	tools := flag.String("tools", "echo", `tool count ("50") or comma-separated tool names`)
	prompts := flag.Int("prompts", 0, "number of echo prompts")
	resources := flag.Int("resources", 0, "number of text resources")
	latency := flag.Duration("latency", 0, "time every tool call takes")
	failMode := flag.String("fail-mode", "none", fmt.Sprintf("initial fault, one of %v", mcpecho.Modes))
	slowBy := flag.Duration("slow-by", 3*time.Second, "delay of the slow fault")
	retryAfter := flag.Duration("retry-after", 5*time.Second, "Retry-After of the ratelimit fault")
	testTools := flag.Bool("test-tools", false, "also serve the progress, rpc_error, is_error and sleep tools")
	protocolTools := flag.Bool("protocol-tools", false,
		"also serve the sample, elicit, roots, log and rich tools, a completable prompt and template, and a subscribable resource")
	flag.Parse()

	toolNames, err := mcpecho.ParseTools(*tools)
	if err != nil {
		log.Fatalf("mcp-echo: --tools: %v", err)
	}
	mode, err := mcpecho.ParseMode(*failMode)
	if err != nil {
		log.Fatalf("mcp-echo: --fail-mode: %v", err)
	}
	opts := mcpecho.Options{
		Name: *name, Tools: toolNames, Latency: *latency, TestTools: *testTools, ProtocolTools: *protocolTools,
		Fault: mcpecho.Fault{Mode: mode, Latency: *slowBy, RetryAfter: *retryAfter},
	}
	for i := 1; i <= *prompts; i++ {
		opts.Prompts = append(opts.Prompts, fmt.Sprintf("prompt_%d", i))
	}
	for i := 1; i <= *resources; i++ {
		opts.Resources = append(opts.Resources, fmt.Sprintf("echo://%s/resource_%d", *name, i))
	}
	srv := mcpecho.New(opts)
	if err := srv.Start(*listen); err != nil {
		log.Fatalf("mcp-echo: %v", err)
	}
	log.Printf("mcp-echo %q serving %d tools at %s (fault: %s)", *name, len(toolNames), srv.URL(), mode)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	srv.Stop()
}
