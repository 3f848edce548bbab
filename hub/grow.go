package hub

// Uploads shared with the room as they arrive (PUT ?share=1): every member
// on this node follows the upload on a stream of its own, from byte 0,
// read back from the upload's temp file as the bytes reach it. Memory stays
// flat however many follow (a stream holds Window chunks), and a slow
// member is paced like any stream, and dropped by the slow-consumer policy,
// without ever slowing the upload: the upload only records how far it got.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path"
	"sync"
	"sync/atomic"

	"filehub/files"
)

// growing is one upload shared as it arrives.
type growing struct {
	h     *Hub
	room  *room
	share Share
	file  *os.File     // the temp file, read with ReadAt by every follower
	refs  atomic.Int32 // the upload and each follower: the last one closes file

	mu      sync.Mutex
	written int64
	done    bool
	res     files.PutResult
	err     error
	moved   chan struct{} // closed, and made anew, whenever written or done changes
}

// ShareUpload starts sharing an upload as it arrives (files' Hooks.OnShare):
// the uploader's room (or the default room) gets it, followed by every
// member here, and by those who join before it ends. Members on other
// nodes get a plain share, without the bytes (they never travel between
// nodes), and the usual upload-finish.
func (h *Hub) ShareUpload(r *http.Request, p string, size int64, file *os.File) files.Growth {
	roomName, who := h.attribute(r)
	meta := fileMeta{Path: p, Size: size, Type: files.ContentType(path.Base(p)), Modified: h.cfg.Now().UTC()}
	if size < 0 {
		meta.Size = -1
	}
	s := Share{By: who, fileMeta: meta, URL: fileURL(p), Growing: true}
	h.publish(roomName, &Message{Share: &s, Elsewhere: true})
	h.mu.RLock()
	rm := h.rooms[roomName]
	h.mu.RUnlock()
	if rm == nil {
		file.Close()
		return nil // nobody here to follow it
	}
	g := &growing{h: h, room: rm, share: s, file: file, moved: make(chan struct{})}
	g.refs.Store(1) // the upload's, given back by Done
	rm.mu.Lock()
	if rm.removed {
		rm.mu.Unlock()
		file.Close()
		return nil
	}
	if rm.growing == nil {
		rm.growing = make(map[*growing]struct{})
	}
	rm.growing[g] = struct{}{}
	for _, mb := range rm.members {
		if mb.id != who.ID { // the uploader has the bytes
			g.follow(mb)
		}
	}
	rm.mu.Unlock()
	return g
}

// Wrote implements files.Growth.
func (g *growing) Wrote(total int64) {
	g.mu.Lock()
	g.written = total
	close(g.moved)
	g.moved = make(chan struct{})
	g.mu.Unlock()
}

// Done implements files.Growth. A finished upload was shared with the
// room: the feed says so (after the upload event the hook records), so
// that pages joining later know everyone got it.
func (g *growing) Done(res files.PutResult, err error) {
	g.mu.Lock()
	g.done, g.res, g.err = true, res, err
	close(g.moved)
	g.mu.Unlock()
	g.room.mu.Lock()
	delete(g.room.growing, g)
	g.room.mu.Unlock()
	g.release()
	if err == nil {
		h := g.h
		h.publish(g.room.name, &Message{Event: &Event{Who: g.share.By.Name, Action: actionShare, Path: res.Path,
			Via: viaHTTP, Bytes: res.Size, At: h.cfg.Now().UTC()}})
	}
}

func (g *growing) release() {
	if g.refs.Add(-1) == 0 {
		g.file.Close()
	}
}

// follow starts mb's stream of the upload, when mb may have one more
// stream and did not ask for offers; else mb gets the plain share (an
// offer: the bytes move only if it fetches the URL once the upload is in
// place). Called with the room's lock held.
func (g *growing) follow(mb *member) {
	h := g.h
	mb.streamMu.Lock()
	if mb.offers || len(mb.streams) >= h.cfg.MaxStreams {
		mb.streamMu.Unlock()
		if b, err := json.Marshal(sharedFrame{Kind: kindShared, By: g.share.By, fileMeta: g.share.fileMeta, URL: g.share.URL, Growing: true}); err == nil {
			mb.send(b)
		}
		return
	}
	mb.nextStream++
	st := &stream{n: mb.nextStream, free: make(chan []byte, h.cfg.Window)}
	for range h.cfg.Window {
		st.free <- nil
	}
	if mb.streams == nil {
		mb.streams = make(map[uint32]*stream)
	}
	mb.streams[st.n] = st
	mb.streamMu.Unlock()
	g.refs.Add(1)
	if !h.goWorker(func() {
		defer g.release()
		defer mb.endStream(st.n)
		g.stream(mb, st)
	}) {
		g.release()
		mb.endStream(st.n)
	}
}

// stream sends mb the upload on st: shared and file-start, the bytes as
// they arrive, then file-end with the sha256 once the file is in place, or
// an error if it never will be. The hash is checked against the upload's:
// bytes that differ from the file in place are never presented as it.
func (g *growing) stream(mb *member, st *stream) {
	h := g.h
	mb.sendJSON(sharedFrame{Kind: kindShared, By: g.share.By, fileMeta: g.share.fileMeta, URL: g.share.URL, Stream: st.n})
	mb.sendJSON(fileStartFrame{Kind: kindFileStart, Stream: st.n, fileMeta: g.share.fileMeta, Growing: true})
	hash := sha256.New()
	var off int64
	fail := func(code, msg string) {
		mb.sendJSON(errorFrame{Kind: kindError, Stream: st.n, Code: code, Message: msg})
	}
	for {
		g.mu.Lock()
		written, done, res, uerr, moved := g.written, g.done, g.res, g.err, g.moved
		g.mu.Unlock()
		for off < written {
			var buf []byte
			select {
			case buf = <-st.free:
			case <-mb.done:
				return
			}
			if buf == nil {
				buf = make([]byte, 4+h.cfg.ChunkSize)
			}
			n := min(int64(h.cfg.ChunkSize), written-off)
			frame := buf[:4+n]
			binary.BigEndian.PutUint32(frame, st.n)
			if _, err := g.file.ReadAt(frame[4:], off); err != nil {
				h.log.Warn("reading an upload shared as it arrives", "path", g.share.Path, "err", err)
				fail(codeInternal, "could not read the upload")
				return
			}
			hash.Write(frame[4:])
			off += n
			mb.sendBinary(frame)
		}
		if done {
			// Text overtakes waiting chunks (member.send): the end goes
			// once they are all written.
			if h.drain(mb, st) != nil {
				return
			}
			switch {
			case uerr != nil:
				fail(codeAborted, "the upload did not finish ("+abortReason(uerr)+")")
			case off != res.Size || hex.EncodeToString(hash.Sum(nil)) != res.SHA256:
				fail(codeChanged, "the upload's bytes changed while they were sent")
			default:
				mb.sendJSON(fileEndFrame{Kind: kindFileEnd, Stream: st.n, SHA256: res.SHA256})
			}
			return
		}
		select {
		case <-moved:
		case <-mb.done:
			return
		}
	}
}
