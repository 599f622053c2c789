package backend

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestNotificationTap(t *testing.T) {
	big := strings.Repeat("x", 100000)
	stream := "id: 1\r\n" +
		"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"t1\",\"progress\":1,\"total\":2}}\r\n\r\n" +
		"event: message\n" +
		"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"notifications/progress\"}}\n\n" +
		"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"" + big + " \\\"notifications/progress\\\"\"}]}}\n\n" +
		": comment\n" +
		"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\n" +
		"data: \"params\":{\"progressToken\":7,\"progress\":2}}\n\n"
	tests := []struct {
		name   string
		reader func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"byte by byte", iotest.OneByteReader},
		{"half reads", iotest.HalfReader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []*mcp.ProgressNotificationParams
			tap := &notificationTap{
				body:       io.NopCloser(tt.reader(strings.NewReader(stream))),
				onProgress: func(p *mcp.ProgressNotificationParams) { got = append(got, p) },
			}
			// One buffer as large as the stream, so a single Read can return it all.
			out, err := io.ReadAll(io.LimitReader(bufio.NewReaderSize(tap, len(stream)+1), int64(len(stream))))
			if err != nil || string(out) != stream {
				t.Fatalf("the tap altered the stream (err %v)", err)
			}
			if len(got) != 2 || got[0].ProgressToken != "t1" || got[0].Total != 2 || got[1].ProgressToken != float64(7) {
				t.Fatalf("progress = %+v", got)
			}
			if cap(tap.line) > 4*tapPeek {
				t.Fatalf("the tap buffered a %d-byte line it did not need", cap(tap.line))
			}
		})
	}
}

// TestNotificationTapBoundsShortLines checks that the event size cap holds for an event made of
// many short data lines, not only for long ones.
func TestNotificationTapBoundsShortLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1,\"x\":\"\n")
	for range 50000 {
		b.WriteString("data: xxxxxxxx\n")
	}
	b.WriteString("data: \"}}\n\n")
	b.WriteString("data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":2,\"progress\":1}}\n\n")
	stream := b.String()
	var got []*mcp.ProgressNotificationParams
	tap := &notificationTap{
		body:       io.NopCloser(strings.NewReader(stream)),
		onProgress: func(p *mcp.ProgressNotificationParams) { got = append(got, p) },
	}
	maxEvent := 0
	buf := make([]byte, 4096)
	for {
		n, err := tap.Read(buf)
		maxEvent = max(maxEvent, len(tap.event))
		if err == io.EOF || n == 0 {
			break
		}
	}
	if maxEvent > tapMaxEvent {
		t.Fatalf("the tap buffered %d bytes of one event, more than its cap of %d", maxEvent, tapMaxEvent)
	}
	if len(got) != 1 || got[0].ProgressToken != float64(2) {
		t.Fatalf("progress = %+v, want only the short notification", got)
	}
}
