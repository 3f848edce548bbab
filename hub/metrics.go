package hub

import (
	"bytes"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the hub's Prometheus collectors. Labels are drawn from small
// fixed sets (kinds, codes, transports), never from rooms, names or paths,
// so that the number of series stays bounded whatever clients send.
type Metrics struct {
	Sessions           prometheus.Gauge
	Rooms              prometheus.Gauge
	Joins              prometheus.Counter
	Leaves             prometheus.Counter
	FramesIn           *prometheus.CounterVec // by kind
	FramesOut          *prometheus.CounterVec // by kind
	BytesIn            prometheus.Counter
	BytesOut           prometheus.Counter
	Fetches            *prometheus.CounterVec // by via
	FetchesUnannounced prometheus.Counter
	UploadsUnannounced prometheus.Counter
	ContentBytes       prometheus.Counter
	ContentRefused     *prometheus.CounterVec // by scope: address or room
	UploadBytes        prometheus.Counter
	Uploads            *prometheus.CounterVec // by outcome
	Errors             *prometheus.CounterVec // by code
	Closes             *prometheus.CounterVec // by close code
	HandshakeRefusals  *prometheus.CounterVec // by reason
	SlowDrops          *prometheus.CounterVec // by reason: lag or bytes
	FanoutSeconds      prometheus.Histogram
	HistorySaveSeconds prometheus.Histogram // a single node's history store
	HistoryErrors      prometheus.Counter
}

// NewMetrics builds the collectors and registers them with reg; a nil reg
// leaves them unregistered (the hub still counts, nobody scrapes).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "filehub", Name: name, Help: help})
	}
	vec := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "filehub", Name: name, Help: help}, []string{label})
	}
	m := &Metrics{
		Sessions:           prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "filehub", Name: "sessions", Help: "WebSocket sessions open now."}),
		Rooms:              prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "filehub", Name: "rooms", Help: "Rooms held now: with members here, or idle and keeping their history."}),
		Joins:              counter("joins_total", "Sessions that joined a room."),
		Leaves:             counter("leaves_total", "Sessions that left a room."),
		FramesIn:           vec("frames_in_total", "Frames received from clients, by kind (invalid: not decodable, unknown: not a known kind).", "kind"),
		FramesOut:          vec("frames_out_total", "Frames queued to sessions, by kind (a batch counts once).", "kind"),
		BytesIn:            counter("bytes_in_total", "Bytes of frames received from clients."),
		BytesOut:           counter("bytes_out_total", "Bytes of frames queued to sessions."),
		Fetches:            vec("fetches_total", "Files fetched, by transport (http, ws, or link: through a share link).", "via"),
		FetchesUnannounced: counter("fetches_unannounced_total", "HTTP fetches served but not put in the feed: their client's feed budget was spent (Config.FetchEvents)."),
		UploadsUnannounced: counter("uploads_unannounced_total", "HTTP uploads taken but not announced to the room: their uploader's budget was spent (Config.UploadEvents)."),
		ContentBytes:       counter("content_bytes_total", "Bytes of content delivered as counted by the content budgets: a frame's size times the members it reaches (Config.ContentRate)."),
		ContentRefused:     vec("content_refused_total", "Shares, snippets, chat and uploads followed live refused or cut for the content budget, by scope (address: the client's, room: the room's).", "scope"),
		UploadBytes:        counter("upload_bytes_total", "Bytes of finished uploads."),
		Uploads:            vec("uploads_total", "Uploads, by outcome (finished, aborted).", "outcome"),
		Errors:             vec("errors_total", "Error frames sent, by protocol code.", "code"),
		Closes:             vec("closes_total", "Sessions ended, by close code (1006: no close frame).", "code"),
		HandshakeRefusals:  vec("handshake_refusals_total", "WebSocket handshakes refused before the upgrade, by reason.", "reason"),
		SlowDrops:          vec("slow_consumer_drops_total", "Sessions closed with 1013 for falling behind, by reason (lag: the oldest undelivered frame waited too long; bytes: the queue outgrew its budget).", "reason"),
		FanoutSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "filehub", Name: "broadcast_fanout_seconds",
			Help:    "Time a room's delivery pass took to queue its frames to every member.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12), // 1 µs to 4 s
		}),
		HistorySaveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "filehub", Name: "history_save_seconds",
			Help:    "Time a room's delivery pass took to save what it added to the history on disk, before delivering it (a node alone, -history).",
			Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10), // 10 µs to 2.6 s
		}),
		HistoryErrors: counter("history_errors_total", "Rooms' histories that could not be loaded from or saved to disk (the room goes on in memory; the log says why)."),
	}
	if reg != nil {
		reg.MustRegister(m.Sessions, m.Rooms, m.Joins, m.Leaves, m.FramesIn, m.FramesOut, m.BytesIn, m.BytesOut,
			m.Fetches, m.FetchesUnannounced, m.UploadsUnannounced, m.ContentBytes, m.ContentRefused, m.UploadBytes, m.Uploads, m.Errors, m.Closes, m.HandshakeRefusals, m.SlowDrops, m.FanoutSeconds,
			m.HistorySaveSeconds, m.HistoryErrors)
	}
	return m
}

// knownKinds bounds the kind label of frames in.
var knownKinds = map[string]bool{
	kindGet: true, kindShare: true, kindList: true, kindChat: true, kindSnippet: true, kindRename: true, kindWho: true, kindPing: true, kindSearch: true,
}

// inKind is the label for a received frame's kind.
func inKind(kind string, err error) string {
	switch {
	case err != nil:
		return "invalid"
	case knownKinds[kind]:
		return kind
	}
	return "unknown"
}

func closeLabel(code int) string { return strconv.Itoa(code) }

// serverKinds bounds the kind label of frames out.
// Mapping each kind to itself lets outKind return a constant string.
var serverKinds = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{kindWelcome, kindPresence, kindCount, kindFeed, kindFile, kindFileStart,
		kindFileEnd, kindShared, kindListing, kindChat, kindMembers, kindUploadProgress, kindUploadFinish,
		kindUploadAbort, kindPong, kindError, kindSnippet, kindFS, kindResults} {
		m[k] = k
	}
	return m
}()

// kindKey is how every encoded frame spells its kind. Inside a JSON string
// a quote is escaped, so this sequence can only be a key.
var kindKey = []byte(`"kind":"`)

// outKind reads the kind of an encoded frame without decoding it: frames
// built from this package's structs begin with it; a pong (a map) has it
// after keys that sort before "kind".
func outKind(frame []byte) string {
	i := bytes.Index(frame, kindKey)
	if i < 0 {
		return "other"
	}
	rest := frame[i+len(kindKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "other"
	}
	if k, ok := serverKinds[string(rest[:j])]; ok { // the lookup does not allocate
		return k
	}
	return "other"
}

// countOut counts one encoded frame queued to n sessions.
func (m *Metrics) countOut(frame []byte, n int) {
	m.FramesOut.WithLabelValues(outKind(frame)).Add(float64(n))
	m.BytesOut.Add(float64(len(frame) * n))
}

// observeFanout records one room flush: its frames, each queued to n
// members, and how long queuing them took. Counting per flush rather than
// per session keeps the metrics off the per-delivery path.
func (m *Metrics) observeFanout(frames [][]byte, n int, took time.Duration) {
	for _, f := range frames {
		m.countOut(f, n)
	}
	m.FanoutSeconds.Observe(took.Seconds())
}
