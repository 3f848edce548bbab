// Package watch tells the rooms what changes in the served folder, whoever
// changes it: an upload, a shell, a sync tool, a compiler, another node of
// a cluster writing to a shared volume. Each change becomes a vocab.Change
// (add, change or remove of a path) given to a callback, hub.FolderChanged
// in package server.
//
// The folder is watched with inotify (through fsnotify), one watch per
// folder, new folders included, up to Config.Limit folders; past it, or
// where inotify is missing or out of watches, the watcher falls back to
// rescanning the whole tree every Config.Interval, and says so once in the
// log. On a network file system (NFS, SMB, FUSE…) inotify sees only this
// machine's writes, so the rescan runs beside it there.
//
// What is announced is decided by the files.Store's own rules, never by
// the watcher's: a path is announced when Store.Stat (or Store.List) shows
// it, so dotfiles, hidden folders, temp files of uploads in progress,
// reserved names, FIFOs and symlinks that lead out of the folder or to a
// hidden name are never announced, and a path that stops being visible is
// a remove only if it was visible before.
//
// Events are coalesced per path: a path settles Config.Quiet after its
// last event, or Config.MaxDelay after its first, so a file written in a
// thousand pieces is announced once or twice, not a thousand times, and
// what settles together (200 files copied at once) goes to the rooms in
// one call.
//
// Symlinked folders are listed but neither watched nor walked: a link loop
// cannot make the watcher loop, and what changes behind a link to a folder
// inside the tree is announced under its real path.
package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"filehub/files"
	"filehub/vocab"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	// defaultLimit is Config.Limit's default: well under the smallest
	// fs.inotify.max_user_watches a Linux kernel defaults to (8,192; newer
	// kernels allow more on machines with more memory), which every
	// program of the user shares (editors, IDEs, sync clients).
	defaultLimit = 4096
	// defaultInterval is Config.Interval's default: a change on a network
	// volume shows within a few seconds, and a rescan of 10,000 files
	// costs about 40 ms of CPU (BENCHMARKS.md), about 1% of a core.
	defaultInterval = 3 * time.Second
	// defaultQuiet is Config.Quiet's default: long enough that a program
	// writing a file in pieces (cp's 128 KiB writes, a compiler's output)
	// is done before it settles, short enough to feel immediate.
	defaultQuiet = 150 * time.Millisecond
	// defaultMaxDelay is Config.MaxDelay's default: a file written without
	// pause (a log, a download) is still announced about every second.
	defaultMaxDelay = time.Second
	// maxDenied bounds Watcher.denied: about a megabyte of paths.
	maxDenied = 10000
	// maxLinks bounds Watcher.links: a stat of each after every pass that
	// changed something costs a few milliseconds at most.
	maxLinks = 1000
)

// Config configures a Watcher. The zero value watches with the defaults.
type Config struct {
	// Limit is how many folders are watched with inotify at most (the
	// folder itself counts); a tree with more is rescanned every Interval
	// instead, entirely, until a rescan finds it a tenth under Limit
	// again, when inotify takes over again. Defaults to 4096.
	Limit int
	// Interval is the time between two rescans of the whole tree, when the
	// watcher rescans (past Limit, without inotify, on a network file
	// system); each starts Interval after the previous one ended. Defaults
	// to 3 s.
	Interval time.Duration
	// Quiet is how long a path must go without events before it is
	// announced, and MaxDelay how long after its first event it is
	// announced anyway. Either may come up to a fifth of Quiet early, so
	// that paths due within that window settle together, in one call of
	// notify. Default to 150 ms and 1 s.
	Quiet, MaxDelay time.Duration
	// Baseline, when not nil, is given the tree as Start's first walk
	// found it, as adds (a folder before what is in it), before Start
	// returns and before notify hears of any change: what an index of the
	// folder starts from, so that it is exactly what the changes that
	// follow apply to. Defaults to nil.
	Baseline func(...vocab.Change)
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Metrics defaults to collectors registered nowhere.
	Metrics *Metrics
}

// Metrics are the watcher's Prometheus collectors.
type Metrics struct {
	Events  prometheus.Counter     // inotify events received
	Changes *prometheus.CounterVec // by op
	Rescans prometheus.Counter
	Folders prometheus.Gauge // watched with inotify now
}

// NewMetrics builds the collectors and registers them with reg; a nil reg
// leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "filehub", Name: "watch_events_total",
			Help: "File system events received from inotify, before they are coalesced into changes."}),
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "filehub", Name: "watch_changes_total",
			Help: "Changes to the served folder announced to the rooms, by op (add, change, remove)."}, []string{"op"}),
		Rescans: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "filehub", Name: "watch_rescans_total",
			Help: "Rescans of the whole served folder (periodic ones, and those after an inotify queue overflow)."}),
		Folders: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "filehub", Name: "watch_folders",
			Help: "Folders watched with inotify now (0: rescanning only)."}),
	}
	if reg != nil {
		reg.MustRegister(m.Events, m.Changes, m.Rescans, m.Folders)
	}
	return m
}

// Watcher watches one folder. Start starts it; Close stops it.
//
// One goroutine, run, owns everything below stop: the inotify watcher, the
// snapshot of the tree and the pending paths. Start fills them before that
// goroutine exists, and nothing else touches them.
type Watcher struct {
	dir    string // the folder, absolute, in the OS's spelling
	prefix string // dir with a trailing separator: events' names start with it
	store  *files.Store
	stat   func(p string) (files.Info, error) // store.Stat; a test's stands for the kernel's permission checks, which root skips
	notify func(...vocab.Change)
	cfg    Config
	log    *slog.Logger
	m      *Metrics

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when run returns
	closeOnce sync.Once

	fsw       *fsnotify.Watcher // nil: rescanning only
	watched   int               // folders with an inotify watch
	rescan    bool              // rescan every Interval
	netFS     bool              // on a network file system: rescan even with inotify
	overLimit bool              // fell back because the tree outgrew Limit: inotify again once it is back under
	scanning  bool              // in a rescan: every folder is listed again
	quiet     bool              // the first walk: nothing is announced
	dirs      map[string]*folder
	pend      *pending
	// denied holds the paths whose events could not be settled because a
	// folder above them could not be searched (chmod 000): nothing will
	// tell of them again, so they are settled again when a folder above
	// them changes (its permissions given back). At most maxDenied; past
	// it, deniedLost says that some were forgotten, and the next change of
	// a folder rescans the whole tree instead.
	denied     map[string]bool
	deniedLost bool
	out        []vocab.Change // this pass's changes, given to notify at its end
	// links holds the visible entries that are symlinks (at most
	// maxLinks): what they show is their target's, which changes or goes
	// with no event of theirs, so they are settled again after every
	// pass that changed something.
	links     map[string]bool
	linksLost bool // more than maxLinks: the others are found by rescans only
}

// folder is what the watcher last saw of a folder that it walked (a real
// folder, not a link to one): its visible entries, by name.
type folder struct {
	entries map[string]entry
	watched bool
}

// entry is a visible file or folder as last seen. Folders' times are kept
// but never announced: a folder's time changes with every file added to
// it, and those files are announced themselves.
type entry struct {
	dir  bool
	size int64
	mod  int64 // Unix nanoseconds: a third of a time.Time, per file of the tree
}

// Start walks the folder dir, which store serves, watching each folder,
// and then announces every change to notify, from its own goroutine, until
// Close. notify receives the changes settled together in one call, and
// must not keep the slice. What is in the folder when Start returns is
// the starting point: it is not announced.
//
// Start fails only when the folder cannot be listed. Without inotify (a
// system without it, or out of inotify instances) it rescans instead.
func Start(dir string, store *files.Store, notify func(...vocab.Change), cfg Config) (*Watcher, error) {
	w, err := newWatcher(dir, store, notify, cfg)
	if err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

// newWatcher is Start without the goroutine: the watcher, walked.
func newWatcher(dir string, store *files.Store, notify func(...vocab.Change), cfg Config) (*Watcher, error) {
	if cfg.Limit <= 0 {
		cfg.Limit = defaultLimit
	}
	if cfg.Interval <= 0 {
		cfg.Interval = defaultInterval
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = defaultQuiet
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = defaultMaxDelay
	}
	if cfg.MaxDelay < cfg.Quiet {
		cfg.MaxDelay = cfg.Quiet
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &Watcher{
		dir: abs, prefix: strings.TrimSuffix(abs, string(filepath.Separator)) + string(filepath.Separator), store: store, notify: notify, cfg: cfg, log: cfg.Logger, m: cfg.Metrics,
		stop: make(chan struct{}), done: make(chan struct{}),
		dirs: make(map[string]*folder), pend: newPending(cfg.Quiet, cfg.MaxDelay), denied: make(map[string]bool),
		links: make(map[string]bool),
	}
	w.stat = store.Stat
	if _, err := store.List("."); err != nil {
		return nil, fmt.Errorf("watch: listing the folder: %w", err)
	}
	began := time.Now()
	if w.fsw, err = fsnotify.NewWatcher(); err != nil {
		w.fallBack(fmt.Sprintf("inotify is unavailable (%v)", err))
	}
	if name := netFS(abs); name != "" {
		w.rescan, w.netFS = true, true
		w.log.Info("network file system: changes made by other machines show at the next rescan",
			"fs", name, "interval", cfg.Interval)
	}
	w.quiet = true
	w.adopt(".")
	w.quiet = false
	if cfg.Baseline != nil {
		cfg.Baseline(w.out...)
	}
	w.out = nil
	nfiles := 0
	for _, f := range w.dirs {
		nfiles += len(f.entries)
	}
	mode := "inotify"
	switch {
	case w.fsw == nil:
		mode = "rescan"
	case w.rescan:
		mode = "inotify+rescan"
	}
	w.log.Info("watching the folder", "mode", mode, "folders", len(w.dirs), "entries", nfiles,
		"watched", w.watched, "took", time.Since(began).Round(time.Millisecond))
	return w, nil
}

// Close stops the watcher and waits for its goroutine. Nothing is
// announced once it returns. It may be called more than once.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() { close(w.stop) })
	<-w.done
	return nil
}

func (w *Watcher) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// run is the watcher's goroutine: it takes inotify's events in, settles
// the paths that are due, and rescans when it must, until Close.
func (w *Watcher) run() {
	defer close(w.done)
	defer func() {
		if w.fsw != nil {
			w.fsw.Close()
		}
	}()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	armed := false // settle is set for the earliest pending path, or earlier
	rescan := time.NewTimer(w.cfg.Interval)
	defer rescan.Stop()
	if !w.rescan {
		rescan.Stop()
	}
	rescanning := w.rescan
	for {
		var events <-chan fsnotify.Event
		var errs <-chan error
		if w.fsw != nil {
			events, errs = w.fsw.Events, w.fsw.Errors
		}
		select {
		case <-w.stop:
			return
		case ev, ok := <-events:
			if !ok {
				// Only closing it does that, and fallBack, which closes it,
				// also forgets it: should fsnotify ever stop on its own,
				// the rooms are not left without news.
				w.fallBack("inotify stopped")
				break
			}
			w.event(ev)
			// A new path is due no sooner than those waiting, so a set
			// timer stays right; an idle one is set for this path.
			if !armed && w.pend.len() > 0 {
				settle.Reset(w.cfg.Quiet)
				armed = true
			}
		case err, ok := <-errs:
			if !ok {
				w.fallBack("inotify stopped")
				break
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// The kernel dropped events: which paths they were is lost,
				// so the whole tree is compared with what was last seen.
				w.log.Warn("inotify queue overflow; rescanning the folder (fs.inotify.max_queued_events)")
				w.rescanAll()
			} else {
				w.log.Warn("inotify", "err", err)
			}
		case <-settle.C:
			armed = false
			w.settle(time.Now())
			if at, ok := w.pend.next(); ok {
				settle.Reset(time.Until(at))
				armed = true
			}
		case <-rescan.C:
			w.rescanAll()
			// From the end of this one, so that rescans of a tree that
			// takes longer than Interval to list never run back to back.
			if w.rescan {
				rescan.Reset(w.cfg.Interval)
			}
		}
		switch {
		case w.rescan && !rescanning: // fell back while handling the above
			rescanning = true
			rescan.Reset(w.cfg.Interval)
		case !w.rescan && rescanning: // back to inotify in the rescan above
			rescanning = false
			rescan.Stop()
		}
	}
}

// event takes one inotify event in: its path waits to settle. Names the
// Store would refuse (hidden, temp, reserved) are dropped here, before
// they cost anything more.
func (w *Watcher) event(ev fsnotify.Event) {
	w.m.Events.Inc()
	rel, ok := w.rel(ev.Name)
	if !ok {
		return
	}
	p, err := w.store.Clean(rel)
	if err != nil {
		return
	}
	if p != "." && ev.Has(fsnotify.Remove|fsnotify.Rename|fsnotify.Create) {
		// A watched folder that went (or moved) takes its watches' names
		// with it: the watches below it would report under the old path,
		// and one of them, moved back, would shadow a new watch of the
		// same folder. Its snapshot stays until it settles, to tell what
		// was in it. A name created where a folder was watched is one
		// moved over it (rename(2) replaces an empty folder): the kernel
		// dropped that folder's watch with no remove, and the one now
		// there is walked and watched when it settles.
		w.unwatch(p)
	}
	w.pend.touch(p, time.Now())
}

// rel is an event's path relative to the folder, in slashes.
func (w *Watcher) rel(name string) (string, bool) {
	if name == w.dir {
		return ".", true
	}
	rest, ok := strings.CutPrefix(name, w.prefix)
	if !ok || rest == "" {
		return "", false
	}
	return filepath.ToSlash(rest), true
}

// abs is a clean slash path's name for the OS.
func (w *Watcher) abs(p string) string {
	return filepath.Join(w.dir, filepath.FromSlash(p))
}

// settle announces the paths that are due at now.
func (w *Watcher) settle(now time.Time) {
	for _, p := range w.pend.take(now) {
		if w.stopping() {
			return
		}
		w.reconcile(p)
	}
	if len(w.out) > 0 {
		w.relink()
	}
	w.flush()
}

// relink settles again every link known: the file or folder it leads to
// may have changed, gone (a link to docs/ once docs/ was removed is
// broken, and no longer listed), or become a folder.
func (w *Watcher) relink() {
	if len(w.links) == 0 {
		return
	}
	ps := make([]string, 0, len(w.links))
	for p := range w.links {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	for _, p := range ps {
		switch {
		case !w.links[p]:
		case w.dirs[path.Dir(p)] == nil: // its folder went
			delete(w.links, p)
		default:
			w.reconcile(p)
		}
	}
}

// brokenLink remembers p, which is not visible, when it is a symlink: a
// link to what does not exist (yet), or to a hidden name. Nothing tells
// of it when what it leads to appears, so relink settles it again.
func (w *Watcher) brokenLink(p string) {
	if fi, err := os.Lstat(w.abs(p)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		w.remember(p)
	}
}

// remember adds p to the links followed, up to maxLinks.
func (w *Watcher) remember(p string) {
	switch {
	case len(w.links) < maxLinks:
		w.links[p] = true
	case !w.linksLost:
		w.linksLost = true
		w.log.Info("too many links to follow their targets; rescans find what they show", "max", maxLinks)
	}
}

// brokenLinks remembers the symlinks of the folder p that its listing
// left out (broken, or leading to a hidden name): one readdir, no stat.
func (w *Watcher) brokenLinks(p string, list []files.Info) {
	ents, err := os.ReadDir(w.abs(p))
	if err != nil {
		return
	}
	var listed map[string]bool
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		if listed == nil {
			listed = make(map[string]bool, len(list))
			for i := range list {
				listed[list[i].Name] = true
			}
		}
		q := path.Join(p, e.Name())
		if _, err := w.store.Clean(q); err == nil && !listed[e.Name()] {
			w.remember(q)
		}
	}
}

// rescanAll compares the whole tree with what was last seen. When the
// watcher rescans because the tree had outgrown Limit and it is now back
// under resumeAt, it watches with inotify again (see resume).
func (w *Watcher) rescanAll() {
	w.m.Rescans.Inc()
	w.scanning = true
	w.adopt(".")
	if w.overLimit && len(w.dirs) <= w.resumeAt() {
		w.resume()
	}
	w.scanning = false
	w.flush()
}

// resumeAt is how many folders the tree may have for a watcher that fell
// back past Limit to watch with inotify again: a tenth under Limit, so
// that a tree hovering at the limit does not switch at every rescan (each
// switch costs a walk of the tree and one inotify_add_watch per folder).
func (w *Watcher) resumeAt() int { return w.cfg.Limit - max(1, w.cfg.Limit/10) }

// resume watches with inotify again, in one more walk of the tree with
// every folder watched before it is listed: what changed before its watch
// is in the listing, what changes after is an event, as at Start. Should
// the tree outgrow Limit during the walk, watch falls back again.
func (w *Watcher) resume() {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		w.log.Debug("inotify still unavailable", "err", err)
		return
	}
	w.fsw, w.overLimit, w.rescan = fsw, false, w.netFS
	w.log.Info("watching with inotify again", "why", "the folder is back under the limit",
		"folders", len(w.dirs), "limit", w.cfg.Limit)
	w.adopt(".") // w.scanning is still set: every folder is walked, and watched
}

// reconcile compares the path p, which had events, with what was last
// seen of it.
func (w *Watcher) reconcile(p string) {
	if p == "." {
		// The folder itself: its attributes changed, or it was moved
		// (which drops its watch; the Store goes on serving it, open).
		if root := w.dirs["."]; w.fsw != nil && !root.watched {
			w.adopt(".")
		}
		w.retry(".")
		return
	}
	info, err := w.stat(p)
	switch {
	case err == nil:
		if fi, err := os.Lstat(w.abs(p)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			info.Link = true
		}
		w.apply(p, &info)
		if info.Dir {
			w.retry(p)
		}
	case gone(err):
		// When the folder it was in has gone too, the folder is the one
		// removal to announce (rm -r): the page drops everything below it.
		top := p
		for parent := path.Dir(top); parent != "."; parent = path.Dir(parent) {
			if _, err := w.stat(parent); !gone(err) {
				break
			}
			top = parent
		}
		w.apply(top, nil)
		if top == p {
			w.brokenLink(p)
		}
	default:
		// Unreadable (EACCES, EIO): left as last seen rather than
		// announced gone, as a listing still shows it, and settled again
		// when a folder above it changes (see retry).
		w.log.Debug("stat", "path", p, "err", err)
		if len(w.denied) < maxDenied {
			w.denied[p] = true
		} else {
			w.deniedLost = true
		}
	}
}

// retry settles again the paths below the folder p (every one, for the
// folder itself) whose events could not be settled: p changed, most likely
// its permissions were given back, and what happened below it while it
// could not be searched is told of now, or never.
func (w *Watcher) retry(p string) {
	if w.deniedLost {
		clear(w.denied)
		w.deniedLost = false
		w.rescanAll()
		return
	}
	var again []string
	for q := range w.denied {
		if p == "." || strings.HasPrefix(q, p+"/") {
			again = append(again, q)
			delete(w.denied, q)
		}
	}
	slices.Sort(again) // a folder before what is in it, as in a pass
	for _, q := range again {
		w.reconcile(q)
	}
}

// gone reports whether a Store error means the path is not visible: not
// there, hidden through a link, out of the folder, not a file or folder.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, files.ErrBadPath)
}

// apply records that the path p is now cur (nil: not visible), compared
// with what was last seen, and announces the difference. A new folder is
// walked, and what is in it announced; a folder that went takes what was
// in it along, in one remove.
func (w *Watcher) apply(p string, cur *files.Info) {
	parent, name := path.Dir(p), path.Base(p)
	f := w.dirs[parent]
	if f == nil {
		if cur == nil {
			return // in a folder that went before: its remove said it all
		}
		// The folder it is in was never walked (it was removed and came
		// back between two passes): settle the highest such folder
		// instead, which walks the rest.
		q := parent
		for w.dirs[path.Dir(q)] == nil {
			q = path.Dir(q)
		}
		if info, err := w.stat(q); err == nil {
			w.apply(q, &info)
		}
		return
	}
	old, had := f.entries[name]
	if cur == nil || !cur.Link {
		delete(w.links, p)
	} else {
		w.remember(p)
	}
	if had && (cur == nil || old.dir != cur.Dir) {
		delete(f.entries, name)
		if old.dir {
			w.drop(p)
		}
		w.emit(vocab.FSRemove, p, old.dir, old.size, time.Unix(0, old.mod).UTC())
		had = false
	}
	if cur == nil {
		return
	}
	e := entry{dir: cur.Dir, size: cur.Size, mod: cur.Modified.UnixNano()}
	f.entries[name] = e
	switch {
	case !had:
		w.emit(vocab.FSAdd, p, cur.Dir, cur.Size, cur.Modified)
		if cur.Dir && w.realDir(p) {
			w.adopt(p)
		}
	case cur.Dir:
		d := w.dirs[p]
		switch {
		case d == nil: // a link to a folder, or one that became a real folder
			if w.realDir(p) {
				w.adopt(p)
			}
		case w.scanning, w.fsw != nil && !d.watched: // its watch went with a move or a removal
			w.adopt(p)
		}
	case old.size != e.size || old.mod != e.mod:
		w.emit(vocab.FSChange, p, false, cur.Size, cur.Modified)
	}
}

// adopt walks the real folder p: watches it (when inotify is in use), then
// lists it and applies every entry, recursively. Watching before listing
// leaves no gap: what is created before the watch is in the list, what is
// created after it is an event, and what is both is announced once.
func (w *Watcher) adopt(p string) {
	if w.stopping() {
		return
	}
	f := w.dirs[p]
	if f == nil {
		f = &folder{entries: make(map[string]entry)}
		w.dirs[p] = f
	}
	if w.fsw != nil && !f.watched {
		w.watch(p, f)
	}
	list, err := w.store.List(p)
	if err != nil {
		// Gone, or replaced, since its parent was listed: the event that
		// did it settles it.
		w.log.Debug("list", "path", p, "err", err)
		return
	}
	w.brokenLinks(p, list)
	before, matched := len(f.entries), 0
	for i := range list {
		if _, ok := f.entries[list[i].Name]; ok {
			matched++
		}
		w.apply(list[i].Path, &list[i])
	}
	if matched == before {
		return // nothing that was here has gone
	}
	seen := make(map[string]bool, len(list))
	for i := range list {
		seen[list[i].Name] = true
	}
	for name := range f.entries {
		if !seen[name] {
			w.apply(path.Join(p, name), nil)
		}
	}
}

// watch adds an inotify watch for the folder p, or falls back to rescanning
// when Limit is reached or the system is out of watches.
func (w *Watcher) watch(p string, f *folder) {
	if w.watched >= w.cfg.Limit {
		w.fallBack(fmt.Sprintf("the folder has more than %d folders (-watch-limit)", w.cfg.Limit))
		w.overLimit = true
		return
	}
	err := w.fsw.Add(w.abs(p))
	switch {
	case err == nil:
		f.watched = true
		w.watched++
		w.m.Folders.Set(float64(w.watched))
	case errors.Is(err, syscall.ENOSPC):
		w.fallBack("the system's inotify watches are used up (fs.inotify.max_user_watches)")
	default:
		// Gone or unreadable since it was listed: its event settles it.
		w.log.Debug("add watch", "path", p, "err", err)
	}
}

// unwatch removes the inotify watches of the folder p and of every folder
// below it; their snapshots stay.
func (w *Watcher) unwatch(p string) {
	f := w.dirs[p]
	if f == nil {
		return
	}
	if f.watched {
		f.watched = false
		w.watched--
		w.m.Folders.Set(float64(w.watched))
		if w.fsw != nil {
			// An error says the kernel dropped it already (the folder was
			// removed): the count above is what matters.
			_ = w.fsw.Remove(w.abs(p))
		}
	}
	for name, e := range f.entries {
		if e.dir {
			w.unwatch(path.Join(p, name))
		}
	}
}

// drop forgets the folder p and everything below it, watches included.
func (w *Watcher) drop(p string) {
	f := w.dirs[p]
	if f == nil {
		return // a link to a folder: never walked
	}
	w.unwatch(p)
	var walk func(p string, f *folder)
	walk = func(p string, f *folder) {
		for name, e := range f.entries {
			delete(w.links, path.Join(p, name))
			if e.dir {
				child := path.Join(p, name)
				if g := w.dirs[child]; g != nil {
					walk(child, g)
				}
			}
		}
		delete(w.dirs, p)
	}
	walk(p, f)
}

// fallBack gives inotify up and rescans instead, saying why: for good when
// inotify cannot start or the system's watches ran out, until the tree is
// back under the limit when it outgrew Limit (watch sets overLimit). It is
// called only while inotify is in use, or when it cannot start.
func (w *Watcher) fallBack(why string) {
	if w.fsw != nil {
		w.fsw.Close()
		w.fsw = nil
	}
	for _, f := range w.dirs {
		f.watched = false
	}
	w.watched = 0
	w.m.Folders.Set(0)
	w.rescan = true
	w.log.Warn("rescanning the folder instead of watching it", "why", why, "interval", w.cfg.Interval)
}

// realDir reports whether the path p is a folder itself, not a link to one.
func (w *Watcher) realDir(p string) bool {
	fi, err := os.Lstat(w.abs(p))
	return err == nil && fi.IsDir()
}

// emit adds a change to this pass's announcement.
func (w *Watcher) emit(op, p string, dir bool, size int64, mod time.Time) {
	if w.quiet {
		if w.cfg.Baseline != nil { // the first walk: only adds
			w.out = append(w.out, vocab.Change{Op: op, Path: p, Dir: dir, Size: size, Modified: mod})
		}
		return
	}
	w.out = append(w.out, vocab.Change{Op: op, Path: p, Dir: dir, Size: size, Modified: mod})
	w.m.Changes.WithLabelValues(op).Inc()
}

// flush gives this pass's changes to notify, in one call.
func (w *Watcher) flush() {
	if len(w.out) == 0 {
		return
	}
	w.log.Debug("announce", "changes", len(w.out))
	w.notify(w.out...)
	w.out = nil // notify must not keep it, but a fresh slice costs nothing per pass
}
