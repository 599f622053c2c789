package backend

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	methodProgress = "notifications/progress"
	methodLog      = "notifications/message"
	// tapPeek is how much of an event's first data line is inspected for the method name.
	tapPeek = 256
	// tapMaxEvent bounds a progress notification the tap will decode; longer ones are left to
	// the SDK (which ignores them on the shared session).
	tapMaxEvent = 64 << 10
)

var (
	progressMarker = []byte(`"` + methodProgress + `"`)
	logMarker      = []byte(`"` + methodLog + `"`)
)

// notificationTap passes an SSE response body through to the SDK and hands every
// notifications/progress event to onProgress (and, on a call's own response stream, every
// notifications/message event to onLog) as soon as its bytes pass, before the SDK decodes
// anything that follows it.
//
// The SDK delivers a call's result directly to the caller but queues notifications for a
// handler goroutine, so a backend's progress notifications (sent before its result) could reach
// a handler after the caller already has the result — too late to forward them to the client
// whose call is over. Reading them off the wire keeps the backend's order. Only the first bytes
// of each event are inspected; other events (results, large payloads) are not copied.
type notificationTap struct {
	body       io.ReadCloser
	onProgress func(*mcp.ProgressNotificationParams)
	onLog      func(*mcp.LoggingMessageParams) //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions

	line     []byte // the current line, while it may matter
	skipLine bool   // the rest of the current line is irrelevant
	dataSeen bool   // the current event had a data line
	wanted   bool   // the current event is a progress notification
	event    []byte // data of a wanted event
}

func (t *notificationTap) Read(p []byte) (int, error) {
	n, err := t.body.Read(p)
	t.scan(p[:n])
	return n, err
}

func (t *notificationTap) Close() error { return t.body.Close() }

func (t *notificationTap) scan(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if !t.skipLine && len(t.line) < tapPeek && len(t.line)+len(chunk) > tapPeek {
			// Look at the line's head before copying the rest of a possibly huge line.
			head := tapPeek - len(t.line)
			t.line = append(t.line, chunk[:head]...)
			chunk = chunk[head:]
			t.decideEarly()
		}
		if !t.skipLine {
			t.line = append(t.line, chunk...)
			t.decideEarly()
		}
		if i < 0 {
			return
		}
		if !t.skipLine {
			t.endLine(bytes.TrimSuffix(t.line, []byte("\r")))
		}
		t.line, t.skipLine = t.line[:0], false
		b = b[i+1:]
	}
}

// decideEarly stops buffering a long line that cannot belong to a progress notification.
func (t *notificationTap) decideEarly() {
	if len(t.line) < tapPeek {
		return
	}
	switch {
	case !bytes.HasPrefix(t.line, []byte("data:")):
		t.skipLine = true
	case !t.dataSeen:
		t.dataSeen = true
		t.wanted = t.wants(t.line[:tapPeek])
		t.skipLine = !t.wanted
	case !t.wanted || len(t.event)+len(t.line) > tapMaxEvent:
		t.wanted, t.skipLine = false, true
	}
}

func (t *notificationTap) endLine(line []byte) {
	if len(line) == 0 { // end of event
		if t.wanted {
			t.dispatch(t.event)
		}
		t.event, t.dataSeen, t.wanted = t.event[:0], false, false
		return
	}
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return
	}
	data = bytes.TrimPrefix(data, []byte(" "))
	if !t.dataSeen {
		t.dataSeen = true
		t.wanted = t.wants(data)
	}
	if !t.wanted {
		return
	}
	if len(t.event)+1+len(data) > tapMaxEvent {
		// Too long to be worth decoding here, however short its lines: leave it to the SDK.
		t.wanted, t.event = false, t.event[:0]
		return
	}
	if len(t.event) > 0 {
		t.event = append(t.event, '\n')
	}
	t.event = append(t.event, data...)
}

// wants reports whether an event whose first data line starts with head may be one to hand on.
func (t *notificationTap) wants(head []byte) bool {
	return (t.onProgress != nil && bytes.Contains(head, progressMarker)) ||
		(t.onLog != nil && bytes.Contains(head, logMarker))
}

func (t *notificationTap) dispatch(data []byte) {
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if json.Unmarshal(data, &msg) != nil || msg.ID != nil || len(msg.Params) == 0 {
		return
	}
	switch {
	case msg.Method == methodProgress && t.onProgress != nil:
		var p mcp.ProgressNotificationParams
		if json.Unmarshal(msg.Params, &p) == nil {
			t.onProgress(&p)
		}
	case msg.Method == methodLog && t.onLog != nil:
		var p mcp.LoggingMessageParams //nolint:staticcheck // SA1019: deprecated in MCP 2026-07-28, still served for older sessions
		if json.Unmarshal(msg.Params, &p) == nil {
			t.onLog(&p)
		}
	}
}

func isEventStream(contentType string) bool {
	return strings.HasPrefix(strings.TrimSpace(strings.ToLower(contentType)), "text/event-stream")
}
