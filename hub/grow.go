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
	"net/http"
	"net/netip"
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
	group netip.Prefix // the uploader's network, whose content budget followers spend
	// followers counts the streams following it now; paid is how far the
	// content budget paid for them (the upload's goroutine alone uses it).
	followers atomic.Int32
	paid      int64

	mu      sync.Mutex
	written int64
	done    bool
	cut     bool // the content budget ran out: followers stop at written
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
	roomName, who, mb := h.attributeMember(r)
	if !h.announceUpload(r, mb, false) {
		file.Close()
		return nil // over the uploader's budget: uploaded, not announced
	}
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
	g := &growing{h: h, room: rm, share: s, file: file, group: clientGroup(r.RemoteAddr), moved: make(chan struct{})}
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

// Wrote implements files.Growth. The bytes that followers will be sent are
// paid for first, from the uploader's and the room's content budget: when
// it runs out, the followers stop where they are (rate_limited on their
// streams) and the upload goes on; they fetch the file once it is done.
func (g *growing) Wrote(total int64) {
	if g.cut { // only this goroutine writes it: no lock to read it here
		return
	}
	cut := false
	if n := g.followers.Load(); n == 0 {
		g.paid = total
	} else if g.h.spendContent(g.group, g.room, (total-g.paid)*int64(n)) == nil {
		g.paid = total
	} else {
		cut = true
	}
	g.mu.Lock()
	g.written, g.cut = g.paid, cut
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
	if mb.offers || !g.fairLocked(mb) {
		mb.streamMu.Unlock()
		if b, err := marshal(sharedFrame{Kind: kindShared, By: g.share.By, fileMeta: g.share.fileMeta, URL: g.share.URL, Growing: true}); err == nil {
			mb.send(b)
		}
		return
	}
	mb.nextStream++
	st := &stream{n: mb.nextStream, free: make(chan []byte, h.cfg.Window), grow: g}
	for range h.cfg.Window {
		st.free <- nil
	}
	g.followers.Add(1)
	if mb.streams == nil {
		mb.streams = make(map[uint32]*stream)
	}
	mb.streams[st.n] = st
	mb.streamMu.Unlock()
	g.refs.Add(1)
	if !h.goWorker(func() {
		defer g.release()
		defer g.followers.Add(-1)
		defer mb.endStream(st.n)
		g.stream(mb, st)
	}) {
		g.release()
		g.followers.Add(-1)
		mb.endStream(st.n)
	}
}

// fairLocked reports whether mb may follow g on a stream of its own, with
// mb.streamMu held: uploads followed live take at most MaxStreams-1 of a
// member's stream slots (one is always left for its own gets), and at most
// one of them from one uploader's network, so that uploads that never end
// cannot take every slot of every member. Past that, mb gets the plain
// share and fetches the file when it is done.
func (g *growing) fairLocked(mb *member) bool {
	h := g.h
	if len(mb.streams) >= h.cfg.MaxStreams {
		return false
	}
	live := 0
	for _, st := range mb.streams {
		if st.grow == nil {
			continue
		}
		if live++; st.grow.group == g.group || live >= max(1, h.cfg.MaxStreams-1) {
			return false
		}
	}
	return true
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
		written, done, cut, res, uerr, moved := g.written, g.done, g.cut, g.res, g.err, g.moved
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
		if cut {
			if h.drain(mb, st) == nil {
				fail(codeRateLimited, "too much content at once from the uploader's network or to this room; fetch the file when its upload ends")
			}
			return
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
