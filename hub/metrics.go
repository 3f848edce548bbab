package hub

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the hub's Prometheus collectors. Labels are drawn from small
// fixed sets (kinds, codes, transports), never from rooms, names or paths,
// so that the number of series stays bounded whatever clients send.
type Metrics struct {
	Sessions          prometheus.Gauge
	Rooms             prometheus.Gauge
	Joins             prometheus.Counter
	Leaves            prometheus.Counter
	FramesIn          *prometheus.CounterVec // by kind
	FramesOut         *prometheus.CounterVec // by kind
	BytesIn           prometheus.Counter
	BytesOut          prometheus.Counter
	Fetches           *prometheus.CounterVec // by via
	UploadBytes       prometheus.Counter
	Uploads           *prometheus.CounterVec // by outcome
	Errors            *prometheus.CounterVec // by code
	Closes            *prometheus.CounterVec // by close code
	HandshakeRefusals *prometheus.CounterVec // by reason
	FanoutSeconds     prometheus.Histogram
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
		Sessions:          prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "filehub", Name: "sessions", Help: "WebSocket sessions open now."}),
		Rooms:             prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "filehub", Name: "rooms", Help: "Rooms with at least one member now."}),
		Joins:             counter("joins_total", "Sessions that joined a room."),
		Leaves:            counter("leaves_total", "Sessions that left a room."),
		FramesIn:          vec("frames_in_total", "Frames received from clients, by kind (invalid: not decodable, unknown: not a known kind).", "kind"),
		FramesOut:         vec("frames_out_total", "Frames queued to sessions, by kind (a batch counts once).", "kind"),
		BytesIn:           counter("bytes_in_total", "Bytes of frames received from clients."),
		BytesOut:          counter("bytes_out_total", "Bytes of frames queued to sessions."),
		Fetches:           vec("fetches_total", "Files fetched, by transport (http or ws).", "via"),
		UploadBytes:       counter("upload_bytes_total", "Bytes of finished uploads."),
		Uploads:           vec("uploads_total", "Uploads, by outcome (finished, aborted).", "outcome"),
		Errors:            vec("errors_total", "Error frames sent, by protocol code.", "code"),
		Closes:            vec("closes_total", "Sessions ended, by close code (1006: no close frame).", "code"),
		HandshakeRefusals: vec("handshake_refusals_total", "WebSocket handshakes refused before the upgrade, by reason.", "reason"),
		FanoutSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "filehub", Name: "broadcast_fanout_seconds",
			Help:    "Time to queue one room flush to every member.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12), // 1 µs to 4 s
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Sessions, m.Rooms, m.Joins, m.Leaves, m.FramesIn, m.FramesOut, m.BytesIn, m.BytesOut,
			m.Fetches, m.UploadBytes, m.Uploads, m.Errors, m.Closes, m.HandshakeRefusals, m.FanoutSeconds)
	}
	return m
}

// knownKinds bounds the kind label of frames in.
var knownKinds = map[string]bool{
	kindGet: true, kindShare: true, kindList: true, kindChat: true, kindRename: true, kindWho: true, kindPing: true,
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
