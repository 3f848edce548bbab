// Package cluster is the hub.Broker that lets several filehub nodes act as
// one room, on NATS with JetStream: a real engine, not a relay of our own.
//
// What travels, and where it is kept:
//   - History (feed events, chat and snippets): the stream FILEHUB_HISTORY,
//     one subject per room and kind (filehub.hist.ROOM.feed, .chat),
//     bounded per subject by count and by age. A message's seq is its
//     stream sequence, the same on every node, and every node delivers a
//     room's messages in the stream's order, so chat has one order
//     everywhere; nothing of the history reaches a member before the
//     stream has it. Each message is published with the seq of the room's
//     message of its kind before it as an expectation
//     (Nats-Expected-Last-Subject-Sequence), so the messages of each kind
//     form a chain (header Filehub-Prev) and a node can tell whether a
//     client that comes back with since missed any. The epoch is the
//     stream's creation time: a stream that is lost and made again is a
//     new epoch. Every node reads each room it serves with an ordered
//     consumer, which resumes where it was after a reconnect: nothing
//     twice, nothing skipped. Publishes carry a Nats-Msg-Id, so a retry
//     is never stored twice.
//   - Everything else a room broadcasts (shares, upload progress, presence
//     of a crowded room's counts): core NATS, filehub.live.ROOM, at most
//     once. File bytes never travel: a share names the file, and each node
//     reads it from the folder the nodes share.
//   - Who is in each room: the key-value bucket FILEHUB_MEMBERS, one key
//     per member, named after the room and the member's name, so that
//     creating it claims the name on every node at once. Each node watches
//     the rooms it serves and tells its members of joins, leaves and
//     renames anywhere.
//   - Which nodes are alive: FILEHUB_NODES, one key per node, refreshed a
//     few times per NodeTTL and expiring after it; when a node's key
//     expires (it died without a word), the others delete its members.
//   - Which page is whose, for HTTP fetches served by another node than the
//     page's WebSocket: FILEHUB_BROWSERS, keyed by a hash of the page's
//     cookie.
//
// This process's identity in all of these is its instance: the node's name
// and a random suffix, so that a node restarted under the same name is not
// taken for its former self.
package cluster

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filehub/hub"
	"filehub/internal/randid"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Names in NATS.
const (
	streamName     = "FILEHUB_HISTORY"
	membersBucket  = "FILEHUB_MEMBERS"
	nodesBucket    = "FILEHUB_NODES"
	browsersBucket = "FILEHUB_BROWSERS"
	histSubjects   = "filehub.hist.>"
	hdrNode        = "Filehub-Node"
	hdrPrev        = "Filehub-Prev"
)

// Config configures a Broker. Zero values mean the documented default.
type Config struct {
	// URL is one or more NATS server URLs, comma-separated. Required.
	URL string
	// Node names this node among the others. Defaults to the host name.
	Node string
	// Options are nats.go's, for credentials and TLS.
	Options []nats.Option
	// Replicas is how many servers keep each stream and bucket: 1 for a
	// single NATS server, 3 for a three-server cluster. Defaults to 1.
	Replicas int
	// HistorySize is how many feed events, and how many chat and snippet
	// messages,
	// the stream keeps per room, and HistoryAge for how long. Default to
	// 200 and 24 hours.
	HistorySize int
	HistoryAge  time.Duration
	// NodeTTL is how long a node that stopped refreshing its key is taken
	// for alive: its members leave the rooms within about NodeTTL plus a
	// second. Defaults to 10 s.
	NodeTTL time.Duration
	// ProbeInterval is how often the broker checks that it can write to
	// and read from the members bucket and the history stream, and
	// ProbeTimeout how long each check may take: a node that cannot is
	// not ready (Err). Default to 1 s and 2 s: quorum lost shows at
	// /_/readyz within about 3 s.
	ProbeInterval, ProbeTimeout time.Duration
	// Registerer takes the broker's metrics. Defaults to none.
	Registerer prometheus.Registerer
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// opTimeout bounds one request to NATS made on a client's behalf.
const opTimeout = 5 * time.Second

// Broker is the hub.Broker on NATS. Create it with Connect, give it to
// hub.New, and stop it with Close after the hub.
type Broker struct {
	cfg      Config
	log      *slog.Logger
	nc       *nats.Conn
	js       jetstream.JetStream
	members  jetstream.KeyValue
	nodes    jetstream.KeyValue
	browsers jetstream.KeyValue
	instance string // this process, in keys and headers
	hub      hub.Node

	mu       sync.Mutex
	rooms    map[string]*roomSub
	alive    map[string]string // node name → its live instance
	lastSeq  map[string]uint64 // feed subject → the newest seq seen
	seenNode bool              // the nodes watch has delivered its first values

	msgID   atomic.Uint64
	jobs    chan job      // writes that must happen, in order, when NATS can take them
	jobsMu  sync.RWMutex  // held to send on jobs (read) and to close it (write)
	written chan struct{} // closed when the writer has done the last job
	done    chan struct{}
	again   chan struct{} // asks reassert to say again that this node and its members are here
	// setUpAt is the connection (nats.go's count of reconnects) on which
	// the stream and buckets were last checked: NATS may come back
	// without them. Counted by the connection itself, which bumps it before
	// it says it is connected again, rather than set by the reconnect
	// callback, which runs later on another goroutine: in between, this
	// node would say it is ready and then refuse the join that followed.
	setUpAt atomic.Uint64
	// epoch is the history stream's as this node last saw it (see
	// streamEpoch): one that changes under a reconnect was lost.
	epoch atomic.Pointer[string]
	// displaced is set when another process took this node's name: this
	// one then stops saying it is alive, and is not ready.
	displaced atomic.Bool
	// probeErr is why the last probe failed; nil when it passed.
	probeErr atomic.Pointer[error]
	metrics  *metrics
	wg       sync.WaitGroup // prober, heartbeat, watchNodes, reassert
	closed   atomic.Bool

	cache sync.Map // browser → cachedBrowser
}

// Connect connects to NATS and makes (or checks) the stream and buckets.
// An unreachable server is an error naming the URL: with -nats given, a
// node never falls back to serving alone.
func Connect(ctx context.Context, cfg Config) (*Broker, error) {
	if cfg.URL == "" {
		return nil, errors.New("cluster: no NATS URL")
	}
	if cfg.Node == "" {
		return nil, errors.New("cluster: no node name")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.HistorySize <= 0 {
		cfg.HistorySize = 200
	}
	if cfg.HistoryAge <= 0 {
		cfg.HistoryAge = 24 * time.Hour
	}
	if cfg.NodeTTL <= 0 {
		cfg.NodeTTL = 10 * time.Second
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = time.Second
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Broker{
		metrics:  newMetrics(cfg.Registerer),
		cfg:      cfg,
		log:      cfg.Logger,
		instance: validToken(cfg.Node) + "." + randid.Hex(4),
		rooms:    make(map[string]*roomSub),
		alive:    make(map[string]string),
		lastSeq:  make(map[string]uint64),
		jobs:     make(chan job, 10_000),
		written:  make(chan struct{}),
		done:     make(chan struct{}),
		again:    make(chan struct{}, 1),
	}
	opts := append([]nats.Option{
		nats.Name("filehub " + cfg.Node),
		// This node delivers its own broadcasts to its members itself, so
		// that they keep working while NATS is away: it must not hear them
		// again.
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.log.Warn("disconnect", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("reconnect", "url", redact(nc.ConnectedUrl()))
			// This node's key may have expired meanwhile and its members
			// been deleted by the others; and NATS may have come back
			// without the stream and buckets (isSetUp is false already).
			b.askReassert()
		}),
	}, cfg.Options...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", redact(cfg.URL), err)
	}
	b.nc = nc
	conn := nc.Stats().Reconnects
	if err := b.setupRetrying(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats %s: %w", redact(cfg.URL), err)
	}
	b.setUpAt.Store(conn)
	b.metrics.ready.Set(1)
	b.wg.Add(4)
	go b.prober()
	go b.heartbeat()
	go b.watchNodes()
	go b.reassert()
	go b.writer()
	return b, nil
}

// setupRetrying runs setup until it succeeds or ctx ends, each attempt
// within opTimeout, waiting longer after each failure: a NATS cluster that
// is still forming (servers starting together, a JetStream leader not yet
// elected, replicas not yet caught up) times out or refuses the first
// requests, and would otherwise stop this node's start.
func (b *Broker) setupRetrying(ctx context.Context) error {
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, opTimeout)
		err := b.setup(actx)
		cancel()
		if err == nil {
			if attempt > 1 {
				b.log.Info("cluster ready", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (after %d attempts)", err, attempt)
		}
		b.log.Warn("cluster not ready; retry", "attempt", attempt, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %d attempts)", err, attempt)
		case <-time.After(wait):
		}
		wait = min(2*wait, 4*time.Second)
	}
}

// setup makes the stream and buckets, or updates them to this
// configuration.
func (b *Broker) setup(ctx context.Context) error {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return err
	}
	b.js = js
	b.members, b.nodes, b.browsers, err = b.ensure(ctx)
	if err != nil {
		return err
	}
	if _, err = b.nodes.Put(ctx, validToken(b.cfg.Node), []byte(b.instance)); err != nil {
		return err
	}
	epoch, err := b.streamEpoch(ctx)
	if err != nil {
		return err
	}
	b.epoch.Store(&epoch)
	return nil
}

// ensure makes the stream and buckets, or updates them to this
// configuration: at start, and after a reconnect, since NATS may have come
// back without them (its store lost).
func (b *Broker) ensure(ctx context.Context) (members, nodes, browsers jetstream.KeyValue, err error) {
	js := b.js
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              streamName,
		Description:       "filehub: each room's feed events and chat",
		Subjects:          []string{histSubjects},
		MaxMsgsPerSubject: int64(b.cfg.HistorySize),
		MaxAge:            b.cfg.HistoryAge,
		MaxMsgSize:        1 << 20,
		Duplicates:        10 * time.Minute,
		Discard:           jetstream.DiscardOld,
		Storage:           jetstream.FileStorage,
		Replicas:          b.cfg.Replicas,
	}); err != nil {
		return nil, nil, nil, fmt.Errorf("stream %s: %w", streamName, err)
	}
	kv := func(c jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		c.Replicas = b.cfg.Replicas
		c.Storage = jetstream.FileStorage
		v, err := js.CreateOrUpdateKeyValue(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", c.Bucket, err)
		}
		return v, nil
	}
	if members, err = kv(jetstream.KeyValueConfig{Bucket: membersBucket, Description: "filehub: who is in each room"}); err != nil {
		return nil, nil, nil, err
	}
	// Every put refreshes a node's key; one not refreshed for NodeTTL
	// expires, and the marker left for LimitMarkerTTL tells the watchers.
	if nodes, err = kv(jetstream.KeyValueConfig{Bucket: nodesBucket, Description: "filehub: live nodes",
		TTL: b.cfg.NodeTTL, LimitMarkerTTL: b.cfg.NodeTTL}); err != nil {
		return nil, nil, nil, err
	}
	if browsers, err = kv(jetstream.KeyValueConfig{Bucket: browsersBucket, Description: "filehub: which page is whose",
		TTL: 24 * time.Hour}); err != nil {
		return nil, nil, nil, err
	}
	return members, nodes, browsers, nil
}

// Attach implements hub.Broker.
func (b *Broker) Attach(n hub.Node) { b.hub = n }

// Node implements hub.Broker: this process's instance.
func (b *Broker) Node() string { return b.instance }

// Err implements hub.Broker: nil while connected to NATS, with the stream
// and buckets there, and the last probe passed (see probe.go).
func (b *Broker) Err() error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("nats: %s", strings.ToLower(b.nc.Status().String()))
	}
	if !b.isSetUp() {
		return errors.New("nats: reconnected; checking the stream and buckets")
	}
	if b.displaced.Load() {
		return fmt.Errorf("another node was started as %q", b.cfg.Node)
	}
	if err := b.probeErr.Load(); err != nil {
		return *err
	}
	return nil
}

// Close leaves NATS: this node's key goes, so the others let its members
// go at once, and what waits to be written is written, for a few seconds.
// Call it after the hub's Close, which makes the sessions leave.
func (b *Broker) Close() error {
	if !b.closeJobs() {
		return nil
	}
	select { // the writer does what is left, the leaves of the sessions among it
	case <-b.written:
	case <-time.After(5 * time.Second):
	}
	close(b.done)
	b.mu.Lock()
	for _, rs := range b.rooms {
		rs.stop()
	}
	b.rooms = map[string]*roomSub{}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if e, err := b.nodes.Get(ctx, validToken(b.cfg.Node)); err == nil && string(e.Value()) == b.instance {
		_ = b.nodes.Delete(ctx, validToken(b.cfg.Node), jetstream.LastRevision(e.Revision()))
	}
	<-b.written
	b.wg.Wait()
	return b.nc.Drain()
}

// heartbeat keeps this node's key alive, three times per NodeTTL.
func (b *Broker) heartbeat() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.NodeTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
			if b.closed.Load() || !b.nc.IsConnected() || b.displaced.Load() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			if _, err := b.nodes.Put(ctx, validToken(b.cfg.Node), []byte(b.instance)); err != nil {
				b.log.Warn("heartbeat", "err", err)
			}
			cancel()
		}
	}
}

// watchNodes follows which instances are alive, and when one goes (its key
// expired or was deleted, or its node restarted as a new instance), deletes
// its members from the rooms this node serves.
func (b *Broker) watchNodes() {
	defer b.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-b.done; cancel() }()
	w, err := b.nodes.WatchAll(ctx)
	if err != nil {
		b.log.Error("watch nodes", "err", err)
		return
	}
	defer w.Stop()
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-b.done:
			return
		case e, ok = <-w.Updates():
			if !ok {
				return
			}
		}
		if e == nil { // the initial values are in
			b.mu.Lock()
			b.seenNode = true
			b.mu.Unlock()
			continue
		}
		node := e.Key()
		b.mu.Lock()
		was := b.alive[node]
		if e.Operation() == jetstream.KeyValuePut {
			b.alive[node] = string(e.Value())
		} else {
			delete(b.alive, node)
		}
		now := b.alive[node]
		b.mu.Unlock()
		if was == b.instance && now != "" && now != b.instance {
			// Another process runs under this node's name: the newer one
			// has it. Fighting over the key would have every node take
			// each in turn for gone, and delete and register their
			// members again, without end.
			if !b.displaced.Swap(true) {
				b.log.Error("node name taken by another instance; stop serving the cluster (give each node its own -node)", "node", node, "other", now)
			}
			continue
		}
		if was == b.instance && now != b.instance {
			// This node's own key expired (it was paused, or could not
			// refresh it for NodeTTL), and the others are deleting its
			// members, whose sessions are still open here: it says again
			// that it is alive, and registers them again.
			b.log.Warn("node taken for gone; register again", "node", node)
			b.askReassert()
			continue
		}
		if was != "" && was != now {
			b.log.Info("node gone", "node", node, "instance", was)
			b.forget(was)
		}
	}
}

// aliveInst tells whether instance is a live node's: this one always is.
func (b *Broker) aliveInst(instance string) bool {
	if instance == b.instance {
		return true
	}
	node, _, _ := strings.Cut(instance, ".")
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.alive[node] == instance
}

// forget deletes the members of a dead instance from the rooms this node
// serves. Every node does it; the revision makes only one delete count.
func (b *Broker) forget(instance string) {
	b.mu.Lock()
	var stale []memberEntry
	for _, rs := range b.rooms {
		rs.mu.Lock()
		for _, m := range rs.byKey {
			if m.Node == instance {
				stale = append(stale, m)
			}
		}
		rs.mu.Unlock()
	}
	b.mu.Unlock()
	for _, m := range stale {
		b.enqueue(job{kind: jobDeleteMember, key: m.key, rev: m.rev})
	}
}

// isSetUp tells whether the stream and buckets were checked on this
// connection (not only on an earlier one).
func (b *Broker) isSetUp() bool {
	return b.setUpAt.Load() == b.nc.Stats().Reconnects
}

// askReassert asks reassert to run (again, if it is running).
func (b *Broker) askReassert() {
	select {
	case b.again <- struct{}{}:
	default: // asked already
	}
}

// reassert says again that this node is alive, and registers its members
// again where they are gone, each time askReassert asks: after a reconnect,
// or when this node finds its key expired or its members deleted by the
// others while their sessions are still open here.
func (b *Broker) reassert() {
	defer b.wg.Done()
	for {
		select {
		case <-b.done:
			return
		case <-b.again:
		}
		if b.closed.Load() || b.displaced.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		if !b.isSetUp() {
			conn := b.nc.Stats().Reconnects
			_, _, _, err := b.ensure(ctx)
			var epoch string
			if err == nil {
				epoch, err = b.streamEpoch(ctx)
			}
			if err != nil {
				cancel()
				b.log.Warn("ensure stream and buckets", "err", err)
				select { // JetStream may not be ready yet: again, shortly
				case <-b.done:
					return
				case <-time.After(500 * time.Millisecond):
				}
				b.askReassert()
				continue
			}
			// The stream came back empty: the rooms open here move to
			// the new one before this node says it is ready again.
			if old := b.epoch.Swap(&epoch); old != nil && *old != epoch {
				b.reposition(epoch)
			}
			// If NATS went away again meanwhile, this is an older
			// connection's: not ready, and the reconnect asks again.
			b.setUpAt.Store(conn)
		}
		if _, err := b.nodes.Put(ctx, validToken(b.cfg.Node), []byte(b.instance)); err != nil {
			b.log.Warn("heartbeat after reconnect", "err", err)
		}
		b.mu.Lock()
		rooms := make([]string, 0, len(b.rooms))
		for room := range b.rooms {
			rooms = append(rooms, room)
		}
		b.mu.Unlock()
		for _, room := range rooms {
			for _, ref := range b.hub.Members(room) {
				b.registerAgain(ctx, room, ref)
			}
		}
		cancel()
	}
}

// registerAgain makes sure this node's member ref is registered in room
// under its name. A name that someone else took meanwhile (this node was
// taken for gone, its members deleted, and a new page got the name) stays
// theirs: the bucket says who holds a name, the same for every node. This
// member takes the first free name-2, name-3… instead, and its node and
// page are told (Node.Renamed), so that nobody is invisible and every node
// counts the same.
func (b *Broker) registerAgain(ctx context.Context, room string, ref hub.MemberRef) {
	key := memberKey(room, ref.Name)
	val, _ := json.Marshal(memberEntry{ID: ref.ID, Name: ref.Name, Node: b.instance})
	_, err := b.members.Create(ctx, key, val)
	if err == nil || !errors.Is(err, jetstream.ErrKeyExists) {
		if err != nil {
			b.log.Warn("register member again", "room", room, "err", err)
		}
		return
	}
	e, err := b.members.Get(ctx, key)
	if err != nil {
		b.log.Warn("register member again", "room", room, "err", err)
		return
	}
	var held memberEntry
	if json.Unmarshal(e.Value(), &held) == nil && held.ID == ref.ID {
		return // still ours
	}
	base := ref.Name
	got, err := b.claim(ctx, room, hub.Joining{ID: ref.ID, Name: base})
	if err != nil {
		b.log.Warn("register member again", "room", room, "err", err)
		return
	}
	b.log.Info("name taken meanwhile; member renamed", "room", room, "member", ref.ID, "name", ref.Name, "now", got)
	b.hub.Renamed(room, ref.ID, got)
}

// roomKey is a room's name as one NATS subject token: room names may hold
// dots, which NATS reads as separators.
func roomKey(room string) string { return hex.EncodeToString([]byte(room)) }

func memberKey(room, name string) string {
	return roomKey(room) + "." + hex.EncodeToString([]byte(hub.NameKey(name))) // names that look alike are one name
}

func feedSubject(room string) string { return "filehub.hist." + roomKey(room) + ".feed" }
func chatSubject(room string) string { return "filehub.hist." + roomKey(room) + ".chat" }
func liveSubject(room string) string { return "filehub.live." + roomKey(room) }

// memberEntry is a member's value in FILEHUB_MEMBERS.
type memberEntry struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Node    string `json:"node"`              // instance
	Browser string `json:"browser,omitempty"` // the hash of its page's cookie, for a page that comes back

	key string
	rev uint64
}

// validToken makes a name usable as a key and subject token.
func validToken(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "node"
	}
	return b.String()
}

// redact drops passwords and tokens from NATS URLs, for messages and logs.
func redact(urls string) string {
	var out []string
	for _, s := range strings.Split(urls, ",") {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
			u.User = url.User("REDACTED")
			s = u.String()
		}
		out = append(out, strings.TrimSpace(s))
	}
	return strings.Join(out, ",")
}

func (b *Broker) nextMsgID() string {
	return b.instance + "-" + strconv.FormatUint(b.msgID.Add(1), 10)
}
