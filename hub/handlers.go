package hub

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"filehub/files"

	"github.com/olahol/melody"
)

// The longest chat text, snippet and snippet title, in characters.
const (
	maxChat    = 4096
	maxSnippet = 65536
	maxTitle   = 128
)

// onMessage handles one text frame. melody calls it on the session's read
// goroutine, one frame at a time, so it must not block: file streams run in
// their own goroutines and everything else is a quick lookup or a queued write.
func (h *Hub) onMessage(s *melody.Session, data []byte) {
	mb := memberOf(s)
	if mb.room == nil {
		return // closed before it could join (the hub is shutting down)
	}
	mb.framesIn.Add(1)
	mb.bytesIn.Add(int64(len(data)))
	if !utf8.Valid(data) {
		// RFC 6455 §8.1: a text frame must be UTF-8; gorilla leaves the
		// check to the application.
		h.cfg.Metrics.FramesIn.WithLabelValues("invalid").Inc()
		mb.close(closeInvalidData, "text frame is not UTF-8")
		return
	}
	kind, id, err := decodeEnvelope(data)
	h.cfg.Metrics.FramesIn.WithLabelValues(inKind(kind, err)).Inc()
	h.cfg.Metrics.BytesIn.Add(float64(len(data)))
	if !mb.limiter.Allow() {
		if mb.limited() {
			mb.close(closePolicy, "rate limit exceeded")
			return
		}
		mb.sendError(id, &protoError{code: codeRateLimited, msg: "too many messages; slow down"})
		return
	}
	if err != nil {
		mb.sendError(id, err)
		return
	}
	if err := h.dispatch(mb, kind, id, data); err != nil {
		mb.sendError(id, err)
	}
}

// onBinary refuses binary frames: clients upload over HTTP.
func (h *Hub) onBinary(s *melody.Session, data []byte) {
	mb := memberOf(s)
	mb.framesIn.Add(1)
	mb.bytesIn.Add(int64(len(data)))
	h.cfg.Metrics.FramesIn.WithLabelValues("binary").Inc()
	h.cfg.Metrics.BytesIn.Add(float64(len(data)))
	mb.sendError("", badRequest("binary frames are not accepted; upload with PUT"))
}

func (h *Hub) dispatch(mb *member, kind, id string, data []byte) error {
	switch kind {
	case kindGet:
		var req pathRequest
		if err := decodeBody(data, &req); err != nil {
			return err
		}
		return h.get(mb, id, req.Path)
	case kindShare:
		var req pathRequest
		if err := decodeBody(data, &req); err != nil {
			return err
		}
		return h.share(mb, req.Path)
	case kindList:
		var req pathRequest
		if err := decodeBody(data, &req); err != nil {
			return err
		}
		return h.list(mb, id, req.Path)
	case kindChat:
		var req chatRequest
		if err := decodeBody(data, &req); err != nil {
			return err
		}
		return h.chat(mb, req)
	case kindSnippet:
		var req snippetRequest
		if err := decodeBody(data, &req); err != nil {
			return err
		}
		return h.snippet(mb, req)
	case kindRename:
		var req renameRequest
		if err := decodeBody(data, &req); err != nil {
			return err
		}
		name, ok := cleanName(req.Name)
		if !ok || name == "" {
			return badRequest("name must be 1-32 printable characters")
		}
		h.rename(mb, name)
		return nil
	case kindWho:
		var req whoRequest
		if err := decodeBody(data, &req); err != nil {
			return err
		}
		f := mb.room.who(req.Limit)
		f.ID = id
		mb.sendJSON(f)
		return nil
	case kindPing:
		return h.pong(mb, data)
	case kindSearch:
		var req searchRequest
		if err := decodeBody(data, &req); err != nil {
			return err
		}
		return h.search(mb, id, req)
	}
	return &protoError{code: codeUnknownKind, msg: fmt.Sprintf("unknown kind %q", truncate(kind, 32))}
}

// chat checks a chat line and publishes it to mb's room, where the
// history keeps it.
func (h *Hub) chat(mb *member, req chatRequest) error {
	switch n := utf8.RuneCountInString(req.Text); {
	case n > maxChat:
		return &protoError{code: codeTooLarge, msg: fmt.Sprintf("text is over %d characters", maxChat)}
	case n < 1 || !utf8.ValidString(req.Text):
		return badRequest("text must be 1-%d characters", maxChat)
	}
	if m := h.frame(chatFrame{Kind: kindChat, From: mb.ref(), Text: req.Text, At: h.cfg.Now().UTC()}); m != nil {
		if err := h.spendRoom(mb, len(m.Frame)); err != nil {
			return err
		}
		m.Chat = true
		h.publish(mb.room.name, m)
	}
	return nil
}

// snippet checks a snippet (text to copy, with a title) and publishes it
// to mb's room, kept with the chat for later joiners.
func (h *Hub) snippet(mb *member, req snippetRequest) error {
	switch n := utf8.RuneCountInString(req.Text); {
	case n > maxSnippet:
		return &protoError{code: codeTooLarge, msg: fmt.Sprintf("text is over %d characters", maxSnippet)}
	case n < 1:
		return badRequest("text must be 1-%d characters", maxSnippet)
	}
	if utf8.RuneCountInString(req.Title) > maxTitle {
		return &protoError{code: codeTooLarge, msg: fmt.Sprintf("title is over %d characters", maxTitle)}
	}
	if m := h.frame(snippetFrame{Kind: kindSnippet, From: mb.ref(), Text: req.Text, Title: req.Title, At: h.cfg.Now().UTC()}); m != nil {
		if err := h.spendRoom(mb, len(m.Frame)); err != nil {
			return err
		}
		m.Chat = true // kept with the chat, for later joiners
		h.publish(mb.room.name, m)
	}
	return nil
}

// rename gives mb its new name: at once on a single node; with a broker,
// once the name is claimed on every node, on a goroutine of its own so that
// the read loop does not wait for the network.
func (h *Hub) rename(mb *member, name string) {
	b := h.cfg.Broker
	if b == nil {
		h.publish(mb.room.name, mb.room.rename(mb, name))
		return
	}
	old := mb.ref().Name
	h.goWorker(func() {
		ctx, cancel := context.WithTimeout(context.Background(), joinWait)
		defer cancel()
		got, err := b.Rename(ctx, mb.room.name, mb.id, old, name)
		if err != nil {
			mb.log().Warn("rename failed", "err", err)
			mb.sendError("", &protoError{code: codeInternal, msg: "could not rename now; try again"})
			return
		}
		mb.room.rename(mb, got)
		h.bmu.Lock()
		list := h.browsers[mb.browser]
		latest := len(list) > 0 && list[len(list)-1] == mb
		h.bmu.Unlock()
		if latest { // its page's fetches on other nodes go by the new name
			b.SetBrowser(browserKey(mb.browser), mb.room.name, MemberRef{ID: mb.id, Name: got})
		}
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// pong echoes every field of the ping, with kind pong. It is delivered by
// the room, after every frame published to the room before the ping was
// read, so a client can use a ping as a barrier: what the room sent before
// is in by the time the pong is (on this node; see local.to).
func (h *Hub) pong(mb *member, data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return badRequest("malformed ping")
	}
	fields["kind"] = json.RawMessage(`"` + kindPong + `"`)
	m := h.frame(fields)
	if m == nil {
		return nil
	}
	h.cfg.Metrics.countOut(m.Frame, 1)
	m.to = mb
	h.deliver(mb.room.name, m) // never through the broker: it is for this session alone
	return nil
}

// get sends a file to mb alone: inline when small, else as a stream.
func (h *Hub) get(mb *member, id, path string) error {
	f, info, err := h.store.Open(path)
	if err != nil {
		return err
	}
	if info.Size > h.cfg.Inline {
		return h.startStream(mb, id, f, info) // takes f
	}
	defer f.Close()
	if err := h.spendContent(mb.group, nil, info.Size); err != nil {
		return err
	}
	enc, content, err := readInline(f, info.Size)
	if err != nil {
		return err
	}
	h.cfg.Metrics.Fetches.WithLabelValues(viaWS).Inc() // before the reply, so a client that saw it sees the count
	mb.sendJSON(fileFrame{Kind: kindFile, ID: id, fileMeta: metaOf(info), Encoding: enc, Content: content})
	h.recordWS(mb, actionFetch, info)
	return nil
}

// share sends a file's description, and its content when small, to the room.
func (h *Hub) share(mb *member, path string) error {
	f, info, err := h.store.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	s := &Share{By: mb.ref(), fileMeta: metaOf(info), URL: fileURL(info.Path)}
	frame := sharedFrame{Kind: kindShared, By: s.By, fileMeta: s.fileMeta, URL: s.URL}
	if info.Size <= h.cfg.Inline {
		if frame.Encoding, frame.Content, err = readInline(f, info.Size); err != nil {
			return err
		}
	}
	b, err := marshal(frame)
	if err != nil {
		return fmt.Errorf("encoding a share: %w", err)
	}
	// Every member receives the frame, content and all: that is what it
	// costs.
	if err := h.spendRoom(mb, len(b)); err != nil {
		return err
	}
	// The frame, built here once, is for this node; other nodes get Share
	// alone and build theirs from the folder (shareFrame).
	h.publish(mb.room.name, &Message{Share: s, Frame: b})
	h.recordWS(mb, actionShare, info)
	return nil
}

// shareFrame builds the shared frame of s on this node: the file's content
// inlined when it is small, read here (nodes share the folder; its bytes
// never travel between them). A file that changed since it was shared is
// announced without content, so nobody is handed bytes that differ from
// what the frame says.
func (h *Hub) shareFrame(s *Share) []byte {
	frame := sharedFrame{Kind: kindShared, By: s.By, fileMeta: s.fileMeta, URL: s.URL, Growing: s.Growing}
	if s.Size <= h.cfg.Inline && !s.Growing {
		f, info, err := h.store.Open(s.Path)
		if err == nil {
			if info.Size == s.Size && info.Modified.Equal(s.Modified) {
				frame.Encoding, frame.Content, err = readInline(f, info.Size)
			}
			f.Close()
		}
		if err != nil {
			h.log.Debug("sharing without content", "path", s.Path, "err", err)
			frame.Encoding, frame.Content = "", ""
		}
	}
	b, err := marshal(frame)
	if err != nil {
		h.log.Error("encoding a share", "err", err)
		return nil
	}
	return b
}

// Search limits: the same as GET /_/search's.
const (
	maxSearchQuery   = 256
	maxSearchResults = 1000
)

// search answers a search frame with Config.Search's results.
func (h *Hub) search(mb *member, id string, req searchRequest) error {
	q := strings.TrimSpace(req.Q)
	switch {
	case h.cfg.Search == nil:
		return ErrUnavailable
	case q == "" || len(q) > maxSearchQuery || !utf8.ValidString(q):
		return badRequest("q must be 1-%d bytes", maxSearchQuery)
	case req.Limit < 0:
		return badRequest("limit must be 0-%d", maxSearchResults)
	}
	res, err := h.cfg.Search(q, req.Path, min(req.Limit, maxSearchResults))
	if err != nil {
		return err
	}
	if res.Hits == nil {
		res.Hits = []SearchHit{}
	}
	mb.sendJSON(resultsFrame{Kind: kindResults, ID: id, Q: q, Path: res.Path, Total: res.Total, Results: res.Hits})
	return nil
}

func (h *Hub) list(mb *member, id, path string) error {
	clean, err := h.store.Clean(path)
	if err != nil {
		return err
	}
	var entries []files.Info
	if ents, ok := h.listed(clean); ok {
		// From the index: what the HTTP listing of the folder says.
		entries = make([]files.Info, len(ents))
		for i, e := range ents {
			entries[i] = e.Info(clean)
		}
	} else if entries, err = h.store.List(clean); err != nil {
		return err
	}
	if clean == "." {
		clean = ""
	}
	if entries == nil {
		entries = []files.Info{}
	}
	mb.sendJSON(listingFrame{Kind: kindListing, ID: id, Path: clean, Entries: entries})
	return nil
}

// listed is Config.Lister's listing of the clean folder p, by name.
func (h *Hub) listed(p string) ([]*files.Entry, bool) {
	if h.cfg.Lister == nil {
		return nil, false
	}
	return h.cfg.Lister.Listing(p, files.SortName)
}

// recordWS puts what mb did with a file over the WebSocket in its room's feed.
func (h *Hub) recordWS(mb *member, action string, info files.Info) {
	e := &Event{Who: mb.ref().Name, Action: action, Path: info.Path, Via: viaWS, Bytes: info.Size, At: h.cfg.Now().UTC()}
	h.publish(mb.room.name, &Message{Event: e})
}

// readInline reads a whole small file: UTF-8 text as is, anything else base64.
func readInline(r io.Reader, size int64) (encoding, content string, err error) {
	b, err := io.ReadAll(io.LimitReader(r, size+1))
	if err != nil {
		return "", "", fmt.Errorf("reading file: %w", err)
	}
	if int64(len(b)) != size {
		return "", "", &protoError{code: codeChanged, msg: "the file changed while it was read"}
	}
	if files.IsText(b) {
		return "utf-8", string(b), nil
	}
	return "base64", base64.StdEncoding.EncodeToString(b), nil
}

func metaOf(info files.Info) fileMeta {
	return fileMeta{Path: info.Path, Size: info.Size, Type: info.Type, Modified: info.Modified.UTC()}
}

// fileURL is the HTTP URL of a served path, each element escaped.
func fileURL(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/" + strings.Join(parts, "/")
}
