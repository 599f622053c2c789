package server

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// PageSize is the number of items per page of every list, on the SDK's path and the fast path
// alike (the SDK's default).
const PageSize = mcp.DefaultPageSize

// maxFastListBody bounds the body the fast path inspects; a tools/list request is far smaller.
const maxFastListBody = 4096

// newProtocol is the first MCP revision without sessions; its requests always take the SDK's
// path.
const newProtocol = "2026-07-28"

// protocolVersions are the revisions the SDK negotiates; a request naming another one is the
// SDK's to refuse.
var protocolVersions = mcp.SupportedProtocolVersions()

// toolIndex is the listed tools, sorted by name, each already encoded as JSON. It is rebuilt
// on Publish, re-encoding only tools that changed.
type toolIndex struct {
	names   []string
	encoded [][]byte
	byTool  map[*mcp.Tool][]byte
	// pages caches encoded results by first index: clients that follow the cursors always ask
	// for the same pages, so each is assembled once per catalog.
	pages sync.Map // int → []byte
}

func buildToolIndex(listed map[string]*mcp.Tool, prev *toolIndex) *toolIndex {
	idx := &toolIndex{names: make([]string, 0, len(listed)), byTool: make(map[*mcp.Tool][]byte, len(listed))}
	for name := range listed {
		idx.names = append(idx.names, name)
	}
	sort.Strings(idx.names)
	idx.encoded = make([][]byte, len(idx.names))
	for i, name := range idx.names {
		t := listed[name]
		b, ok := prev.byTool[t]
		if !ok {
			var err error
			if b, err = json.Marshal(t); err != nil {
				b = nil // served by the SDK's path, which reports the problem
			}
		}
		idx.encoded[i] = b
		idx.byTool[t] = b
	}
	return idx
}

// pageToken is the SDK's cursor format (a gob-encoded pageToken, base64url), so a client may
// mix pages from the fast path and the SDK's path.
type pageToken struct {
	LastUID string
}

func encodeCursor(last string) string {
	var buf bytes.Buffer
	_ = gob.NewEncoder(&buf).Encode(pageToken{LastUID: last})
	return base64.URLEncoding.EncodeToString(buf.Bytes())
}

func decodeCursor(c string) (string, bool) {
	raw, err := base64.URLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	var t pageToken
	if gob.NewDecoder(bytes.NewReader(raw)).Decode(&t) != nil {
		return "", false
	}
	return t.LastUID, true
}

type listRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  *struct {
		Cursor string                     `json:"cursor"`
		Meta   map[string]json.RawMessage `json:"_meta"`
	} `json:"params"`
}

// serveFastList answers a plain tools/list of an established session from pre-encoded tools.
//
// Encoding 10,000 tools takes the SDK tens of milliseconds per listing (each result is encoded
// and re-compacted several times on its way out), while the catalog changes rarely; so a
// tools/list that needs nothing but the catalog is answered here with copies of bytes encoded
// once per change. Anything else — another method, a batch, an unknown or uninitialized
// session, the session-less protocol, a failure-mode refusal, a cursor not issued by either
// path, request _meta — is handed to the SDK untouched (with its body restored), so the two
// paths answer identically. It reports whether it answered.
func (s *Server) serveFastList(w http.ResponseWriter, r *http.Request) bool {
	if !s.fastListCandidate(r) {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, maxFastListBody+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	if err != nil || len(head) > maxFastListBody || !bytes.Contains(head, []byte(`"tools/list"`)) {
		return false
	}
	var req listRequest
	if json.Unmarshal(head, &req) != nil || req.JSONRPC != "2.0" || req.Method != methodListTools ||
		len(req.ID) == 0 || string(req.ID) == "null" || (req.Params != nil && len(req.Params.Meta) > 0) {
		return false
	}
	if s.checkFailureMode() != nil {
		return false
	}
	idx := s.tools.Load()
	start := 0
	if req.Params != nil && req.Params.Cursor != "" {
		last, ok := decodeCursor(req.Params.Cursor)
		if !ok {
			return false
		}
		start = sort.SearchStrings(idx.names, last)
		if start < len(idx.names) && idx.names[start] == last {
			start++
		}
	}
	result, ok := idx.page(start)
	if !ok {
		return false
	}
	// The cached page is written as is, between an envelope carrying the request's id.
	envelope := make([]byte, 0, 64+len(req.ID))
	envelope = append(envelope, `{"jsonrpc":"2.0","id":`...)
	envelope = append(envelope, req.ID...)
	envelope = append(envelope, `,"result":`...)
	const tail = "}\n"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(envelope)+len(result)+len(tail)))
	_, _ = w.Write(envelope)
	_, _ = w.Write(result)
	_, _ = io.WriteString(w, tail)
	return true
}

// page returns the encoded result listing the page that starts at index start.
func (idx *toolIndex) page(start int) ([]byte, bool) {
	if p, ok := idx.pages.Load(start); ok {
		return p.([]byte), true
	}
	end := min(start+PageSize, len(idx.names))
	size := 64
	for i := start; i < end; i++ {
		if idx.encoded[i] == nil {
			return nil, false
		}
		size += len(idx.encoded[i]) + 1
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"tools":[`...)
	for i := start; i < end; i++ {
		if i > start {
			buf = append(buf, ',')
		}
		buf = append(buf, idx.encoded[i]...)
	}
	buf = append(buf, ']')
	if end < len(idx.names) {
		c, _ := json.Marshal(encodeCursor(idx.names[end-1]))
		buf = append(buf, `,"nextCursor":`...)
		buf = append(buf, c...)
	}
	buf = append(buf, '}')
	idx.pages.Store(start, buf)
	return buf, true
}

// fastListCandidate checks everything about a request the SDK would check before a stateful
// session's POST reaches its handler, so the fast path never answers a request the SDK would
// refuse.
func (s *Server) fastListCandidate(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Body == nil {
		return false
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		return false
	}
	accept := strings.Join(r.Header.Values("Accept"), ",")
	if !strings.Contains(accept, "application/json") || !strings.Contains(accept, "text/event-stream") {
		return false
	}
	if v := r.Header.Get("Mcp-Protocol-Version"); v == "" || v >= newProtocol || !slices.Contains(protocolVersions, v) {
		return false
	}
	if !rebindingSafe(r) {
		return false
	}
	id := r.Header.Get("Mcp-Session-Id")
	_, ok := s.sessions.Load(id)
	return id != "" && ok
}

// rebindingSafe mirrors the SDK's DNS-rebinding protection: a request that arrived on a
// loopback address must name a loopback host.
func rebindingSafe(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return !ok || local == nil || !isLoopback(local.String()) || isLoopback(r.Host)
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
