// Package files serves one folder: lexical path checks, reads, listings and
// atomic uploads, with every filesystem access going through a single
// *os.Root so that neither "..", absolute paths nor symlinks can reach
// anything outside the folder.
//
// Names are checked lexically first (Store.Clean) so hostile input gets a
// clean 400 or 404; the root then refuses at the system-call level whatever
// the lexical check cannot see, such as a symlink that points outside, and
// what was opened is checked once more: a symlink inside the folder that
// leads to a hidden name (a link to .git is .git) is refused for reads,
// listings, zips and writes alike (resolve.go). Opening never blocks: FIFOs,
// sockets and devices do not exist as far as the Store is concerned.
// The root does not stop bind mounts or hard links that already lead out of
// the folder: whoever controls the folder's contents is trusted that far.
package files

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// maxPath and maxElem mirror Linux's PATH_MAX and NAME_MAX, so a name the
	// lexical check accepts never fails later with ENAMETOOLONG.
	maxPath = 4096
	maxElem = 255

	// tempPrefix marks an upload in progress. It starts with "." so that
	// such files are hidden, and Clean refuses it even when ShowHidden is
	// set, so a half-written upload is never listed, served or overwritten.
	tempPrefix = ".filehub-tmp-"

	// staleTemp is how old a temp file must be before Open removes it: a
	// second server on the same folder may be uploading right now, but no
	// upload keeps its temp file untouched for an hour.
	staleTemp = time.Hour

	// defaultMaxUpload is Config.MaxUpload's default (1 GiB).
	defaultMaxUpload = 1 << 30

	// defaultProgressInterval is Hooks.ProgressInterval's default: four
	// progress reports a second move a bar smoothly and cost the room little.
	defaultProgressInterval = 250 * time.Millisecond

	// defaultMaxPartials is Config.MaxPartials's default.
	defaultMaxPartials = 64

	// defaultBodyIdleTimeout is Config.BodyIdleTimeout's default: long
	// enough for a phone on a bad network to get a few packets through,
	// short enough that a client that went silent gives back what it holds
	// (a connection, a goroutine, a resumable upload's slot) soon.
	defaultBodyIdleTimeout = 30 * time.Second

	// copyBuf is the size of the writes of an upload to disk: the network
	// delivers a body in pieces of a few KiB, and a write(2) per piece costs
	// more than the disk does (256 KiB writes are about 1.5× faster than
	// 32 KiB ones). One buffer per upload in progress.
	copyBuf = 256 << 10

	// dirType is Info.Type for folders.
	dirType = "inode/directory"
)

// Errors returned by Store. A missing file, hidden or reserved name, or a
// symlink that leaves the folder is fs.ErrNotExist, so that probing cannot
// tell them apart. HTTPStatus maps all of them to statuses.
var (
	// ErrBadPath is a name that no file in the folder can have: "..", NUL,
	// backslash, control characters, invalid UTF-8, "//", too long (400).
	ErrBadPath = errors.New("bad path")
	// ErrForbidden is a request the configuration refuses: uploads turned
	// off, a read-only store, or writing over a folder (403).
	ErrForbidden = errors.New("forbidden")
	// ErrTooLarge is an upload over Config.MaxUpload (413).
	ErrTooLarge = errors.New("upload too large")
	// ErrExists is an upload onto an existing name without overwrite (409).
	ErrExists = errors.New("file exists")
	// ErrIsDir is Store.Open of a folder (400: the caller asked for a file).
	ErrIsDir = errors.New("is a folder")
	// ErrIncomplete is an upload whose body ended before it should have: the
	// connection was cut, or a newer request took the resumable upload over
	// (400; nobody is left to read the answer). A resumable upload keeps
	// what it received.
	ErrIncomplete = errors.New("upload incomplete")
	// ErrIdle is an upload whose body made no progress for
	// Config.BodyIdleTimeout and was cut (408). It comes wrapped together
	// with ErrIncomplete: the body is incomplete, and a resumable upload
	// keeps what it received.
	ErrIdle = errors.New("upload body idle")
	// ErrBadRange is a resumable upload's Content-Range that cannot be
	// honoured: malformed, disagreeing with Content-Length or with the
	// total stated before, or a body longer than the range (400).
	ErrBadRange = errors.New("bad Content-Range")
	// ErrOffset is a resumable upload that does not start where the held
	// bytes end (409). The answer's Upload-Offset header says where to go on.
	ErrOffset = errors.New("upload offset mismatch")
	// ErrBusy is a resumable upload the server has no room for now (503):
	// Config.MaxPartials all receiving, its client already sending
	// Config.MaxPartialsPerClient, Config.MaxPartialBytes held by uploads
	// receiving, or the upload being received by another request that
	// will not let go. Trying again later may succeed.
	ErrBusy = errors.New("too many resumable uploads at once")
	// ErrShareResume is ?share=1 with ?resume: sharing an upload as it
	// arrives is for a plain upload (400).
	ErrShareResume = errors.New("share=1 needs a plain upload, without resume")
)

// HTTPStatus is the one table from errors to HTTP statuses: nil is 200,
// an unknown error 500. The hub derives its protocol error codes from the
// status, so every error this package returns must be classified here.
func HTTPStatus(err error) int {
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrIdle): // before ErrIncomplete, which it comes with
		return http.StatusRequestTimeout
	case errors.Is(err, errStopping), errors.Is(err, errYielded): // before ErrIncomplete too: a body the shutdown, or fairness, cut
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBadPath), errors.Is(err, ErrIsDir), errors.Is(err, ErrIncomplete), errors.Is(err, ErrShareResume),
		errors.Is(err, ErrBadRange), errors.Is(err, ErrBadQuery), errors.Is(err, io.ErrUnexpectedEOF): // an upload cut off mid-body
		return http.StatusBadRequest
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, ErrForbidden), errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	case errors.Is(err, ErrExists), errors.Is(err, fs.ErrExist), errors.Is(err, ErrOffset):
		return http.StatusConflict
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrTooLarge), errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// Config configures a Store. The zero value serves the folder read-only
// with dotfiles hidden.
type Config struct {
	// ShowHidden serves dotfiles (names starting with "."). Temp files of
	// uploads in progress stay hidden regardless. Defaults to false.
	ShowHidden bool
	// Uploads accepts PUT. Defaults to false (PUT answers 403).
	Uploads bool
	// ReadOnly refuses every write, whatever Uploads says: Put, resumable
	// uploads and PutNew (the drop links' door, which Uploads does not
	// govern) all answer ErrForbidden. Defaults to false.
	ReadOnly bool
	// MaxUpload is the largest upload in bytes. Defaults to 1 GiB.
	MaxUpload int64
	// PartialTTL is how long a resumable upload that was cut off keeps its
	// received bytes after its last piece ended. They are kept on disk,
	// beside the destination, so that they survive a restart and serve
	// every process (node) sharing the folder. Defaults to 1 h.
	PartialTTL time.Duration
	// MaxPartials bounds the resumable uploads held at once, receiving or
	// waiting to be resumed; the oldest waiting one is dropped for a new
	// one. When all are receiving, a new one from a client that sends
	// fewer than the client sending the most, by two or more, is given a
	// slot of that client's (its upload is cut, 503, and keeps nothing):
	// slots are shared fairly among the clients that want them. Else it
	// is refused (503). Defaults to 64.
	MaxPartials int
	// MaxPartialsPerClient bounds the resumable uploads one client is
	// sending at once, so that one address cannot take every slot of
	// MaxPartials: beyond it a new one is refused (503, Retry-After). A
	// client is the request's RemoteAddr (which the server's middleware rewrites
	// for trusted proxies): an IPv4 address, or an IPv6 /64, since one
	// host commonly holds a whole /64. Uploads without ?resume are not
	// counted. Defaults to MaxPartials / 4 (16), at least 1.
	MaxPartialsPerClient int
	// MaxPartialBytes bounds the bytes held by resumable uploads at every
	// moment, receiving or waiting to be resumed: before a receiving upload
	// writes more, the oldest waiting ones are dropped to make room, and
	// when the receiving ones alone leave none the write is refused (503;
	// what was written stays, to go on from later). Defaults to
	// 4 × MaxUpload; never less than MaxUpload.
	MaxPartialBytes int64
	// BodyIdleTimeout cuts an upload's body (PUT, plain or resumable) that
	// makes no progress for this long: the request is answered 408 and its
	// connection closed; a resumable upload keeps what it received and may
	// go on. Progress is 1 KiB: the clock restarts each time that much more
	// arrived (checked about every eighth of it), so a slow but steady
	// client is never cut, and one dripping a byte now and then is. It
	// needs a ResponseWriter that supports
	// http.ResponseController.SetReadDeadline (net/http's does, HTTP/1 and
	// HTTP/2). Defaults to 30 s; negative turns it off.
	BodyIdleTimeout time.Duration
	// MinResumableRate is the least a resumable upload's body must send,
	// in bytes a second, averaged over each BodyIdleTimeout: a body that
	// sends less in one is cut (408) and keeps what it received, so that
	// uploads trickling a little now and then cannot hold the slots of
	// MaxPartials that others need. Plain PUTs hold no slot and keep the
	// idle rule alone. Defaults to 2 KiB/s (60 KiB per 30 s); negative
	// turns it off.
	MinResumableRate int64
	// Logger receives request failures (client errors at Debug, server
	// errors at Warn). Defaults to slog.New(slog.DiscardHandler).
	Logger *slog.Logger
}

// Store is the served folder. Its methods are safe for concurrent use.
type Store struct {
	root *os.Root
	cfg  Config
	log  *slog.Logger
	// escapes is the error os.Root gives for a name that leaves the
	// folder. os does not export it; Open captures it once so that escapes
	// are recognised (and answered 404) without matching error strings.
	escapes error
	// name is the folder's own name, for the zip of the whole folder.
	name  string
	parts partials
	bufs  sync.Pool // *[]byte of copyBuf bytes, for uploads

	// top is the folder itself, held open: the base of the fast path's
	// opens, and where its absolute path is read again should it move.
	top *os.File
	// proc is /proc/self/fd, through which the Store reads what its open
	// files really are (resolve.go); nil where there is none.
	proc *os.Root
	// rootPath is top's absolute path as the kernel names it, without a
	// trailing slash ("" for "/"), when proc is not nil.
	rootPath atomic.Pointer[string]
	// fast is set where opens may take the fast path (openat2_linux.go).
	fast bool
}

// Info describes a file or folder of the Store.
type Info struct {
	Path     string    `json:"path"` // clean slash path, "." for the root
	Name     string    `json:"name"` // last element, "" for the root
	Dir      bool      `json:"dir"`
	Size     int64     `json:"size"` // 0 for folders
	Modified time.Time `json:"modified"`
	Type     string    `json:"type"` // ContentType(Name), "inode/directory" for folders
	// Link is set by List for an entry that is a symlink (inside the
	// folder: the others are not listed); what it describes is where the
	// link leads. Not part of the JSON.
	Link bool `json:"-"`
}

// PutResult describes a finished upload.
type PutResult struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"` // hex
	Created bool   `json:"-"`      // false when an existing file was replaced
}

// Open opens the folder dir and removes temp files that uploads interrupted
// by a crash left behind (older than an hour), and resumable uploads that
// waited longer than cfg.PartialTTL; the others are picked up, to go on
// with. Hidden folders are only searched when cfg.ShowHidden is set, since
// uploads cannot reach them otherwise. The sweep walks the whole tree once,
// so a huge folder makes Open slow, never wrong.
func Open(dir string, cfg Config) (*Store, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("files: open %s: %w", dir, err)
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = defaultMaxUpload
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PartialTTL <= 0 {
		cfg.PartialTTL = staleTemp
	}
	if cfg.MaxPartials <= 0 {
		cfg.MaxPartials = defaultMaxPartials
	}
	if cfg.MaxPartialsPerClient <= 0 {
		cfg.MaxPartialsPerClient = max(1, cfg.MaxPartials/4)
	}
	if cfg.MaxPartialBytes <= 0 {
		cfg.MaxPartialBytes = 4 * cfg.MaxUpload
	}
	cfg.MaxPartialBytes = max(cfg.MaxPartialBytes, cfg.MaxUpload) // else a whole upload could never be held
	if cfg.BodyIdleTimeout == 0 {
		cfg.BodyIdleTimeout = defaultBodyIdleTimeout
	}
	if cfg.MinResumableRate == 0 {
		cfg.MinResumableRate = 2 << 10
	}
	top, err := root.OpenFile(".", os.O_RDONLY|oDirectory|oNonblock, 0)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("files: open %s: %w", dir, err)
	}
	s := &Store{root: root, cfg: cfg, log: cfg.Logger, name: folderName(dir), top: top, proc: openProcFD()}
	if s.proc != nil {
		if err := s.readRootPath(); err != nil {
			s.log.Warn("files: checking opened files by name", "err", err)
			s.proc.Close()
			s.proc = nil
		}
	}
	s.initFastPath()
	s.parts.m = make(map[string]*partial)
	var pe *fs.PathError
	if _, err := root.Lstat(".."); errors.As(err, &pe) && !errors.As(pe.Err, new(syscall.Errno)) {
		s.escapes = pe.Err
	}
	s.sweep(time.Now())
	return s, nil
}

// Close releases the folder. Files returned by Open stay readable. The
// bytes held for resumable uploads stay on disk: the next Store opened on
// the folder (a restart) goes on with them, until PartialTTL after their
// last piece.
func (s *Store) Close() error {
	s.closeParts()
	if s.proc != nil {
		s.proc.Close()
	}
	s.top.Close()
	return s.root.Close()
}

// folderName is the last element of dir's absolute path, "files" for "/".
func folderName(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if b := filepath.Base(dir); b != "/" && b != "." && b != string(filepath.Separator) {
		return b
	}
	return "files"
}

// Config returns the configuration with defaults applied.
func (s *Store) Config() Config { return s.cfg }

// Clean checks a name lexically and normalises it. It accepts "docs/a.md",
// "/docs/a.md", "docs/" and "" (the root) and returns "." for the root, else
// a slash path without leading or trailing slash; "." elements are dropped.
// It returns an error wrapping ErrBadPath for a name no file can have (NUL,
// backslash, control characters, bidirectional controls, invalid UTF-8, "..", "//" or an empty
// element, an element over 255 bytes or a name over 4096), and one wrapping
// fs.ErrNotExist for hidden names (any element starting with "." unless
// ShowHidden; temp files always) and reserved ones: "_" and everything
// under "_/" (the page's assets and endpoints), and "ws" (the WebSocket).
// Clean touches no file; it does not allocate for a name already clean.
func (s *Store) Clean(name string) (string, error) {
	if len(name) > maxPath {
		return "", fmt.Errorf("files: name of %d bytes: %w", len(name), ErrBadPath)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("files: %q is not UTF-8: %w", name, ErrBadPath)
	}
	for _, r := range name {
		if r == '\\' || refusedRune(r) {
			return "", fmt.Errorf("files: %q has %U: %w", name, r, ErrBadPath)
		}
	}
	p := strings.TrimPrefix(name, "/")
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("files: %q is absolute: %w", name, ErrBadPath)
	}
	p = strings.TrimSuffix(p, "/")
	if p == "" || p == "." {
		return ".", nil
	}
	dots, hidden := false, false
	for elem := range strings.SplitSeq(p, "/") {
		switch {
		case elem == "" || elem == "..":
			return "", fmt.Errorf("files: %q has element %q: %w", name, elem, ErrBadPath)
		case len(elem) > maxElem:
			return "", fmt.Errorf("files: %q has an element of %d bytes: %w", name, len(elem), ErrBadPath)
		case elem == ".":
			dots = true
		case s.hidden(elem):
			hidden = true // reported after the whole name passed the 400 checks
		}
	}
	if hidden {
		return "", fmt.Errorf("files: %q is hidden: %w", name, fs.ErrNotExist)
	}
	if dots {
		p = dropDots(p)
	}
	if p == "" {
		return ".", nil
	}
	if first, _, _ := strings.Cut(p, "/"); first == "_" || p == "ws" {
		return "", fmt.Errorf("files: %q is reserved: %w", name, fs.ErrNotExist)
	}
	return p, nil
}

// hidden reports whether a name element is not served.
func (s *Store) hidden(elem string) bool {
	return strings.HasPrefix(elem, tempPrefix) || (!s.cfg.ShowHidden && strings.HasPrefix(elem, ".") && elem != ".")
}

// dropDots removes "." elements from a path whose other elements are valid.
func dropDots(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for elem := range strings.SplitSeq(p, "/") {
		if elem == "." {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(elem)
	}
	return b.String()
}

// Stat describes a regular file or folder. Anything else (a FIFO, socket or
// device) does not exist as far as the Store is concerned, and neither does
// a name that resolves to a hidden one through a symlink.
func (s *Store) Stat(name string) (Info, error) {
	p, err := s.Clean(name)
	if err != nil {
		return Info{}, err
	}
	f, fi, err := s.openChecked(p)
	if err != nil {
		return Info{}, err
	}
	f.Close()
	return s.info(p, fi), nil
}

// openChecked opens the clean path p for reading, without ever blocking,
// and returns it with its fstat when it is a regular file or a folder that
// does not resolve to a hidden name; anything else is fs.ErrNotExist.
// One open, one fstat and one check of what was opened: no window for a
// file or link swapped between a check and the open.
func (s *Store) openChecked(p string) (*os.File, fs.FileInfo, error) {
	f, slow, err := s.open(p, os.O_RDONLY|oNonblock|oNoctty)
	if err != nil {
		return nil, nil, s.fsErr("open", p, err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		err = s.fsErr("stat", p, err)
	case !fi.IsDir() && !fi.Mode().IsRegular():
		err = fmt.Errorf("files: open %q: not a regular file: %w", p, fs.ErrNotExist)
	case slow:
		_, err = s.checkOpened(f, p)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// open opens the clean path p for reading with flag: in one system call
// when no symlink is on the way (openat2_linux.go), else through the root,
// and then slow is true: what was opened must still be checked
// (checkOpened), since a link may have led to a hidden name.
func (s *Store) open(p string, flag int) (f *os.File, slow bool, err error) {
	f, err = s.openNoLinks(p, flag)
	if errors.Is(err, errLinks) || errors.Is(err, errNoFastPath) {
		f, err = s.root.OpenFile(p, flag, 0)
		slow = true
	}
	return f, slow, err
}

// List returns the entries of a folder, folders first, then by name.
// Entries Clean would refuse are left out (hidden, temp and reserved names,
// names with control characters), and so are symlinks that are broken,
// leave the folder or lead to a hidden name, and anything that is neither a
// regular file nor a folder. A name that is a file gives fs.ErrNotExist.
func (s *Store) List(name string) ([]Info, error) {
	p, err := s.Clean(name)
	if err != nil {
		return nil, err
	}
	_, out, err := s.readDir(p)
	return out, err
}

// listGated is List, calling gate once the folder turns out to hold more
// than big entries, before it reads more of them: a large listing waits
// for its turn holding a few entries, not the whole folder. release is
// gate's (nil when gate was not called), for the caller to call once done
// with the entries; an error from gate ends the listing.
func (s *Store) listGated(name string, big int, gate func() (release func(), err error)) (_ []Info, release func(), _ error) {
	p, err := s.Clean(name)
	if err != nil {
		return nil, nil, err
	}
	_, out, release, err := s.readDirGated(p, big, gate)
	return out, release, err
}

// readDir lists the clean path p as List does, and returns the folder's
// own FileInfo too (the zip walk needs it to see loops).
func (s *Store) readDir(p string) (fs.FileInfo, []Info, error) {
	fi, out, _, err := s.readDirGated(p, 0, nil)
	return fi, out, err
}

// readBatch is how many entries a listing reads from the folder at once.
const readBatch = 512

// readDirGated is readDir, with listGated's gate.
func (s *Store) readDirGated(p string, big int, gate func() (func(), error)) (_ fs.FileInfo, _ []Info, release func(), err error) {
	defer func() {
		if err != nil && release != nil {
			release()
			release = nil
		}
	}()
	// O_DIRECTORY: a FIFO, socket or file fails at once with ENOTDIR (404)
	// instead of opening, which for a FIFO waits for a writer.
	f, slow, err := s.open(p, os.O_RDONLY|oDirectory|oNonblock)
	if err != nil {
		return nil, nil, nil, s.fsErr("list", p, err)
	}
	defer f.Close()
	dfi, err := f.Stat()
	if err != nil {
		return nil, nil, nil, s.fsErr("list", p, err)
	}
	if !dfi.IsDir() { // where there is no O_DIRECTORY
		return nil, nil, nil, fmt.Errorf("files: list %q: not a folder: %w", p, fs.ErrNotExist)
	}
	rel := p
	if slow {
		if rel, err = s.checkOpened(f, p); err != nil {
			return nil, nil, nil, err
		}
	}
	var out []Info
	for {
		ents, rerr := f.ReadDir(readBatch)
		if rerr != nil && rerr != io.EOF {
			return nil, nil, release, s.fsErr("list", p, rerr)
		}
		if gate != nil && release == nil && len(out)+len(ents) > big {
			if release, err = gate(); err != nil {
				release = nil
				return nil, nil, nil, err
			}
		}
		out = s.appendInfos(out, p, rel, ents)
		if rerr == io.EOF || len(ents) == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b Info) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return dfi, out, release, nil
}

// appendInfos appends to out the Infos of the entries ents of the folder
// p (its real path rel) that List shows.
func (s *Store) appendInfos(out []Info, p, rel string, ents []fs.DirEntry) []Info {
	for _, e := range ents {
		child := path.Join(p, e.Name())
		if _, err := s.Clean(child); err != nil {
			continue
		}
		var fi fs.FileInfo
		var err error
		if e.Type()&fs.ModeSymlink != 0 {
			// Where the link leads, from the folder as it really is: what
			// a GET of it would open, and refuse if hidden.
			var to string
			to, fi, err = s.resolve(path.Join(rel, e.Name()))
			if err == nil && s.hiddenRel(to) {
				continue
			}
		} else {
			fi, err = e.Info()
		}
		if err != nil || (!fi.IsDir() && !fi.Mode().IsRegular()) {
			continue
		}
		in := s.info(child, fi)
		in.Link = e.Type()&fs.ModeSymlink != 0
		out = append(out, in)
	}
	return out
}

// Open opens a regular file for reading; a folder gives ErrIsDir, and
// anything else that is not a regular file (FIFO, socket, device)
// fs.ErrNotExist, as does a name that resolves to a hidden one through a
// symlink. It opens with O_NONBLOCK, so that opening a FIFO returns at once
// instead of waiting for a writer, then checks what it opened: its fstat
// and, when a symlink was on the way, its real path (resolve.go). No window
// for a file or link swapped between a check and the open. On Linux a path
// without links takes one openat2(2) and one fstat(2), fewer system calls
// than http.FileServer. O_NONBLOCK has no effect on reading regular files.
func (s *Store) Open(name string) (*os.File, Info, error) {
	p, err := s.Clean(name)
	if err != nil {
		return nil, Info{}, err
	}
	f, fi, err := s.openChecked(p)
	if err != nil {
		return nil, Info{}, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, s.info(p, fi), fmt.Errorf("files: open %q: %w", p, ErrIsDir)
	}
	return f, s.info(p, fi), nil
}

// Put stores the bytes of r under name, atomically: readers see the old
// file or the whole new one, never a part. The bytes go to a temp file in
// the destination folder, are synced, and the temp file is then renamed
// (overwrite) or hard-linked (no overwrite) to the final name; on any error,
// a reader failing mid-body included, the temp file is removed.
//
// The parent folder must exist (fs.ErrNotExist otherwise): Put never creates
// folders, so a refused or broken upload leaves nothing behind.
// Without overwrite an existing name gives ErrExists, checked before reading
// r and again, atomically, by link(2), which never replaces a file created
// meanwhile. Where the filesystem has no hard links Put falls back to a
// check then rename, which can replace a file created in between.
// With overwrite, two concurrent uploads leave one of the two bodies whole;
// Created is then a best guess, racing with the other upload.
// r is read up to Config.MaxUpload bytes; more gives ErrTooLarge.
func (s *Store) Put(name string, r io.Reader, overwrite bool) (PutResult, error) {
	return s.put(name, r, overwrite, nil)
}

// put is Put, calling began (when not nil) with the clean path once the
// checks passed and the temp file exists, before the first byte is read.
func (s *Store) put(name string, r io.Reader, overwrite bool, began beganFunc) (PutResult, error) {
	t, err := s.putTarget(name, overwrite)
	if err != nil {
		return PutResult{}, err
	}
	return s.write(t, r, overwrite, s.cfg.MaxUpload, began)
}

// PutNew stores the bytes of r as a new file, name, in the folder dir: the
// door of uploads that Config.Uploads does not govern (a drop link). It is
// Put without overwrite, and stricter about the name:
//
//   - name is one plain element, not a path: no "/", no backslash, no
//     control character, valid UTF-8, at most 255 bytes, neither "." nor
//     "..", not a dotfile (whatever Config.ShowHidden says) and not a temp
//     name. Anything else is ErrBadPath, before dir is looked at.
//   - dir is checked as every other path (Clean), and must resolve, symlinks
//     followed, to a folder that is neither hidden nor outside the folder.
//   - an existing name is ErrExists (never replaced, even by an upload
//     racing this one: the final step is link(2)); a read-only Store
//     refuses with ErrForbidden.
//
// limit bounds the bytes read from r (more gives ErrTooLarge); a negative
// limit, or one over Config.MaxUpload, means Config.MaxUpload. began, when not nil,
// is called with the clean path once the checks passed, before the first
// byte is read.
func (s *Store) PutNew(dir, name string, r io.Reader, limit int64, began func(p string)) (PutResult, error) {
	if s.cfg.ReadOnly {
		return PutResult{}, fmt.Errorf("files: put %q in %q: read-only: %w", name, dir, ErrForbidden)
	}
	if err := ValidName(name); err != nil {
		return PutResult{}, err
	}
	d, err := s.Clean(dir)
	if err != nil {
		return PutResult{}, err
	}
	t, err := s.targetOf(path.Join(d, name))
	if errors.Is(err, errFolderName) || errors.Is(err, errHiddenLink) {
		// The name is taken, by a folder or a link: for a door that never
		// replaces anything and lists nothing, the same answer as a file
		// there (409).
		return PutResult{}, fmt.Errorf("files: put %q in %q: a folder: %w", name, dir, ErrExists)
	}
	if err != nil {
		return PutResult{}, err
	}
	if t.existed {
		t.dir.Close()
		return PutResult{}, fmt.Errorf("files: put %q: %w", t.p, ErrExists)
	}
	if limit < 0 || limit > s.cfg.MaxUpload {
		limit = s.cfg.MaxUpload
	}
	var b beganFunc
	if began != nil {
		b = func(p string, _ func() (*os.File, error)) func(int64) {
			began(p)
			return nil
		}
	}
	return s.write(t, r, false, limit, b)
}

// ValidName tells whether PutNew takes name (nil), or why not (an error
// wrapping ErrBadPath): one element, not hidden, not a temp name, nothing
// Clean would refuse, nothing CheckVisible refuses. It touches no file, so a caller can refuse a bad
// name before it reserves anything for the upload.
func ValidName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("files: name %q: %w", name, ErrBadPath)
	case len(name) > maxElem:
		return fmt.Errorf("files: a name of %d bytes: %w", len(name), ErrBadPath)
	case !utf8.ValidString(name):
		return fmt.Errorf("files: name %q is not UTF-8: %w", name, ErrBadPath)
	case strings.HasPrefix(name, "."): // a dotfile, or a temp name
		return fmt.Errorf("files: name %q is hidden: %w", name, ErrBadPath)
	}
	for _, r := range name {
		if r == '/' || r == '\\' {
			return fmt.Errorf("files: name %q has %U: %w", name, r, ErrBadPath)
		}
	}
	return CheckVisible(name)
}

// refusedRune reports whether no name may hold r: a control character
// (NUL, DEL, C1 included), or a bidirectional control, which makes a name
// read as another: "invoice\u202efdp.exe" shows as "invoiceexe.pdf".
func refusedRune(r rune) bool {
	// None of the bidirectional controls is below U+061C: an ASCII name
	// never looks in the table.
	return unicode.IsControl(r) || r >= 0x61c && unicode.Is(unicode.Bidi_Control, r)
}

// write receives r into a temp file in t's folder, at most limit bytes,
// and moves it to t's name; it closes t's folder.
func (s *Store) write(t target, r io.Reader, overwrite bool, limit int64, began beganFunc) (res PutResult, err error) {
	defer t.dir.Close()
	p := t.p
	// O_EXCL: never an existing file, nor a symlink planted under the name.
	tmp := tempPrefix + rand.Text()
	f, err := t.dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return res, s.fsErr("put", p, err)
	}
	closed := false
	defer func() {
		if err == nil {
			return
		}
		if !closed {
			f.Close()
		}
		s.removeTemp(t.dir, tmp)
	}()
	var wrote func(int64)
	if began != nil {
		wrote = began(p, func() (*os.File, error) { return t.dir.OpenFile(tmp, os.O_RDONLY, 0) })
	}

	h := sha256.New()
	src := &readErr{r: io.LimitReader(r, limit+1)}
	dst := io.MultiWriter(f, h)
	if wrote != nil {
		dst = &tellWriter{w: dst, wrote: wrote}
	}
	n, err := s.copyBuffered(dst, src, wrote != nil)
	if err != nil {
		return res, s.receiveErr(p, src, err)
	}
	if n > limit {
		return res, fmt.Errorf("files: put %q: over %d bytes: %w", p, limit, ErrTooLarge)
	}
	if err = f.Sync(); err != nil {
		return res, fmt.Errorf("files: put %q: sync: %w", p, err)
	}
	closed = true
	if err = f.Close(); err != nil {
		return res, fmt.Errorf("files: put %q: close: %w", p, err)
	}
	if err = s.commit(t, tmp, overwrite); err != nil {
		return res, err
	}
	return PutResult{Path: p, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Created: !overwrite || !t.existed}, nil
}

// beganFunc is told, once an upload's temp file exists and before a byte
// is read, the clean path and a way to open the temp file for reading
// (valid during the call only). It may return a func told the bytes
// written so far after each write to the temp file.
type beganFunc func(p string, openTemp func() (*os.File, error)) (wrote func(total int64))

// tellWriter tells wrote the bytes written through it so far.
type tellWriter struct {
	w     io.Writer
	n     int64
	wrote func(int64)
}

func (t *tellWriter) Write(b []byte) (int, error) {
	n, err := t.w.Write(b)
	t.n += int64(n)
	if n > 0 {
		t.wrote(t.n)
	}
	return n, err
}

// target is where an upload goes, checked.
type target struct {
	p       string  // clean path
	base    string  // its last element: its name in dir
	dir     *folder // its folder, checked and held open; the caller closes it
	existed bool    // a file is there now
}

// target checks an upload to name, or a question about one, before a byte
// is read: uploads on, a name Clean accepts, a folder that exists and does
// not resolve to a hidden one, and a last element that is not a folder (403)
// nor a FIFO, socket or device, nor a link to a hidden name (404: a link to
// .env is .env). Any other link there is replaced by an upload with
// overwrite, never written through.
func (s *Store) target(name string) (target, error) {
	if !s.cfg.Uploads || s.cfg.ReadOnly {
		return target{}, fmt.Errorf("files: put %q: uploads are off: %w", name, ErrForbidden)
	}
	return s.targetOf(name)
}

// targetOf is target whatever Config.Uploads says.
func (s *Store) targetOf(name string) (target, error) {
	if strings.HasSuffix(name, "/") {
		return target{}, fmt.Errorf("files: put %q: a folder name: %w", name, ErrBadPath)
	}
	p, err := s.Clean(name)
	if err != nil {
		return target{}, err
	}
	if p == "." {
		return target{}, fmt.Errorf("files: put to the root folder: %w", ErrForbidden)
	}
	if err := CheckVisible(path.Base(p)); err != nil {
		return target{}, err
	}
	dir, err := s.openFolder(path.Dir(p))
	if err != nil {
		return target{}, err
	}
	t := target{p: p, base: path.Base(p), dir: dir}
	fi, err := dir.Lstat(t.base)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return t, nil
	case err != nil:
		dir.Close()
		return target{}, s.fsErr("put", p, err)
	}
	switch typ := fi.Mode().Type(); {
	case typ.IsDir():
		err = fmt.Errorf("files: put %q: %w", p, errFolderName)
	case typ&fs.ModeSymlink != 0:
		// A link is what GET makes of it. One GET hides (it escapes the
		// folder, is broken or a loop, or leads to a hidden name or to
		// something not a file) is refused as a hidden name is, with or
		// without overwrite, and left alone: no 200 that replaces a link
		// GET calls missing, no 409 that reveals a name GET hides.
		to, tfi, rerr := s.resolve(path.Join(dir.rel, t.base))
		switch {
		case rerr != nil, s.hiddenRel(to):
			err = fmt.Errorf("files: put %q: %w", p, errHiddenLink)
		case tfi.IsDir():
			err = fmt.Errorf("files: put %q: %w", p, errFolderName)
		case !tfi.Mode().IsRegular():
			err = fmt.Errorf("files: put %q: %w", p, errHiddenLink)
		}
	case !typ.IsRegular():
		// A FIFO, socket or device does not exist as far as the Store
		// is concerned, and it is not the Store's to replace.
		err = fmt.Errorf("files: put %q: not a regular file: %w", p, fs.ErrNotExist)
	}
	if err != nil {
		dir.Close()
		return target{}, err
	}
	t.existed = true
	return t, nil
}

// errHiddenLink is an upload to the name of a link that GET hides: refused
// by PUT as a hidden name is (404), taken (409) for PutNew, whose guests
// see no folder to compare with.
var errHiddenLink = fmt.Errorf("a link to nothing served: %w", errHiddenTarget)

// errFolderName is an upload to a folder's name: refused (403) by PUT,
// taken (409) for PutNew.
var errFolderName = fmt.Errorf("a folder: %w", ErrForbidden)

// putTarget is target, refusing an existing name without overwrite.
func (s *Store) putTarget(name string, overwrite bool) (target, error) {
	t, err := s.target(name)
	if err == nil && t.existed && !overwrite {
		t.dir.Close()
		return target{}, fmt.Errorf("files: put %q: %w", t.p, ErrExists)
	}
	return t, err
}

// copyChunks copies src to dst in writes of copyBuf bytes (the last may be
// shorter). Whatever was read before src failed is written before the error
// is returned, so a resumable upload keeps every byte that arrived.
func (s *Store) copyChunks(dst io.Writer, src io.Reader) (int64, error) {
	return s.copyBuffered(dst, src, false)
}

// copyBuffered is copyChunks; eager writes what each read returned at
// once, for an upload the room follows as it arrives (a slow uploader's
// bytes must not wait for 256 KiB to gather).
func (s *Store) copyBuffered(dst io.Writer, src io.Reader, eager bool) (int64, error) {
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, copyBuf)
		bp = &b
	}
	defer s.bufs.Put(bp)
	buf := *bp
	var written int64
	for {
		n := 0
		var rerr error
		for n < len(buf) && rerr == nil {
			var m int
			m, rerr = src.Read(buf[n:])
			n += m
			if eager && n > 0 {
				break
			}
		}
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			written += int64(w)
			if werr != nil {
				return written, werr
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}

// readErr remembers the error of the reader it wraps, so that a failed copy
// can tell the client's fault (a body cut off or too large) from the
// server's (a full disk).
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// receiveErr classifies a failed copy of an upload's body.
func (s *Store) receiveErr(p string, src *readErr, err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case src.err == nil: // the write side failed
		return fmt.Errorf("files: put %q: writing: %w", p, err)
	case errors.As(src.err, &tooBig):
		return fmt.Errorf("files: put %q: over %d bytes: %w", p, tooBig.Limit, ErrTooLarge)
	}
	return fmt.Errorf("files: put %q: receiving: %w (%w)", p, ErrIncomplete, src.err)
}

// removeTemp removes a temp file, logging a failure: the next Open sweeps it.
func (s *Store) removeTemp(dir *folder, tmp string) {
	if err := dir.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("files: removing temp file", "path", path.Join(dir.rel, tmp), "err", err)
	}
}

// commit moves a finished temp file, in t's folder, to t's name.
func (s *Store) commit(t target, tmp string, overwrite bool) error {
	// The folder is held open, and its temp file with it: renamed or
	// removed while the body arrived, it would take the file somewhere
	// else than t.p (its new name, a hidden folder, outside the served
	// folder). Gone from its path, it is refused as a folder that is gone.
	here, err := t.dir.Stat(".")
	if err == nil {
		var there fs.FileInfo
		if there, err = s.root.Lstat(t.dir.rel); err == nil && !os.SameFile(here, there) {
			err = fs.ErrNotExist
		}
	}
	if err != nil {
		return fmt.Errorf("files: put %q: its folder moved or went away: %w", t.p, errors.Join(fs.ErrNotExist, err))
	}
	if overwrite {
		if err := t.dir.Rename(tmp, t.base); err != nil {
			return s.fsErr("put", t.p, err)
		}
		return nil
	}
	err = t.dir.Link(tmp, t.base)
	switch {
	case err == nil:
		if err := t.dir.Remove(tmp); err != nil {
			// The upload is complete; the next Open sweeps the leftover.
			s.log.Warn("files: removing linked temp file", "path", path.Join(t.dir.rel, tmp), "err", err)
		}
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("files: put %q: %w", t.p, ErrExists)
	}
	s.log.Debug("files: no hard links, falling back to rename", "path", t.p, "err", err)
	if _, err := t.dir.Lstat(t.base); err == nil {
		return fmt.Errorf("files: put %q: %w", t.p, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return s.fsErr("put", t.p, err)
	}
	if err := t.dir.Rename(tmp, t.base); err != nil {
		return s.fsErr("put", t.p, err)
	}
	return nil
}

// sweep removes temp files older than staleTemp, and the resumable uploads
// that waited PartialTTL; it loads the others into the registry, to go on
// with (partfile.go). Errors are logged, not returned: a folder we cannot
// read is no reason to refuse to serve.
//
// It walks without following symlinks and opens nothing but folders, with
// O_DIRECTORY: files are judged by their directory entry and lstat, so a
// FIFO, socket or device in the folder (or swapped in for a folder while
// the walk runs) can never make Open wait.
func (s *Store) sweep(now time.Time) {
	removed := 0
	var walk func(p string, want fs.FileInfo)
	walk = func(p string, want fs.FileInfo) {
		f, err := s.root.OpenFile(p, os.O_RDONLY|oDirectory|oNonblock, 0)
		if err != nil {
			s.log.Debug("files: sweep", "path", p, "err", err)
			return
		}
		fi, err := f.Stat()
		if err != nil || !fi.IsDir() || (want != nil && !os.SameFile(fi, want)) {
			// Swapped for something else (a link, say) since it was listed:
			// not followed, so the walk never loops.
			f.Close()
			return
		}
		ents, err := f.ReadDir(-1)
		f.Close()
		if err != nil {
			s.log.Debug("files: sweep", "path", p, "err", err)
		}
		for _, e := range ents {
			name := e.Name()
			child := path.Join(p, name)
			switch {
			case e.IsDir():
				if strings.HasPrefix(name, ".") && !s.cfg.ShowHidden {
					continue // uploads cannot reach it
				}
				if fi, err := e.Info(); err == nil {
					walk(child, fi)
				}
			case !e.Type().IsRegular() || !strings.HasPrefix(name, tempPrefix):
			case isPart(name):
				s.sweepPart(p, name, e, now)
			default:
				fi, err := e.Info()
				if err != nil || now.Sub(fi.ModTime()) < staleTemp {
					continue
				}
				if err := s.root.Remove(child); err != nil {
					s.log.Warn("files: removing stale temp file", "path", child, "err", err)
					continue
				}
				removed++
			}
		}
	}
	walk(".", nil)
	if removed > 0 {
		s.log.Info("files: removed stale temp files", "count", removed)
	}
	s.loadedParts()
}

// info builds the Info of a clean path.
func (s *Store) info(p string, fi fs.FileInfo) Info {
	in := Info{Path: p, Name: path.Base(p), Dir: fi.IsDir(), Modified: fi.ModTime().UTC()}
	if p == "." {
		in.Name = ""
	}
	if in.Dir {
		in.Type = dirType
	} else {
		in.Size = fi.Size()
		in.Type = ContentType(in.Name)
	}
	return in
}

// fsErr classifies an error from the root. A symlink leaving the folder, a
// symlink loop, a file used as a folder and a socket all become
// fs.ErrNotExist: to a client they are simply not there, and a 5xx would
// invite probing.
func (s *Store) fsErr(op, p string, err error) error {
	switch {
	case s.escapes != nil && errors.Is(err, s.escapes),
		errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP),
		errors.Is(err, syscall.ENXIO): // open(2) of a socket, or of a FIFO to write with no reader
		return fmt.Errorf("files: %s %q: %w (%w)", op, p, fs.ErrNotExist, err)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return fmt.Errorf("files: %s %q: %w (%w)", op, p, ErrBadPath, err)
	}
	return fmt.Errorf("files: %s %q: %w", op, p, err)
}
