package files

// Resumable uploads.
//
// A client that wants to be able to resume names its upload with a key it
// chose (PUT /{path}?resume=KEY). The server writes the body to a hidden
// temp file in the destination folder, as for any upload; if the body is
// cut off, the file, the count of bytes it holds and the SHA-256 state of
// those bytes are kept (a partial), named from the path and the key, for
// PartialTTL. The client asks where to go on (HEAD /{path}?resume=KEY
// answers Upload-Offset) and sends the rest with Content-Range: bytes
// START-END/TOTAL, START being that offset. When the bytes held reach TOTAL,
// the file is synced and renamed (or linked) into place like any upload,
// with the SHA-256 of the whole file, computed once as the bytes arrived:
// resuming never reads the held bytes back.
//
// A partial lives on disk, beside its destination (partfile.go), so that a
// restarted process or another one serving the same folder goes on with
// it; its files have the temp prefix, so Clean never lets them be listed,
// served or overwritten. This file is the process's side: the registry of
// the partials it knows of (those it received, and those the sweep found
// when the Store was opened), which lets a newer request take an upload
// over from an older one of this process, and holds the limits:
// Config.MaxPartials, MaxPartialsPerClient and MaxPartialBytes (the oldest
// waiting partials are dropped first). Partials expire PartialTTL after a
// piece last ended, removed by a timer that Close stops; what Close leaves
// is for the next Store on the folder.
//
// Lock order: partials.mu, then nothing: files are opened, locked and
// removed outside it.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// partial is the registry's entry for a resumable upload: its bytes and
// its state are on disk, where they are the truth; the entry is what the
// process needs for takeovers and limits.
type partial struct {
	id      string    // partID(path, key): names its files
	path    string    // clean destination path, for the log
	dir     string    // its folder, links resolved: where its files are
	held    int64     // bytes its file holds, counted as they are written (MaxPartialBytes)
	total   int64     // the file's size, -1 unknown: set while a request receives it
	touched time.Time // when a piece last ended or was cut
	active  *receiver // the request writing it; nil while it waits
	client  string    // the address of the request writing it (clientOf)
}

// receiver is the one request of this process writing a partial.
type receiver struct {
	stop  func()        // cuts the request's body, so a newer request can take over
	done  chan struct{} // closed when the request let go of the partial and its lock
	yield atomic.Bool   // cut for another client's fair share: it answers 503, to try again
}

// partials is the Store's registry of resumable uploads.
type partials struct {
	mu     sync.Mutex
	m      map[string]*partial // by id
	timer  *time.Timer         // armed for the oldest waiting partial's expiry
	closed bool
	// stopping is set by StopUploads: the server is shutting down, and
	// nothing more is received.
	stopping bool
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

// parseContentRange parses "bytes START-END/TOTAL" or "bytes START-END/*"
// (RFC 9110 14.4), strictly: one space, decimal digits only (no sign, no
// space, nothing around them), numbers that fit an int64, and
// START <= END < TOTAL. A looser parse once took "bytes 0--0/5" for 0-0.
func parseContentRange(v string) (start, end, total int64, err error) {
	bad := fmt.Errorf("files: Content-Range %q: %w", v, ErrBadRange)
	spec, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	rng, tot, ok := strings.Cut(spec, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	num := func(s string) int64 {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return -1
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil { // too large
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
	p := t.p
	switch {
	case q.total > s.cfg.MaxUpload:
		return res, fmt.Errorf("files: put %q: total %d over %d bytes: %w", p, q.total, s.cfg.MaxUpload, ErrTooLarge)
	case q.end >= s.cfg.MaxUpload: // a piece of a file of unknown size that would outgrow the limit
		return res, fmt.Errorf("files: put %q: a piece ending at %d, over %d bytes: %w", p, q.end, s.cfg.MaxUpload, ErrTooLarge)
	}
	id := partID(p, q.key)
	pt, rc, err := s.acquire(ctx, id, t, q)
	if err != nil {
		return res, err
	}
	lp, err := s.openPart(t.dir, id, p, q.start == 0)
	if err != nil {
		s.settle(pt, rc, 0, false) // another process has it, or there is none: not this registry's
		if errors.Is(err, errNoPart) {
			return res, fmt.Errorf("files: put %q: nothing held to go on from: %w", p, &offsetError{offset: 0})
		}
		return res, err
	}
	u := &partUpload{s: s, t: t, id: id, p: p, pt: pt, rc: rc, lp: lp}
	if err := u.position(q); err != nil {
		return res, err
	}
	if began != nil {
		began(p, u.st.Offset, u.st.Total)
	}
	if res, done, err := u.receive(r, q); err != nil || !done {
		return res, err
	}
	return u.finish(q)
}

// partUpload is one request's hold on a partial file: from openPart on,
// it holds the partial's lock. Every way out closes its file, which lets
// the lock go, before settling, which lets a request waiting to take over
// go on: keep (the bytes stay, to go on from), drop (they go), or finish.
type partUpload struct {
	s     *Store
	t     target
	id, p string
	pt    *partial
	rc    *receiver
	lp    *lockedPart
	st    partState
	h     hash.Hash
}

func (u *partUpload) keep(held int64) {
	u.lp.f.Close()
	u.s.settle(u.pt, u.rc, held, true)
}

func (u *partUpload) drop() {
	u.s.removePart(u.t.dir, u.id)
	u.lp.f.Close()
	u.s.settle(u.pt, u.rc, 0, false)
}

// position checks the request's piece against what is held (its start,
// the total, the limit), and puts the file at the offset it goes on from,
// with the hash of what is before it. On an error the hold has been let go.
func (u *partUpload) position(q resumeReq) error {
	s, p, lp := u.s, u.p, u.lp
	st, h := lp.st, hash.Hash(nil)
	switch {
	case q.start == 0: // starting, or starting over
		st, h = partState{Version: stateVersion, ID: u.id, Path: p, Total: q.total}, sha256.New()
	case !lp.found:
		u.drop() // bytes without a usable state: nobody can go on from them
		return fmt.Errorf("files: put %q: nothing held to go on from: %w", p, &offsetError{offset: 0})
	case q.start != st.Offset:
		u.keep(st.Offset)
		return fmt.Errorf("files: put %q: starts at %d: %w", p, q.start, &offsetError{offset: st.Offset})
	case q.total >= 0 && st.Total >= 0 && q.total != st.Total:
		u.keep(st.Offset)
		return fmt.Errorf("files: put %q: total %d, was %d: %w", p, q.total, st.Total, ErrBadRange)
	case q.total >= 0:
		st.Total = q.total
	}
	if h == nil {
		var err error
		if h, err = st.hash(); err != nil { // readState checked it
			u.drop()
			return fmt.Errorf("files: put %q: %w", p, err)
		}
	}
	switch {
	case st.Total > s.cfg.MaxUpload: // stated to a process with a larger limit
		u.keep(st.Offset)
		return fmt.Errorf("files: put %q: total %d over %d bytes: %w", p, st.Total, s.cfg.MaxUpload, ErrTooLarge)
	case st.Total >= 0 && q.end >= st.Total:
		u.keep(st.Offset)
		return fmt.Errorf("files: put %q: a piece ending at %d of %d bytes: %w", p, q.end, st.Total, ErrBadRange)
	}
	u.st, u.h = st, h
	s.setHeld(u.pt, st.Offset, st.Total)
	// Drop whatever a cut piece or a crash left past the offset.
	if err := lp.f.Truncate(st.Offset); err != nil {
		u.drop()
		return fmt.Errorf("files: put %q: truncate: %w", p, err)
	}
	if _, err := lp.f.Seek(st.Offset, io.SeekStart); err != nil {
		u.drop()
		return fmt.Errorf("files: put %q: seek: %w", p, err)
	}
	return nil
}

// receive copies the body after the offset. It reports done when the
// whole file has arrived (the hold is kept for finish); otherwise, or on
// an error, the hold has been let go, and res says the offset held when
// what arrived was kept for a client to go on from.
func (u *partUpload) receive(r io.Reader, q resumeReq) (res partResult, done bool, err error) {
	s, p, st := u.s, u.p, &u.st
	offset := st.Offset
	// want is what this body may hold; one byte more is an error.
	want, limit := s.cfg.MaxUpload-offset, ErrTooLarge
	switch {
	case q.end >= 0:
		want, limit = q.end-q.start+1, ErrBadRange
	case st.Total >= 0:
		want, limit = st.Total-offset, ErrBadRange
	}
	src := &readErr{r: io.LimitReader(r, want+1)}
	n, err := s.copyChunks(&partWriter{s: s, pt: u.pt, f: u.lp.f, h: u.h}, src)
	offset += n
	st.Offset = offset
	if err != nil {
		err = s.receiveErr(p, src, err)
		if !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrBusy) { // the disk failed, or over the limit
			u.drop()
			return res, false, err
		}
		// Cut off, or no room left for more: keep what arrived, for the
		// client to go on from, here or on another node.
		if serr := s.savePart(u.t.dir, u.lp, st, u.h); serr != nil {
			u.drop()
			return res, false, serr
		}
		u.keep(offset)
		switch {
		case s.stopping():
			// Cut by StopUploads: the client is still there, and goes on
			// later (503), not a client that went away (400).
			err = fmt.Errorf("%w, %d bytes held (%w)", errStopping, offset, err)
		case u.rc.yield.Load():
			// Cut for another client's share of the slots: the same.
			err = fmt.Errorf("files: put %q: %d bytes held (%w): %w", p, offset, err, errYielded)
		}
		return partResult{Offset: offset}, false, err
	}
	if n > want {
		u.drop()
		return res, false, fmt.Errorf("files: put %q: body longer than %d bytes: %w", p, want, limit)
	}
	if (st.Total >= 0 && offset < st.Total) || (st.Total < 0 && q.end >= 0) {
		// A piece ended where the client meant it to: wait for the next.
		if err := s.savePart(u.t.dir, u.lp, st, u.h); err != nil {
			u.drop()
			return res, false, err
		}
		u.keep(offset)
		return partResult{Offset: offset}, false, nil
	}
	return res, true, nil
}

// finish puts the whole file in place, and lets the hold go.
func (u *partUpload) finish(q resumeReq) (partResult, error) {
	s, p, t := u.s, u.p, u.t
	if err := u.lp.f.Sync(); err != nil {
		u.drop()
		return partResult{}, fmt.Errorf("files: put %q: sync: %w", p, err)
	}
	// The state goes first: no state may ever count bytes that moved away.
	if err := t.dir.Remove(stateName(u.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		u.drop()
		return partResult{}, fmt.Errorf("files: put %q: %w", p, err)
	}
	// Still locked: a process that opened the .part file meanwhile finds it
	// locked, then gone (openPart checks the name after the lock).
	if err := s.commit(t, partName(u.id), q.overwrite); err != nil {
		u.drop()
		return partResult{}, err
	}
	u.lp.f.Close()
	s.settle(u.pt, u.rc, 0, false)
	offset := u.st.Offset
	return partResult{
		PutResult: PutResult{Path: p, Size: offset, SHA256: hex.EncodeToString(u.h.Sum(nil)), Created: !q.overwrite || !t.existed},
		Done:      true,
		Offset:    offset,
	}, nil
}

// acquire finds or makes the registry's entry for partial id (to t) and
// makes the calling request its receiver. One still being received by
// another request of this process is taken over: that request's body is
// cut (the server may not yet know its connection died), and acquire waits
// for it to let go. A new upload (q.start 0) needs a slot of MaxPartials;
// a resumed one already holds its bytes, here or elsewhere, and is let in.
func (s *Store) acquire(ctx context.Context, id string, t target, q resumeReq) (*partial, *receiver, error) {
	p := t.p
	ps := &s.parts
	var evicted []*partial
	defer func() { s.removeParts(evicted) }()
	for {
		ps.mu.Lock()
		if ps.closed {
			ps.mu.Unlock()
			return nil, nil, fmt.Errorf("files: put %q: %w", p, os.ErrClosed)
		}
		if ps.stopping {
			ps.mu.Unlock()
			return nil, nil, fmt.Errorf("files: put %q: %w", p, errStopping)
		}
		pt := ps.m[id]
		rc := (*receiver)(nil)
		switch {
		case pt != nil && pt.active != nil:
			rc = pt.active // a takeover
		case pt == nil && q.start == 0 && q.client != "" && len(ps.m) >= s.cfg.MaxPartials:
			rc = ps.unfairLocked(q.client) // a fair share
			if rc != nil {
				rc.yield.Store(true)
				s.log.Info("files: a resumable upload cut for a fairer share of the slots", "path", p, "client", q.client)
			}
		}
		if rc == nil {
			break
		}
		ps.mu.Unlock()
		rc.stop()
		tm := time.NewTimer(takeoverWait)
		select {
		case <-rc.done:
			tm.Stop()
			continue
		case <-tm.C:
			return nil, nil, fmt.Errorf("files: put %q: the upload it resumes is still receiving: %w", p, ErrBusy)
		case <-ctx.Done():
			tm.Stop()
			return nil, nil, fmt.Errorf("files: put %q: %w (%w)", p, ErrIncomplete, ctx.Err())
		}
	}
	defer ps.mu.Unlock()
	if q.client != "" && ps.receivingLocked(q.client) >= s.cfg.MaxPartialsPerClient {
		return nil, nil, fmt.Errorf("files: put %q: %s is sending %d resumable uploads: %w",
			p, q.client, s.cfg.MaxPartialsPerClient, ErrBusy)
	}
	pt := ps.m[id]
	if pt == nil {
		if q.start == 0 && len(ps.m) >= s.cfg.MaxPartials {
			evicted = ps.evictLocked(len(ps.m)-s.cfg.MaxPartials+1, 0)
			if len(ps.m) >= s.cfg.MaxPartials {
				return nil, nil, fmt.Errorf("files: put %q: %d resumable uploads: %w", p, len(ps.m), ErrBusy)
			}
		}
		pt = &partial{id: id, path: p}
		ps.m[id] = pt
	}
	rc := &receiver{stop: q.stop, done: make(chan struct{})}
	if rc.stop == nil {
		rc.stop = func() {}
	}
	pt.dir, pt.active, pt.client = t.dir.rel, rc, q.client
	return pt, rc, nil
}

// settle ends rc's hold on pt: pt waits for its next request holding held
// bytes when keep is set, else it leaves the registry (its files were
// committed or removed, or are another process's).
func (s *Store) settle(pt *partial, rc *receiver, held int64, keep bool) {
	ps := &s.parts
	ps.mu.Lock()
	pt.active = nil
	close(rc.done)
	var evicted []*partial
	if !keep || ps.closed {
		if ps.m[pt.id] == pt {
			delete(ps.m, pt.id)
		}
	} else {
		pt.held, pt.touched = held, time.Now()
		evicted = ps.evictLocked(len(ps.m)-s.cfg.MaxPartials, ps.heldLocked()-s.cfg.MaxPartialBytes)
		s.armLocked()
	}
	ps.mu.Unlock()
	s.removeParts(evicted)
}

// setHeld sets the bytes pt holds, and the file's size, once its state was read.
func (s *Store) setHeld(pt *partial, n, total int64) {
	s.parts.mu.Lock()
	pt.held, pt.total = n, total
	s.parts.mu.Unlock()
}

// unfairLocked is, when every slot is taken by an upload under way and
// client sends at least two fewer than the client sending the most, one
// upload of the latter's to cut: slots go to those with fewer, one at a
// time, until the clients that want them hold about as many each. nil
// when a slot can be had otherwise (a waiting upload to drop) or would
// not be fairer.
func (ps *partials) unfairLocked(client string) *receiver {
	count := map[string]int{}
	for _, pt := range ps.m {
		if pt.active == nil {
			return nil // evictLocked frees it
		}
		count[pt.client]++
	}
	top, most := "", 0
	for c, n := range count {
		if n > most {
			top, most = c, n
		}
	}
	if count[client]+1 >= most {
		return nil
	}
	for _, pt := range ps.m {
		if pt.client == top {
			return pt.active
		}
	}
	return nil
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
	h  hash.Hash
}

func (w *partWriter) Write(b []byte) (int, error) {
	if err := w.s.grow(w.pt, int64(len(b))); err != nil {
		return 0, err
	}
	n, err := w.f.Write(b)
	w.h.Write(b[:n])
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

// removeParts removes the files of partials the limits dropped from the
// registry, unless a request (of any process) is receiving them.
func (s *Store) removeParts(dropped []*partial) {
	for _, pt := range dropped {
		s.discardPart(pt.dir, pt.id, time.Time{})
	}
}

// armLocked arms the timer for the oldest waiting partial's expiry, unless
// it is armed.
func (s *Store) armLocked() {
	ps := &s.parts
	if ps.timer != nil || ps.closed {
		return
	}
	var next time.Time
	for _, pt := range ps.m {
		if exp := pt.touched.Add(s.cfg.PartialTTL); pt.active == nil && (next.IsZero() || exp.Before(next)) {
			next = exp
		}
	}
	if !next.IsZero() {
		ps.timer = time.AfterFunc(max(0, time.Until(next)), s.expireParts)
	}
}

// expireParts is the timer's callback: it removes the partials that waited
// PartialTTL, keeps those another process went on with since (their state
// says so), and re-arms the timer.
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
	for id, pt := range ps.m {
		if pt.active == nil && !pt.touched.Add(s.cfg.PartialTTL).After(now) {
			delete(ps.m, id)
			expired = append(expired, pt)
		}
	}
	ps.mu.Unlock()
	removed := 0
	for _, pt := range expired {
		ok, touched := s.discardPart(pt.dir, pt.id, pt.touched)
		if ok {
			removed++
			continue
		}
		if touched.After(pt.touched) {
			s.log.Debug("files: resumable upload went on elsewhere, expires later", "path", pt.path)
			ps.mu.Lock()
			if ps.m[pt.id] == nil && !ps.closed {
				pt.touched = touched
				ps.m[pt.id] = pt
			}
			ps.mu.Unlock()
		}
	}
	if removed > 0 {
		s.log.Debug("files: resumable uploads expired", "count", removed)
	}
	ps.mu.Lock()
	s.armLocked()
	ps.mu.Unlock()
}

// partState reports the bytes held for (name, key) and the total, -1 when
// unknown; nothing held is offset 0. It reads the state on disk, which any
// process serving the folder may have written.
func (s *Store) partState(name, key string) (p string, offset, total int64, err error) {
	t, err := s.target(name) // the checks of a PUT: a HEAD of .git/x?resume=K is a 404
	if err != nil {
		return "", 0, 0, err
	}
	defer t.dir.Close()
	id := partID(t.p, key)
	// A request of this process still receiving it (its client may have
	// seen the connection die before the server did) has written more than
	// the state on disk says, which is saved only when a piece ends. Going
	// on from what it wrote takes it over; from 0 would throw that away.
	s.parts.mu.Lock()
	if pt := s.parts.m[id]; pt != nil && pt.active != nil && pt.dir == t.dir.rel {
		offset, total = pt.held, pt.total
	}
	s.parts.mu.Unlock()
	if offset > 0 {
		return t.p, offset, total, nil
	}
	st, err := readState(t.dir.Root, ".", id)
	if err != nil || st.Path != t.p || st.expired(s.cfg.PartialTTL) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Debug("files: resume state", "path", t.p, "err", err)
		}
		return t.p, 0, -1, nil
	}
	if fi, err := t.dir.Lstat(partName(id)); err != nil || !fi.Mode().IsRegular() || fi.Size() < st.Offset {
		return t.p, 0, -1, nil // its bytes are gone: nothing to go on from
	}
	return t.p, st.Offset, st.Total, nil
}

// loadedParts finishes the sweep's loading of partials into the registry:
// the limits apply to them, and they expire in time.
func (s *Store) loadedParts() {
	ps := &s.parts
	ps.mu.Lock()
	evicted := ps.evictLocked(len(ps.m)-s.cfg.MaxPartials, ps.heldLocked()-s.cfg.MaxPartialBytes)
	s.armLocked()
	n := len(ps.m)
	ps.mu.Unlock()
	s.removeParts(evicted)
	if n > 0 {
		s.log.Info("files: resumable uploads to go on with", "count", n)
	}
}

// errYielded is a resumable upload cut to give its slot to a client with
// fewer: ErrBusy (503), to go on with later.
var errYielded = fmt.Errorf("cut for another client's share of the slots: %w", ErrBusy)

// errStopping is a resumable upload refused, or cut, because the server
// is shutting down: ErrBusy (503), to go on with later.
var errStopping = fmt.Errorf("the server is stopping: %w", ErrBusy)

// StopUploads is for a server shutting down: it cuts the body of every
// resumable upload this process receives, so that each saves what it holds
// at once and its request ends with 503 (try again), rather than going on
// until the process exits and losing the piece it was receiving. The client
// goes on with the next server on this folder, or another node. Resumable
// uploads that come later are refused (503). Plain uploads are left to
// finish. It does not wait: the requests end on their own.
func (s *Store) StopUploads() {
	ps := &s.parts
	ps.mu.Lock()
	ps.stopping = true
	var cut []*receiver
	for _, pt := range ps.m {
		if pt.active != nil {
			cut = append(cut, pt.active)
		}
	}
	ps.mu.Unlock()
	for _, rc := range cut {
		rc.stop()
	}
}

func (s *Store) stopping() bool {
	s.parts.mu.Lock()
	defer s.parts.mu.Unlock()
	return s.parts.stopping
}

// closeParts stops the timer. The partials stay on disk, for the next
// Store on this folder (a restart) to go on with until they expire;
// requests still receiving save theirs when they end.
func (s *Store) closeParts() {
	ps := &s.parts
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.closed = true
	if ps.timer != nil {
		ps.timer.Stop()
		ps.timer = nil
	}
}
