package config

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; anything it accepts must be
// valid, defaulted, and survive Marshal and Parse unchanged, since the operator renders the
// file with Marshal and the aggregator reads it back with Parse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("backends:\n- name: a\n  url: http://127.0.0.1:9001/mcp\n"))
	f.Add([]byte(`listen: 127.0.0.1:8080
adminListen: 127.0.0.1:8081
failureMode: BestEffort
healthCheck: {interval: 10s, timeout: 5s, unhealthyThreshold: 3, degradedLatency: 2s}
circuitBreaker: {enabled: true, failureThreshold: 5, failureRatePercent: 50, minimumRequests: 10, window: 1m, openDuration: 30s, maxOpenDuration: 5m, halfOpenMaxRequests: 1}
conflictResolution: {strategy: Manual, overrides: [{backend: a, tool: x, name: y}]}
backends:
- name: a
  url: http://127.0.0.1:9001/mcp
  prefix: gh_
  timeout: 30s
  headers: [{name: Authorization, valueFrom: {env: TOKEN}}]
  tools: {include: ["*"], exclude: ["delete_*"]}
`))
	f.Add([]byte(`{"backends":[{"name":"a","url":"https://x/mcp"}],"conflictResolution":{"strategy":"Priority","priorityOrder":["a"]}}`))
	f.Add([]byte("backends: []\nfailureMode: Nope\n"))
	f.Add([]byte("healthCheck: {interval: -1s}\nbackends: [{name: A, url: ftp://x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) && len(ve.Errors) == 0 {
				t.Fatal("ValidationError without problems")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the config:\n%#v\n%#v", c, again)
		}
	})
}
