package files

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/felixge/httpsnoop"
)

// Handler serves GET, HEAD and PUT of r.URL.Path against the store:
//
//   - GET /{file}: the file through http.ServeContent (ranges, ETag,
//     Last-Modified, 304), Content-Type from ContentType, never sniffed, and
//     "Content-Security-Policy: sandbox" because files share the page's
//     origin: an uploaded .html must not script the room. "?download" adds
//     Content-Disposition: attachment.
//   - GET /{dir}/ and GET /: a listing, JSON when Accept mentions
//     application/json, else HTML, sorted by ?sort=name|size|modified and
//     ?order=asc|desc (folders first), JSON paged by ?limit (at most
//     MaxPage) and ?cursor (the previous page's "next"). It comes from the
//     ListConfig's Lister when that holds the folder, else from the disk,
//     and is written as it is encoded: memory per request does not grow
//     with the folder (from the disk, the folder's entries are held while
//     written, and large such listings take turns: MaxDiskListings). A
//     folder's index.html is never served in its place. GET /{dir}
//     redirects (301) to /{dir}/, query kept.
//   - GET /{dir}/?zip: the folder as a zip archive, streamed (Store.WriteZip),
//     Content-Disposition: attachment; OnFetch reports it as ZipPath(dir).
//   - PUT /{file}: Store.Put, with ?overwrite=1 (or true) to replace;
//     201 or 200 with {"path","size","sha256"}. A Content-Range is refused
//     (400) without ?resume: storing a part as the whole file would be wrong.
//   - PUT /{file}?resume=KEY: a resumable upload (see resume.go): the body
//     holds bytes START-END of TOTAL (Content-Range: bytes START-END/TOTAL,
//     or the whole file without it). 201/200 when the file is complete, 204
//     with Upload-Offset when a piece ended short of TOTAL, 409 with
//     Upload-Offset when START is not where the held bytes end, 503 with
//     Retry-After when there is no room for it now (ErrBusy: the limits, or
//     another process of this folder receiving the same upload).
//   - HEAD or GET /{file}?resume=KEY: Upload-Offset, the bytes held for that
//     upload (0 when none), and Upload-Length when the total is known; GET
//     also answers {"path","offset","size"} (size -1: unknown).
//
// While a PUT's body arrives, Hooks.OnUploadProgress hears of it (at the
// start, then throttled); an upload that does not finish ends with
// Hooks.OnUploadAbort. A body that sends nothing for
// Config.BodyIdleTimeout is cut: 408, and the connection closed.
//
// Errors answer with HTTPStatus and a generic body; the details go to
// Config.Logger. The handler expects r.URL.Path as sent: it does its own
// checks, so it is safe whether or not a ServeMux cleaned the path first.
func Handler(s *Store, hooks Hooks, opts ...Option) http.Handler {
	if hooks.ProgressInterval <= 0 {
		hooks.ProgressInterval = defaultProgressInterval
	}
	h := &handler{s: s, hooks: hooks}
	for _, o := range opts {
		o(h)
	}
	if h.lists.MaxDiskListings <= 0 {
		h.lists.MaxDiskListings = defaultMaxDiskListings
	}
	h.disk = make(chan struct{}, h.lists.MaxDiskListings)
	if h.diskWait <= 0 {
		h.diskWait = diskListingWait
	}
	return h
}

// Option configures a Handler beyond its Hooks.
type Option func(*handler)

// WithListings configures the handler's listings: where they come from,
// and how many large ones are read from the disk at once.
func WithListings(c ListConfig) Option { return func(h *handler) { h.lists = c } }

// Hooks are how a handler tells its caller what happened over HTTP: the
// room's feed hears of fetches and uploads through them, while the Store
// knows nothing of rooms or HTTP requests. All may be nil.
type Hooks struct {
	// OnShare is called for a PUT with ?share=1 (a plain upload, not
	// ?resume) once its temp file exists, before a byte is read. file
	// reads the upload's bytes as they arrive (with ReadAt: it is shared;
	// the callee owns it and closes it); size is what the client said, -1
	// when it did not. The Growth returned (nil: none) hears of every write
	// and of the end. May be nil: ?share=1 then uploads as usual.
	OnShare func(r *http.Request, path string, size int64, file *os.File) Growth
	// OnFetch is called after every successful GET of a file (200 or 206;
	// not HEAD, not 304) with the clean slash path (no leading slash) and
	// the bytes of body actually written. It runs on the request's
	// goroutine after the body was sent, so it must not block. May be nil.
	OnFetch func(r *http.Request, path string, bytes int64)
	// OnUpload is called after a successful PUT, before the reply is
	// written, so a client that has its reply knows the callback has run.
	// It must not block. May be nil.
	OnUpload func(r *http.Request, res PutResult)
	// OnUploadProgress is called as a PUT's body arrives: once when the
	// upload starts receiving (received is 0, or the bytes already held when
	// a resumable upload goes on), then at most once per ProgressInterval.
	// size is the whole file's size, -1 when the client did not say. The
	// final count is OnUpload's, or OnUploadAbort's. It runs on the
	// request's goroutine, so it must not block. May be nil.
	OnUploadProgress func(r *http.Request, path string, received, size int64)
	// OnUploadAbort is called when an upload that OnUploadProgress
	// announced does not finish: err wraps ErrIncomplete for a body cut off
	// (a resumable upload then holds received bytes), or says why it was
	// refused (ErrTooLarge, ErrBadRange, ErrExists…). It must not block.
	// May be nil.
	OnUploadAbort func(r *http.Request, path string, received int64, err error)
	// ProgressInterval is the least time between two OnUploadProgress calls
	// of one upload. Defaults to 250 ms (at most four a second).
	ProgressInterval time.Duration
}

type handler struct {
	s     *Store
	hooks Hooks
	lists ListConfig
	disk  chan struct{} // a slot per large listing from the disk being written
	// diskWait is how long a large listing from the disk waits for a slot
	// (diskListingWait; tests shorten it).
	diskWait time.Duration
}

// Growth is how a room follows an upload shared as it arrives (Hooks.OnShare).
type Growth interface {
	// Wrote is told the bytes in the temp file after each write, on the
	// upload's goroutine: it must not block.
	Wrote(total int64)
	// Done is told the upload is complete and in place (err nil, res its
	// result) or will not be (err why).
	Done(res PutResult, err error)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.get(w, r)
	case http.MethodPut:
		h.put(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
	}
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("resume") {
		h.resumeState(w, r, q.Get("resume"))
		return
	}
	name, err := h.s.Clean(r.URL.Path)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if name == "." || strings.HasSuffix(r.URL.Path, "/") {
		if q.Has("zip") {
			h.zip(w, r, name)
			return
		}
		h.list(w, r, name)
		return
	}
	f, info, err := h.s.Open(name)
	if errors.Is(err, ErrIsDir) {
		// Relative links in the listing need the trailing slash.
		loc := (&url.URL{Path: "/" + name + "/", RawQuery: r.URL.RawQuery}).String()
		http.Redirect(w, r, loc, http.StatusMovedPermanently)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer f.Close()

	hd := w.Header()
	hd.Set("Content-Type", info.Type) // set, so ServeContent never sniffs
	// The same on every file: shared values, set without Set's copy (the
	// keys are canonical already, and nothing writes into the values).
	hd["X-Content-Type-Options"] = nosniff
	hd["Content-Security-Policy"] = sandbox
	hd["Cache-Control"] = noCache // always revalidate: files change under the same name
	hd.Set("ETag", etag(info))
	if r.URL.Query().Has("download") {
		cd := mime.FormatMediaType("attachment", map[string]string{"filename": info.Name})
		if cd == "" {
			cd = "attachment"
		}
		hd.Set("Content-Disposition", cd)
	}
	cw, sent := count(w, info.Size <= smallFile)
	http.ServeContent(cw, r, info.Name, info.Modified, &sizedFile{File: f, size: info.Size, fresh: true})
	if cb := h.hooks.OnFetch; cb != nil && r.Method == http.MethodGet &&
		(sent.status == http.StatusOK || sent.status == http.StatusPartialContent) {
		cb(r, name, sent.n)
	}
}

// Header values every served file carries.
var (
	nosniff = []string{"nosniff"}
	sandbox = []string{"sandbox"}
	noCache = []string{"no-cache"}
)

// etag changes whenever size or modification time does, which is what a
// rename-into-place upload changes.
func etag(in Info) string {
	return `"` + strconv.FormatInt(in.Size, 16) + "-" + strconv.FormatInt(in.Modified.UnixNano(), 16) + `"`
}

// WantsJSON reports whether r asks for JSON: its Accept names
// application/json (a script, not a browser's navigation).
func WantsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "application/json") {
			return true
		}
	}
	return false
}

// humanSize is a size as the HTML listing shows it: "512 B", "1.5 KiB".
func humanSize(n int64) string { return string(appendSize(nil, n)) }

func (h *handler) put(w http.ResponseWriter, r *http.Request) {
	cfg := h.s.cfg
	// First of all: even a refused upload's body is read (discarded) by
	// net/http after the handler returns, and must not be held open forever.
	clock := newBodyClock(w, cfg.BodyIdleTimeout)
	if !cfg.Uploads || cfg.ReadOnly {
		h.fail(w, r, fmt.Errorf("files: put %q: uploads are off: %w", r.URL.Path, ErrForbidden))
		return
	}
	if r.ContentLength > cfg.MaxUpload { // refuse before reading (or 100-continuing) a byte
		h.fail(w, r, fmt.Errorf("files: put %q: Content-Length %d: %w", r.URL.Path, r.ContentLength, ErrTooLarge))
		return
	}
	q := r.URL.Query()
	ow := q.Get("overwrite")
	overwrite := ow == "1" || ow == "true"
	sh := q.Get("share")
	share := sh == "1" || sh == "true"
	if share && q.Has("resume") {
		// The room would watch bytes that may arrive on another node, or
		// after a restart: sharing as it arrives is for a plain upload.
		h.fail(w, r, fmt.Errorf("files: put %q: share with resume: %w", r.URL.Path, ErrShareResume))
		return
	}
	var growth Growth
	body := NewProgress(clock.reader(http.MaxBytesReader(w, r.Body, cfg.MaxUpload)))
	var (
		res     PutResult
		err     error
		started string // the clean path, once the upload began receiving
	)
	if q.Has("resume") {
		// A resumable upload holds a slot of MaxPartials: it must keep
		// sending, not only stay alive.
		clock.atLeast(cfg.MinResumableRate)
		var part partResult
		part, err = h.putResumable(r, q.Get("resume"), overwrite, body, clock, &started)
		if err == nil && !part.Done {
			w.Header().Set("Upload-Offset", strconv.FormatInt(part.Offset, 10))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		res = part.PutResult
	} else {
		if r.Header.Get("Content-Range") != "" {
			h.fail(w, r, fmt.Errorf("files: put %q: Content-Range without ?resume: %w", r.URL.Path, ErrBadRange))
			return
		}
		res, err = h.s.put(r.URL.Path, body, overwrite, func(p string, openTemp func() (*os.File, error)) func(int64) {
			started = p
			h.startProgress(r, body, p, 0, r.ContentLength)
			if !share || h.hooks.OnShare == nil {
				return nil
			}
			f, err := openTemp()
			if err != nil {
				h.s.log.Warn("files: opening an upload to share it", "path", p, "err", err)
				return nil
			}
			growth = h.hooks.OnShare(r, p, r.ContentLength, f)
			if growth == nil {
				return nil
			}
			return growth.Wrote
		})
	}
	if growth != nil {
		// Before the room hears the upload finished or aborted: a stream
		// ends with the file in place, or with an error.
		growth.Done(res, err)
	}
	if err != nil {
		if started != "" && h.hooks.OnUploadAbort != nil {
			h.hooks.OnUploadAbort(r, started, body.n, err)
		}
		if off, ok := offsetOf(err); ok {
			w.Header().Set("Upload-Offset", strconv.FormatInt(off, 10))
		}
		h.fail(w, r, err)
		return
	}
	if h.hooks.OnUpload != nil {
		h.hooks.OnUpload(r, res)
	}
	w.Header().Set("Content-Type", "application/json")
	code := http.StatusOK
	if res.Created {
		code = http.StatusCreated
		w.Header().Set("Location", (&url.URL{Path: "/" + res.Path}).EscapedPath())
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(res)
}

// putResumable parses a resumable PUT and receives it; started is set to
// the clean path once the upload began receiving.
func (h *handler) putResumable(r *http.Request, key string, overwrite bool,
	body *Progress, clock *bodyClock, started *string) (partResult, error) {
	if !validKey(key) {
		return partResult{}, fmt.Errorf("files: put %q: bad resume key: %w", r.URL.Path, ErrBadRange)
	}
	rq := resumeReq{key: key, end: -1, total: r.ContentLength, overwrite: overwrite, client: clientOf(r.RemoteAddr)}
	if cr := r.Header.Get("Content-Range"); cr != "" {
		var err error
		if rq.start, rq.end, rq.total, err = parseContentRange(cr); err != nil {
			return partResult{}, err
		}
		if r.ContentLength >= 0 && r.ContentLength != rq.end-rq.start+1 {
			return partResult{}, fmt.Errorf("files: put %q: Content-Length %d for %q: %w", r.URL.Path, r.ContentLength, cr, ErrBadRange)
		}
	}
	if rq.total > h.s.cfg.MaxUpload {
		return partResult{}, fmt.Errorf("files: put %q: total %d: %w", r.URL.Path, rq.total, ErrTooLarge)
	}
	// A newer request for the same upload cuts this one's body: the client
	// has given up on it, though the server may not have seen it die yet.
	rq.stop = clock.stop
	return h.s.putPart(r.Context(), r.URL.Path, body, rq, func(p string, offset, total int64) {
		*started = p
		body.n = offset
		h.startProgress(r, body, p, offset, total)
	})
}

// startProgress reports an upload's start and arms body's throttled reports.
func (h *handler) startProgress(r *http.Request, body *Progress, p string, received, size int64) {
	cb := h.hooks.OnUploadProgress
	if cb == nil {
		return
	}
	if size < 0 {
		size = -1
	}
	cb(r, p, received, size)
	body.Start(h.hooks.ProgressInterval, func(n int64) { cb(r, p, n, size) })
}

// Progress counts the bytes read through it, and once Start was called
// reports the count at most once per interval, so that a fast upload costs
// the room a few frames a second, not one per read. The files handler and
// the drop links' use it for their uploads' progress.
type Progress struct {
	r      io.Reader
	n      int64 // bytes of the file received: for a resumed upload, the held offset plus this body's
	every  time.Duration
	next   time.Time
	report func(n int64) // nil until Start
}

// NewProgress counts what is read from r.
func NewProgress(r io.Reader) *Progress { return &Progress{r: r} }

// Start begins reporting the count to report, at most once per every.
func (p *Progress) Start(every time.Duration, report func(n int64)) {
	p.every, p.report = every, report
	p.next = time.Now().Add(every)
}

// N is the count so far.
func (p *Progress) N() int64 { return p.n }

func (p *Progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.report != nil && n > 0 {
		if now := time.Now(); !now.Before(p.next) {
			p.next = now.Add(p.every)
			p.report(p.n)
		}
	}
	return n, err
}

// resumeState answers HEAD or GET /{file}?resume=KEY: how far that
// resumable upload got.
func (h *handler) resumeState(w http.ResponseWriter, r *http.Request, key string) {
	if !validKey(key) {
		h.fail(w, r, fmt.Errorf("files: resume %q: bad key: %w", r.URL.Path, ErrBadRange))
		return
	}
	if strings.HasSuffix(r.URL.Path, "/") {
		h.fail(w, r, fmt.Errorf("files: resume %q: a folder name: %w", r.URL.Path, ErrBadPath))
		return
	}
	p, offset, total, err := h.s.partState(r.URL.Path, key)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	if total >= 0 {
		hd.Set("Upload-Length", strconv.FormatInt(total, 10))
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("X-Content-Type-Options", "nosniff")
	b, _ := json.Marshal(struct {
		Path   string `json:"path"`
		Offset int64  `json:"offset"`
		Size   int64  `json:"size"`
	}{p, offset, total})
	b = append(b, '\n')
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

// retryAfter is what a 503 (ErrBusy) suggests: slots come free as uploads
// end or go idle, within seconds for most.
const retryAfter = "5"

// clientOf is who sends a request, for Config.MaxPartialsPerClient: the
// address of RemoteAddr ("ADDR:PORT" from net/http, or as the server's middleware
// rewrote it for a trusted proxy), an IPv6 one cut to its /64, since a
// single host commonly holds a whole /64.
func clientOf(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		if a, err := netip.ParseAddr(remote); err == nil {
			ap = netip.AddrPortFrom(a, 0)
		} else {
			return remote // not an address: each spelling is its own client
		}
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		if pfx, err := a.Prefix(64); err == nil {
			return pfx.String()
		}
	}
	return a.String()
}

// fail answers with err's status and a body that says nothing about the
// server: paths and system errors go to the log only.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := HTTPStatus(err)
	level := slog.LevelDebug
	if code >= 500 {
		level = slog.LevelWarn
	}
	h.s.log.Log(r.Context(), level, "files: request failed",
		"method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	switch code {
	case http.StatusRequestTimeout:
		// The body was cut: the connection cannot carry another request.
		w.Header().Set("Connection", "close")
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", retryAfter)
	}
	http.Error(w, strconv.Itoa(code)+" "+strings.ToLower(http.StatusText(code)), code)
}

// tally is a response as Hooks.OnFetch needs it: its final status (0
// until a status or a byte is written; 1xx are interim, the real status
// follows) and the body bytes written.
type tally struct {
	status int
	n      int64
}

// count wraps w to tally its response. httpsnoop keeps exactly the
// interfaces w has (io.ReaderFrom, so that http.ServeContent still reaches
// sendfile(2); Flusher; Hijacker) and Unwrap, for http.ResponseController.
// With small, a body copied in (a file of at most smallFile bytes) is read
// and written instead of sent with sendfile.
func count(w http.ResponseWriter, small bool) (http.ResponseWriter, *tally) {
	t := &tally{}
	return httpsnoop.Wrap(w, httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				if t.status == 0 && code >= 200 {
					t.status = code
				}
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				if t.status == 0 {
					t.status = http.StatusOK
				}
				n, err := next(b)
				t.n += int64(n)
				return n, err
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				if t.status == 0 {
					t.status = http.StatusOK
				}
				var n int64
				var err error
				if small {
					buf := smallBufs.Get().(*[]byte)
					n, err = io.CopyBuffer(writerOnly{w}, src, *buf) // writerOnly: no ReadFrom, no sendfile
					smallBufs.Put(buf)
				} else {
					n, err = next(src)
				}
				t.n += n
				return n, err
			}
		},
	}), t
}

// smallFile is the largest file sent by read and write instead of
// sendfile(2). net/http's sendfile path writes the headers with the first
// 512 bytes, then sends the rest with sendfile: three system calls for a
// 1 KiB file where read and one write of headers and body do (a file this
// small fits in the connection's 4 KiB buffer with its headers), about a
// tenth of the CPU of serving it.
const smallFile = 3 << 10

// smallBufs holds the buffers small files are read through.
var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallFile); return &b }}

type writerOnly struct{ io.Writer }

// sizedFile answers http.ServeContent's size probe, a Seek to the end and
// back to the start, from the size the open already read, saving two
// lseek(2) calls per request; any other seek reaches the file. It embeds
// *os.File, so ServeContent's copy still finds its SyscallConn and goes out
// with sendfile(2).
type sizedFile struct {
	*os.File
	size   int64
	fresh  bool // the file's own offset is still 0: nothing read or sought
	probed bool // at the end for the caller, while the file's offset is still 0
}

func (f *sizedFile) Seek(offset int64, whence int) (int64, error) {
	if f.fresh && offset == 0 {
		switch whence {
		case io.SeekEnd:
			f.probed = true
			return f.size, nil
		case io.SeekStart:
			f.probed = false
			return 0, nil
		}
	}
	f.fresh, f.probed = false, false
	return f.File.Seek(offset, whence)
}

func (f *sizedFile) Read(p []byte) (int, error) {
	if f.probed {
		return 0, io.EOF // the caller's offset is the end
	}
	f.fresh = false
	return f.File.Read(p)
}
