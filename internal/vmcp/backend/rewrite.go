package backend

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// rewriteBuffer is the read buffer of a tagRewriter; lines longer than it pass in pieces.
const rewriteBuffer = 32 << 10

var (
	methodMarker = []byte(`"method"`)
	dataPrefix   = []byte("data:")
)

// tagRewriter adds a call's tag to every JSON-RPC request and notification of an SSE response
// body (params._meta[CallMetaKey]), and passes everything else through unchanged.
//
// The SDK client hands a backend's server→client requests to its handlers without saying which
// of the session's streams they came on, while the backend sends them on the stream of the
// request it is serving (that is where the SDK server puts messages sent with a handler's
// context). Tagging them on the way in is what lets the aggregator pass a backend's
// elicitation/create to the very client call that caused it.
//
// Only an event whose first data line mentions "method" near its start is held and decoded;
// results and other events stream through line by line.
type tagRewriter struct {
	body io.ReadCloser
	br   *bufio.Reader
	tag  string

	out []byte // ready to be read
	buf []byte // backing store of out
	err error  // the body's error, returned once out is drained

	midLine   bool   // the current line continues from the previous chunk
	holdLine  bool   // the current line belongs to the held event
	dataSeen  bool   // the current event had a data line
	holding   bool   // the current event is held for rewriting
	held      []byte // the held event's lines so far
	heldLimit int
}

func newTagRewriter(body io.ReadCloser, tag string) *tagRewriter {
	return &tagRewriter{body: body, br: bufio.NewReaderSize(body, rewriteBuffer), tag: tag, heldLimit: mcp.DefaultMaxEventSize}
}

func (r *tagRewriter) Close() error { return r.body.Close() }

func (r *tagRewriter) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.buf = r.buf[:0]
		r.step()
		r.out = r.buf
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// step reads one chunk (a line, or a piece of a long one) and appends what may be passed on to
// r.buf.
func (r *tagRewriter) step() {
	chunk, err := r.br.ReadSlice('\n')
	if len(chunk) > 0 {
		r.chunk(chunk, err == nil)
	}
	switch {
	case err == nil, errors.Is(err, bufio.ErrBufferFull):
	default:
		// The body ended: whatever is held goes out as it came.
		r.buf = append(r.buf, r.held...)
		r.held, r.holding = nil, false
		r.err = err
	}
}

func (r *tagRewriter) chunk(chunk []byte, endsLine bool) {
	if !r.midLine {
		r.startLine(chunk)
	}
	r.midLine = !endsLine
	if !r.holdLine {
		r.buf = append(r.buf, chunk...)
		return
	}
	if len(r.held)+len(chunk) > r.heldLimit {
		// Too large to be worth rewriting (the SDK refuses such events anyway): give up on it.
		r.buf = append(r.buf, r.held...)
		r.buf = append(r.buf, chunk...)
		r.held, r.holding, r.holdLine = nil, false, false
		return
	}
	r.held = append(r.held, chunk...)
}

// startLine decides what happens to a line, seeing its first chunk.
func (r *tagRewriter) startLine(chunk []byte) {
	if len(bytes.TrimRight(chunk, "\r\n")) == 0 { // end of event
		if r.holding {
			r.buf = append(r.buf, rewriteEvent(r.held, r.tag)...)
		}
		r.held, r.holding, r.holdLine, r.dataSeen = r.held[:0], false, false, false
		return
	}
	if r.holding {
		r.holdLine = true
		return
	}
	r.holdLine = false
	if !bytes.HasPrefix(chunk, dataPrefix) || r.dataSeen {
		return
	}
	r.dataSeen = true
	head := chunk[:min(len(chunk), tapPeek)]
	if bytes.Contains(head, methodMarker) {
		r.holding, r.holdLine = true, true
	}
}

// rewriteEvent returns a held event (its lines up to, not including, the blank line ending it)
// with the tag added to its message, or unchanged if it is not a request or notification.
func rewriteEvent(held []byte, tag string) []byte {
	var data, other []byte
	for line := range bytes.Lines(held) {
		trimmed := bytes.TrimRight(line, "\r\n")
		if d, ok := bytes.CutPrefix(trimmed, dataPrefix); ok {
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(d, []byte(" "))...)
			continue
		}
		other = append(other, line...)
	}
	tagged, ok := tagMessage(data, tag)
	if !ok {
		return held
	}
	out := make([]byte, 0, len(other)+len(tagged)+8)
	out = append(out, other...)
	out = append(out, "data: "...)
	out = append(out, tagged...)
	return append(out, '\n')
}

// tagMessage sets params._meta[CallMetaKey] of a JSON-RPC request or notification.
func tagMessage(data []byte, tag string) ([]byte, bool) {
	var msg map[string]json.RawMessage
	if json.Unmarshal(data, &msg) != nil {
		return nil, false
	}
	if _, ok := msg["method"]; !ok {
		return nil, false
	}
	params := map[string]json.RawMessage{}
	if raw, ok := msg["params"]; ok && !bytes.Equal(raw, []byte("null")) {
		if json.Unmarshal(raw, &params) != nil {
			return nil, false
		}
	}
	meta := map[string]json.RawMessage{}
	if raw, ok := params["_meta"]; ok && !bytes.Equal(raw, []byte("null")) {
		if json.Unmarshal(raw, &meta) != nil {
			return nil, false
		}
	}
	meta[CallMetaKey], _ = json.Marshal(tag)
	var err error
	if params["_meta"], err = json.Marshal(meta); err != nil {
		return nil, false
	}
	if msg["params"], err = json.Marshal(params); err != nil {
		return nil, false
	}
	out, err := json.Marshal(msg)
	return out, err == nil
}
