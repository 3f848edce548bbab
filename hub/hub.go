// Package hub is the room server behind /ws: a registry of rooms whose
// members, connected through melody, fetch files privately, share them with
// the room, chat, and watch a live feed of who fetched what.
//
// # Goroutines
//
// Each session runs on one goroutine the hub starts in ServeHTTP (melody's
// read loop, inside HandleRequestWithKeys), so that the HTTP handler can
// return once the connection is upgraded; melody starts the write loop.
// Besides those the hub owns, all stopped by Close:
//   - one delivery goroutine per room with work queued (room.run), started
//     by the first message and gone once the queue is empty;
//   - one sweeper (maintain), which closes sessions that fell behind and
//     retires idle rooms;
//   - file streams, at most Config.MaxStreams per session, stopped by the
//     session's context, which the disconnect handler cancels;
//   - a short-lived goroutine per session being closed (member.closeConn),
//     done within about a second;
//   - the presence timer of a crowded room.
//
// # Locks
//
// The order is h.mu, then room.mu, then member.sendMu; never the other way.
// h.bmu (the browsers map), member.streamMu and h.spawnMu are leaves: no
// other lock is taken while one of them is held. Nothing blocks while
// holding a lock: a member's queue never waits for its writer.
package hub

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"filehub/files"
	"filehub/internal/waitgroup"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
	"golang.org/x/time/rate"
)

// Config configures a Hub. Zero values mean the documented default.
type Config struct {
	// Lister, when not nil, answers list frames from memory (the folder's
	// index), as it answers HTTP listings; a folder it does not hold is
	// listed from the disk. Defaults to nil: every list from the disk.
	Lister files.Lister
	// Search answers search frames (q trimmed, 1-256 bytes; path as the
	// client sent it; limit 0-1000, 0 the searcher's default). Its errors
	// map to codes as other requests' do (a files error by its status);
	// ErrUnavailable is "unavailable". Defaults to nil: search frames are
	// answered "unavailable".
	Search func(q, path string, limit int) (SearchResult, error)
	// AllowOrigins lists the cross-site origins (scheme://host[:port]) allowed
	// to join besides the server's own; "*" allows any. Defaults to none.
	AllowOrigins []string
	// DefaultRoom is where a join without room lands, and where anonymous HTTP
	// fetches are reported. Defaults to "lobby".
	DefaultRoom string
	// Inline is the largest file sent whole in a file frame; larger ones are
	// streamed. Defaults to 1 MiB.
	Inline int64
	// MaxMessage is the largest message a client may send. Defaults to
	// 400 KiB: a snippet of 65,536 characters, escaped.
	MaxMessage int64
	// FeedSize is how many feed events each room keeps for since.
	// Defaults to 200.
	FeedSize int
	// ChatHistory and ChatHistoryBytes bound the chat and snippet messages
	// each room keeps for welcome.chat, in messages and in bytes (the newest
	// is always kept). Default to 100 and 1 MiB.
	ChatHistory, ChatHistoryBytes int
	// IdleRooms is how many rooms without members keep their history, and
	// RoomTTL how long; the least recently left go first. A room without
	// history is retired as soon as it is empty. Default to 256 and 1 hour.
	IdleRooms int
	RoomTTL   time.Duration
	// Rate and Burst bound the messages a session may send (a token bucket).
	// Defaults to 20 per second, burst 40.
	Rate  rate.Limit
	Burst int
	// Strikes is how many rate-limited messages, beyond one a second, a
	// session may send before it is closed with 1008. Defaults to 40.
	Strikes int
	// ContentRate and ContentBurst bound, in bytes delivered, the content
	// that the sessions and uploads of one client address (an IPv6 one by
	// its /64) make the server send (a token bucket per address): an
	// inline get counts its size; a share, a snippet or a chat line its
	// frame's size times the room's members; an upload shared as it
	// arrives its bytes times the members following it. Beyond it a
	// request is refused with rate_limited, and an upload's followers get
	// rate_limited on its stream (the upload goes on), so that a few
	// small requests, from one session or ten, cannot make the server send
	// gigabytes. Streams of a get are not counted: they are paced by the
	// client's own reading. Default to 8 MiB/s and 32 MiB.
	ContentRate  float64
	ContentBurst int64
	// RoomContentRate and RoomContentBurst are the same budget for
	// everything delivered to one room, whoever sends it: many addresses
	// cannot flood a room either. Default to 16 MiB/s and 64 MiB.
	RoomContentRate  float64
	RoomContentBurst int64
	// UploadEvents and UploadEventBurst bound the HTTP uploads announced
	// to a room (progress, finish or abort, and the feed event, or the
	// share of ?share=1), per uploader: its page's session, or its address
	// for anyone else. An upload beyond it is taken but not announced
	// (the folder's fs frames still tell of the file). Default to 5 a
	// second, burst 30.
	UploadEvents     rate.Limit
	UploadEventBurst int
	// FetchEvents and FetchEventBurst bound the feed events that a
	// member's HTTP fetches make (a token bucket per member): beyond it a
	// fetch is served but not announced, so that a loop of GETs (or a
	// video player's range requests) cannot flood every member with
	// events and push the room's history out. Fetches by no member of
	// this node (anonymous ones, a page whose session is on another node)
	// share one bucket five times as large. Default to 20 a second, burst
	// 100: a page opening a folder of images shows them all.
	FetchEvents     rate.Limit
	FetchEventBurst int
	// MaxLag and QueueBytes are the slow-consumer policy: a session is
	// closed with 1013 when its oldest undelivered frame has waited longer
	// than MaxLag, or when the frames waiting for it would exceed
	// QueueBytes (a frame shared by the whole room counts at its size in
	// every member's queue, though it is held once). A healthy reader
	// absorbs any burst the rate limits allow; one that stalls is gone
	// within MaxLag plus about a second, without slowing anyone. Default
	// to 10 s, long enough for a phone on a slow link (100 KB/s) to take a
	// 1 MiB share and far less than the 35 s a dead peer takes to time
	// out, and 64 MiB.
	MaxLag     time.Duration
	QueueBytes int64
	// PingPeriod is how often the server pings, and PongWait how long it waits
	// for any read (a pong included) before dropping a dead peer.
	// Defaults to 25 s and 35 s: under the 30–60 s idle timeouts of common proxies.
	PingPeriod, PongWait time.Duration
	// WriteWait bounds one write to a session. Defaults to 10 s.
	WriteWait time.Duration
	// PresenceThreshold is the room size above which presence frames are
	// coalesced into at most one count frame per PresenceInterval, so that a
	// join storm of N sessions costs O(N) frames rather than O(N²).
	// Defaults to 200 and 1 s.
	PresenceThreshold int
	PresenceInterval  time.Duration
	// BatchDelay is how long a busy room with batch=1 members gathers frames
	// before it sends them, as one batch frame per member: a room that sent
	// nothing for BatchDelay sends at once, so a quiet room gains no latency,
	// while a busy one makes one write per member per BatchDelay instead of
	// one per message (the writes, not the JSON, are what a fan-out costs).
	// Defaults to 10 ms, well under what a person notices; negative turns it
	// off (frames then only coalesce behind a session's own writes).
	BatchDelay time.Duration
	// ChunkSize is the payload of one binary frame of a stream, Window how
	// many of a stream's frames may wait in the session's queue, MaxStreams how
	// many streams a session may have at once. Defaults to 64 KiB, 4 and 3.
	ChunkSize, Window, MaxStreams int
	// Broker lets several nodes act as one room (see Broker). Defaults to
	// none: this process alone.
	Broker Broker
	// History keeps the rooms' histories of a node alone across restarts
	// (see HistoryStore); unused with a Broker. Defaults to none: memory
	// only, a restart is a new epoch.
	History HistoryStore
	// Version is reported in welcome. Defaults to "dev".
	Version string
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Metrics defaults to collectors registered nowhere.
	Metrics *Metrics
	// Now is the clock of timestamps. Defaults to time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def64 := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.DefaultRoom == "" {
		c.DefaultRoom = "lobby"
	}
	def64(&c.Inline, 1<<20)
	def64(&c.MaxMessage, 400<<10)
	def(&c.FeedSize, 200)
	def(&c.ChatHistory, 100)
	def(&c.ChatHistoryBytes, 1<<20)
	def(&c.IdleRooms, 256)
	defDur(&c.RoomTTL, time.Hour)
	if c.Rate <= 0 {
		c.Rate = 20
	}
	def(&c.Burst, 40)
	def(&c.Strikes, 40)
	if c.ContentRate <= 0 {
		c.ContentRate = 8 << 20
	}
	def64(&c.ContentBurst, 32<<20)
	if c.RoomContentRate <= 0 {
		c.RoomContentRate = 16 << 20
	}
	def64(&c.RoomContentBurst, 64<<20)
	if c.UploadEvents <= 0 {
		c.UploadEvents = 5
	}
	def(&c.UploadEventBurst, 30)
	if c.FetchEvents <= 0 {
		c.FetchEvents = 20
	}
	def(&c.FetchEventBurst, 100)
	defDur(&c.MaxLag, 10*time.Second)
	def64(&c.QueueBytes, 64<<20)
	defDur(&c.PingPeriod, 25*time.Second)
	defDur(&c.PongWait, 35*time.Second)
	defDur(&c.WriteWait, 10*time.Second)
	def(&c.PresenceThreshold, 200)
	defDur(&c.PresenceInterval, time.Second)
	if c.BatchDelay == 0 {
		c.BatchDelay = 10 * time.Millisecond
	}
	def(&c.ChunkSize, 64<<10)
	def(&c.Window, 4)
	def(&c.MaxStreams, 3)
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Cookie and key names. browserCookie ties plain HTTP fetches (links, AJAX) made by a
// page to the session that page opened, so the feed can name them.
const (
	browserCookie = "filehub_browser"
	memberKey     = "filehub.member" // melody session key of the *member
)

// Hub is the room server. Create it with New, serve it at /ws, and stop it
// with Shutdown then Close.
type Hub struct {
	cfg   Config
	store *files.Store
	m     *melody.Melody
	log   *slog.Logger

	mu      sync.RWMutex
	rooms   map[string]*room
	closing bool
	done    chan struct{} // closed by Shutdown

	bmu      sync.Mutex
	browsers map[string][]*member // browser cookie → its sessions that joined, newest last

	seq atomic.Uint64 // feed sequence, shared by all rooms (on a single node)
	// otherFetches is the feed budget of fetches by no member of this node
	// (Config.FetchEvents).
	otherFetches *rate.Limiter
	// content is the content budget of each client address
	// (Config.ContentRate), uploadEvents the upload announcements of those
	// without a session (Config.UploadEvents); uploads the announcement
	// decided for each upload under way.
	content      *groupLimiters
	uploadEvents *groupLimiters
	uploads      announcements
	nodeName     string // the broker's name for this node

	sessions sync.WaitGroup // session goroutines
	spawnMu  sync.Mutex
	stopped  bool           // set by Close: no new hub goroutine
	workers  sync.WaitGroup // every other goroutine of the hub's (see the package doc)
}

// New returns a Hub serving the files of store, and starts its sweeper.
func New(store *files.Store, cfg Config) *Hub {
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg:      cfg,
		store:    store,
		log:      cfg.Logger,
		rooms:    make(map[string]*room),
		browsers: make(map[string][]*member),
		done:     make(chan struct{}),
		// Five times a member's: shared by everyone without a session here.
		otherFetches: rate.NewLimiter(5*cfg.FetchEvents, 5*cfg.FetchEventBurst),
		content:      newGroupLimiters(rate.Limit(cfg.ContentRate), int(cfg.ContentBurst)),
		uploadEvents: newGroupLimiters(cfg.UploadEvents, cfg.UploadEventBurst),
	}
	if b := h.cfg.Broker; b != nil {
		h.nodeName = b.Node()
		b.Attach(h)
		h.cfg.History = nil // the broker keeps the history
	}
	// Feed seqs start at the start time in microseconds, so they keep
	// increasing across restarts: a page that missed the new epoch still
	// never mistakes a new event for one it has seen.
	h.seq.Store(uint64(cfg.Now().UnixMicro()))

	m := melody.New()
	m.Config.WriteWait = cfg.WriteWait
	m.Config.PongWait = cfg.PongWait
	m.Config.PingPeriod = cfg.PingPeriod
	m.Config.MaxMessageSize = cfg.MaxMessage
	// melody's per-session queue (a channel it allocates whole) holds only
	// the frame being written: the rest wait in the member's queues, which
	// is what lets them coalesce into batch frames (see member.send), and
	// close frames are written beside it (see member.close).
	m.Config.MessageBufferSize = 1
	m.Upgrader = &websocket.Upgrader{
		// Idle sessions are what a room mostly holds, so a session keeps
		// only what it needs while idle: a 1 KiB read buffer (client
		// messages are small; a larger one just takes more reads), and no
		// write buffer: gorilla takes one from the pool for each write and
		// writes frames larger than twice its size straight from the frame.
		// net/http's 4 KiB buffers of the hijacked connection are let go,
		// since ServeHTTP returns after the upgrade (BENCHMARKS.md).
		ReadBufferSize:   1 << 10,
		WriteBufferSize:  4 << 10,
		WriteBufferPool:  &sync.Pool{},
		HandshakeTimeout: 10 * time.Second,
		// Checked before the upgrade already (with a JSON answer); kept here
		// too so the upgrader can never be left open to every origin.
		CheckOrigin: h.originAllowed,
	}
	m.HandleConnect(h.onConnect)
	m.HandleDisconnect(h.onDisconnect)
	m.HandleMessage(h.onMessage)
	m.HandleMessageBinary(h.onBinary)
	m.HandleSentMessage(h.onSent)
	m.HandleSentMessageBinary(h.onSentBinary)
	m.HandleError(h.onError)
	h.m = m
	h.workers.Add(1)
	go h.maintain()
	return h
}

// goWorker runs f on a goroutine of the hub's, unless Close has stopped the
// hub; it reports whether f was started.
func (h *Hub) goWorker(f func()) bool {
	if !h.enter() {
		return false
	}
	go func() {
		defer h.exit()
		f()
	}()
	return true
}

// enter counts the calling goroutine as one of the hub's, for Close to wait
// for; false once Close has stopped the hub. Pair it with exit.
func (h *Hub) enter() bool {
	h.spawnMu.Lock()
	defer h.spawnMu.Unlock()
	if h.stopped {
		return false
	}
	h.workers.Add(1)
	return true
}

func (h *Hub) exit() { h.workers.Done() }

// limits reports what welcome announces.
func (h *Hub) limits() limits {
	l := limits{Inline: h.cfg.Inline, Message: h.cfg.MaxMessage}
	if c := h.store.Config(); c.Uploads {
		l.Upload = c.MaxUpload
	}
	return l
}

// roomLocked returns the room called name, made if there is none; nil once
// the hub is shutting down. Called with h.mu held for writing.
func (h *Hub) roomLocked(name string) *room {
	if h.closing {
		return nil
	}
	r := h.rooms[name]
	if r == nil {
		r = newRoom(h, name)
		h.rooms[name] = r
		h.cfg.Metrics.Rooms.Inc()
	}
	return r
}

// maintain is the sweeper: it closes the sessions whose oldest undelivered
// frame waited longer than MaxLag (a session that stalled receives no new
// frame that would find it out), and retires idle rooms.
func (h *Hub) maintain() {
	defer h.workers.Done()
	// A tenth of MaxLag keeps a stalled session's end within MaxLag plus a
	// fraction; a pass reads one atomic per member, so even a large hub
	// can afford it.
	every := min(max(h.cfg.MaxLag/10, 10*time.Millisecond), 500*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	var lastRetire time.Time
	for {
		select {
		case <-h.done:
			return
		case now := <-t.C:
			h.dropLagging(now)
			if now.Sub(lastRetire) >= time.Second {
				lastRetire = now
				h.retireRooms()
				h.trimQueues()
				h.sweepAnnouncements()
			}
		}
	}
}

func (h *Hub) allRooms() []*room {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Collect(maps.Values(h.rooms))
}

// dropLagging closes, with 1013, every session whose oldest undelivered
// frame has waited longer than MaxLag.
func (h *Hub) dropLagging(now time.Time) {
	limit := now.UnixNano() - int64(h.cfg.MaxLag)
	var slow []*member
	for _, r := range h.allRooms() {
		r.mu.Lock()
		for _, mb := range r.members {
			if o := mb.oldest.Load(); o != 0 && o < limit {
				slow = append(slow, mb)
			}
		}
		r.mu.Unlock()
	}
	for _, mb := range slow {
		if !mb.closing.Load() {
			h.cfg.Metrics.SlowDrops.WithLabelValues(dropLag).Inc()
			mb.close(closeTryAgainLater, "could not keep up ("+dropLag+")")
		}
	}
}

// trimQueues lets idle sessions give back the arrays of their queues.
func (h *Hub) trimQueues() {
	for _, r := range h.allRooms() {
		for _, mb := range r.snapshot() {
			if mb.oldest.Load() == 0 {
				mb.trim()
			}
		}
	}
}

// retireRooms removes the rooms this node no longer needs: empty ones
// without history at once, and those with history after RoomTTL, or
// sooner, the least recently left first, past IdleRooms of them.
func (h *Hub) retireRooms() {
	now := h.cfg.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	type idleRoom struct {
		r     *room
		since time.Time
	}
	var idle []idleRoom
	var closed []string
	for name, r := range h.rooms {
		r.mu.Lock()
		switch {
		case !r.retirableLocked():
		case h.cfg.Broker != nil:
			// The broker keeps the history: this node needs the room
			// only while it has members here.
			r.retireLocked()
			delete(h.rooms, name)
			h.cfg.Metrics.Rooms.Dec()
			closed = append(closed, name)
		case r.hist.lastSeq == 0 && len(r.hist.chat) == 0, now.Sub(r.idle) >= h.cfg.RoomTTL:
			r.retireLocked()
			delete(h.rooms, name)
			h.cfg.Metrics.Rooms.Dec()
		default:
			idle = append(idle, idleRoom{r, r.idle})
		}
		r.mu.Unlock()
	}
	for _, name := range closed {
		// Under h.mu, so a join cannot open the room again before the
		// broker has let go of it; Close only unsubscribes.
		h.cfg.Broker.CloseRoom(name)
	}
	if len(idle) <= h.cfg.IdleRooms {
		return
	}
	slices.SortFunc(idle, func(a, b idleRoom) int { return a.since.Compare(b.since) })
	for _, ir := range idle[:len(idle)-h.cfg.IdleRooms] {
		ir.r.mu.Lock()
		if ir.r.retirableLocked() {
			ir.r.retireLocked()
			delete(h.rooms, ir.r.name)
			h.cfg.Metrics.Rooms.Dec()
		}
		ir.r.mu.Unlock()
	}
}

// Shutdown sends close 1001 to every session and refuses new ones. Register
// it with http.Server.RegisterOnShutdown: Shutdown does not touch hijacked
// connections, so without it WebSockets would outlive the server.
func (h *Hub) Shutdown() {
	h.mu.Lock()
	if !h.closing {
		h.closing = true
		close(h.done)
	}
	var all []*member
	for _, r := range h.rooms {
		all = append(all, r.snapshot()...)
	}
	h.mu.Unlock()
	for _, mb := range all {
		mb.close(closeGoingAway, "server shutting down")
	}
}

// Close waits for sessions and the hub's goroutines to end, then stops
// melody. When ctx ends first, remaining sessions are closed abruptly.
func (h *Hub) Close(ctx context.Context) error {
	h.Shutdown()
	err := waitgroup.Wait(ctx, &h.sessions)
	if cerr := h.m.Close(); cerr != nil && !errors.Is(cerr, melody.ErrClosed) && err == nil {
		err = fmt.Errorf("hub: closing melody: %w", cerr)
	}
	if err != nil {
		err = fmt.Errorf("hub: sessions still open at deadline: %w", err)
		h.sessions.Wait() // melody.Close ended every session; their goroutines return promptly
	}
	h.spawnMu.Lock()
	h.stopped = true
	h.spawnMu.Unlock()
	if werr := waitgroup.Wait(ctx, &h.workers); werr != nil && err == nil {
		err = fmt.Errorf("hub: goroutines still running at deadline: %w", werr)
	}
	return err
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}
