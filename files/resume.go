package files

// Resumable uploads.
//
// A client that wants to be able to resume names its upload with a key it
// chose (PUT /{path}?resume=KEY). The server writes the body to a hidden
// temp file in the destination folder, as for any upload; if the body is
// cut off, the file, the count of bytes it holds and the SHA-256 state of
// those bytes are kept (a partial), keyed by path and key, for PartialTTL.
// The client asks where to go on (HEAD /{path}?resume=KEY answers
// Upload-Offset) and sends the rest with Content-Range: bytes START-END/TOTAL,
// START being that offset. When the bytes held reach TOTAL, the file is
// synced and renamed (or linked) into place like any upload, with the
// SHA-256 of the whole file, computed once as the bytes arrived: resuming
// never reads the held bytes back.
//
// Partials live in memory (a restart forgets them; their files are then
// stale temp files that a later Open sweeps). A partial's file has the temp
// prefix, so Clean never lets it be listed, served or overwritten. They are
// bounded by Config.MaxPartials and Config.MaxPartialBytes (the oldest
// waiting ones are dropped first) and expire PartialTTL after their last
// byte, removed by a timer that Close stops.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// takeoverWait bounds how long a resumed upload waits for the request
	// it takes over (a connection the server has not yet seen die) to let
	// go of the partial after its body was cut.
	takeoverWait = 5 * time.Second

	// minKey and maxKey bound an upload key: long enough that a key chosen
	// at random is not guessed, short enough to be a reasonable header.
	minKey, maxKey = 8, 64
)

// partial is the received prefix of a resumable upload.
type partial struct {
	id      string    // path + "\x00" + key
	path    string    // clean destination path
	dir     string    // its folder, links resolved: where its temp file is
	name    string    // its temp file's name
	offset  int64     // bytes held, and hashed
	total   int64     // the whole file's size, -1 until a request states it
	hash    hash.Hash // SHA-256 of the held bytes
	touched time.Time // when the last byte arrived
	active  *receiver // the request writing it; nil while it waits
	client  string    // the address of the request writing it (clientOf)
	held    int64     // bytes its file holds, counted as they are written (MaxPartialBytes)
}

// receiver is the one request writing a partial.
type receiver struct {
	stop func()        // cuts the request's body, so a newer request can take over
	done chan struct{} // closed when the request let go of the partial
}

// partials is the Store's registry of resumable uploads.
type partials struct {
	mu     sync.Mutex
	m      map[string]*partial
	timer  *time.Timer // armed for the oldest waiting partial's expiry
	closed bool
}

// resumeReq is what one request of a resumable upload says.
type resumeReq struct {
	key        string
	start, end int64 // end -1: to the end of the body
	total      int64 // -1: not stated
	overwrite  bool
	stop       func() // cuts this request's body
	client     string // who sends it (clientOf), for MaxPartialsPerClient
}

// partResult is the outcome of one request of a resumable upload.
type partResult struct {
	PutResult
	Done   bool  // the file is in place; else Offset bytes are held
	Offset int64 // bytes held after this request
}

// offsetError is ErrOffset with the offset to go on from.
type offsetError struct{ offset int64 }

func (e *offsetError) Error() string {
	return "files: resumable upload holds " + strconv.FormatInt(e.offset, 10) + " bytes: " + ErrOffset.Error()
}

func (e *offsetError) Unwrap() error { return ErrOffset }

// offsetOf returns the offset a resumable upload must go on from when err
// wraps ErrOffset, and false otherwise.
func offsetOf(err error) (int64, bool) {
	var oe *offsetError
	if errors.As(err, &oe) {
		return oe.offset, true
	}
	return 0, false
}

// validKey reports whether k can name a resumable upload: 8 to 64 of
// A-Z a-z 0-9 - _ (what base64url or hex produce).
func validKey(k string) bool {
	if len(k) < minKey || len(k) > maxKey {
		return false
	}
	for _, c := range []byte(k) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// parseContentRange parses "bytes START-END/TOTAL" or "bytes START-END/*".
func parseContentRange(v string) (start, end, total int64, err error) {
	bad := fmt.Errorf("files: Content-Range %q: %w", v, ErrBadRange)
	spec, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	rng, tot, ok := strings.Cut(strings.TrimSpace(spec), "/")
	if !ok {
		return 0, 0, 0, bad
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || s == "" || s[0] == '+' {
			return -1
		}
		return n
	}
	start, end, total = num(a), num(b), -1
	if tot != "*" {
		if total = num(tot); total < 0 {
			return 0, 0, 0, bad
		}
	}
	if start < 0 || end < start || (total >= 0 && end >= total) {
		return 0, 0, 0, bad
	}
	return start, end, total, nil
}

// putPart receives one request of the resumable upload q.key to name: the
// bytes from q.start, which must be 0 (start, or start over) or the offset
// held. It calls began (when not nil) with the clean path, the offset and
// the total once the checks passed, before reading r.
func (s *Store) putPart(ctx context.Context, name string, r io.Reader, q resumeReq,
	began func(p string, offset, total int64)) (res partResult, err error) {
	t, err := s.putTarget(name, q.overwrite)
	if err != nil {
		return res, err
	}
	defer t.dir.Close()
	p, existed := t.p, t.existed
	switch {
	case q.total > s.cfg.MaxUpload:
		return res, fmt.Errorf("files: put %q: total %d over %d bytes: %w", p, q.total, s.cfg.MaxUpload, ErrTooLarge)
	case q.end >= s.cfg.MaxUpload: // a piece of a file of unknown size that would outgrow the limit
		return res, fmt.Errorf("files: put %q: a piece ending at %d, over %d bytes: %w", p, q.end, s.cfg.MaxUpload, ErrTooLarge)
	}
	pt, rc, err := s.acquire(ctx, p, t.dir.rel, q)
	if err != nil {
		return res, err
	}
	if pt.total >= 0 && q.end >= pt.total {
		s.release(pt, rc, pt.offset) // what is held stays
		return res, fmt.Errorf("files: put %q: a piece ending at %d of %d bytes: %w", p, q.end, pt.total, ErrBadRange)
	}
	if pt.dir != t.dir.rel {
		// The link to the folder changed since the upload began: what is
		// held is in another folder, and cannot become this file.
		s.dropPart(pt, rc)
		return res, fmt.Errorf("files: put %q: its folder moved: %w", p, &offsetError{offset: 0})
	}
	// While rc is its receiver, only this request changes pt; it writes
	// offset back under the lock (release), where HEAD reads it.
	offset := pt.offset
	flags := os.O_WRONLY
	if offset == 0 {
		flags |= os.O_CREATE
	}
	// O_NONBLOCK: the temp file's name is known to anyone who can list the
	// folder; should it have become a FIFO, opening it fails at once
	// (ENXIO) instead of waiting for a reader.
	f, err := t.dir.OpenFile(pt.name, flags|oNonblock, 0o644)
	if err == nil {
		err = sameRegular(t.dir, pt.name, f)
		if err != nil {
			err = fmt.Errorf("files: put %q: the partial: %w", p, err)
		}
		// Drop whatever a failed write left past the offset.
		if err == nil {
			err = f.Truncate(offset)
		}
		if err == nil {
			_, err = f.Seek(offset, io.SeekStart)
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		s.dropPart(pt, rc)
		return res, s.fsErr("put", p, err)
	}
	if began != nil {
		began(p, offset, pt.total)
	}

	// want is what this body may hold; one byte more is an error.
	want, limit := s.cfg.MaxUpload-offset, ErrTooLarge
	switch {
	case q.end >= 0:
		want, limit = q.end-q.start+1, ErrBadRange
	case pt.total >= 0:
		want, limit = pt.total-offset, ErrBadRange
	}
	src := &readErr{r: io.LimitReader(r, want+1)}
	n, err := s.copyChunks(&partWriter{s: s, pt: pt, f: f}, src)
	offset += n
	if err != nil {
		err = s.receiveErr(p, src, err)
		if !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrBusy) { // the disk failed, or over the limit
			f.Close()
			s.dropPart(pt, rc)
			return res, err
		}
		// Cut off, or no room left for more: keep what arrived, for the
		// client to go on from.
		if cerr := f.Close(); cerr != nil {
			s.dropPart(pt, rc)
			return res, fmt.Errorf("files: put %q: close: %w", p, cerr)
		}
		s.release(pt, rc, offset)
		return partResult{Offset: offset}, err
	}
	if n > want {
		f.Close()
		s.dropPart(pt, rc)
		return res, fmt.Errorf("files: put %q: body longer than %d bytes: %w", p, want, limit)
	}
	if (pt.total >= 0 && offset < pt.total) || (pt.total < 0 && q.end >= 0) {
		// A piece ended where the client meant it to: wait for the next.
		if err := f.Close(); err != nil {
			s.dropPart(pt, rc)
			return res, fmt.Errorf("files: put %q: close: %w", p, err)
		}
		s.release(pt, rc, offset)
		return partResult{Offset: offset}, nil
	}
	if err := f.Sync(); err != nil {
		f.Close()
		s.dropPart(pt, rc)
		return res, fmt.Errorf("files: put %q: sync: %w", p, err)
	}
	if err := f.Close(); err != nil {
		s.dropPart(pt, rc)
		return res, fmt.Errorf("files: put %q: close: %w", p, err)
	}
	if err := s.commit(t, pt.name, q.overwrite); err != nil {
		s.dropPart(pt, rc)
		return res, err
	}
	s.forget(pt, rc)
	return partResult{
		PutResult: PutResult{Path: p, Size: offset, SHA256: hex.EncodeToString(pt.hash.Sum(nil)), Created: !q.overwrite || !existed},
		Done:      true,
		Offset:    offset,
	}, nil
}

// acquire finds or makes the partial of (p, q.key) and makes the calling
// request its receiver. A partial still being received by another request
// is taken over: that request's body is cut (the server may not yet know
// its connection died), and acquire waits for it to let go.
func (s *Store) acquire(ctx context.Context, p, dir string, q resumeReq) (*partial, *receiver, error) {
	id := p + "\x00" + q.key
	ps := &s.parts
	var evicted []*partial
	defer func() { s.removeParts(evicted) }()
	for {
		ps.mu.Lock()
		if ps.closed {
			ps.mu.Unlock()
			return nil, nil, fmt.Errorf("files: put %q: %w", p, os.ErrClosed)
		}
		pt := ps.m[id]
		if pt == nil || pt.active == nil {
			break
		}
		rc := pt.active
		ps.mu.Unlock()
		rc.stop()
		t := time.NewTimer(takeoverWait)
		select {
		case <-rc.done:
			t.Stop()
			continue
		case <-t.C:
			return nil, nil, fmt.Errorf("files: put %q: the upload it resumes is still receiving: %w", p, ErrBusy)
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("files: put %q: %w (%w)", p, ErrIncomplete, ctx.Err())
		}
	}
	defer ps.mu.Unlock()
	pt := ps.m[id]
	if q.client != "" && ps.receivingLocked(q.client) >= s.cfg.MaxPartialsPerClient {
		return nil, nil, fmt.Errorf("files: put %q: %s is sending %d resumable uploads: %w",
			p, q.client, s.cfg.MaxPartialsPerClient, ErrBusy)
	}
	switch {
	case pt == nil && q.start != 0:
		return nil, nil, fmt.Errorf("files: put %q: %w", p, &offsetError{offset: 0})
	case pt == nil:
		if len(ps.m) >= s.cfg.MaxPartials {
			evicted = ps.evictLocked(len(ps.m)-s.cfg.MaxPartials+1, 0)
			if len(ps.m) >= s.cfg.MaxPartials {
				return nil, nil, fmt.Errorf("files: put %q: %d resumable uploads: %w", p, len(ps.m), ErrBusy)
			}
		}
		pt = &partial{id: id, path: p, dir: dir, name: tempPrefix + rand.Text(), total: q.total, hash: sha256.New()}
		ps.m[id] = pt
	case q.start == 0: // starting over
		pt.offset, pt.total, pt.held = 0, q.total, 0
		pt.hash.Reset()
	case q.start != pt.offset:
		return nil, nil, fmt.Errorf("files: put %q: starts at %d: %w", p, q.start, &offsetError{offset: pt.offset})
	case q.total >= 0 && pt.total >= 0 && q.total != pt.total:
		return nil, nil, fmt.Errorf("files: put %q: total %d, was %d: %w", p, q.total, pt.total, ErrBadRange)
	case q.total >= 0:
		pt.total = q.total
	}
	rc := &receiver{stop: q.stop, done: make(chan struct{})}
	if rc.stop == nil {
		rc.stop = func() {}
	}
	pt.active, pt.client = rc, q.client
	return pt, rc, nil
}

// receivingLocked counts the partials that client is sending now.
func (ps *partials) receivingLocked(client string) int {
	n := 0
	for _, pt := range ps.m {
		if pt.active != nil && pt.client == client {
			n++
		}
	}
	return n
}

// partWriter writes a partial's bytes to its file and its hash, within
// Config.MaxPartialBytes: before each write it makes room, dropping the
// oldest waiting partials, and refuses the write (ErrBusy) when the
// partials receiving right now leave no room.
type partWriter struct {
	s  *Store
	pt *partial
	f  *os.File
}

func (w *partWriter) Write(b []byte) (int, error) {
	if err := w.s.grow(w.pt, int64(len(b))); err != nil {
		return 0, err
	}
	n, err := w.f.Write(b)
	w.pt.hash.Write(b[:n])
	return n, err
}

// grow counts n more bytes for pt, which is receiving, if they fit.
func (s *Store) grow(pt *partial, n int64) error {
	ps := &s.parts
	ps.mu.Lock()
	held := ps.heldLocked()
	var evicted []*partial
	if over := held + n - s.cfg.MaxPartialBytes; over > 0 {
		evicted = ps.evictLocked(0, over)
		held = ps.heldLocked()
	}
	fits := held+n <= s.cfg.MaxPartialBytes
	if fits {
		pt.held += n
	}
	ps.mu.Unlock()
	s.removeParts(evicted)
	if !fits {
		return fmt.Errorf("files: put %q: resumable uploads receiving hold %d of %d bytes: %w",
			pt.path, held, s.cfg.MaxPartialBytes, ErrBusy)
	}
	return nil
}

// release makes pt, now holding offset bytes, wait for its next request,
// within the limits.
func (s *Store) release(pt *partial, rc *receiver, offset int64) {
	ps := &s.parts
	ps.mu.Lock()
	pt.offset, pt.held = offset, offset
	pt.active = nil
	pt.touched = time.Now()
	close(rc.done)
	var evicted []*partial
	if ps.closed {
		delete(ps.m, pt.id)
		evicted = []*partial{pt}
	} else {
		evicted = ps.evictLocked(len(ps.m)-s.cfg.MaxPartials, ps.heldLocked()-s.cfg.MaxPartialBytes)
		if ps.timer == nil {
			ps.timer = time.AfterFunc(s.cfg.PartialTTL, s.expireParts)
		}
	}
	ps.mu.Unlock()
	s.removeParts(evicted)
}

// removePartFile removes pt's temp file, logging a failure: the next Open
// sweeps it.
func (s *Store) removePartFile(pt *partial) {
	tmp := path.Join(pt.dir, pt.name)
	if err := s.root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("files: removing temp file", "path", tmp, "err", err)
	}
}

// sameRegular checks that f, just opened as name in dir, is a regular file
// and the very file name is, not a file a symlink under that name led to:
// temp files are known by name to anyone who can list the folder.
func sameRegular(dir *folder, name string, f *os.File) error {
	got, err := f.Stat()
	if err != nil {
		return err
	}
	there, err := dir.Lstat(name)
	if err != nil {
		return err
	}
	if !got.Mode().IsRegular() || !os.SameFile(got, there) {
		return fmt.Errorf("%s is not a regular file: %w", name, fs.ErrNotExist)
	}
	return nil
}

// dropPart forgets pt and removes its file: it cannot be resumed.
func (s *Store) dropPart(pt *partial, rc *receiver) {
	s.forget(pt, rc)
	s.removePartFile(pt)
}

// forget removes pt from the registry (its file was committed or removed).
func (s *Store) forget(pt *partial, rc *receiver) {
	ps := &s.parts
	ps.mu.Lock()
	if ps.m[pt.id] == pt {
		delete(ps.m, pt.id)
	}
	pt.active = nil
	close(rc.done)
	ps.mu.Unlock()
}

// heldLocked is the bytes held by partials, waiting or receiving.
func (ps *partials) heldLocked() int64 {
	var n int64
	for _, pt := range ps.m {
		n += pt.held
	}
	return n
}

// evictLocked drops the oldest waiting partials until count of them are
// gone and the bytes held went down by bytes (either may be <= 0). It
// returns the dropped ones, whose files the caller removes outside the lock.
func (ps *partials) evictLocked(count int, bytes int64) []*partial {
	if count <= 0 && bytes <= 0 {
		return nil
	}
	var idle []*partial
	for _, pt := range ps.m {
		if pt.active == nil {
			idle = append(idle, pt)
		}
	}
	slices.SortFunc(idle, func(a, b *partial) int { return a.touched.Compare(b.touched) })
	var out []*partial
	for _, pt := range idle {
		if count <= 0 && bytes <= 0 {
			break
		}
		delete(ps.m, pt.id)
		out = append(out, pt)
		count--
		bytes -= pt.held
	}
	return out
}

// expireParts is the timer's callback: it drops the partials that waited
// PartialTTL and re-arms the timer for the oldest one left.
func (s *Store) expireParts() {
	ps := &s.parts
	ps.mu.Lock()
	ps.timer = nil
	if ps.closed {
		ps.mu.Unlock()
		return
	}
	now := time.Now()
	var expired []*partial
	var next time.Time
	for id, pt := range ps.m {
		if pt.active != nil {
			continue
		}
		if exp := pt.touched.Add(s.cfg.PartialTTL); !exp.After(now) {
			delete(ps.m, id)
			expired = append(expired, pt)
		} else if next.IsZero() || exp.Before(next) {
			next = exp
		}
	}
	if !next.IsZero() {
		ps.timer = time.AfterFunc(next.Sub(now), s.expireParts)
	}
	ps.mu.Unlock()
	if len(expired) > 0 {
		s.log.Debug("files: resumable uploads expired", "count", len(expired))
	}
	s.removeParts(expired)
}

// removeParts removes the files of partials dropped from the registry.
func (s *Store) removeParts(dropped []*partial) {
	for _, pt := range dropped {
		s.removePartFile(pt)
	}
}

// partState reports the bytes held for (name, key) and the total, -1 when
// unknown; nothing held is offset 0.
func (s *Store) partState(name, key string) (p string, offset, total int64, err error) {
	t, err := s.target(name) // the checks of a PUT: a HEAD of .git/x?resume=K is a 404
	if err != nil {
		return "", 0, 0, err
	}
	t.dir.Close()
	p = t.p
	ps := &s.parts
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if pt := ps.m[p+"\x00"+key]; pt != nil {
		return p, pt.offset, pt.total, nil
	}
	return p, 0, -1, nil
}

// closeParts stops the timer and removes the files of waiting partials;
// requests still receiving remove theirs when they end.
func (s *Store) closeParts() {
	ps := &s.parts
	ps.mu.Lock()
	ps.closed = true
	if ps.timer != nil {
		ps.timer.Stop()
		ps.timer = nil
	}
	var idle []*partial
	for id, pt := range ps.m {
		if pt.active == nil {
			delete(ps.m, id)
			idle = append(idle, pt)
		}
	}
	ps.mu.Unlock()
	s.removeParts(idle)
}
