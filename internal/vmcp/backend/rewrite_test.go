package backend

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestTagRewriter(t *testing.T) {
	big := strings.Repeat("x", 3*rewriteBuffer)
	tests := []struct {
		name string
		in   string
		// want is the stream expected out; "" means unchanged.
		want string
	}{
		{
			name: "request gets the tag, other meta kept",
			in:   "event: message\nid: 7\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"elicitation/create\",\"params\":{\"_meta\":{\"k\":1},\"message\":\"m\"}}\n\n",
			want: "event: message\nid: 7\ndata: {\"id\":3,\"jsonrpc\":\"2.0\",\"method\":\"elicitation/create\",\"params\":{\"_meta\":{\"k\":1,\"vmcp.dev/call\":\"T\"},\"message\":\"m\"}}\n\n",
		},
		{
			name: "notification without params, CRLF",
			in:   "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\r\n\r\n",
			want: "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"_meta\":{\"vmcp.dev/call\":\"T\"}}}\n\r\n",
		},
		{
			name: "multi-line data joined",
			in:   "data: {\"jsonrpc\":\"2.0\",\"method\":\"roots/list\",\n: comment\ndata: \"id\":1}\n\n",
			want: ": comment\ndata: {\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"roots/list\",\"params\":{\"_meta\":{\"vmcp.dev/call\":\"T\"}}}\n\n",
		},
		{
			name: "results untouched, also with method keys inside",
			in: "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"method\":\"x\",\"content\":[]}}\n\n" +
				"data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"" + big + "\"}]}}\n\n",
		},
		{
			name: "priming event and a body ending mid-event",
			in:   "id: 0\ndata:\n\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}",
		},
	}
	for _, tt := range tests {
		want := tt.want
		if want == "" {
			want = tt.in
		}
		for rname, reader := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r }, "byte by byte": iotest.OneByteReader, "half": iotest.HalfReader,
		} {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				r := newTagRewriter(io.NopCloser(reader(strings.NewReader(tt.in))), "T")
				out, err := io.ReadAll(bufio.NewReaderSize(r, 16))
				if err != nil {
					t.Fatal(err)
				}
				if string(out) != want {
					t.Fatalf("got\n%q\nwant\n%q", out, want)
				}
			})
		}
	}
}

func TestTagMessageKeepsEverythingElse(t *testing.T) {
	in := `{"jsonrpc":"2.0","id":"a","method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"<hi> & \u00e9"}}],"maxTokens":5}}`
	out, ok := tagMessage([]byte(in), "T")
	if !ok {
		t.Fatal("not tagged")
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(in), &want)
	want["params"].(map[string]any)["_meta"] = map[string]any{CallMetaKey: "T"}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Fatalf("got %s\nwant %s", gb, wb)
	}
}

func TestTapHandsOnLogsOfTheCall(t *testing.T) {
	stream := "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"one\"}}\n\n" +
		"data: {\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"a request, not a log\"}}\n\n" +
		"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"p\",\"progress\":1}}\n\n" +
		"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
	var logs []string
	tap := &notificationTap{body: io.NopCloser(iotest.OneByteReader(strings.NewReader(stream))), onLog: func(p *mcp.LoggingMessageParams) { //nolint:staticcheck // SA1019: still served for older sessions
		logs = append(logs, p.Data.(string))
	}}
	out, err := io.ReadAll(tap)
	if err != nil || string(out) != stream {
		t.Fatalf("the tap altered the stream (err %v)", err)
	}
	if len(logs) != 1 || logs[0] != "one" {
		t.Fatalf("logs = %v", logs)
	}
}
