package hub

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"filehub/files"
)

// stream sends one large file to one session as binary frames, paced by
// melody's sent callback: a buffer comes back to free only once its frame has
// been written, so a stream holds at most Window chunks in memory and in the
// session's queue, whatever the file's size.
type stream struct {
	n    uint32
	free chan []byte // buffers whose frames have been written
	grow *growing    // the upload it follows; nil for a get
}

// startStream answers a get of a large file. It takes ownership of f.
func (h *Hub) startStream(mb *member, id string, f *os.File, info files.Info) error {
	mb.streamMu.Lock()
	if len(mb.streams) >= h.cfg.MaxStreams {
		mb.streamMu.Unlock()
		f.Close()
		return &protoError{code: codeRateLimited, msg: fmt.Sprintf("at most %d downloads at once", h.cfg.MaxStreams)}
	}
	mb.nextStream++
	st := &stream{n: mb.nextStream, free: make(chan []byte, h.cfg.Window)}
	for range h.cfg.Window {
		st.free <- nil // a token; the buffer is allocated on first use
	}
	if mb.streams == nil {
		mb.streams = make(map[uint32]*stream)
	}
	mb.streams[st.n] = st
	mb.streamMu.Unlock()

	mb.sendJSON(fileStartFrame{Kind: kindFileStart, ID: id, Stream: st.n, fileMeta: metaOf(info)})
	started := h.goWorker(func() {
		defer f.Close()
		defer mb.endStream(st.n)
		sum, err := h.pump(mb, st, f, info.Size)
		if err == nil || !errors.Is(err, errStreamGone) {
			// Text frames overtake waiting chunks (see member.send): the
			// end, or the error, goes once every chunk has been written.
			if derr := h.drain(mb, st); derr != nil {
				err = derr
			}
		}
		switch {
		case err == nil:
			h.cfg.Metrics.Fetches.WithLabelValues(viaWS).Inc()
			mb.sendJSON(fileEndFrame{Kind: kindFileEnd, ID: id, Stream: st.n, SHA256: sum})
			h.recordWS(mb, actionFetch, info)
		case errors.Is(err, errStreamGone):
		default:
			mb.sendError(id, err)
		}
	})
	if !started { // the hub is stopping
		f.Close()
		mb.endStream(st.n)
	}
	return nil
}

// drain waits until every chunk of st has been written: all Window buffers
// are back.
func (h *Hub) drain(mb *member, st *stream) error {
	for range h.cfg.Window {
		select {
		case <-st.free:
		case <-mb.done:
			return errStreamGone
		}
	}
	return nil
}

var errStreamGone = errors.New("session ended")

// pump reads f in chunks and sends each behind the 4-byte stream number. It
// reads exactly size bytes and then checks the file ended there and was not
// modified, so a file changed mid-stream ends in an error, never a wrong hash.
func (h *Hub) pump(mb *member, st *stream, f *os.File, size int64) (string, error) {
	before, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("stat: %w", err)
	}
	hash := sha256.New()
	for left := size; left > 0; {
		var buf []byte
		select {
		case buf = <-st.free:
		case <-mb.done:
			return "", errStreamGone
		}
		if buf == nil {
			buf = make([]byte, 4+h.cfg.ChunkSize)
		}
		n := int64(h.cfg.ChunkSize)
		if left < n {
			n = left
		}
		frame := buf[:4+n]
		binary.BigEndian.PutUint32(frame, st.n)
		if _, err := io.ReadFull(f, frame[4:]); err != nil {
			// The file got shorter. This buffer is sent no frame: give it
			// back, or drain would wait for it until the session ends.
			st.free <- buf
			return "", changed(err)
		}
		hash.Write(frame[4:])
		left -= n
		mb.sendBinary(frame)
	}
	if n, _ := f.Read(make([]byte, 1)); n != 0 {
		return "", changed(nil)
	}
	after, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("stat: %w", err)
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return "", changed(nil)
	}
	return hex.EncodeToString(hash.Sum(nil)), nil
}

func changed(err error) error {
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading file: %w", err)
	}
	return &protoError{code: codeChanged, msg: "the file changed while it was sent; get it again"}
}

// chunkSent returns a written chunk's buffer to its stream.
func (mb *member) chunkSent(frame []byte) {
	if len(frame) < 4 {
		return
	}
	n := binary.BigEndian.Uint32(frame)
	mb.streamMu.Lock()
	st := mb.streams[n]
	mb.streamMu.Unlock()
	if st == nil {
		return
	}
	select {
	case st.free <- frame[:cap(frame)]:
	default: // cannot happen: at most Window buffers exist
	}
}

func (mb *member) endStream(n uint32) {
	mb.streamMu.Lock()
	delete(mb.streams, n)
	mb.streamMu.Unlock()
}
